/// What one batch did.
@frozen
public struct BatchResult: Sendable, Equatable {
    /// Packets taken from the RX ring (or queued for TX by ``Socket/transmitBatch(limit:pool:length:as:)``).
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
    /// Packets dropped by the handler go back to the fill ring; transmitted
    /// ones to the TX ring (or, when it is full, to the pool, counted); the
    /// fill ring is topped up from the pool. Every frame stays accounted for.
    ///
    /// The handler's ``BatchHandler/Packet`` picks the kind: a
    /// ``PacketHandler`` sees single frames (on a multi-buffer socket, each
    /// frame of a chain on its own); a ``MultiBufferHandler`` (for a socket
    /// bound with ``SocketConfiguration/multiBuffer``) sees whole packets,
    /// each a ``FramePacket`` of one or more frames, and every frame of a
    /// packet goes to the same place (fill ring, TX ring as one chain, or
    /// the pool).
    ///
    /// - Parameters:
    ///   - limit: The most packets to take (the batch size).
    ///   - pool: The UMEM's frame pool.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets,
    ///   not frames); `packets == 0` means no whole packet was ready.
    @inlinable
    public mutating func receiveBatch<Handler: BatchHandler>(limit: Int, pool: inout FramePool, handler: inout Handler) -> BatchResult {
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
    static func receive<Handler: BatchHandler>(
        limit: Int, rx: inout RXRing, fill: inout FillRing, tx: inout TXRing, completion: inout CompletionRing,
        pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        let ready = Handler.Packet._ready(in: &rx, limit: limit)
        guard ready.packets > 0 else {
            fill.refill(from: &pool)
            return BatchResult()
        }
        let (result, frames) = Socket.dispatch(ready, from: &rx, recyclingTo: &fill, sendingTo: &tx, pool: &pool, handler: &handler)
        rx.release()
        if result.transmitted > 0 { tx.submit() }
        fill.submit()
        if pool.count > 0 { fill.refill(from: &pool, upTo: frames) }
        return result
    }

    /// The per-packet part of every batch loop, for either packet kind: take
    /// up to `ready.packets` received packets from `rx`, let the handler
    /// decide, and put each (all its frames) where it goes: the fill ring
    /// (`.drop`), the TX ring (`.transmit`), or the pool when a ring is out
    /// of room (counted). Nothing is published here; the caller releases,
    /// submits and kicks once per batch.
    ///
    /// The fill ring's slots are reserved into a local for `ready.frames`,
    /// the TX ring's room is read once, and a handler that never transmits
    /// reads nothing of the TX ring: for ``Frame`` (one frame per packet,
    /// taken unchecked below `ready.packets`) this is the single-frame loop
    /// written by hand.
    /// - Returns: What was done, and the frames taken (for the refill).
    @inlinable @inline(__always)
    static func dispatch<Handler: BatchHandler>(
        _ ready: (packets: Int, frames: Int), from rx: inout RXRing, recyclingTo fill: inout FillRing, sendingTo tx: inout TXRing,
        pool: inout FramePool, handler: inout Handler
    ) -> (BatchResult, frames: Int) {
        // The fill ring's slots as locals, so the loop keeps its index in a register.
        var fillSlots = fill.reserve(upTo: ready.frames)
        var result = BatchResult()
        if !Handler.Packet._isChain, !Handler.transmits, fillSlots.room == ready.frames {
            // The usual case of a handler that never transmits (rxdrop): every
            // frame goes back to the fill ring and it has a slot for each, so
            // the loop checks no room per packet (and the compiler unrolls it).
            result.packets = ready.packets
            for _ in 0..<ready.packets {
                guard var packet = Handler.Packet._receive(from: &rx, pool: &pool) else { break }
                result.bytes &+= packet.length
                if _fastPath(handler.handle(&packet) == .drop) {
                    packet._recycle(into: &fillSlots)
                } else {
                    packet._release(to: &pool)
                    result.transmitDropped &+= 1
                }
            }
            fill.commit(fillSlots)
            return (result, ready.frames)
        }
        // A handler that never transmits needs no TX room (and no read of the TX ring).
        var txRoom = Handler.transmits ? tx.freeCount(wanting: ready.frames) : 0
        var frames = 0
        for _ in 0..<ready.packets {
            // No more frames than reserved (for Frame, one per packet: never
            // true); a chain still ending past them goes to the pool below.
            if Handler.Packet._isChain, frames >= ready.frames { break }
            guard var packet = Handler.Packet._receive(from: &rx, pool: &pool) else { break }
            let count = packet.frameCount
            frames &+= count
            result.packets &+= 1
            result.bytes &+= packet.length
            switch handler.handle(&packet) {
            case .drop:
                // Out of reserved slots (a ring short of room): to the pool,
                // from which the refill after the batch tops the ring up.
                // No kernel index is read in the loop: an acquire load here
                // would keep the RX ring's fields out of registers.
                if fillSlots.room >= count {
                    packet._recycle(into: &fillSlots)
                } else {
                    packet._release(to: &pool)
                }
            case .transmit:
                let length = packet.length
                if length > 0, txRoom >= count {
                    result.transmittedBytes &+= length
                    packet._transmit(on: &tx)
                    txRoom &-= count
                    result.transmitted &+= 1
                } else {
                    packet._release(to: &pool)
                    result.transmitDropped &+= 1
                }
            }
        }
        fill.commit(fillSlots)
        return (result, frames)
    }

    /// One batch of the transmit loop (`txonly`): take completed frames back,
    /// then queue up to `limit` single-frame packets of `length` bytes from
    /// the pool (whatever their bytes already hold: write them once up
    /// front), submit, and kick when the kernel asks.
    /// ``transmitBatch(limit:pool:length:as:)`` with ``Frame``.
    /// - Returns: What was queued.
    @inlinable
    public mutating func transmitBatch(limit: Int, pool: inout FramePool, length: Int) -> BatchResult {
        transmitBatch(limit: limit, pool: &pool, length: length, as: Frame.self)
    }

    /// One batch of the transmit loop (`txonly`) for either packet kind:
    /// take completed frames back, then queue up to `limit` packets of
    /// `length` bytes from the pool, each over as many frames as it needs
    /// (one for ``Frame``; a chain for ``FramePacket`` on a socket bound
    /// with ``SocketConfiguration/multiBuffer``), whatever their bytes
    /// already hold, submit, and kick when the kernel asks.
    /// Traps if a packet needs more frames than the kind holds (a ``Frame``
    /// longer than its capacity, a chain of more than ``FramePacket/capacity``).
    /// - Parameters:
    ///   - limit: The most packets to queue.
    ///   - pool: The UMEM's frame pool.
    ///   - length: Bytes per packet.
    ///   - kind: ``Frame`` or ``FramePacket``.
    /// - Returns: What was queued (``BatchResult/packets`` counts packets).
    @inlinable
    public mutating func transmitBatch<Packet: RingPacket & ~Copyable>(limit: Int, pool: inout FramePool, length: Int,
                                                                        as kind: Packet.Type) -> BatchResult {
        let result = Socket.transmit(limit: limit, tx: &tx, completion: &completion, pool: &pool, length: length, as: kind)
        kickTransmit()
        return result
    }

    /// ``transmitBatch(limit:pool:length:as:)`` over the rings, without the
    /// kick (the caller makes it): shared with ``InMemoryQueue``.
    @inlinable @inline(__always)
    static func transmit<Packet: RingPacket & ~Copyable>(limit: Int, tx: inout TXRing, completion: inout CompletionRing,
                                                         pool: inout FramePool, length: Int, as kind: Packet.Type) -> BatchResult {
        if tx.produced != completion.consumed {
            completion.drain(into: &pool)
        }
        let frames = Packet._frames(forLength: length, in: pool)
        let count = min(limit, pool.count / frames, tx.freeCount(wanting: limit &* frames) / frames)
        var sent = 0
        while sent < count, let packet = Packet._allocate(length: length, frames: frames, from: &pool) {
            packet._transmit(on: &tx)
            sent &+= 1
        }
        return transmitted(count: sent, length: length, tx: &tx)
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
