import Glibc
import XDP
import XDPControl

/// The rounds of xdpbench's loops on the library's `WorkerLoop`: the
/// budget (`--count`) and the wait policy are the skeleton's; what is
/// xdpbench's is the batch function, the running totals and, for txonly,
/// the pacing.

extension WaitPolicy {
    /// rxdrop and l2fwd without `--to`: `-p` polls before every batch, the
    /// default after a partial one.
    var receiving: WorkerWaitPolicy {
        switch self {
        case .spin: .spin
        case .pollEveryBatch: .beforeEveryRound
        case .pollWhenIdle: .afterShortRound
        }
    }

    /// l2fwd `--to`: after a partial round (kicking the output first);
    /// `-p` does not poll before every batch here (as before the loops
    /// shared a skeleton).
    var forwarding: WorkerWaitPolicy {
        self == .pollWhenIdle ? .afterShortRound : .spin
    }

    /// txonly: after a round that queued nothing (the TX ring full), unless spinning.
    var transmitting: WorkerWaitPolicy {
        self == .spin ? .spin : .afterEmptyRound
    }
}

/// rxdrop, l2fwd (macswap back out of the port): one batch function on the queue's socket.
struct ReceiveStep<Handler>: WorkerStep, ~Copyable {
    var state: QueueState
    var handler: Handler
    let counters: QueueCounters
    /// The batch function (single-frame or multi-buffer), a closure with no captures.
    let batch: (inout QueueState, Int, inout Handler) -> BatchResult
    var packets: UInt64 = 0, bytes: UInt64 = 0, dropped: UInt64 = 0

    init(state: consuming QueueState, handler: Handler, counters: QueueCounters,
         batch: @escaping (inout QueueState, Int, inout Handler) -> BatchResult) {
        self.state = state
        self.handler = handler
        self.counters = counters
        self.batch = batch
    }

    @inline(__always)
    mutating func round(limit: Int) -> Int {
        let result = batch(&state, limit, &handler)
        if result.packets > 0 {
            packets &+= UInt64(truncatingIfNeeded: result.packets)
            bytes &+= UInt64(truncatingIfNeeded: result.bytes)
            dropped &+= UInt64(truncatingIfNeeded: result.transmitDropped)
            counters.publish(packets: packets, bytes: bytes, transmitDropped: dropped)
        }
        return result.packets
    }

    /// poll() on the socket (`WorkerLoop.pollTimeoutMilliseconds`): at once when more are ready, else packets
    /// gather and a core shared with NAPI gives it the CPU.
    @inline(__always)
    mutating func wait() { state.socket.poll(timeoutMilliseconds: WorkerLoop.pollTimeoutMilliseconds) }
}

/// l2fwd `--to`: both directions between the queue's two sockets through the one UMEM.
struct ForwardStep<Handler>: WorkerStep, ~Copyable {
    var state: QueueState
    var output: Socket
    var handler: Handler
    let counters: QueueCounters
    /// The forwarding batch function (single-frame or multi-buffer), a closure with no captures.
    let batch: (inout Socket, inout Socket, Int, inout FramePool, inout Handler) -> BatchResult
    var packets: UInt64 = 0, bytes: UInt64 = 0, dropped: UInt64 = 0

    init(state: consuming QueueState, output: consuming Socket, handler: Handler, counters: QueueCounters,
         batch: @escaping (inout Socket, inout Socket, Int, inout FramePool, inout Handler) -> BatchResult) {
        self.state = state
        self.output = output
        self.handler = handler
        self.counters = counters
        self.batch = batch
    }

    /// In → out, then out → in with what the first direction left of `limit`.
    @inline(__always)
    mutating func round(limit: Int) -> Int {
        let forward = batch(&state.socket, &output, limit, &state.umem.pool, &handler)
        let backWanted = max(0, limit - forward.packets)
        let back = backWanted > 0
            ? batch(&output, &state.socket, backWanted, &state.umem.pool, &handler)
            : BatchResult()
        let handled = forward.packets + back.packets
        if handled > 0 {
            packets &+= UInt64(handled)
            bytes &+= UInt64(forward.bytes + back.bytes)
            dropped &+= UInt64(forward.transmitDropped + back.transmitDropped)
            counters.publish(packets: packets, bytes: bytes, transmitDropped: dropped)
        }
        return handled
    }

    /// poll() drives TX only on the socket it waits on (copy mode): kick the output first.
    @inline(__always)
    mutating func wait() {
        output.kickPendingTransmit()
        state.socket.poll(timeoutMilliseconds: WorkerLoop.pollTimeoutMilliseconds)
    }
}

/// txonly: primed frames onto the TX ring, paced to `--rate` when given.
struct TransmitStep: WorkerStep, ~Copyable {
    var state: QueueState
    let counters: QueueCounters
    let length: Int
    let multiBuffer: Bool
    /// Packets per second on this queue, or nil for as fast as it goes.
    let perQueueRate: Double?
    /// Token bucket: credit grows at the rate and is capped at a
    /// millisecond's worth (at least 64), so a sender that was descheduled (a
    /// loaded machine) resumes at the rate instead of catching up in one
    /// burst of rate × stall that overruns the receiver's rings.
    let burst: Double
    var credit = 0.0
    var last = ContinuousClock.now
    var packets: UInt64 = 0

    init(state: consuming QueueState, counters: QueueCounters, length: Int, multiBuffer: Bool, perQueueRate: Double?) {
        self.state = state
        self.counters = counters
        self.length = length
        self.multiBuffer = multiBuffer
        self.perQueueRate = perQueueRate
        burst = max(64, (perQueueRate ?? 0) / 1000)
    }

    /// Paced: at most 16 a round, and none (recycling completions, 50 µs
    /// asleep) while the bucket holds less credit than that.
    @inline(__always)
    mutating func admit(_ batch: Int) -> Int {
        guard let perQueueRate else { return batch }
        let step = min(batch, 16)
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        credit = min(burst, credit + (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * perQueueRate)
        if credit < Double(step) {
            state.socket.completion.drain(into: &state.umem.pool)
            usleep(50)
            return 0
        }
        return step
    }

    @inline(__always)
    mutating func round(limit: Int) -> Int {
        let result = multiBuffer
            ? state.socket.transmitBatch(limit: limit, pool: &state.umem.pool, length: length, as: FramePacket.self)
            : state.socket.transmitBatch(limit: limit, pool: &state.umem.pool, length: length)
        credit -= Double(result.packets)
        if result.packets > 0 {
            packets &+= UInt64(truncatingIfNeeded: result.packets)
            counters.publish(packets: packets, bytes: packets &* UInt64(length), transmitDropped: 0)
        }
        return result.packets
    }

    /// poll() for room on the TX ring (1 ms).
    @inline(__always)
    mutating func wait() { state.socket.poll(forTransmit: true, timeoutMilliseconds: 1) }
}
