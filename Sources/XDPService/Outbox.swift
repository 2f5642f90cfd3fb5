import Glibc
import Synchronization

/// Packets waiting for one worker to transmit them (``PacketStream/send(_:queue:)``):
/// a bounded list under a lock, and a pipe the worker polls with its
/// sockets so a send wakes it at once. Senders wait while it is full.
final class Outbox: @unchecked Sendable {
    struct Item: Sendable {
        /// The socket (index in the worker's set) to send on.
        var socket: Int
        var bytes: [UInt8]
    }

    private struct State: ~Copyable {
        var items: [Item] = []
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var closed = false
    }

    private let state = Mutex(State())
    /// Items waiting, for the worker's lock-free peek.
    private let waiting = Atomic<Int>(0)
    let capacity: Int
    /// Readable while items wait; the worker polls it with its sockets.
    let wakeFD: Int32
    /// The write end of the wake pipe.
    private let signalFD: Int32

    init(capacity: Int) {
        self.capacity = capacity
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for fd in ends {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeFD = ends[0]
        signalFD = ends[1]
    }

    deinit {
        for fd in [wakeFD, signalFD] where fd >= 0 { Glibc.close(fd) }
    }

    /// Adds items in order, as many at a time as fit, waiting while the
    /// outbox is full; wakes the worker once per group added to an empty outbox.
    /// - Returns: `false` if the outbox was closed (the stream stopped).
    func put(_ items: [Item]) async -> Bool {
        var next = 0
        while next < items.count {
            enum Outcome { case added(count: Int, wake: Bool), full, closed }
            let start = next
            let outcome = state.withLock { state -> Outcome in
                if state.closed { return .closed }
                let room = min(capacity - state.items.count, items.count - start)
                guard room > 0 else { return .full }
                let wasEmpty = state.items.isEmpty
                state.items.append(contentsOf: items[start..<(start + room)])
                waiting.store(state.items.count, ordering: .releasing)
                return .added(count: room, wake: wasEmpty)
            }
            switch outcome {
            case .closed: return false
            case .added(let count, let wake):
                if wake { var one: UInt8 = 1; _ = write(signalFD, &one, 1) }
                next += count
            case .full:
                let open = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let resumeNow = state.withLock { state -> Bool? in
                        if state.closed { return false }
                        if state.items.count < capacity { return true }
                        state.waiters.append(continuation)
                        return nil
                    }
                    if let resumeNow { continuation.resume(returning: resumeNow) }
                }
                if !open { return false }
            }
        }
        return true
    }

    /// Takes every waiting item (worker side) and lets waiting senders retry.
    func takeAll() -> [Item] {
        var drained = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        _ = read(wakeFD, &drained, MemoryLayout.size(ofValue: drained))
        let (items, waiters) = state.withLock { state -> ([Item], [CheckedContinuation<Bool, Never>]) in
            defer { state.items = []; state.waiters = []; waiting.store(0, ordering: .releasing) }
            return (state.items, state.waiters)
        }
        for waiter in waiters { waiter.resume(returning: true) }
        return items
    }

    /// Whether items wait (one atomic load, for the worker's loop).
    var hasItems: Bool { waiting.load(ordering: .acquiring) > 0 }

    /// Refuses further items and releases waiting senders.
    func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.closed = true
            state.items.removeAll()
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}
