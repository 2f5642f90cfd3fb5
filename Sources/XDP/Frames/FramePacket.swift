/// Where one frame of a ``FramePacket`` holds its part of the packet.
@frozen
public struct FrameSegment: Sendable, Equatable, BitwiseCopyable {
    /// UMEM offset of the chunk.
    public var chunk: UInt64
    /// Start of this part within the chunk.
    public var offset: UInt32
    /// Bytes of the packet in this frame.
    public var length: UInt32

    @inlinable
    init(chunk: UInt64, offset: UInt32, length: UInt32) {
        self.chunk = chunk
        self.offset = offset
        self.length = length
    }
}

/// One packet in one or more frames: what a socket bound with
/// ``SocketConfiguration/multiBuffer`` (XDP_USE_SG) receives and sends.
///
/// A packet longer than a frame arrives as a chain of descriptors, every one
/// but the last flagged XDP_PKT_CONTD; ``RXRing/receivePacket(droppingOversizedInto:)``
/// hands the chain over as one `FramePacket`, owning all its frames, in
/// order. Like ``Frame`` it is move-only and leaves your hands only whole:
/// ``TXRing/push(_:)-(FramePacket)`` sends it as one chain,
/// ``FillRing/push(_:)-(FramePacket)`` gives its frames back for receiving,
/// ``FramePool/release(_:)-(FramePacket)`` returns them to the pool.
///
/// The frames are kept inline (no allocation), at most ``capacity`` of them:
/// the most the kernel sends as one packet in copy mode (MAX_SKB_FRAGS + 1).
///
/// Safety: every segment came from a ``Frame`` of the UMEM at `base` (frames
/// keep their bounds: `offset + length <= chunkSize`), so the views stay in
/// their chunks; segments at or past `count` are never read.
@frozen
public struct FramePacket: ~Copyable {
    /// The most frames one packet holds: 18, the kernel's MAX_SKB_FRAGS + 1
    /// with its default of 17 (the most a copy-mode socket sends as one packet).
    public static let capacity = 18
    /// XDP_PKT_CONTD: in a descriptor's options, "the packet continues in the next one".
    public static let continuesFlag: UInt32 = 1 << 0

    @usableFromInline var segments: InlineArray<18, FrameSegment>
    @usableFromInline var segmentCount: Int
    @usableFromInline var base: UnsafeMutableRawPointer?
    @usableFromInline var chunkSize: UInt32

    /// An empty packet, to ``append(_:)`` frames to.
    @inlinable
    public init() {
        segments = InlineArray(repeating: FrameSegment(chunk: 0, offset: 0, length: 0))
        segmentCount = 0
        base = nil
        chunkSize = 0
    }

    /// A packet of one frame.
    @inlinable
    public init(_ frame: consuming Frame) {
        self.init()
        appendUnchecked(frame)
    }

    /// Frames in the packet.
    @inlinable
    public var count: Int { segmentCount }

    /// The packet's length: the bytes of all its frames.
    @inlinable
    public var length: Int {
        var total = 0
        for index in 0..<segmentCount { total &+= Int(segments[index].length) }
        return total
    }

    /// Where each frame's part lies (for diagnostics and tests).
    /// - Parameter index: The frame, 0 to `count - 1`.
    @inlinable
    public func segment(_ index: Int) -> FrameSegment {
        precondition(index >= 0 && index < segmentCount, "segment \(index) out of range 0..<\(segmentCount)")
        return segments[index]
    }

    /// A non-owning ``Frame`` over one segment, for code written against
    /// frames (the caller surrenders it, never returns it anywhere).
    @inlinable @inline(__always)
    func frame(at index: Int) -> Frame {
        let part = segments[index]
        return Frame(base: base.unsafelyUnwrapped, chunk: part.chunk, offset: part.offset, length: part.length, chunkSize: chunkSize)
    }

    /// Adds a frame at the end of the packet (its ``Frame/length`` bytes).
    /// Traps when the packet already has ``capacity`` frames or the frame
    /// belongs to another UMEM.
    /// - Parameter frame: The next part of the packet.
    @inlinable
    public mutating func append(_ frame: consuming Frame) {
        precondition(segmentCount < FramePacket.capacity, "a packet holds at most \(FramePacket.capacity) frames")
        precondition(base == nil || base == frame.base, "all frames of a packet come from one UMEM")
        appendUnchecked(frame)
    }

    @inlinable @inline(__always)
    mutating func appendUnchecked(_ frame: consuming Frame) {
        base = frame.base
        chunkSize = frame.chunkSize
        let (chunk, offset, length) = frame.surrender()
        segments[segmentCount] = FrameSegment(chunk: chunk, offset: offset, length: length)
        segmentCount &+= 1
    }

    /// The bytes of one frame's part, read-only, valid while the packet is borrowed.
    /// - Parameter index: The frame, 0 to `count - 1`.
    @_lifetime(borrow self)
    @inlinable
    public func bytes(segment index: Int) -> RawSpan {
        let part = segment(index)
        let span = unsafe RawSpan(_unsafeStart: UnsafeRawPointer(base.unsafelyUnwrapped + Int(truncatingIfNeeded: part.chunk &+ UInt64(part.offset))),
                                  byteCount: Int(part.length))
        return unsafe _overrideLifetime(span, borrowing: self)
    }

    /// The bytes of one frame's part, writable, valid while the packet is exclusively accessed.
    /// - Parameter index: The frame, 0 to `count - 1`.
    @_lifetime(&self)
    @inlinable
    public mutating func mutableBytes(segment index: Int) -> MutableRawSpan {
        let part = segment(index)
        let span = unsafe MutableRawSpan(_unsafeStart: base.unsafelyUnwrapped + Int(truncatingIfNeeded: part.chunk &+ UInt64(part.offset)),
                                         byteCount: Int(part.length))
        return unsafe _overrideLifetime(span, mutating: &self)
    }

    /// Calls `body` with each frame's bytes in order, for code that wants
    /// unchecked access (copying the packet out, checksums). The pointers
    /// must not escape.
    /// - Parameter body: Receives one part of the packet at a time.
    @inlinable
    public func forEachSegment<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        for index in 0..<segmentCount {
            let part = segments[index]
            try body(UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + Int(truncatingIfNeeded: part.chunk &+ UInt64(part.offset)),
                                            count: Int(part.length)))
        }
    }

    /// The first frame's view of the bytes in front of the packet: where
    /// the RX metadata program leaves ``RXMetadata``.
    @inlinable
    public var metadata: RXMetadata? {
        guard segmentCount > 0, let base else { return nil }
        let first = segments[0]
        return RXMetadata.read(before: UMEMPointer.at(first.chunk &+ UInt64(first.offset), in: base), headroom: Int(first.offset))
    }

    /// Ends the packet's ownership of its frames, for the ring or pool that took them.
    @inlinable @inline(__always)
    consuming func forget() {
        discard self
    }

    deinit {
        for _ in 0..<segmentCount { Frame.recordLeak() }
    }
}

extension FillRing {
    /// Gives every frame of a packet to the kernel to receive into (after ``submit()``).
    /// Traps if the ring has fewer free slots than the packet has frames.
    /// - Parameter packet: The packet; its frames come back on RX one by one.
    @inlinable
    public mutating func push(_ packet: consuming FramePacket) {
        let count = packet.count
        precondition(ring.freeCount(wanting: UInt32(count)) >= UInt32(count), "fill ring full: check freeCount before pushing")
        guard _fastPath(count == 0 || packet.base == umemBase) else {
            Frame.recordMisrouted()
            packet.forget()
            return
        }
        for index in 0..<count { ring.append(packet.segments[index].chunk) }
        packet.forget()
    }
}

extension FramePool {
    /// Returns every frame of a packet to the pool.
    /// - Parameter packet: The packet; its contents are forgotten.
    @inlinable
    public mutating func release(_ packet: consuming FramePacket) {
        guard _fastPath(packet.count == 0 || packet.base == base) else {
            Frame.recordMisrouted()
            packet.forget()
            return
        }
        for index in 0..<packet.count { push(packet.segments[index].chunk) }
        packet.forget()
    }
}
