import CXDP

/// Packets to transmit (one per socket).
///
/// Push frames, ``submit()`` once per batch, then ``Socket/kickTransmit()``
/// (which makes a syscall only when the kernel asks for one).
public struct TXRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ProducerRing<xdp_desc>
    /// Raw descriptors pushed with ``pushDescriptor(address:length:)``, which
    /// own no frame and so are not in flight for frame accounting.
    @usableFromInline var rawDescriptors: UInt32 = 0

    init(_ ring: xsk_ring_prod) { self.ring = ProducerRing(ring) }

    /// Slots free for pushing, re-reading the kernel's index only when fewer
    /// than `wanted` are known free.
    @inlinable
    public mutating func freeCount(wanting wanted: Int = 1) -> Int {
        Int(ring.freeCount(wanting: UInt32(clamping: wanted)))
    }

    /// Queues a frame for transmission (after ``submit()``); it comes back on
    /// the completion ring of the same (interface, queue).
    /// Traps if the ring is full (check ``freeCount(wanting:)``) or the packet
    /// is empty (the kernel would discard it without completing it).
    /// - Parameter frame: The packet to send.
    @inlinable
    public mutating func push(_ frame: consuming Frame) {
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        precondition(frame.packetLength > 0, "cannot transmit an empty frame")
        let (chunk, offset, length) = frame.surrender()
        ring.append(xdp_desc(addr: chunk &+ UInt64(offset), len: length, options: 0))
    }

    /// Queues a descriptor that names no ``Frame``, exactly as given. For
    /// tests of the kernel's validation (invalid descriptors): the kernel
    /// drops invalid ones without completing them. Traps if the ring is full.
    /// - Parameters:
    ///   - address: The UMEM offset of the packet.
    ///   - length: The packet length.
    public mutating func pushDescriptor(address: UInt64, length: UInt32) {
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        ring.append(xdp_desc(addr: address, len: length, options: 0))
        rawDescriptors &+= 1
    }

    /// Makes the pushed packets visible to the kernel.
    @inlinable
    public mutating func submit() { ring.publish() }

    /// Whether the kernel wants a syscall to start sending.
    @inlinable
    public var needsWakeup: Bool { ring.needsWakeup }

    /// Entries submitted and not yet taken by the kernel.
    public var outstanding: Int { Int(ring.outstanding) }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Frames pushed in this ring's lifetime, raw descriptors excluded (wraps at 2^32).
    @inlinable
    public var produced: UInt32 { ring.cachedProducer &- rawDescriptors }
}
