/// What one batch did.
@frozen
public struct BatchResult: Sendable, Equatable {
    /// Packets taken from the RX ring (or queued for TX by ``Socket/transmitBatch(limit:pool:length:)``).
    public var packets: Int
    /// Their bytes.
    public var bytes: Int
    /// Packets transmitted (verdict `.transmit`, queued on the TX ring).
    public var transmitted: Int
    /// Bytes of the transmitted packets (as the handler left them).
    public var transmittedBytes: Int = 0
    /// Packets a full TX ring could not take: returned to the pool and counted.
    public var transmitDropped: Int

    /// Creates a result.
    @inlinable
    public init(packets: Int = 0, bytes: Int = 0, transmitted: Int = 0, transmitDropped: Int = 0) {
        self.packets = packets
        self.bytes = bytes
        self.transmitted = transmitted
        self.transmitDropped = transmitDropped
    }
}

extension Socket {
    /// One batch of the receive loop, in xdpsock's shape: take completed TX
    /// frames back, peek up to `limit` packets, hand each to `handler`, then
    /// submit the fill and TX rings and release the RX ring once, and make a
    /// syscall only when the kernel asks (need-wakeup).
    ///
    /// Frames dropped by the handler go back to the fill ring; transmitted
    /// ones to the TX ring (or, when it is full, to the pool, counted); the
    /// fill ring is topped up from the pool. Every frame stays accounted for.
    ///
    /// On a multi-buffer socket (``SocketConfiguration/multiBuffer``) this
    /// hands over each frame of a chain on its own; use
    /// ``receivePacketBatch(limit:pool:handler:)`` to get whole packets.
    ///
    /// - Parameters:
    ///   - limit: The most packets to take (the batch size).
    ///   - pool: The UMEM's frame pool.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did; `packets == 0` means the RX ring was empty.
    @inlinable
    public mutating func receiveBatch<Handler: PacketHandler>(limit: Int, pool: inout FramePool, handler: inout Handler) -> BatchResult {
        let result = Socket.receive(limit: limit, rx: &rx, fill: &fill, tx: &tx, completion: &completion, pool: &pool, handler: &handler)
        if result.packets == 0 {
            wakeReceive()
            kickPendingTransmit()
        } else if result.transmitted > 0 {
            kickTransmit()
        }
        return result
    }

    /// ``receiveBatch(limit:pool:handler:)`` over the four rings, without
    /// the syscalls (the caller makes them): shared with ``InMemoryQueue``.
    @inlinable @inline(__always)
    static func receive<Handler: PacketHandler>(
        limit: Int, rx: inout RXRing, fill: inout FillRing, tx: inout TXRing, completion: inout CompletionRing,
        pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        let ready = rx.peek(upTo: limit)
        guard ready > 0 else {
            fill.refill(from: &pool)
            return BatchResult()
        }
        let result = Socket.dispatch(ready, from: &rx, recyclingTo: &fill, sendingTo: &tx, pool: &pool, handler: &handler)
        rx.release()
        if result.transmitted > 0 { tx.submit() }
        fill.submit()
        if pool.count > 0 { fill.refill(from: &pool, upTo: ready) }
        return result
    }

    /// A batch that found nothing to receive: top the fill ring up, and
    /// make the syscalls the kernel asks for (need-wakeup).
    @inlinable @inline(__always)
    mutating func idleBatch(pool: inout FramePool) -> BatchResult {
        fill.refill(from: &pool)
        wakeReceive()
        kickPendingTransmit()
        return BatchResult()
    }

    /// The end of a receive batch: release the RX slots, publish (and kick)
    /// what was transmitted, publish the fill ring and refill it for the
    /// `frames` taken.
    @inlinable @inline(__always)
    mutating func finishReceiveBatch(_ result: BatchResult, frames: Int, pool: inout FramePool) {
        rx.release()
        if result.transmitted > 0 {
            tx.submit()
            kickTransmit()
        }
        fill.submit()
        if pool.count > 0 { fill.refill(from: &pool, upTo: frames) }
    }

    /// The per-packet part of every batch loop: take `ready` received frames
    /// from `rx`, let the handler decide, and put each where it goes: the
    /// fill ring (`.drop`), the TX ring (`.transmit`), or the pool when a
    /// ring is out of room (counted). Nothing is published here; the caller
    /// releases, submits and kicks once per batch.
    @inlinable @inline(__always)
    static func dispatch<Handler: PacketHandler>(
        _ ready: Int, from rx: inout RXRing, recyclingTo fill: inout FillRing, sendingTo tx: inout TXRing,
        pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        // The fill ring's slots as locals, so the loop keeps its index in a register.
        var fillSlots = fill.ring.reserve(upTo: UInt32(truncatingIfNeeded: ready))
        var result = BatchResult(packets: ready)
        if !Handler.transmits, fillSlots.room == UInt32(truncatingIfNeeded: ready) {
            // The usual case of a handler that never transmits (rxdrop): every
            // frame goes back to the fill ring and it has a slot for each, so
            // the loop checks no room per packet.
            for _ in 0..<ready {
                var frame = rx.receiveReserved()
                result.bytes &+= frame.length
                if _fastPath(handler.handle(&frame) == .drop) {
                    fillSlots.append(frame.surrender().chunk)
                } else {
                    pool.release(frame)
                    result.transmitDropped &+= 1
                }
            }
            fill.ring.commit(fillSlots)
            return result
        }
        // A handler that never transmits needs no TX room (and no read of the TX ring).
        var txRoom = Handler.transmits ? tx.freeCount(wanting: ready) : 0
        for _ in 0..<ready {
            var frame = rx.receiveReserved()
            result.bytes &+= frame.length
            switch handler.handle(&frame) {
            case .drop:
                if fillSlots.room > 0 {
                    fillSlots.append(frame.surrender().chunk)
                } else {
                    pool.release(frame)
                }
            case .transmit:
                if txRoom > 0, frame.length > 0 {
                    result.transmittedBytes &+= frame.length
                    tx.pushReserved(frame)
                    txRoom &-= 1
                    result.transmitted &+= 1
                } else {
                    pool.release(frame)
                    result.transmitDropped &+= 1
                }
            }
        }
        fill.ring.commit(fillSlots)
        return result
    }

    /// One batch of the transmit loop (`txonly`): take completed frames back,
    /// then queue up to `limit` frames from the pool with `length`-byte
    /// packets (whatever their bytes already hold: write them once up front),
    /// submit, and kick when the kernel asks.
    /// - Returns: What was queued.
    @inlinable
    public mutating func transmitBatch(limit: Int, pool: inout FramePool, length: Int) -> BatchResult {
        let result = Socket.transmit(limit: limit, tx: &tx, completion: &completion, pool: &pool, length: length)
        kickTransmit()
        return result
    }

    /// ``transmitBatch(limit:pool:length:)`` over the rings, without the
    /// kick (the caller makes it): shared with ``InMemoryQueue``.
    @inlinable @inline(__always)
    static func transmit(limit: Int, tx: inout TXRing, completion: inout CompletionRing, pool: inout FramePool,
                         length: Int) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        let count = min(limit, pool.count, tx.freeCount(wanting: limit))
        for _ in 0..<count {
            var frame = pool.allocateKnownAvailable()
            frame.length = length
            tx.pushReserved(frame)
        }
        return transmitted(count: count, length: length, tx: &tx)
    }

    /// The end of a transmit batch of `count` packets of `length` bytes:
    /// publish, kick when the kernel asks, and say what was queued.
    @inlinable @inline(__always)
    mutating func finishTransmitBatch(count: Int, length: Int) -> BatchResult {
        let result = Socket.transmitted(count: count, length: length, tx: &tx)
        kickTransmit()
        return result
    }

    /// The end of a transmit batch of `count` packets of `length` bytes:
    /// publish, and say what was queued.
    @inlinable @inline(__always)
    static func transmitted(count: Int, length: Int, tx: inout TXRing) -> BatchResult {
        if count > 0 { tx.submit() }
        var result = BatchResult(packets: count, bytes: count &* length, transmitted: count)
        result.transmittedBytes = result.bytes
        return result
    }

    /// Kicks the TX ring if it still holds packets the kernel has not taken
    /// (copy mode sends a bounded number per kick).
    @inlinable @inline(__always)
    public func kickPendingTransmit() {
        let fd = fileDescriptor, counts = syscallCounts  // before any store: see kickTransmit()
        guard tx.produced != completion.consumed, !usesNeedWakeup || tx.needsWakeup else { return }
        Socket.kickTransmit(fd, counts: counts)
    }
}
