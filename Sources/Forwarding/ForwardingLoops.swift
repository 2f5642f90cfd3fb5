import XDP
import XDPControl

/// Sends every frame on unchanged (xconnect).
@frozen
public struct PassHandler: PacketHandler {
    @inlinable public init() {}
    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict { .transmit }
}

/// A handler that can count why it dropped packets.
public protocol CountingHandler: PacketHandler {
    /// Drops by reason since creation.
    var drops: DropCounts { get }
    /// Partial checksums handed on as offload requests, and finished in software.
    var partialChecksums: (offloaded: UInt64, finished: UInt64) { get }
}

extension CountingHandler {
    /// None, for handlers that do not look at checksums.
    public var partialChecksums: (offloaded: UInt64, finished: UInt64) { (0, 0) }
}

extension PassHandler: CountingHandler {
    public var drops: DropCounts { DropCounts() }
}

/// The worker loops of the daemon: one ``WorkerStep`` per mode on the
/// library's `WorkerLoop`. Generic over the handler, so each mode's loop is
/// specialised and the per-packet decision is inlined.
enum ForwardingLoops {
    /// - Parameter busyPoll: The sockets busy-poll: wait in poll() only after
    ///   a round that found nothing (see ``waitPolicy(busyPoll:)``).
    static func run(mode: ForwardingMode, batch: Int, busyPoll: Bool = false, state: inout WorkerState, stop: StopFlag) {
        let wait = waitPolicy(busyPoll: busyPoll)
        // Every mode sends packets on: partial checksums (hosts with
        // checksum offload) are carried on as offload requests or finished.
        let offload = state.queues.checksumOffloadMetadataLength
        switch mode {
        case .xconnect:
            let handlers = (0..<state.queues.sockets.count).map { _ in TransportChecksumHandler(PassHandler(), offloadMetadataLength: offload) }
            var step = PairStep(state: state, handlers: handlers)
            WorkerLoop.run(&step, batch: batch, wait: wait, stop: stop)
            state = step.state
        case .l3:
            let handlers = l3Handlers(state, offloadMetadataLength: offload)
            var step = RouteStep(state: state, handlers: handlers)
            WorkerLoop.run(&step, batch: batch, wait: wait, stop: stop)
            state = step.state
        case .macswap:
            var step = ReflectStep(state: state, handler: TransportChecksumHandler(MACSwapHandler(), offloadMetadataLength: offload))
            WorkerLoop.run(&step, batch: batch, wait: wait, stop: stop)
            state = step.state
        }
    }

    /// When a worker waits in poll(). Without busy polling, after any round
    /// short of a full batch: poll() returns at once when packets are ready,
    /// else lets them gather (bigger batches) and gives a core shared with the
    /// queue's NAPI work to NAPI. With busy polling, only after a round that
    /// found nothing: the batches' own syscalls (need-wakeup's recvfrom and
    /// sendto) run NAPI in this thread, and sleeping in poll() after a partial
    /// batch would hand NAPI back to interrupts.
    static func waitPolicy(busyPoll: Bool) -> WorkerWaitPolicy { busyPoll ? .afterEmptyRound : .afterShortRound }
}

/// What every forwarding step shares: the worker's state and its local
/// counters; it waits on all the worker's sockets and publishes where its
/// frames are on its first queue's counters.
protocol ForwardingStep: WorkerStep, ~Copyable {
    var state: WorkerState { get set }
}

extension ForwardingStep where Self: ~Copyable {
    /// poll() on every socket of the worker (`WorkerLoop.pollTimeoutMilliseconds`): it returns at once when
    /// packets are ready, else lets them gather (bigger batches) and gives a
    /// core shared with the queue's NAPI work to NAPI.
    @inline(__always)
    mutating func wait() { state.queues.sockets.pollAny(timeoutMilliseconds: WorkerLoop.pollTimeoutMilliseconds) }

    /// Stores where the worker's frames are, on its first queue's counters.
    @inline(__always)
    mutating func publish() { state.counters[0].publish(state.queues.accounting) }
}

/// xconnect: sockets 2k and 2k+1 are queue q of port A and of port B:
/// forward both ways, `limit` packets per direction.
struct PairStep<Handler: CountingHandler>: ForwardingStep, ~Copyable {
    var state: WorkerState
    var handlers: [Handler]
    var local: [LocalPortCounters]

    init(state: consuming WorkerState, handlers: [Handler]) {
        local = state.counters.map { _ in LocalPortCounters() }
        self.handlers = handlers
        self.state = state
    }

    mutating func round(limit: Int) -> Int {
        var handled = 0
        var pair = 0
        while pair + 1 < state.queues.sockets.count {
            handled += forward(from: pair, to: pair + 1, limit: limit)
            handled += forward(from: pair + 1, to: pair, limit: limit)
            pair += 2
        }
        return handled
    }

    /// One direction of one pair: forward a batch and count it.
    @inline(__always)
    mutating func forward(from input: Int, to output: Int, limit: Int) -> Int {
        let result = state.queues.sockets.forwardBatch(from: input, to: output, limit: limit, pool: &state.queues.umem.pool, handler: &handlers[input])
        guard result.packets > 0 else { return 0 }
        local[input].rxPackets &+= UInt64(result.packets)
        local[input].rxBytes &+= UInt64(result.bytes)
        local[output].txPackets &+= UInt64(result.transmitted)
        local[output].txBytes &+= UInt64(result.transmittedBytes)
        local[input].drops.txRingFull &+= UInt64(result.transmitDropped)
        handlers[input].drops.store(into: &local[input])
        (local[input].partialChecksumsOffloaded, local[input].partialChecksumsFinished) = handlers[input].partialChecksums
        local[input].publish(to: state.counters[input])
        local[output].publish(to: state.counters[output])
        return result.packets
    }
}

/// macswap: every socket reflects its own traffic.
struct ReflectStep: ForwardingStep, ~Copyable {
    var state: WorkerState
    var handler: TransportChecksumHandler<MACSwapHandler>
    var local: [LocalPortCounters]

    init(state: consuming WorkerState, handler: TransportChecksumHandler<MACSwapHandler>) {
        local = state.counters.map { _ in LocalPortCounters() }
        self.handler = handler
        self.state = state
    }

    mutating func round(limit: Int) -> Int {
        var handled = 0
        for index in 0..<state.queues.sockets.count {
            let result = state.queues.sockets.withSocket(at: index) { socket in
                socket.receiveBatch(limit: limit, pool: &state.queues.umem.pool, handler: &handler)
            }
            guard result.packets > 0 else { continue }
            handled += result.packets
            local[index].rxPackets &+= UInt64(result.packets)
            local[index].rxBytes &+= UInt64(result.bytes)
            local[index].txPackets &+= UInt64(result.transmitted)
            local[index].txBytes &+= UInt64(result.transmittedBytes)
            local[index].drops.txRingFull &+= UInt64(result.transmitDropped)
            (local[index].partialChecksumsOffloaded, local[index].partialChecksumsFinished) = (handler.offloaded, handler.finishedInSoftware)
            local[index].publish(to: state.counters[index])
        }
        return handled
    }
}
