extension Socket {
    /// One batch of a two-port forwarder over a shared UMEM: packets received
    /// on `input` that the handler sends go out of `output` as the very same
    /// frames (no copy); dropped ones go back to `input`'s fill ring.
    ///
    /// `output`'s completed frames return to `pool`, and `input`'s fill ring
    /// is topped up from it. Both sockets must be on the UMEM `pool` belongs to.
    ///
    /// - Parameters:
    ///   - input: The receiving socket.
    ///   - output: The transmitting socket.
    ///   - limit: The batch size.
    ///   - pool: The shared UMEM's frame pool.
    ///   - handler: The per-packet logic; `.transmit` means "out of `output`".
    /// - Returns: What the batch did.
    @inlinable
    public static func forwardBatch<Handler: PacketHandler>(
        from input: inout Socket, to output: inout Socket, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        if output.tx.produced != output.completion.consumed {
            output.completion.drain(into: &pool)
        }
        let ready = input.rx.peek(upTo: limit)
        guard ready > 0 else { return idleForward(from: &input, to: &output, pool: &pool) }
        let result = Socket.dispatch(ready, from: &input.rx, recyclingTo: &input.fill, sendingTo: &output.tx, pool: &pool, handler: &handler)
        finishForwardBatch(result, frames: ready, from: &input, to: &output, pool: &pool)
        return result
    }

    /// A forwarding batch that found nothing: top `input`'s fill ring up,
    /// and make the syscalls the kernel asks for.
    @inlinable @inline(__always)
    static func idleForward(from input: inout Socket, to output: inout Socket, pool: inout FramePool) -> BatchResult {
        input.fill.refill(from: &pool)
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
