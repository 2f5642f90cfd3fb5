/// How descriptor addresses name frames, in aligned or unaligned chunk mode.
///
/// Aligned mode: chunks are `frameSize` apart at multiples of `frameSize` (a
/// power of two), and a descriptor's address is the UMEM offset of its first
/// byte, so masking gives the chunk. Unaligned mode
/// (XDP_UMEM_UNALIGNED_CHUNK_FLAG): a chunk can start anywhere; the kernel
/// hands out RX addresses as `chunk | offset << 48`
/// (XSK_UNALIGNED_BUF_OFFSET_SHIFT), and we send TX addresses the same way,
/// so completions come back with the chunk in the low 48 bits.
///
/// One shape for both: decoding is two masks and a shift, encoding one
/// shift, with no branch on the mode in the packet path.
@frozen
public struct FrameAddressing: Sendable, Equatable, BitwiseCopyable {
    /// The bits of an address that hold the base (all in aligned mode, the low 48 otherwise).
    @usableFromInline let baseMask: UInt64
    /// Clears the in-chunk offset from a base (`~(frameSize - 1)` aligned, all ones unaligned).
    @usableFromInline let chunkMask: UInt64
    /// The offset bits above the base (none aligned, 16 unaligned).
    @usableFromInline let offsetMask: UInt64
    /// Where TX encodes the offset: 0 (added to the address) or 48.
    @usableFromInline let encodeShift: UInt64

    /// The kernel's XSK_UNALIGNED_BUF_OFFSET_SHIFT.
    public static let unalignedOffsetShift: UInt64 = 48

    /// Addressing for a UMEM of `frameSize`-byte frames.
    /// - Parameters:
    ///   - frameSize: The chunk size (a power of two when aligned).
    ///   - unaligned: Whether the UMEM was registered in unaligned chunk mode.
    public init(frameSize: Int, unaligned: Bool) {
        if unaligned {
            baseMask = (1 << FrameAddressing.unalignedOffsetShift) - 1
            chunkMask = ~0
            offsetMask = 0xFFFF
            encodeShift = FrameAddressing.unalignedOffsetShift
        } else {
            baseMask = ~0
            chunkMask = ~(UInt64(frameSize) - 1)
            offsetMask = 0
            encodeShift = 0
        }
    }

    /// Whether this is unaligned chunk mode.
    public var isUnaligned: Bool { encodeShift != 0 }

    /// The chunk and in-chunk offset a descriptor address names.
    @inlinable @inline(__always)
    public func decode(_ address: UInt64) -> (chunk: UInt64, offset: UInt32) {
        let base = address & baseMask
        let chunk = base & chunkMask
        let offset = (base &- chunk) &+ ((address &>> FrameAddressing.unalignedOffsetShift) & offsetMask)
        return (chunk, UInt32(truncatingIfNeeded: offset))
    }

    /// The descriptor address for the packet at `offset` in `chunk`.
    @inlinable @inline(__always)
    public func encode(chunk: UInt64, offset: UInt32) -> UInt64 {
        chunk &+ (UInt64(offset) &<< encodeShift)
    }
}
