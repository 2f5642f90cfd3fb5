import CXDP

/// Received packets (one per socket).
///
/// ``peek(upTo:)`` says how many are ready, ``receive()`` takes them one at a
/// time as ``Frame``s, ``release()`` hands the ring slots back once per batch.
public struct RXRing: ~Copyable, @unchecked Sendable {
    @usableFromInline var ring: ConsumerRing<xdp_desc>
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let addressing: FrameAddressing
    @usableFromInline let chunkSize: UInt32
    /// Multi-buffer packets longer than ``FramePacket/capacity`` frames,
    /// dropped by ``receivePacket(droppingOversizedInto:)`` (wraps at 2^32).
    @inlinable public var oversizedPackets: UInt32 { oversized }
    @usableFromInline var oversized: UInt32 = 0

    init(_ ring: xsk_ring_cons, base: UnsafeMutableRawPointer, frameSize: Int, unaligned: Bool = false) {
        self.ring = ConsumerRing(ring)
        self.base = base
        self.chunkSize = UInt32(frameSize)
        self.addressing = FrameAddressing(frameSize: frameSize, unaligned: unaligned)
    }

    /// Packets ready to receive, at most `limit`; reads the kernel's index
    /// only when none are known to be ready.
    @inlinable @inline(__always)
    public mutating func peek(upTo limit: Int = .max) -> Int {
        Int(ring.available(upTo: UInt32(clamping: limit)))
    }

    /// Takes the next received packet.
    /// Traps unless ``peek(upTo:)`` reported one more than already taken.
    @inlinable
    public mutating func receive() -> Frame {
        precondition(ring.cachedAvailable > 0, "RX ring: receive without peek")
        return frame(ring.next())
    }

    /// Takes the next received packet without the check: the caller's
    /// ``peek(upTo:)`` reported it (the batch loops, once per batch).
    @inlinable @inline(__always)
    mutating func receiveReserved() -> Frame {
        frame(ring.next())
    }

    @inlinable @inline(__always)
    func frame(_ descriptor: xdp_desc) -> Frame {
        let (chunk, offset) = addressing.decode(descriptor.addr)
        return Frame(base: base, chunk: chunk, offset: offset, length: descriptor.len, chunkSize: chunkSize)
    }

    /// Takes the next whole received packet, one frame or a multi-buffer
    /// chain (XDP_USE_SG: every descriptor but the last carries
    /// XDP_PKT_CONTD), as one ``FramePacket``.
    ///
    /// Reads the kernel's index again when the chain's end is not yet known
    /// to be published. A chain of more than ``FramePacket/capacity`` frames
    /// (possible only on a device whose segments are smaller than the
    /// UMEM's frames allow for) is taken whole, its frames returned to
    /// `pool`, and counted in ``oversizedPackets``; the next packet follows.
    /// - Parameter pool: Where the frames of an oversized chain go.
    /// - Returns: The packet, or `nil` when no whole packet is ready.
    @inlinable
    public mutating func receivePacket(droppingOversizedInto pool: inout FramePool) -> FramePacket? {
        while true {
            var available = ring.cachedAvailable
            var count: UInt32 = 0
            // Find the end of the chain without consuming anything.
            while true {
                if count == available {
                    ring.refreshProducer()
                    available = ring.cachedAvailable
                    if count == available { return nil }
                }
                let descriptor = ring.entry(ahead: count)
                count &+= 1
                if descriptor.options & FramePacket.continuesFlag == 0 { break }
            }
            if count <= UInt32(FramePacket.capacity) {
                var packet = FramePacket()
                for _ in 0..<count { packet.appendUnchecked(frame(ring.next())) }
                return packet
            }
            for _ in 0..<count { pool.release(frame(ring.next())) }
            oversized &+= 1
        }
    }

    /// Gives the received entries' slots back to the kernel (once per batch).
    @inlinable @inline(__always)
    public mutating func release() { ring.release() }

    /// The ring's size in entries.
    public var size: Int { Int(ring.size) }

    /// Packets received in this ring's lifetime (wraps at 2^32).
    @inlinable
    public var consumed: UInt32 { ring.cachedConsumer }
}
