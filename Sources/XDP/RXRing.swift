import CXDP

/// Received packets (one per socket).
///
/// ``peek(upTo:)`` says how many are ready, ``receive()`` takes them one at a
/// time as ``Frame``s, ``release()`` hands the ring slots back once per batch.
public struct RXRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ConsumerRing<xdp_desc>
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let chunkMask: UInt64
    @usableFromInline let chunkSize: UInt32

    init(_ ring: xsk_ring_cons, base: UnsafeMutableRawPointer, frameSize: Int) {
        self.ring = ConsumerRing(ring)
        self.base = base
        self.chunkSize = UInt32(frameSize)
        self.chunkMask = ~(UInt64(frameSize) - 1)
    }

    /// Packets ready to receive, at most `limit`; reads the kernel's index
    /// only when none are known to be ready.
    @inlinable
    public mutating func peek(upTo limit: Int = .max) -> Int {
        Int(ring.available(upTo: UInt32(clamping: limit)))
    }

    /// Takes the next received packet.
    /// Traps unless ``peek(upTo:)`` reported one more than already taken.
    @inlinable
    public mutating func receive() -> Frame {
        precondition(ring.cachedAvailable > 0, "RX ring: receive without peek")
        let descriptor = ring.next()
        let chunk = descriptor.addr & chunkMask
        return Frame(base: base, chunk: chunk, offset: UInt32(truncatingIfNeeded: descriptor.addr &- chunk),
                     length: descriptor.len, chunkSize: chunkSize)
    }

    /// Gives the received entries' slots back to the kernel (once per batch).
    @inlinable
    public mutating func release() { ring.release() }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Packets received in this ring's lifetime (wraps at 2^32).
    @inlinable
    public var consumed: UInt32 { ring.cachedConsumer }
}
