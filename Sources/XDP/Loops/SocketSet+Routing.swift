/// What a ``RoutingHandler`` decides for one received packet.
@frozen
public enum RoutingVerdict: Sendable, Equatable {
    /// Give the frame back to the kernel for receiving (drop the packet).
    case drop
    /// Send the packet (as the handler left it) out of the socket at this
    /// index of the ``SocketSet``: another port's, or the one it came in on.
    case transmit(socket: Int)
}

/// Per-packet logic that picks the output socket per packet
/// (``SocketSet/routeBatch(from:limit:pool:handler:tally:)``), e.g. a
/// router sending each packet out of the port its route names. The same
/// contract as ``PacketHandler``: a value type, inlined, no allocation.
public protocol RoutingHandler {
    /// Looks at (and may rewrite) one packet and says where it goes.
    /// - Parameter frame: The received packet, borrowed mutably.
    /// - Returns: The verdict.
    mutating func route(_ frame: inout Frame) -> RoutingVerdict
}

/// What the packets a batch sent out of one socket did there.
@frozen
public struct TransmitTally: Sendable, Equatable {
    /// Packets queued on the socket's TX ring.
    public var packets: UInt64
    /// Their bytes.
    public var bytes: UInt64
    /// Packets its full TX ring could not take (returned to the pool).
    public var dropped: UInt64

    /// Creates a tally.
    @inlinable
    public init(packets: UInt64 = 0, bytes: UInt64 = 0, dropped: UInt64 = 0) {
        self.packets = packets
        self.bytes = bytes
        self.dropped = dropped
    }
}

extension SocketSet {
    /// One batch of a router over the set's shared UMEM: packets received on
    /// socket `input` go out of whichever socket of the set the handler
    /// names, per packet, as the very same frames (no copy); `input` itself
    /// is allowed (hairpin: back out of the port it came in on).
    ///
    /// `input`'s completion ring is drained into `pool` first (every socket
    /// is an input in turn, so each one's completed frames come back once per
    /// round), and its fill ring topped up from it. Each output socket that
    /// got packets is submitted (and kicked, when the kernel asks) once.
    ///
    /// - Parameters:
    ///   - input: The index of the receiving socket.
    ///   - limit: The batch size.
    ///   - pool: The shared UMEM's frame pool.
    ///   - handler: The per-packet logic; a `.transmit(socket:)` index
    ///     outside the set traps.
    ///   - tally: Per socket of the set (``count`` entries at least): what
    ///     this batch sent out of it is added.
    /// - Returns: What the batch did (`transmitted`, `transmittedBytes` and
    ///   `transmitDropped` summed over the outputs).
    @inlinable
    public mutating func routeBatch<Handler: RoutingHandler>(
        from input: Int, limit: Int, pool: inout FramePool, handler: inout Handler, tally: inout [TransmitTally]
    ) -> BatchResult {
        precondition(input >= 0 && input < count && tally.count >= count, "route needs an input socket of the set and a tally per socket")
        let socket = storage + input
        if socket.pointee.tx.produced != socket.pointee.completion.consumed {
            socket.pointee.completion.drain(into: &pool)
        }
        let ready = socket.pointee.rx.peek(upTo: limit)
        guard ready > 0 else {
            socket.pointee.fill.refill(from: &pool)
            socket.pointee.wakeReceive()
            socket.pointee.kickPendingTransmit()
            return BatchResult()
        }
        var fillRoom = socket.pointee.fill.freeCount(wanting: ready)
        var result = BatchResult(packets: ready)
        // Outputs that got packets: a bit per socket for the first 64, and a
        // flag for any beyond (then every socket is submitted).
        var touched: UInt64 = 0
        var touchedBeyond = false
        for _ in 0..<ready {
            var frame = socket.pointee.rx.receive()
            result.bytes &+= frame.length
            switch handler.route(&frame) {
            case .drop:
                if fillRoom > 0 {
                    socket.pointee.fill.pushReserved(frame)
                    fillRoom &-= 1
                } else {
                    pool.release(frame)
                }
            case .transmit(let output):
                precondition(output >= 0 && output < count, "routed to socket \(output), outside the set of \(count)")
                let length = frame.length
                if length > 0, storage[output].tx.freeCount(wanting: 1) > 0 {
                    storage[output].tx.pushReserved(frame)
                    result.transmitted &+= 1
                    result.transmittedBytes &+= length
                    tally[output].packets &+= 1
                    tally[output].bytes &+= UInt64(truncatingIfNeeded: length)
                    if output < 64 { touched |= 1 &<< UInt64(output) } else { touchedBeyond = true }
                } else {
                    pool.release(frame)
                    result.transmitDropped &+= 1
                    tally[output].dropped &+= 1
                }
            }
        }
        socket.pointee.rx.release()
        if touchedBeyond {
            for output in 0..<count where storage[output].tx.unsubmitted > 0 { submitAndKick(output) }
        } else {
            while touched != 0 {
                let output = touched.trailingZeroBitCount
                touched &= touched &- 1
                submitAndKick(output)
            }
        }
        socket.pointee.fill.submit()
        if pool.count > 0 { socket.pointee.fill.refill(from: &pool, upTo: ready) }
        return result
    }

    @inlinable @inline(__always)
    mutating func submitAndKick(_ index: Int) {
        storage[index].tx.submit()
        storage[index].kickTransmit()
    }
}

extension TXRing {
    /// Packets pushed since the last ``submit()``.
    @inlinable
    var unsubmitted: UInt32 { ring.unpublished }
}
