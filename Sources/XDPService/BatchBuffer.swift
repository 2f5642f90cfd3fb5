import Synchronization

/// The bounded hand-over between the workers of a ``PacketStream`` and its
/// one consumer: workers reserve room before copying a batch and deliver it
/// after; the consumer waits on a continuation. At most `capacity` packets
/// are buffered: what does not fit is not copied (the worker counts it as
/// dropped and recycles the frame at once), so a slow consumer costs packets,
/// never memory or frames. Two lock operations per delivered batch, none per
/// packet.
final class BatchBuffer: Sendable {
    private struct State: ~Copyable {
        var batches: [ReceivedBatch] = []
        var head = 0
        /// Packets buffered plus packets reserved by workers copying now.
        var packets = 0
        var waiter: CheckedContinuation<ReceivedBatch?, Never>?
        var finished = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Reserves room for up to `wanted` packets; returns how many fit.
    func reserve(_ wanted: Int) -> Int {
        state.withLock { state in
            guard !state.finished else { return 0 }
            let granted = min(wanted, capacity - state.packets)
            state.packets += granted
            return granted
        }
    }

    /// Delivers a batch made under a reservation of `reserved` packets (the
    /// unused part is given back). An empty batch only gives room back.
    func deliver(_ batch: ReceivedBatch, reserved: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<ReceivedBatch?, Never>? in
            state.packets -= reserved - batch.count
            guard !batch.isEmpty, !state.finished else {
                if state.finished { state.packets -= batch.count }
                return nil
            }
            if let waiter = state.waiter {
                state.waiter = nil
                state.packets -= batch.count
                return waiter
            }
            state.batches.append(batch)
            return nil
        }
        waiter?.resume(returning: batch)
    }

    /// The next batch, waiting for one; nil once finished.
    func next() async -> ReceivedBatch? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ReceivedBatch?, Never>) in
            let ready = state.withLock { state -> ReceivedBatch?? in
                if state.head < state.batches.count {
                    let batch = state.batches[state.head]
                    state.head += 1
                    state.packets -= batch.count
                    if state.head > 64 && state.head * 2 > state.batches.count {
                        state.batches.removeFirst(state.head)
                        state.head = 0
                    }
                    return .some(batch)
                }
                if state.finished { return .some(nil) }
                precondition(state.waiter == nil, "PacketStream has one consumer: iterate it from one task")
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Ends the stream: the waiting consumer (if any) gets nil, buffered batches are dropped.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<ReceivedBatch?, Never>? in
            state.finished = true
            state.batches.removeAll()
            state.head = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Packets buffered or being copied now.
    var bufferedPackets: Int { state.withLock { $0.packets } }
}
