import CXDP

/// What to ask of the device for one transmitted packet (AF_XDP TX
/// metadata, `struct xsk_tx_metadata`, Linux 6.8+), written in front of the
/// packet by ``TXRing/push(_:metadata:)-(Frame,_)`` on a UMEM with
/// ``UMEMConfiguration/txMetadataLength``.
///
/// What a socket can honour depends on the mode: in copy mode the kernel
/// turns a checksum request into an skb checksum offload (computed in
/// software with ``UMEMConfiguration/softwareTXChecksum``, else by the
/// device or the stack) and a launch time into the skb's departure time;
/// zero-copy drivers advertise what they do in the netdev family's
/// xsk-features (`XDPFeatures.xskFeatures`). ``Socket/checkTXMetadata(_:)``
/// says no, with the probe's answer, before anything is sent.
@frozen
public struct TXMetadata: Sendable, Equatable {
    /// A checksum to fill in: the one's-complement sum from `start` to the
    /// end of the packet, stored at `start + offset` (which must hold the
    /// pseudo-header sum, as for a NIC's checksum offload).
    @frozen
    public struct Checksum: Sendable, Equatable {
        /// Where the summed bytes start, from the packet's first byte.
        public var start: UInt16
        /// Where the checksum goes, from `start`.
        public var offset: UInt16
        /// Creates a request.
        public init(start: UInt16, offset: UInt16) {
            self.start = start
            self.offset = offset
        }

        /// UDP over IPv4 without options behind a plain Ethernet header.
        public static let udpOverIPv4 = Checksum(start: 34, offset: 6)
    }

    /// XDP_TXMD_FLAGS_CHECKSUM.
    public var checksum: Checksum?
    /// XDP_TXMD_FLAGS_TIMESTAMP: ask for the transmit time in the completion.
    public var requestTimestamp: Bool
    /// XDP_TXMD_FLAGS_LAUNCH_TIME: when to send (ns, the qdisc's clock).
    public var launchTime: UInt64?

    /// Creates a request.
    public init(checksum: Checksum? = nil, requestTimestamp: Bool = false, launchTime: UInt64? = nil) {
        self.checksum = checksum
        self.requestTimestamp = requestTimestamp
        self.launchTime = launchTime
    }

    /// The size of `struct xsk_tx_metadata` (6.14+, with launch time).
    public static let byteCount = 24
    /// XDP_TXMD_FLAGS_TIMESTAMP, XDP_TXMD_FLAGS_CHECKSUM, XDP_TXMD_FLAGS_LAUNCH_TIME.
    @usableFromInline static let timestampFlag: UInt64 = 1 << 0
    @usableFromInline static let checksumFlag: UInt64 = 1 << 1
    @usableFromInline static let launchTimeFlag: UInt64 = 1 << 2
    /// XDP_TX_METADATA: the descriptor option saying "metadata in front".
    @usableFromInline static let descriptorOption: UInt32 = 1 << 1

    /// Writes `struct xsk_tx_metadata` at `area` (the start of the metadata
    /// area, `txMetadataLength` bytes before the packet).
    @inlinable
    func write(to area: UnsafeMutableRawPointer) {
        var flags: UInt64 = 0
        if checksum != nil { flags |= TXMetadata.checksumFlag }
        if requestTimestamp { flags |= TXMetadata.timestampFlag }
        if launchTime != nil { flags |= TXMetadata.launchTimeFlag }
        area.storeBytes(of: flags, toByteOffset: 0, as: UInt64.self)
        area.storeBytes(of: checksum?.start ?? 0, toByteOffset: 8, as: UInt16.self)
        area.storeBytes(of: checksum?.offset ?? 0, toByteOffset: 10, as: UInt16.self)
        area.storeBytes(of: 0, toByteOffset: 12, as: UInt32.self)
        area.storeBytes(of: launchTime ?? 0, toByteOffset: 16, as: UInt64.self)
    }

    /// The completion's `tx_timestamp`, when the request asked for one and
    /// the kernel wrote one (it overwrites the request fields).
    static func completionTimestamp(in area: UnsafeRawPointer) -> UInt64? {
        let flags = area.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let timestamp = area.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        return flags & timestampFlag != 0 && timestamp != 0 ? timestamp : nil
    }
}

extension TXRing {
    /// Queues a frame with TX metadata in front of it (XDP_TX_METADATA).
    /// Traps if the ring is full, the packet is empty, the UMEM has no
    /// ``UMEMConfiguration/txMetadataLength``, or the frame's headroom
    /// cannot hold the metadata.
    /// - Parameters:
    ///   - frame: The packet to send.
    ///   - metadata: What to ask of the device for it.
    @inlinable
    public mutating func push(_ frame: consuming Frame, metadata: TXMetadata) {
        precondition(txMetadataLength > 0, "TX metadata needs a UMEM with txMetadataLength")
        precondition(frame.headroom >= txMetadataLength, "no room for TX metadata in front of the packet")
        precondition(ring.freeCount(wanting: 1) > 0, "TX ring full: check freeCount before pushing")
        precondition(frame.packetLength > 0, "cannot transmit an empty frame")
        metadata.write(to: UMEMPointer.at(frame.address, in: frame.base) - txMetadataLength)
        let (chunk, offset, length) = frame.surrender()
        ring.append(xdp_desc(addr: addressing.encode(chunk: chunk, offset: offset), len: length, options: TXMetadata.descriptorOption))
    }
}

extension TXRing {
    /// Queues a multi-buffer packet with TX metadata in front of its first
    /// frame: the first descriptor carries XDP_TX_METADATA (the kernel reads
    /// the metadata only there), all but the last XDP_PKT_CONTD. A checksum
    /// request asks for the whole packet; but Linux 6.18's software checksum
    /// (copy mode, ``UMEMConfiguration/softwareTXChecksum``) is computed as
    /// the kernel takes the first descriptor, so it sums the first frame
    /// only (tested): there, checksum chains yourself.
    /// Traps as ``push(_:metadata:)-(Frame,_)`` does, or if the ring has
    /// fewer free slots than the packet has frames.
    /// - Parameters:
    ///   - packet: The packet to send.
    ///   - metadata: What to ask of the device for it.
    @inlinable
    public mutating func push(_ packet: consuming FramePacket, metadata: TXMetadata) {
        precondition(txMetadataLength > 0, "TX metadata needs a UMEM with txMetadataLength")
        let count = packet.count
        precondition(count > 0, "cannot transmit an empty packet")
        let first = packet.segments[0]
        precondition(Int(first.offset) >= txMetadataLength, "no room for TX metadata in front of the packet")
        precondition(ring.freeCount(wanting: UInt32(count)) >= UInt32(count), "TX ring full: check freeCount before pushing")
        metadata.write(to: UMEMPointer.at(first.chunk &+ UInt64(first.offset), in: packet.base.unsafelyUnwrapped) - txMetadataLength)
        for index in 0..<count {
            let segment = packet.segments[index]
            precondition(segment.length > 0, "cannot transmit an empty frame")
            var options: UInt32 = index &+ 1 < count ? FramePacket.continuesFlag : 0
            if index == 0 { options |= TXMetadata.descriptorOption }
            ring.append(xdp_desc(addr: addressing.encode(chunk: segment.chunk, offset: segment.offset), len: segment.length, options: options))
        }
        packet.forget()
    }
}

extension CompletionRing {
    /// The transmit time the kernel reported for a completed frame sent with
    /// ``TXMetadata/requestTimestamp``, or `nil` when it reported none.
    /// - Parameter frame: A frame just taken with ``take()``.
    public func transmitTimestamp(of frame: borrowing Frame) -> UInt64? {
        guard txMetadataLength > 0, frame.headroom >= txMetadataLength else { return nil }
        return TXMetadata.completionTimestamp(in: UnsafeRawPointer(UMEMPointer.at(frame.address, in: frame.base) - txMetadataLength))
    }
}
