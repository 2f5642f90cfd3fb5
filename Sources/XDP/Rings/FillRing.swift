import CXDP

/// Frames given to the kernel to receive into (one per (interface, queue)).
///
/// Push frames, then ``submit()`` once per batch: the kernel sees nothing
/// until then. ``refill(from:upTo:)`` does both for frames taken straight
/// from a pool.
public struct FillRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ProducerRing<UInt64>
    /// The start of this ring's UMEM: only its frames may be pushed.
    @usableFromInline let umemBase: UnsafeMutableRawPointer

    init(_ ring: xsk_ring_prod, umemBase: UnsafeMutableRawPointer) {
        self.ring = ProducerRing(ring)
        self.umemBase = umemBase
    }

    /// Slots free for pushing, re-reading the kernel's index only when fewer
    /// than `wanted` are known free.
    @inlinable @inline(__always)
    public mutating func freeCount(wanting wanted: Int = 1) -> Int {
        Int(ring.freeCount(wanting: UInt32(clamping: wanted)))
    }

    /// Gives a frame to the kernel to receive into (after ``submit()``).
    /// Traps if the ring is full: check ``freeCount(wanting:)`` for the batch first.
    /// A frame of another UMEM traps in debug builds and is dropped and
    /// counted in ``Frame/misroutedCount`` in release builds.
    /// - Parameter frame: The frame; the kernel owns it until it comes back on RX.
    @inlinable
    public mutating func push(_ frame: consuming Frame) {
        precondition(ring.freeCount(wanting: 1) > 0, "fill ring full: check freeCount before pushing")
        pushReserved(frame)
    }

    /// Pushes a frame into a slot the caller already knows is free (it asked
    /// ``freeCount(wanting:)`` for the batch): no check in the per-packet path.
    @inlinable @inline(__always)
    mutating func pushReserved(_ frame: consuming Frame) {
        let ours = frame.belongs(to: umemBase)
        let chunk = frame.surrender().chunk
        if _fastPath(ours) { ring.append(chunk) }
    }

    /// Makes the pushed frames visible to the kernel.
    @inlinable @inline(__always)
    public mutating func submit() { ring.publish() }

    /// Moves up to `limit` frames from `pool` into the ring and submits them.
    /// - Parameters:
    ///   - pool: Where the frames come from.
    ///   - limit: The most frames to move.
    /// - Returns: The number moved (bounded by the pool, the ring's room and `limit`).
    @inlinable @inline(__always)
    @discardableResult
    public mutating func refill(from pool: inout FramePool, upTo limit: Int = .max) -> Int {
        let wanted = min(limit, pool.count)
        guard wanted > 0 else { return 0 }
        let count = min(wanted, Int(ring.freeCount(wanting: UInt32(clamping: wanted))))
        for _ in 0..<count { ring.append(pool.pop()) }
        if count > 0 { ring.publish() }
        return count
    }

    /// Whether the kernel wants a syscall (``Socket/wakeReceive()``) to notice new frames.
    @inlinable
    public var needsWakeup: Bool { ring.needsWakeup }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Frames pushed in this ring's lifetime (wraps at 2^32).
    @inlinable
    public var produced: UInt32 { ring.cachedProducer }
}
