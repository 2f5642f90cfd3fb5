import Synchronization

/// Why a packet was not forwarded. Counted per worker, summed for metrics.
public enum DropCounter: Int, CaseIterable, Sendable {
    /// The output TX ring was full.
    case txRingFull
    /// The frame could not be parsed (malformed), by the parser's reason.
    case malformed
    /// l3: the frame carried no valid FIB answer (``FIBMetadata``) from the BPF program.
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

/// One worker's totals for one port, published once per batch with relaxed
/// stores (the worker keeps the running values in plain locals) and read by
/// the metrics collector. Padded against false sharing.
public final class PortCounters: Sendable {
    private let padding0 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    /// Packets received on the port.
    public let rxPackets = Atomic<UInt64>(0)
    /// Bytes received on the port.
    public let rxBytes = Atomic<UInt64>(0)
    /// Packets sent out of the port.
    public let txPackets = Atomic<UInt64>(0)
    /// Bytes sent out of the port.
    public let txBytes = Atomic<UInt64>(0)
    /// Drops by reason (see ``drops(_:)``).
    let txRingFull = Atomic<UInt64>(0)
    let malformed = Atomic<UInt64>(0)
    let invalidMetadata = Atomic<UInt64>(0)
    let routeToUnservedPort = Atomic<UInt64>(0)
    let ttlExpired = Atomic<UInt64>(0)
    /// Partial TCP/UDP checksums (from hosts with checksum offload) of packets
    /// received on the port, handed on as TX offload requests.
    public let partialChecksumsOffloaded = Atomic<UInt64>(0)
    /// The same, finished in software.
    public let partialChecksumsFinished = Atomic<UInt64>(0)
    private let padding1 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))

    /// The port's name and queue this counts.
    public let port: String
    public let queue: UInt32

    /// Creates zeroed counters.
    public init(port: String, queue: UInt32) {
        self.port = port
        self.queue = queue
    }

    /// Drops for one reason.
    public func drops(_ reason: DropCounter) -> UInt64 {
        switch reason {
        case .txRingFull: txRingFull.load(ordering: .relaxed)
        case .malformed: malformed.load(ordering: .relaxed)
        case .invalidMetadata: invalidMetadata.load(ordering: .relaxed)
        case .routeToUnservedPort: routeToUnservedPort.load(ordering: .relaxed)
        case .ttlExpired: ttlExpired.load(ordering: .relaxed)
        }
    }

    func store(_ reason: DropCounter, _ value: UInt64) {
        switch reason {
        case .txRingFull: txRingFull.store(value, ordering: .relaxed)
        case .malformed: malformed.store(value, ordering: .relaxed)
        case .invalidMetadata: invalidMetadata.store(value, ordering: .relaxed)
        case .routeToUnservedPort: routeToUnservedPort.store(value, ordering: .relaxed)
        case .ttlExpired: ttlExpired.store(value, ordering: .relaxed)
        }
    }
}

/// Where a UMEM's frames are, published by its worker.
public final class FrameCounters: Sendable {
    public let total = Atomic<Int>(0)
    public let free = Atomic<Int>(0)
    public let receiveSide = Atomic<Int>(0)
    public let transmitSide = Atomic<Int>(0)
    public init() {}
}

/// A worker's local running totals for one port, stored into ``PortCounters`` per batch.
public struct LocalPortCounters {
    public var rxPackets: UInt64 = 0, rxBytes: UInt64 = 0, txPackets: UInt64 = 0, txBytes: UInt64 = 0
    public var drops = [UInt64](repeating: 0, count: DropCounter.allCases.count)
    public var partialChecksumsOffloaded: UInt64 = 0, partialChecksumsFinished: UInt64 = 0
    public init() {}

    /// Stores the totals (relaxed).
    public func publish(to counters: PortCounters) {
        counters.rxPackets.store(rxPackets, ordering: .relaxed)
        counters.rxBytes.store(rxBytes, ordering: .relaxed)
        counters.txPackets.store(txPackets, ordering: .relaxed)
        counters.txBytes.store(txBytes, ordering: .relaxed)
        for reason in DropCounter.allCases { counters.store(reason, drops[reason.rawValue]) }
        counters.partialChecksumsOffloaded.store(partialChecksumsOffloaded, ordering: .relaxed)
        counters.partialChecksumsFinished.store(partialChecksumsFinished, ordering: .relaxed)
    }
}
