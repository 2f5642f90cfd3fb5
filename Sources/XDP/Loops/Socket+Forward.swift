extension Socket {
    /// One batch of a two-port forwarder over a shared UMEM: packets received
    /// on `input` that the handler sends go out of `output` as the very same
    /// frames (no copy); dropped ones go back to `input`'s fill ring.
    ///
    /// `output`'s completed frames return to `pool`, and `input`'s fill ring
    /// is topped up from it. Both sockets must be on the UMEM `pool` belongs to.
    ///
    /// The handler's ``BatchHandler/Packet`` picks the kind: single frames,
    /// or (``MultiBufferHandler``, multi-buffer sockets) whole chains, which
    /// go out of `output` as the very same chains.
    ///
    /// - Parameters:
    ///   - input: The receiving socket.
    ///   - output: The transmitting socket.
    ///   - limit: The batch size.
    ///   - pool: The shared UMEM's frame pool.
    ///   - handler: The per-packet logic; `.transmit` means "out of `output`".
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets).
    @inlinable
    public static func forwardBatch<Handler: BatchHandler>(
        from input: inout Socket, to output: inout Socket, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        if output.tx.produced != output.completion.consumed {
            output.completion.drain(into: &pool)
        }
        let ready = Handler.Packet._ready(in: &input.rx, limit: limit)
        guard ready.packets > 0 else { return idleForward(from: &input, to: &output, pool: &pool) }
        let (result, frames) = Socket.dispatch(ready, from: &input.rx, recyclingTo: &input.fill, sendingTo: &output.tx,
                                               pool: &pool, handler: &handler)
        finishForwardBatch(result, frames: frames, from: &input, to: &output, pool: &pool)
        return result
    }

    /// A forwarding batch that found nothing: top `input`'s fill ring up to
    /// its share, and make the syscalls the kernel asks for.
    ///
    /// The share is a quarter of the UMEM (what the kernel holds for
    /// `input`'s receive side: its fill ring, the NIC's RX queue and its RX
    /// ring). Topped up without a bound, the idle direction of a one-way flow
    /// took every frame the other port's completions returned (up to its fill
    /// ring plus the NIC's RX queue: 2 304 of 4 096 frames on virtio-net),
    /// and the busy input's fill ring ran dry while the TX side held the
    /// rest: in zero-copy on virtio-net an unpaced burst stalled for good
    /// (the emulated-NIC lab's unpaced l2fwd case). Frames taken by busy
    /// batches are still replaced one for one.
    @inlinable @inline(__always)
    static func idleForward(from input: inout Socket, to output: inout Socket, pool: inout FramePool) -> BatchResult {
        let held = Int(input.fill.produced &- input.rx.consumed)
        let share = pool.capacity / 4
        if held < share { input.fill.refill(from: &pool, upTo: share - held) }
        input.wakeReceive()
        output.kickPendingTransmit()
        return BatchResult()
    }

    /// The end of a forwarding batch: release `input`'s RX slots, publish
    /// (and kick) `output`'s TX ring, publish and refill `input`'s fill ring.
    @inlinable @inline(__always)
    static func finishForwardBatch(_ result: BatchResult, frames: Int, from input: inout Socket, to output: inout Socket,
                                   pool: inout FramePool) {
        input.rx.release()
        if result.transmitted > 0 {
            output.tx.submit()
            output.kickTransmit()
        }
        input.fill.submit()
        if pool.count > 0 { input.fill.refill(from: &pool, upTo: frames) }
    }
}
