import Synchronization
import XDP

/// One worker's running totals, published with relaxed stores once per
/// batch that did something (the worker keeps them in plain locals) and read
/// by ``PacketService/statistics`` from any thread. Padded against false sharing.
@usableFromInline
final class WorkerCounters: Sendable {
    private let padding0 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    @usableFromInline let received = Atomic<Int>(0)
    @usableFromInline let receivedBytes = Atomic<Int>(0)
    @usableFromInline let transmitted = Atomic<Int>(0)
    @usableFromInline let transmittedBytes = Atomic<Int>(0)
    @usableFromInline let transmitRingFull = Atomic<Int>(0)
    @usableFromInline let delivered = Atomic<Int>(0)
    @usableFromInline let droppedSlowConsumer = Atomic<Int>(0)
    @usableFromInline let sent = Atomic<Int>(0)
    @usableFromInline let framesTotal = Atomic<Int>(0)
    @usableFromInline let framesFree = Atomic<Int>(0)
    @usableFromInline let framesReceiveSide = Atomic<Int>(0)
    @usableFromInline let framesTransmitSide = Atomic<Int>(0)
    private let padding1 = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))

    @usableFromInline init() {}

    /// Stores where the worker's frames are (at a batch boundary).
    @usableFromInline
    func publish(_ account: FrameAccounting) {
        framesTotal.store(account.total, ordering: .relaxed)
        framesFree.store(account.free, ordering: .relaxed)
        framesReceiveSide.store(account.receiveSide, ordering: .relaxed)
        framesTransmitSide.store(account.transmitSide, ordering: .relaxed)
    }
}

/// A worker's totals in plain integers, kept by the worker thread.
@usableFromInline
struct LocalCounters {
    @usableFromInline var received = 0, receivedBytes = 0, transmitted = 0, transmittedBytes = 0, transmitRingFull = 0
    @usableFromInline var delivered = 0, droppedSlowConsumer = 0, sent = 0

    @usableFromInline init() {}

    /// Adds what one batch did.
    @inlinable
    mutating func add(_ result: BatchResult) {
        received &+= result.packets
        receivedBytes &+= result.bytes
        transmitted &+= result.transmitted
        transmittedBytes &+= result.transmittedBytes
        transmitRingFull &+= result.transmitDropped
    }

    /// Stores the totals (relaxed).
    @inlinable
    func publish(to counters: WorkerCounters) {
        counters.received.store(received, ordering: .relaxed)
        counters.receivedBytes.store(receivedBytes, ordering: .relaxed)
        counters.transmitted.store(transmitted, ordering: .relaxed)
        counters.transmittedBytes.store(transmittedBytes, ordering: .relaxed)
        counters.transmitRingFull.store(transmitRingFull, ordering: .relaxed)
        counters.delivered.store(delivered, ordering: .relaxed)
        counters.droppedSlowConsumer.store(droppedSlowConsumer, ordering: .relaxed)
        counters.sent.store(sent, ordering: .relaxed)
    }
}
