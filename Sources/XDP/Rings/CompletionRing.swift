import CXDP

/// Frames the kernel has finished transmitting (one per (interface, queue)).
public struct CompletionRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ConsumerRing<UInt64>
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let addressing: FrameAddressing
    @usableFromInline let chunkSize: UInt32
    /// Addresses at or past this are no frame's (frameless test descriptors,
    /// drained only by the testing SPI's `drainSkippingFrameless(into:upTo:)`).
    @usableFromInline let umemSize: UInt64
    /// Completions of frameless descriptors seen (wraps at 2^32).
    @usableFromInline var framelessCompletions: UInt32 = 0

    /// Bytes of TX metadata in front of each packet (the UMEM's), or 0.
    let txMetadataLength: Int

    init(_ ring: xsk_ring_cons, base: UnsafeMutableRawPointer, umemSize: Int, frameSize: Int, unaligned: Bool = false,
         txMetadataLength: Int = 0) {
        self.ring = ConsumerRing(ring)
        self.txMetadataLength = txMetadataLength
        self.base = base
        self.umemSize = UInt64(umemSize)
        self.chunkSize = UInt32(frameSize)
        self.addressing = FrameAddressing(frameSize: frameSize, unaligned: unaligned)
    }

    /// Completed frames ready to take, at most `limit`.
    @inlinable @inline(__always)
    public mutating func peek(upTo limit: Int = .max) -> Int {
        Int(ring.available(upTo: UInt32(clamping: limit)))
    }

    /// Takes the next completed frame (its packet as it was sent).
    /// Traps unless ``peek(upTo:)`` reported one more than already taken, or
    /// if the entry names no frame (a frameless test descriptor's).
    @inlinable
    public mutating func take() -> Frame {
        precondition(ring.cachedAvailable > 0, "completion ring: take without peek")
        let (chunk, offset) = addressing.decode(ring.next())
        precondition(chunk < umemSize, "completion of a frameless descriptor: drain it with the testing SPI")
        return Frame(base: base, chunk: chunk, offset: offset, length: 0, chunkSize: chunkSize)
    }

    /// Gives the taken entries' slots back to the kernel.
    @inlinable @inline(__always)
    public mutating func release() { ring.release() }

    /// Moves up to `limit` completed frames into `pool` and releases them.
    /// Every entry names a frame: only the testing SPI pushes descriptors
    /// that do not, and it drains them with `drainSkippingFrameless(into:upTo:)`
    /// (debug builds check it here).
    /// - Returns: The number of entries taken.
    @inlinable @inline(__always)
    @discardableResult
    public mutating func drain(into pool: inout FramePool, upTo limit: Int = .max) -> Int {
        let count = Int(ring.available(upTo: UInt32(clamping: limit)))
        for _ in 0..<count {
            let chunk = addressing.decode(ring.next()).chunk
            assert(chunk < umemSize, "completion of a frameless descriptor: drain with drainSkippingFrameless(into:upTo:)")
            pool.push(chunk)
        }
        if count > 0 { ring.release() }
        return count
    }

    /// As ``drain(into:upTo:)``, for tests that push descriptors naming no
    /// frame (`TXRing.pushDescriptor(address:length:options:)`, the same
    /// SPI): their completions (addresses past the UMEM) are counted, never
    /// pooled.
    /// - Returns: The number of entries taken, frameless ones included.
    @_spi(Testing)
    @discardableResult
    public mutating func drainSkippingFrameless(into pool: inout FramePool, upTo limit: Int = .max) -> Int {
        let count = Int(ring.available(upTo: UInt32(clamping: limit)))
        for _ in 0..<count {
            let chunk = addressing.decode(ring.next()).chunk
            if chunk < umemSize { pool.push(chunk) } else { framelessCompletions &+= 1 }
        }
        if count > 0 { ring.release() }
        return count
    }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Frames taken in this ring's lifetime, frameless completions excluded (wraps at 2^32).
    @inlinable
    public var consumed: UInt32 { ring.cachedConsumer &- framelessCompletions }
}
