/// The one place a UMEM offset (a descriptor's address, a chunk plus an
/// offset) becomes a pointer into this process's mapping of the UMEM.
///
/// Safety: `base` is the start of the UMEM mapping and `address` lies inside
/// it (every caller holds a frame, whose chunk and offset the rings and the
/// pool keep inside the UMEM); the result is valid while the mapping is.
@usableFromInline
enum UMEMPointer {
    /// `base + address`, the start of the bytes at UMEM offset `address`.
    @inlinable @inline(__always)
    static func at(_ address: UInt64, in base: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        base + Int(truncatingIfNeeded: address)
    }
}
