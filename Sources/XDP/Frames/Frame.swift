import Synchronization

/// One UMEM frame holding one packet, owned by exactly one place at a time.
///
/// `Frame` is move-only: the compiler rejects handing the same frame to two
/// rings, or to a ring and the pool. A frame leaves your hands only by being
/// consumed: ``TXRing/push(_:)-(Frame)`` transmits it, ``FillRing/push(_:)-(Frame)`` gives it
/// back to the kernel for receiving, ``FramePool/release(_:)-(Frame)`` returns it to
/// the pool. A frame dropped without any of these is a leak: debug builds trap
/// at the spot, release builds count it in ``Frame/leakedCount`` (and it shows
/// up in ``FrameAccounting``).
///
/// The packet bytes are ``bytes`` (read) and ``mutableBytes`` (write), views
/// straight into the UMEM whose lifetime the compiler ties to the frame: no
/// copy, and no view can outlive the frame's ownership.
///
/// Safety: `base` is the start of the UMEM mapping and `chunk + offset +
/// length` never exceeds `chunk + chunkSize` (checked in every mutator), so the
/// views stay inside this frame's chunk. The UMEM stays mapped while any
/// socket or pool of it exists; frames must be returned before those go.
@frozen
public struct Frame: ~Copyable {
    @usableFromInline let base: UnsafeMutableRawPointer
    /// UMEM offset of the chunk this frame occupies.
    @usableFromInline let chunk: UInt64
    /// Start of the packet within the chunk.
    @usableFromInline var offset: UInt32
    /// Packet length in bytes.
    @usableFromInline var packetLength: UInt32
    /// Chunk size (the UMEM frame size).
    @usableFromInline let chunkSize: UInt32
    /// Descriptor options for transmitting it: XDP_TX_METADATA once
    /// ``requestChecksumOffload(start:offset:metadataLength:)`` wrote TX
    /// metadata in front of the packet; 0 otherwise.
    @usableFromInline var transmitOptions: UInt32 = 0

    @inlinable @inline(__always)
    init(base: UnsafeMutableRawPointer, chunk: UInt64, offset: UInt32, length: UInt32, chunkSize: UInt32) {
        self.base = base
        self.chunk = chunk
        self.offset = offset
        self.packetLength = length
        self.chunkSize = chunkSize
    }

    /// The descriptor address of the packet: UMEM offset of its first byte.
    @inlinable
    public var address: UInt64 { chunk &+ UInt64(offset) }

    /// The UMEM offset of the chunk (frame) holding the packet.
    @inlinable
    public var chunkAddress: UInt64 { chunk }

    /// Bytes in front of the packet that ``adjustHead(by:)`` can claim.
    @inlinable
    public var headroom: Int { Int(offset) }

    /// The largest ``length`` the packet can have at its current start.
    @inlinable
    public var capacity: Int { Int(chunkSize &- offset) }

    /// The packet length in bytes; set it to grow or trim the packet's tail.
    /// Setting a value above ``capacity`` traps: check ``capacity`` first.
    @inlinable
    public var length: Int {
        get { Int(packetLength) }
        set {
            precondition(newValue >= 0 && newValue <= capacity, "frame length \(newValue) outside 0...\(capacity)")
            packetLength = UInt32(truncatingIfNeeded: newValue)
        }
    }

    /// Moves the start of the packet, like `bpf_xdp_adjust_head`: a negative
    /// `delta` prepends that many bytes (taken from the headroom), a positive
    /// one removes bytes from the front.
    /// - Parameter delta: Bytes to move the start by.
    /// - Returns: `false`, leaving the frame unchanged, if the new start would
    ///   leave the chunk or the packet would get a negative length.
    @inlinable
    public mutating func adjustHead(by delta: Int) -> Bool {
        let newOffset = Int(offset) + delta
        let newLength = Int(packetLength) - delta
        guard newOffset >= 0, newLength >= 0, newOffset + newLength <= Int(chunkSize) else { return false }
        offset = UInt32(truncatingIfNeeded: newOffset)
        packetLength = UInt32(truncatingIfNeeded: newLength)
        return true
    }

    /// The packet's bytes, read-only, valid while the frame is borrowed.
    public var bytes: RawSpan {
        @_lifetime(borrow self)
        @inlinable get {
            let span = unsafe RawSpan(_unsafeStart: UnsafeRawPointer(UMEMPointer.at(address, in: base)), byteCount: Int(packetLength))
            return unsafe _overrideLifetime(span, borrowing: self)
        }
    }

    /// The packet's bytes, writable, valid while the frame is exclusively accessed.
    public var mutableBytes: MutableRawSpan {
        @_lifetime(&self)
        @inlinable mutating get {
            let span = unsafe MutableRawSpan(_unsafeStart: UMEMPointer.at(address, in: base), byteCount: Int(packetLength))
            return unsafe _overrideLifetime(span, mutating: &self)
        }
    }

    /// Calls `body` with a pointer to the packet's bytes, for code that wants
    /// unchecked access (checksum loops, memcpy). The pointer must not escape.
    /// - Parameter body: Receives the packet bytes.
    /// - Returns: What `body` returns.
    @inlinable
    public mutating func withUnsafeMutableBytes<R: ~Copyable, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: UMEMPointer.at(address, in: base), count: Int(packetLength)))
    }

    /// Asks the device (or, in copy mode, the kernel) to fill in the packet's
    /// checksum when it is transmitted: writes TX metadata with a checksum
    /// request (XDP_TXMD_FLAGS_CHECKSUM: the one's-complement sum from
    /// `start` to the end of the packet, stored at `start + offset`, a field
    /// that must hold the pseudo-header sum) into the `metadataLength` bytes
    /// in front of the packet, and marks the frame's descriptor with
    /// XDP_TX_METADATA. Copy mode then hands the stack a CHECKSUM_PARTIAL
    /// packet, finished by the egress device or in software.
    ///
    /// `metadataLength` must be the UMEM's
    /// ``UMEMConfiguration/txMetadataLength`` and the socket that sends the
    /// frame must honour checksum requests (``Socket/checkTXMetadata(_:)``).
    /// - Parameters:
    ///   - start: Where the summed bytes start, from the packet's first byte.
    ///   - offset: Where the checksum goes, from `start`.
    ///   - metadataLength: The UMEM's TX metadata length.
    /// - Returns: `false`, changing nothing, when the headroom cannot hold
    ///   the metadata or the request lies outside the packet.
    @inlinable
    public mutating func requestChecksumOffload(start: Int, offset: Int, metadataLength: Int) -> Bool {
        guard metadataLength >= TXMetadata.byteCount, Int(self.offset) >= metadataLength,
              start >= 0, offset >= 0, start &+ offset &+ 2 <= Int(packetLength), start <= 0xffff, offset <= 0xffff else { return false }
        TXMetadata(checksum: .init(start: UInt16(truncatingIfNeeded: start), offset: UInt16(truncatingIfNeeded: offset)))
            .write(to: UMEMPointer.at(address, in: base) - metadataLength)
        transmitOptions = TXMetadata.descriptorOption
        return true
    }

    /// Ends this value's ownership and returns the chunk address, for the
    /// ring or pool that takes the frame over.
    @inlinable @inline(__always)
    consuming func surrender() -> (chunk: UInt64, offset: UInt32, length: UInt32) {
        let result = (chunk, offset, packetLength)
        discard self
        return result
    }

    deinit {
        Frame.recordLeak()
    }

    /// Frames dropped without being transmitted, filled or released.
    public static var leakedCount: Int { leaks.load(ordering: .relaxed) }

    /// Frames pushed onto a ring, or released to a pool, of another UMEM
    /// than their own: debug builds trap at the spot; release builds drop
    /// the frame (its descriptor would name a chunk of the wrong UMEM: a
    /// stranger's packet sent, a chunk in use given to the kernel) and count
    /// it here. The frame is lost to its own UMEM, as a leaked one is.
    public static var misroutedCount: Int { misrouted.load(ordering: .relaxed) }

    @usableFromInline
    static let misrouted = Atomic<Int>(0)

    /// Whether this frame lies in the UMEM mapped at `umemBase`; if not, the
    /// misroute is recorded (a trap in debug builds, a count in release) and
    /// the caller must drop the frame. One pointer compare on the hot path.
    @inlinable @inline(__always)
    func belongs(to umemBase: UnsafeMutableRawPointer) -> Bool {
        if _fastPath(base == umemBase) { return true }
        Frame.recordMisrouted()
        return false
    }

    @usableFromInline
    static func recordMisrouted() {
        misrouted.add(1, ordering: .relaxed)
        assertionFailure("a Frame of another UMEM was pushed onto this ring or pool: its address names a chunk of this ring's UMEM, not the frame's; use the socket (or pool) of the frame's own UMEM, or share one UMEM (XDP_SHARED_UMEM)")
    }

    @usableFromInline
    static let leaks = Atomic<Int>(0)

    @usableFromInline
    static func recordLeak() {
        leaks.add(1, ordering: .relaxed)
        assertionFailure("a Frame was dropped without being transmitted, filled or released: it is lost to the UMEM")
    }
}
