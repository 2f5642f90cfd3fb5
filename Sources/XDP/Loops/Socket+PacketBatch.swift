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
        guard rx.peek(upTo: 1) > 0 else { return idleBatch(pool: &pool) }
        let (result, frames) = Socket.dispatchPackets(limit, from: &rx, recyclingTo: &fill, sendingTo: &tx, pool: &pool, handler: &handler)
        finishReceiveBatch(result, frames: frames, pool: &pool)
        return result
    }

    /// ``forwardBatch(from:to:limit:pool:handler:)`` for multi-buffer
    /// sockets on one UMEM: whole packets received on `input` that the
    /// handler sends go out of `output` as the very same chains (no copy).
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets).
    @inlinable
    public static func forwardPacketBatch<Handler: MultiBufferHandler>(
        from input: inout Socket, to output: inout Socket, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        if output.tx.produced != output.completion.consumed {
            output.completion.drain(into: &pool)
        }
        guard input.rx.peek(upTo: 1) > 0 else { return idleForward(from: &input, to: &output, pool: &pool) }
        let (result, frames) = Socket.dispatchPackets(limit, from: &input.rx, recyclingTo: &input.fill, sendingTo: &output.tx,
                                                      pool: &pool, handler: &handler)
        finishForwardBatch(result, frames: frames, from: &input, to: &output, pool: &pool)
        return result
    }

    /// The per-packet part of the multi-buffer loops (``dispatch`` for
    /// chains): take up to `limit` whole packets from `rx`, let the handler
    /// decide, and put all frames of each where it goes. Nothing is
    /// published here.
    /// - Returns: What was done, and the frames taken (for the refill).
    @inlinable @inline(__always)
    static func dispatchPackets<Handler: MultiBufferHandler>(
        _ limit: Int, from rx: inout RXRing, recyclingTo fill: inout FillRing, sendingTo tx: inout TXRing,
        pool: inout FramePool, handler: inout Handler
    ) -> (BatchResult, frames: Int) {
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
                if length > 0, tx.freeCount(wanting: count) >= count {
                    result.transmittedBytes &+= length
                    tx.pushReserved(packet)
                    result.transmitted &+= 1
                } else {
                    pool.release(packet)
                    result.transmitDropped &+= 1
                }
            }
        }
        return (result, frames)
    }

    /// ``transmitBatch(limit:pool:length:)`` for a multi-buffer socket:
    /// queues up to `limit` packets of `length` bytes, each over as many
    /// frames as it needs (whatever their bytes already hold), as chains.
    /// Traps if a packet would need more than ``FramePacket/capacity`` frames.
    /// - Returns: What was queued (``BatchResult/packets`` counts packets).
    @inlinable
    public mutating func transmitPacketBatch(limit: Int, pool: inout FramePool, length: Int) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        let room = Int(pool.chunkSize &- pool.dataOffset)
        let frames = (length + room - 1) / room
        precondition(frames >= 1 && frames <= FramePacket.capacity, "a \(length)-byte packet needs \(frames) frames of \(room) bytes: 1 to \(FramePacket.capacity)")
        let count = min(limit, pool.count / frames, tx.freeCount(wanting: limit &* frames) / frames)
        for _ in 0..<count {
            var packet = FramePacket()
            var left = length
            for _ in 0..<frames {
                var frame = pool.allocateKnownAvailable()
                frame.packetLength = UInt32(truncatingIfNeeded: min(left, room))
                left &-= room
                packet.appendUnchecked(frame)
            }
            tx.pushReserved(packet)
        }
        return finishTransmitBatch(count: count, length: length)
    }
}
