import Synchronization

/// One worker's running totals, published once per batch (relaxed stores)
/// and read by the reporter. Padded so two workers' counters never share a
/// cache line.
final class QueueCounters: @unchecked Sendable {
    private let padding0 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    let packets = Atomic<UInt64>(0)
    let bytes = Atomic<UInt64>(0)
    let transmitDropped = Atomic<UInt64>(0)
    let finished = Atomic<Bool>(false)
    /// The CPU the worker found itself on (sched_getcpu), -1 before it ran.
    let observedCPU = Atomic<Int>(-1)
    /// rxdrop --rx-metadata: packets whose metadata carried a hash (stored when the worker ends).
    let metadataPackets = Atomic<UInt64>(0)
    private let padding1 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))

    func publish(packets: UInt64, bytes: UInt64, transmitDropped: UInt64) {
        self.packets.store(packets, ordering: .relaxed)
        self.bytes.store(bytes, ordering: .relaxed)
        self.transmitDropped.store(transmitDropped, ordering: .relaxed)
    }
}

/// The packets a run may still handle, shared by its workers when --count
/// is given: each batch claims what it may take and refunds what it did not.
final class PacketBudget: Sendable {
    private let remaining: Atomic<Int>
    let isLimited: Bool

    init(limit: Int?) {
        remaining = Atomic(limit ?? Int.max)
        isLimited = limit != nil
    }

    /// Claims up to `wanted` packets; 0 when the budget is spent.
    @inline(__always)
    func claim(_ wanted: Int) -> Int {
        guard isLimited else { return wanted }
        var current = remaining.load(ordering: .relaxed)
        while current > 0 {
            let take = min(current, wanted)
            let (exchanged, original) = remaining.compareExchange(expected: current, desired: current - take, ordering: .relaxed)
            if exchanged { return take }
            current = original
        }
        return 0
    }

    /// Gives back packets claimed and not handled.
    @inline(__always)
    func refund(_ count: Int) {
        if isLimited && count > 0 { remaining.add(count, ordering: .relaxed) }
    }

    var isSpent: Bool { isLimited && remaining.load(ordering: .relaxed) <= 0 }
}
