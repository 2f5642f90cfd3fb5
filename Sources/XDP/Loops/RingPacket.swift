/// A kind of packet the batch loops move between the rings: a ``Frame`` (one
/// frame, one packet) or a ``FramePacket`` (a multi-buffer chain of frames).
///
/// The batch functions (``Socket/receiveBatch(limit:pool:handler:)``,
/// ``Socket/forwardBatch(from:to:limit:pool:handler:)``,
/// ``Socket/transmitBatch(limit:pool:length:as:)``) are written once over
/// this protocol; a handler picks the kind with its
/// ``BatchHandler/Packet`` type. Specialised for `Frame`, every requirement
/// folds to what a single-frame loop does by hand (one frame per packet, a
/// slot of the fill or TX ring per packet).
///
/// Only `Frame` and `FramePacket` conform. The underscored requirements are
/// the loops' machinery: call the batch functions, not them.
public protocol RingPacket: ~Copyable {
    /// Frames the packet occupies: 1 for a ``Frame``.
    var frameCount: Int { get }

    /// The packet's length in bytes, over all its frames.
    var length: Int { get }

    /// Machinery: whether a packet can span several frames (`false` for
    /// ``Frame``: the loops' per-frame bookkeeping folds away).
    static var _isChain: Bool { get }

    /// Machinery: how many packets a batch of at most `limit` may try to
    /// take from `rx`, and a bound on the frames they hold as far as known
    /// now (what the batch reserves on the fill and TX rings).
    /// - Parameters:
    ///   - rx: The RX ring; its kernel index is read only when nothing is known to be ready.
    ///   - limit: The batch size.
    /// - Returns: `packets == 0` when nothing is ready.
    static func _ready(in rx: inout RXRing, limit: Int) -> (packets: Int, frames: Int)

    /// Machinery: takes the next whole packet from `rx`, one of those
    /// `_ready(in:limit:)` reported (a ``Frame`` is taken unchecked, as the
    /// batch loop's bound already says it is there: called past that bound
    /// it reads a stale descriptor of the ring).
    /// - Parameters:
    ///   - rx: The RX ring.
    ///   - pool: Where a chain too long to take goes (``FramePacket``).
    /// - Returns: The packet, or `nil` when no whole chain is ready.
    static func _receive(from rx: inout RXRing, pool: inout FramePool) -> Self?

    /// Machinery: gives every frame of the packet back to the kernel for
    /// receiving, into fill-ring slots a batch reserved. Traps when the
    /// reservation has fewer than ``frameCount`` slots left.
    /// - Parameter slots: The batch's fill-ring reservation.
    consuming func _recycle(into slots: inout FillRing.Reservation)

    /// Machinery: queues the packet on `tx` (one descriptor per frame, a
    /// chain marked XDP_PKT_CONTD), into slots the caller knows are free
    /// (`tx.freeCount(wanting: frameCount) >= frameCount`; unchecked here, as
    /// on every packet of a batch: a full ring would lose a queued frame).
    /// A packet of another UMEM is dropped and counted (``Frame/misroutedCount``).
    /// - Parameter tx: The TX ring.
    consuming func _transmit(on tx: inout TXRing)

    /// Machinery: returns every frame of the packet to `pool`.
    /// - Parameter pool: The UMEM's frame pool.
    consuming func _release(to pool: inout FramePool)

    /// Machinery: the frames one `length`-byte packet of this kind takes
    /// from `pool`. Traps when the kind cannot hold such a packet.
    /// - Parameters:
    ///   - length: The packet's length.
    ///   - pool: The pool its frames come from (their room past the headroom).
    static func _frames(forLength length: Int, in pool: borrowing FramePool) -> Int

    /// Machinery: takes a `length`-byte packet of `frames` frames (from
    /// `_frames(forLength:in:)`) from `pool`, its bytes as the frames hold them.
    /// - Returns: The packet, or `nil` when the pool has fewer than `frames` frames.
    static func _allocate(length: Int, frames: Int, from pool: inout FramePool) -> Self?
}

extension FillRing {
    /// Free fill-ring slots reserved for one batch: the ring's entries, mask
    /// and producer index as locals of the loop, so it keeps the index in a
    /// register (stores into the ring cannot alias a local). Made and taken
    /// back by the batch loops only.
    @frozen
    public struct Reservation {
        @usableFromInline var slots: ProducerSlots<UInt64>

        @inlinable @inline(__always)
        init(_ slots: ProducerSlots<UInt64>) { self.slots = slots }

        /// Slots still free in the reservation.
        @inlinable
        public var room: Int { Int(slots.room) }
    }

    /// Up to `wanted` free slots for a batch; give them back with ``commit(_:)``.
    @inlinable @inline(__always)
    mutating func reserve(upTo wanted: Int) -> Reservation {
        Reservation(ring.reserve(upTo: UInt32(clamping: wanted)))
    }

    /// Takes back a reservation: what was appended through it counts as
    /// pushed (not yet submitted).
    @inlinable @inline(__always)
    mutating func commit(_ reservation: Reservation) {
        ring.commit(reservation.slots)
    }
}

extension Frame: RingPacket {
    /// 1: a frame is one packet.
    @inlinable
    public var frameCount: Int { 1 }

    @inlinable @inline(__always)
    public static var _isChain: Bool { false }

    @inlinable @inline(__always)
    public static func _ready(in rx: inout RXRing, limit: Int) -> (packets: Int, frames: Int) {
        let ready = rx.peek(upTo: limit)
        return (ready, ready)
    }

    @inlinable @inline(__always)
    public static func _receive(from rx: inout RXRing, pool: inout FramePool) -> Frame? {
        rx.receiveReserved()
    }

    @inlinable @inline(__always)
    public consuming func _recycle(into slots: inout FillRing.Reservation) {
        precondition(slots.slots.room > 0, "fill-ring reservation exhausted")
        // A frame taken from this socket's RX ring: of the fill ring's UMEM.
        slots.slots.append(surrender().chunk)
    }

    @inlinable @inline(__always)
    public consuming func _transmit(on tx: inout TXRing) {
        tx.pushReserved(self)
    }

    @inlinable @inline(__always)
    public consuming func _release(to pool: inout FramePool) {
        pool.release(self)
    }

    @inlinable @inline(__always)
    public static func _frames(forLength length: Int, in pool: borrowing FramePool) -> Int { 1 }

    @inlinable @inline(__always)
    public static func _allocate(length: Int, frames: Int, from pool: inout FramePool) -> Frame? {
        guard pool.available > 0 else { return nil }
        var frame = pool.allocateKnownAvailable()
        frame.length = length
        return frame
    }
}

extension FramePacket: RingPacket {
    /// Frames in the packet (``count``).
    @inlinable
    public var frameCount: Int { segmentCount }

    @inlinable @inline(__always)
    public static var _isChain: Bool { true }

    @inlinable @inline(__always)
    public static func _ready(in rx: inout RXRing, limit: Int) -> (packets: Int, frames: Int) {
        let frames = rx.peek()
        return (frames > 0 ? limit : 0, frames)
    }

    @inlinable @inline(__always)
    public static func _receive(from rx: inout RXRing, pool: inout FramePool) -> FramePacket? {
        rx.receivePacket(droppingOversizedInto: &pool)
    }

    @inlinable @inline(__always)
    public consuming func _recycle(into slots: inout FillRing.Reservation) {
        let count = segmentCount
        precondition(slots.slots.room >= UInt32(truncatingIfNeeded: count), "fill-ring reservation exhausted")
        // Chains come from this socket's RX ring: of the fill ring's UMEM.
        for index in 0..<count { slots.slots.append(segments[index].chunk) }
        forget()
    }

    @inlinable @inline(__always)
    public consuming func _transmit(on tx: inout TXRing) {
        tx.pushReserved(self)
    }

    @inlinable @inline(__always)
    public consuming func _release(to pool: inout FramePool) {
        pool.release(self)
    }

    @inlinable @inline(__always)
    public static func _frames(forLength length: Int, in pool: borrowing FramePool) -> Int {
        let room = Int(pool.chunkSize &- pool.dataOffset)
        let frames = (length + room - 1) / room
        precondition(frames >= 1 && frames <= FramePacket.capacity,
                     "a \(length)-byte packet needs \(frames) frames of \(room) bytes: 1 to \(FramePacket.capacity)")
        return frames
    }

    @inlinable @inline(__always)
    public static func _allocate(length: Int, frames: Int, from pool: inout FramePool) -> FramePacket? {
        guard pool.available >= frames else { return nil }
        let room = Int(pool.chunkSize &- pool.dataOffset)
        var packet = FramePacket()
        var left = length
        for _ in 0..<frames {
            var frame = pool.allocateKnownAvailable()
            frame.packetLength = UInt32(truncatingIfNeeded: min(left, room))
            left &-= room
            packet.appendUnchecked(frame)
        }
        return packet
    }
}
