import CXDP

/// Frames the kernel has finished transmitting (one per (interface, queue)).
public struct CompletionRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ConsumerRing<UInt64>
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let chunkMask: UInt64
    @usableFromInline let chunkSize: UInt32

    init(_ ring: xsk_ring_cons, base: UnsafeMutableRawPointer, frameSize: Int) {
        self.ring = ConsumerRing(ring)
        self.base = base
        self.chunkSize = UInt32(frameSize)
        self.chunkMask = ~(UInt64(frameSize) - 1)
    }

    /// Completed frames ready to take, at most `limit`.
    @inlinable
    public mutating func peek(upTo limit: Int = .max) -> Int {
        Int(ring.available(upTo: UInt32(clamping: limit)))
    }

    /// Takes the next completed frame (its packet as it was sent).
    /// Traps unless ``peek(upTo:)`` reported one more than already taken.
    @inlinable
    public mutating func take() -> Frame {
        precondition(ring.cachedAvailable > 0, "completion ring: take without peek")
        let address = ring.next()
        let chunk = address & chunkMask
        return Frame(base: base, chunk: chunk, offset: UInt32(truncatingIfNeeded: address &- chunk), length: 0, chunkSize: chunkSize)
    }

    /// Gives the taken entries' slots back to the kernel.
    @inlinable
    public mutating func release() { ring.release() }

    /// Moves up to `limit` completed frames into `pool` and releases them.
    /// - Returns: The number moved.
    @inlinable
    @discardableResult
    public mutating func drain(into pool: inout FramePool, upTo limit: Int = .max) -> Int {
        let count = Int(ring.available(upTo: UInt32(clamping: limit)))
        for _ in 0..<count { pool.push(ring.next() & chunkMask) }
        if count > 0 { ring.release() }
        return count
    }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Frames taken in this ring's lifetime (wraps at 2^32).
    @inlinable
    public var consumed: UInt32 { ring.cachedConsumer }
}
