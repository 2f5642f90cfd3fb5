import Packet
import Synchronization
import XDP

/// The routing state workers forward with (l3), published by the control
/// side as whole snapshots: a reload builds a new ``L3Forwarder`` and swaps it
/// in; each worker notices the new generation at its next batch boundary and
/// copies the snapshot (a reference-counted copy-on-write value) under the
/// lock, once per change, never per packet.
public final class TableStore: Sendable {
    private let current = Mutex(L3Forwarder())
    private let generationCounter = Atomic<Int>(0)

    /// Creates an empty store.
    public init() {}

    /// Bumped on every publish; a relaxed load, once per batch.
    @inlinable
    public var generation: Int { loadGeneration() }

    @usableFromInline
    func loadGeneration() -> Int { generationCounter.load(ordering: .acquiring) }

    /// The current snapshot.
    public var snapshot: L3Forwarder { current.withLock { $0 } }

    /// Replaces the snapshot.
    public func publish(_ forwarder: L3Forwarder) {
        current.withLock { $0 = forwarder }
        generationCounter.add(1, ordering: .releasing)
    }
}

/// The l3 per-packet logic: parse, look up route and neighbor, rewrite MACs,
/// decrement TTL/hop limit with the checksum updated, and send out of the
/// other port of the pair; anything else is counted by reason and dropped
/// (the BPF program already leaves to the kernel what the kernel must see).
public struct L3Handler: CountingHandler {
    @usableFromInline var forwarder = L3Forwarder()
    @usableFromInline let outputInterfaceIndex: Int32
    public var drops = DropCounts()

    /// A handler for packets that should leave by `outputInterfaceIndex`.
    public init(outputInterfaceIndex: Int) {
        self.outputInterfaceIndex = Int32(outputInterfaceIndex)
    }

    public mutating func refresh(from tables: TableStore) {
        forwarder = tables.snapshot
    }

    @inlinable
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        let decision = frame.withUnsafeMutableBytes { forwarder.process($0) }
        switch decision {
        case .forward(let action):
            if action.outputInterface == outputInterfaceIndex { return .transmit }
            drops.routeToUnservedPort &+= 1
        case .toKernel(let reason):
            switch reason {
            case .noRoute, .outputInterfaceNotHandled: drops.noRoute &+= 1
            case .noNeighbor: drops.noNeighbor &+= 1
            case .ttlExpired: drops.ttlExpired &+= 1
            default: drops.forKernel &+= 1
            }
        case .drop:
            drops.malformed &+= 1
        }
        return .drop
    }
}
