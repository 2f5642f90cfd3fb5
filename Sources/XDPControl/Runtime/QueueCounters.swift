import Synchronization
import XDP

/// Why a packet was dropped rather than sent on: the data plane's one
/// vocabulary, counted per (port, queue) in ``QueueCounters``.
public enum DropReason: Int, CaseIterable, Sendable {
    /// The output TX ring was full.
    case txRingFull
    /// The frame could not be parsed (malformed), by the parser's reason.
    case malformed
    /// l3: the frame carried no valid FIB answer (`FIBMetadata`) from the BPF program.
    case invalidMetadata
    /// The route leaves by a port this worker does not serve.
    case routeToUnservedPort
    /// TTL or hop limit expired (raced: the BPF program passes these to the kernel).
    case ttlExpired

    /// The metric label.
    public var label: String {
        switch self {
        case .txRingFull: "tx_ring_full"
        case .malformed: "malformed"
        case .invalidMetadata: "invalid_metadata"
        case .routeToUnservedPort: "route_to_unserved_port"
        case .ttlExpired: "ttl_expired"
        }
    }
}

/// The counters of one (port, queue) a ``DataPlane`` serves: the one counter
/// type every runtime on it publishes (the daemon's metrics, JSON and status,
/// XDPService's statistics, xdpbench's results all read it).
///
/// The worker keeps its running totals in plain locals (``LocalQueueCounters``)
/// and stores them here with relaxed stores once per busy batch; readers on
/// any thread load them relaxed (a reading can lag by a batch). Padded on both
/// sides, so two workers' counters never share a cache line.
///
/// The frame fields describe the whole UMEM of the worker: its loop
/// publishes them on the counters of its first queue only (``isWorkerFirst``),
/// the others stay 0, so summing every queue's frames gives every UMEM's.
public final class QueueCounters: Sendable {
    private let padding0 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    /// Packets received on the queue.
    public let rxPackets = Atomic<UInt64>(0)
    /// Bytes received on the queue.
    public let rxBytes = Atomic<UInt64>(0)
    /// Packets sent out of the queue.
    public let txPackets = Atomic<UInt64>(0)
    /// Bytes sent out of the queue.
    public let txBytes = Atomic<UInt64>(0)
    @usableFromInline let txRingFull = Atomic<UInt64>(0)
    @usableFromInline let malformed = Atomic<UInt64>(0)
    @usableFromInline let invalidMetadata = Atomic<UInt64>(0)
    @usableFromInline let routeToUnservedPort = Atomic<UInt64>(0)
    @usableFromInline let ttlExpired = Atomic<UInt64>(0)
    /// Partial TCP/UDP checksums (from hosts with checksum offload) of packets
    /// received on the queue, handed on as TX offload requests.
    public let partialChecksumsOffloaded = Atomic<UInt64>(0)
    /// The same, finished in software.
    public let partialChecksumsFinished = Atomic<UInt64>(0)
    /// Packets handed to a consumer off the worker (XDPService's stream).
    public let delivered = Atomic<UInt64>(0)
    /// Packets dropped because that consumer's buffer was full.
    public let droppedSlowConsumer = Atomic<UInt64>(0)
    /// Packets a consumer off the worker asked to send, put on the TX ring
    /// (also counted in ``txPackets``).
    public let sent = Atomic<UInt64>(0)
    /// Packets whose RX metadata carried a hash (xdpbench `--rx-metadata`).
    public let metadataPackets = Atomic<UInt64>(0)
    /// The worker's UMEM: frames in all (see the type's note on frames).
    public let framesTotal = Atomic<Int>(0)
    /// Frames in the free pool.
    public let framesFree = Atomic<Int>(0)
    /// Frames on the receive side (fill ring, kernel RX, RX ring).
    public let framesReceiveSide = Atomic<Int>(0)
    /// Frames on the transmit side (TX ring, kernel TX, completion ring).
    public let framesTransmitSide = Atomic<Int>(0)
    /// The CPU the worker found itself on when it started (-1 before).
    public let observedCPU = Atomic<Int>(-1)
    /// Whether the worker's loop has returned.
    public let finished = Atomic<Bool>(false)
    private let padding1 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))

    /// The port's interface name.
    public let port: String
    /// The queue id.
    public let queue: UInt32
    /// The index of the worker serving it (in the plan's order).
    public let worker: Int
    /// Whether this is the worker's first queue, which carries the frame fields.
    public let isWorkerFirst: Bool

    /// Creates zeroed counters.
    /// - Parameters:
    ///   - port: The port's interface name.
    ///   - queue: The queue id.
    ///   - worker: The index of the worker serving it.
    ///   - isWorkerFirst: Whether it is the worker's first queue.
    public init(port: String, queue: UInt32, worker: Int = 0, isWorkerFirst: Bool = true) {
        self.port = port
        self.queue = queue
        self.worker = worker
        self.isWorkerFirst = isWorkerFirst
    }

    /// Drops for one reason.
    /// - Parameter reason: The reason.
    /// - Returns: The count, as last published.
    public func drops(_ reason: DropReason) -> UInt64 {
        switch reason {
        case .txRingFull: txRingFull.load(ordering: .relaxed)
        case .malformed: malformed.load(ordering: .relaxed)
        case .invalidMetadata: invalidMetadata.load(ordering: .relaxed)
        case .routeToUnservedPort: routeToUnservedPort.load(ordering: .relaxed)
        case .ttlExpired: ttlExpired.load(ordering: .relaxed)
        }
    }

    /// Stores the drops for one reason (relaxed), for a loop that keeps no
    /// ``LocalQueueCounters``.
    /// - Parameters:
    ///   - reason: The reason.
    ///   - value: The running total.
    @inlinable
    public func store(_ reason: DropReason, _ value: UInt64) {
        switch reason {
        case .txRingFull: txRingFull.store(value, ordering: .relaxed)
        case .malformed: malformed.store(value, ordering: .relaxed)
        case .invalidMetadata: invalidMetadata.store(value, ordering: .relaxed)
        case .routeToUnservedPort: routeToUnservedPort.store(value, ordering: .relaxed)
        case .ttlExpired: ttlExpired.store(value, ordering: .relaxed)
        }
    }

    /// Where the worker's frames are, as last published (zeros on a queue
    /// other than the worker's first).
    public var frames: FrameAccounting {
        FrameAccounting(total: framesTotal.load(ordering: .relaxed), free: framesFree.load(ordering: .relaxed),
                        receiveSide: framesReceiveSide.load(ordering: .relaxed),
                        transmitSide: framesTransmitSide.load(ordering: .relaxed))
    }

    /// Stores where the worker's frames are (at a batch boundary, on the
    /// worker's thread; on its first queue's counters).
    /// - Parameter account: The worker's accounting.
    @inlinable
    public func publish(_ account: FrameAccounting) {
        framesTotal.store(account.total, ordering: .relaxed)
        framesFree.store(account.free, ordering: .relaxed)
        framesReceiveSide.store(account.receiveSide, ordering: .relaxed)
        framesTransmitSide.store(account.transmitSide, ordering: .relaxed)
    }
}

/// Drops by ``DropReason``, in plain integers (a worker's locals).
@frozen
public struct DropCounts: Sendable, Equatable {
    /// ``DropReason/txRingFull``.
    public var txRingFull: UInt64 = 0
    /// ``DropReason/malformed``.
    public var malformed: UInt64 = 0
    /// ``DropReason/invalidMetadata``.
    public var invalidMetadata: UInt64 = 0
    /// ``DropReason/routeToUnservedPort``.
    public var routeToUnservedPort: UInt64 = 0
    /// ``DropReason/ttlExpired``.
    public var ttlExpired: UInt64 = 0

    /// None.
    @inlinable public init() {}

    /// The count for one reason.
    @inlinable
    public subscript(reason: DropReason) -> UInt64 {
        get {
            switch reason {
            case .txRingFull: txRingFull
            case .malformed: malformed
            case .invalidMetadata: invalidMetadata
            case .routeToUnservedPort: routeToUnservedPort
            case .ttlExpired: ttlExpired
            }
        }
        set {
            switch reason {
            case .txRingFull: txRingFull = newValue
            case .malformed: malformed = newValue
            case .invalidMetadata: invalidMetadata = newValue
            case .routeToUnservedPort: routeToUnservedPort = newValue
            case .ttlExpired: ttlExpired = newValue
            }
        }
    }
}

/// A worker's running totals for one (port, queue), in plain integers: the
/// worker adds to these per batch and stores them into its ``QueueCounters``
/// with ``publish(to:)``.
@frozen
public struct LocalQueueCounters: Sendable {
    /// See ``QueueCounters/rxPackets``.
    public var rxPackets: UInt64 = 0
    /// See ``QueueCounters/rxBytes``.
    public var rxBytes: UInt64 = 0
    /// See ``QueueCounters/txPackets``.
    public var txPackets: UInt64 = 0
    /// See ``QueueCounters/txBytes``.
    public var txBytes: UInt64 = 0
    /// Drops by reason.
    public var drops = DropCounts()
    /// See ``QueueCounters/partialChecksumsOffloaded``.
    public var partialChecksumsOffloaded: UInt64 = 0
    /// See ``QueueCounters/partialChecksumsFinished``.
    public var partialChecksumsFinished: UInt64 = 0
    /// See ``QueueCounters/delivered``.
    public var delivered: UInt64 = 0
    /// See ``QueueCounters/droppedSlowConsumer``.
    public var droppedSlowConsumer: UInt64 = 0
    /// See ``QueueCounters/sent``.
    public var sent: UInt64 = 0
    /// See ``QueueCounters/metadataPackets``.
    public var metadataPackets: UInt64 = 0

    /// Zeros.
    @inlinable public init() {}

    /// Adds what one receive or forward batch did on this queue: what it
    /// received, what it sent back out, what a full TX ring refused.
    /// - Parameter result: The batch's result.
    @inlinable
    public mutating func add(_ result: BatchResult) {
        rxPackets &+= UInt64(result.packets)
        rxBytes &+= UInt64(result.bytes)
        txPackets &+= UInt64(result.transmitted)
        txBytes &+= UInt64(result.transmittedBytes)
        drops.txRingFull &+= UInt64(result.transmitDropped)
    }

    /// Stores the totals (relaxed).
    /// - Parameter counters: The queue's shared counters.
    @inlinable
    public func publish(to counters: QueueCounters) {
        counters.rxPackets.store(rxPackets, ordering: .relaxed)
        counters.rxBytes.store(rxBytes, ordering: .relaxed)
        counters.txPackets.store(txPackets, ordering: .relaxed)
        counters.txBytes.store(txBytes, ordering: .relaxed)
        counters.txRingFull.store(drops.txRingFull, ordering: .relaxed)
        counters.malformed.store(drops.malformed, ordering: .relaxed)
        counters.invalidMetadata.store(drops.invalidMetadata, ordering: .relaxed)
        counters.routeToUnservedPort.store(drops.routeToUnservedPort, ordering: .relaxed)
        counters.ttlExpired.store(drops.ttlExpired, ordering: .relaxed)
        counters.partialChecksumsOffloaded.store(partialChecksumsOffloaded, ordering: .relaxed)
        counters.partialChecksumsFinished.store(partialChecksumsFinished, ordering: .relaxed)
        counters.delivered.store(delivered, ordering: .relaxed)
        counters.droppedSlowConsumer.store(droppedSlowConsumer, ordering: .relaxed)
        counters.sent.store(sent, ordering: .relaxed)
        counters.metadataPackets.store(metadataPackets, ordering: .relaxed)
    }
}
