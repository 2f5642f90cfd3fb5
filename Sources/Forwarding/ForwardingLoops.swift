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

/// The worker loops of the daemon. Generic over the handler, so each mode's
/// loop is specialised and the per-packet decision is inlined.
enum ForwardingLoops {
    /// - Parameter busyPoll: The sockets busy-poll: wait in poll() only after
    ///   a round that found nothing (see ``waitBelow(batch:busyPoll:)``).
    static func run(mode: ForwardingMode, batch: Int, busyPoll: Bool = false, state: inout WorkerState, stop: StopFlag) {
        let waitBelow = waitBelow(batch: batch, busyPoll: busyPoll)
        // Every mode sends packets on: partial checksums (hosts with
        // checksum offload) are carried on as offload requests or finished.
        let offload = state.queues.checksumOffloadMetadataLength
        switch mode {
        case .xconnect:
            var handlers = (0..<state.queues.sockets.count).map { _ in TransportChecksumHandler(PassHandler(), offloadMetadataLength: offload) }
            pairLoop(batch: batch, waitBelow: waitBelow, state: &state, handlers: &handlers, stop: stop)
        case .l3:
            var handlers = l3Handlers(state, offloadMetadataLength: offload)
            routeLoop(batch: batch, waitBelow: waitBelow, state: &state, handlers: &handlers, stop: stop)
        case .macswap:
            reflectLoop(batch: batch, waitBelow: waitBelow, state: &state, stop: stop)
        }
    }

    /// A round that handled fewer packets than this waits in poll(). Without
    /// busy polling, any round short of a full batch: poll() returns at once
    /// when packets are ready, else lets them gather (bigger batches) and
    /// gives a core shared with the queue's NAPI work to NAPI. With busy
    /// polling, only a round that found nothing: the batches' own syscalls
    /// (need-wakeup's recvfrom/sendto) run NAPI in this thread, and sleeping
    /// in poll() after a partial batch would hand NAPI back to interrupts.
    static func waitBelow(batch: Int, busyPoll: Bool) -> Int { busyPoll ? 1 : batch }

    /// Sockets 2k and 2k+1 are queue q of port A and of port B: forward both ways.
    static func pairLoop<Handler: CountingHandler>(batch: Int, waitBelow: Int, state: inout WorkerState, handlers: inout [Handler],
                                                    stop: StopFlag) {
        var local = state.counters.map { _ in LocalPortCounters() }
        var iterations = 0
        while !stop.isRaised {
            var handled = 0
            var pair = 0
            while pair + 1 < state.queues.sockets.count {
                handled += step(from: pair, to: pair + 1, batch: batch, state: &state, handlers: &handlers, local: &local)
                handled += step(from: pair + 1, to: pair, batch: batch, state: &state, handlers: &handlers, local: &local)
                pair += 2
            }
            iterations &+= 1
            if iterations & 63 == 0 { publishFrames(&state) }
            // Wait in poll() unless enough came in (see waitBelow(batch:busyPoll:)).
            if handled < waitBelow { state.queues.sockets.pollAny(timeoutMilliseconds: 1) }
        }
        publishFrames(&state)
    }

    /// One direction of one pair: forward a batch and count it.
    @inline(__always)
    static func step<Handler: CountingHandler>(from input: Int, to output: Int, batch: Int, state: inout WorkerState,
                                                handlers: inout [Handler], local: inout [LocalPortCounters]) -> Int {
        let result = state.queues.sockets.forwardBatch(from: input, to: output, limit: batch, pool: &state.queues.umem.pool, handler: &handlers[input])
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

    /// macswap: every socket reflects its own traffic.
    static func reflectLoop(batch: Int, waitBelow: Int, state: inout WorkerState, stop: StopFlag) {
        var local = state.counters.map { _ in LocalPortCounters() }
        var handler = TransportChecksumHandler(MACSwapHandler(), offloadMetadataLength: state.queues.checksumOffloadMetadataLength)
        var iterations = 0
        while !stop.isRaised {
            var handled = 0
            for index in 0..<state.queues.sockets.count {
                let result = state.queues.sockets.withSocket(at: index) { socket in
                    socket.receiveBatch(limit: batch, pool: &state.queues.umem.pool, handler: &handler)
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
            iterations &+= 1
            if iterations & 63 == 0 { publishFrames(&state) }
            // Wait in poll() unless enough came in (see waitBelow(batch:busyPoll:)).
            if handled < waitBelow { state.queues.sockets.pollAny(timeoutMilliseconds: 1) }
        }
        publishFrames(&state)
    }

    /// Stores where the worker's frames are, on its first queue's counters.
    static func publishFrames(_ state: inout WorkerState) {
        state.counters[0].publish(state.queues.accounting)
    }
}
