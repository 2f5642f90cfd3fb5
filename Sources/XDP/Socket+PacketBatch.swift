extension Socket {
    /// ``receiveBatch(limit:pool:handler:)`` for a multi-buffer socket
    /// (``SocketConfiguration/multiBuffer``): the handler sees whole packets,
    /// each one ``FramePacket`` of one or more frames, and every frame of a
    /// packet goes to the same place (fill ring, TX ring as one chain, or the
    /// pool when a ring is out of room, counted).
    ///
    /// - Parameters:
    ///   - limit: The most packets to take.
    ///   - pool: The UMEM's frame pool.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets,
    ///   not frames); `packets == 0` means no whole packet was ready.
    @inlinable
    public mutating func receivePacketBatch<Handler: MultiBufferHandler>(limit: Int, pool: inout FramePool, handler: inout Handler) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        guard rx.peek(upTo: 1) > 0 else {
            fill.refill(from: &pool)
            wakeReceive()
            kickPendingTransmit()
            return BatchResult()
        }
        var result = BatchResult()
        var frames = 0
        while result.packets < limit, var packet = rx.receivePacket(droppingOversizedInto: &pool) {
            let count = packet.count
            frames &+= count
            result.packets &+= 1
            result.bytes &+= packet.length
            switch handler.handle(&packet) {
            case .drop:
                if fill.freeCount(wanting: count) >= count {
                    fill.push(packet)
                } else {
                    pool.release(packet)
                }
            case .transmit:
                let length = packet.length
                if packet.count > 0, length > 0, tx.freeCount(wanting: count) >= count {
                    result.transmittedBytes &+= length
                    tx.pushReserved(packet)
                    result.transmitted &+= 1
                } else {
                    pool.release(packet)
                    result.transmitDropped &+= 1
                }
            }
        }
        rx.release()
        if result.transmitted > 0 {
            tx.submit()
            kickTransmit()
        }
        fill.submit()
        if pool.count > 0 { fill.refill(from: &pool, upTo: frames) }
        return result
    }
}
