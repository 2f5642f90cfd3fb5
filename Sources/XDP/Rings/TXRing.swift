import CXDP

/// Packets to transmit (one per socket).
///
/// Push frames, ``submit()`` once per batch, then ``Socket/kickTransmit()``
/// (which makes a syscall only when the kernel asks for one).
public struct TXRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ProducerRing<xdp_desc>
    /// Descriptors pushed with `pushDescriptor(address:length:options:)` (testing SPI), which own
    /// no frame: they are not frames in flight for frame accounting.
    @usableFromInline var framelessDescriptors: UInt32 = 0
    let umemSize: UInt64
    @usableFromInline let addressing: FrameAddressing
    /// The start of this ring's UMEM: only its frames may be pushed.
    @usableFromInline let umemBase: UnsafeMutableRawPointer

    /// Bytes of TX metadata in front of each packet (the UMEM's), or 0.
    @usableFromInline let txMetadataLength: Int

    init(_ ring: xsk_ring_prod, umemBase: UnsafeMutableRawPointer, umemSize: Int, frameSize: Int, unaligned: Bool = false,
         txMetadataLength: Int = 0) {
        self.ring = ProducerRing(ring)
        self.umemBase = umemBase
        self.txMetadataLength = txMetadataLength
        self.umemSize = UInt64(umemSize)
        self.addressing = FrameAddressing(frameSize: frameSize, unaligned: unaligned)
    }

    /// Slots free for pushing, re-reading the kernel's index only when fewer
    /// than `wanted` are known free.
    @inlinable @inline(__always)
    public mutating func freeCount(wanting wanted: Int = 1) -> Int {
        Int(ring.freeCount(wanting: UInt32(clamping: wanted)))
    }

    /// Queues a frame for transmission (after ``submit()``); it comes back on
    /// the completion ring of the same (interface, queue).
    /// Traps if the ring is full (check ``freeCount(wanting:)``) or the packet
    /// is empty (the kernel would discard it without completing it). A frame
    /// of another UMEM traps in debug builds and is dropped and counted in
    /// ``Frame/misroutedCount`` in release builds.
    /// - Parameter frame: The packet to send.
    @inlinable
    public mutating func push(_ frame: consuming Frame) {
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        precondition(frame.packetLength > 0, "cannot transmit an empty frame")
        pushReserved(frame)
    }

    /// Queues a multi-buffer packet (a socket bound with
    /// ``SocketConfiguration/multiBuffer``): one descriptor per frame, all
    /// but the last marked XDP_PKT_CONTD, so the kernel sends them as one
    /// packet. Each frame comes back on the completion ring on its own.
    /// Traps if the ring has fewer free slots than the packet has frames
    /// (check ``freeCount(wanting:)``) or a frame is empty.
    /// - Parameter packet: The packet to send.
    @inlinable
    public mutating func push(_ packet: consuming FramePacket) {
        precondition(ring.freeCount(wanting: UInt32(packet.count)) >= UInt32(packet.count), "TX ring full: check freeCount before pushing")
        pushReserved(packet)
    }

    /// Queues a multi-buffer packet into slots the caller knows are free.
    @inlinable @inline(__always)
    mutating func pushReserved(_ packet: consuming FramePacket) {
        let count = packet.count
        guard _fastPath(count == 0 || packet.base == umemBase) else {
            Frame.recordMisrouted()
            packet.forget()
            return
        }
        for index in 0..<count {
            let segment = packet.segments[index]
            precondition(segment.length > 0, "cannot transmit an empty frame")
            ring.append(xdp_desc(addr: addressing.encode(chunk: segment.chunk, offset: segment.offset), len: segment.length,
                                 options: index &+ 1 < count ? FramePacket.continuesFlag : 0))
        }
        packet.forget()
    }

    /// Queues `frame` with a descriptor of your choosing: its chunk plus
    /// `offset` as the address, `length` and `options` as they are,
    /// unchecked. For tests of the kernel's validation: it discards an
    /// invalid descriptor, counts it in
    /// ``SocketStatistics/txInvalidDescriptors``, and (on current kernels)
    /// still completes it, so the frame comes back as usual. `options` can
    /// carry XDP_PKT_CONTD (``FramePacket/continuesFlag``) to build chains
    /// by hand. In unaligned mode the offset travels in the address's upper
    /// 16 bits (0 to 65535), so the completion still names the frame.
    /// Traps if the ring is full.
    public mutating func pushDescriptor(_ frame: consuming Frame, offset: Int, length: UInt32, options: UInt32 = 0) {
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        let ours = frame.belongs(to: umemBase)
        let chunk = frame.surrender().chunk
        guard ours else { return }
        let address: UInt64
        if addressing.isUnaligned {
            precondition((0...0xFFFF).contains(offset), "in unaligned mode a frame's descriptor offset is 0 to 65535")
            address = addressing.encode(chunk: chunk, offset: UInt32(offset))
        } else {
            address = chunk &+ UInt64(bitPattern: Int64(offset))
        }
        ring.append(xdp_desc(addr: address, len: length, options: options))
    }

    /// Queues a descriptor that names no frame: its address must lie past the
    /// end of the UMEM, where no frame can be (so its completion is told apart
    /// and never enters a pool). For tests of the kernel's validation only:
    /// drain the completion ring with `CompletionRing.drainSkippingFrameless(into:upTo:)`.
    /// Traps if the ring is full or the address could belong to a frame.
    @_spi(Testing)
    public mutating func pushDescriptor(address: UInt64, length: UInt32, options: UInt32 = 0) {
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        precondition(addressing.decode(address).chunk >= umemSize, "a frameless descriptor must point past the UMEM; use pushDescriptor(_:offset:length:) with a frame")
        ring.append(xdp_desc(addr: address, len: length, options: options))
        framelessDescriptors &+= 1
    }

    /// Queues a frame into a slot the caller already knows is free (it asked
    /// ``freeCount(wanting:)`` for the batch) and that is not empty.
    @inlinable @inline(__always)
    mutating func pushReserved(_ frame: consuming Frame) {
        let options = frame.transmitOptions
        let ours = frame.belongs(to: umemBase)
        let (chunk, offset, length) = frame.surrender()
        guard _fastPath(ours) else { return }
        ring.append(xdp_desc(addr: addressing.encode(chunk: chunk, offset: offset), len: length, options: options))
    }

    /// Makes the pushed packets visible to the kernel.
    @inlinable @inline(__always)
    public mutating func submit() { ring.publish() }

    /// Whether the kernel wants a syscall to start sending.
    @inlinable
    public var needsWakeup: Bool { ring.needsWakeup }

    /// Entries submitted and not yet taken by the kernel.
    public var outstanding: Int { Int(ring.outstanding) }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Frames pushed in this ring's lifetime, frameless descriptors excluded (wraps at 2^32).
    @inlinable
    public var produced: UInt32 { ring.cachedProducer &- framelessDescriptors }
}
