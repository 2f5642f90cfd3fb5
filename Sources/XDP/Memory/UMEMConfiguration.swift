/// How a ``UMEM`` is laid out.
public struct UMEMConfiguration: Sendable, Equatable {
    /// Frames in the UMEM. Every frame is in exactly one place at a time
    /// (pool, fill, kernel, RX, application, TX, completion).
    public var frameCount: Int
    /// Bytes per frame: 2048 or 4096 in aligned mode (a power of two, at
    /// most the page size); any size from 2048 to 4096 (e.g. 4001) with
    /// ``unalignedChunks``.
    public var frameSize: Int
    /// Bytes reserved in front of every received packet for the application
    /// (on top of the kernel's 256-byte XDP headroom).
    public var headroom: Int
    /// Entries in each fill ring (a power of two). At least ``frameCount``
    /// (the default) lets every free frame wait on the fill ring, as the
    /// kernel's xdpsock does: the kernel then runs out of RX ring room, not
    /// of frames, when the application falls behind.
    public var fillRingSize: Int
    /// Entries in each completion ring (a power of two).
    public var completionRingSize: Int
    /// Back the UMEM with 2 MiB huge pages (they must be reserved:
    /// `/proc/sys/vm/nr_hugepages`).
    public var hugePages: Bool
    /// Unaligned chunk mode (XDP_UMEM_UNALIGNED_CHUNK_FLAG): frames need not
    /// start at multiples of a power-of-two size, so any ``frameSize`` from
    /// 2048 to 4096 works, and a descriptor may start anywhere in the UMEM
    /// (the kernel then only checks it stays inside the UMEM and is no
    /// longer than a frame). Descriptor addresses carry the packet's offset
    /// in their upper 16 bits; the rings and ``FramePool`` handle that.
    public var unalignedChunks: Bool
    /// Bytes in front of every TX packet for TX metadata (`struct
    /// xsk_tx_metadata`, ``TXMetadata``): 0 (none), or a multiple of 8 below
    /// 256, at least ``TXMetadata/byteCount``. Registered with the kernel's
    /// XDP_UMEM_TX_METADATA_LEN (Linux 6.8+).
    public var txMetadataLength: Int = 0
    /// XDP_UMEM_TX_SW_CSUM: the kernel computes checksums requested through
    /// TX metadata in software (copy mode), instead of leaving them to the
    /// device. What makes a requested checksum visible in the packet's
    /// bytes on veth.
    public var softwareTXChecksum: Bool = false

    /// Creates a configuration; defaults suit one socket on one queue (4096
    /// frames, a fill ring that holds all of them, as xdpsock's).
    public init(frameCount: Int = 4096, frameSize: Int = 2048, headroom: Int = 0,
                fillRingSize: Int = 4096, completionRingSize: Int = 2048, hugePages: Bool = false,
                unalignedChunks: Bool = false) {
        self.frameCount = frameCount
        self.frameSize = frameSize
        self.headroom = headroom
        self.fillRingSize = fillRingSize
        self.completionRingSize = completionRingSize
        self.hugePages = hugePages
        self.unalignedChunks = unalignedChunks
    }

    /// The smallest frame the kernel accepts (XDP_UMEM_MIN_CHUNK_SIZE).
    public static let minimumFrameSize = 2048
    /// The largest frame on a UMEM of 4 KiB pages.
    public static let maximumFrameSize = 4096

    /// The kernel's XDP headroom in front of every received packet.
    public static let kernelHeadroom = 256

    /// Checks the values the kernel would reject, with a message naming the field.
    /// - Throws: ``XDPError`` of kind `.invalidConfiguration`.
    public func validate() throws(XDPError) {
        func fail(_ message: String) -> XDPError {
            XDPError(.invalidConfiguration, operation: "UMEM configuration", hint: message)
        }
        if unalignedChunks {
            guard (UMEMConfiguration.minimumFrameSize...UMEMConfiguration.maximumFrameSize).contains(frameSize) else {
                throw fail("frame size \(frameSize) out of range: 2048 to 4096 bytes in unaligned mode")
            }
        } else {
            guard frameSize == 2048 || frameSize == 4096 else {
                throw fail("frame size \(frameSize) not a power of two in aligned mode: use 2048 or 4096, or unaligned chunks for other sizes")
            }
        }
        guard frameCount > 0, frameCount <= 1 << 24 else {
            throw fail("frame count \(frameCount) must be between 1 and \(1 << 24)")
        }
        guard headroom >= 0, headroom + UMEMConfiguration.kernelHeadroom + 64 <= frameSize else {
            throw fail("headroom \(headroom) leaves no room for a packet in a \(frameSize)-byte frame (at most \(frameSize - UMEMConfiguration.kernelHeadroom - 64))")
        }
        if txMetadataLength != 0 {
            guard txMetadataLength >= TXMetadata.byteCount, txMetadataLength < 256, txMetadataLength % 8 == 0 else {
                throw fail("TX metadata length \(txMetadataLength) must be 0 or a multiple of 8 from \(TXMetadata.byteCount) to 248")
            }
            guard txMetadataLength <= headroom + UMEMConfiguration.kernelHeadroom else {
                throw fail("TX metadata length \(txMetadataLength) does not fit in front of the packet")
            }
        }
        for (name, size) in [("fill ring size", fillRingSize), ("completion ring size", completionRingSize)] {
            guard size > 0, size & (size - 1) == 0 else {
                throw fail("\(name) \(size) must be a power of two")
            }
        }
    }

    /// Bytes of the whole region.
    public var byteCount: Int { frameCount * frameSize }
}
