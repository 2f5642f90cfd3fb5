import CXDP
import Glibc
import Synchronization

/// The packet memory shared with the kernel: one mmap'd region of equal
/// frames, registered as an AF_XDP UMEM, plus the ``FramePool`` of its free
/// frames.
///
/// A UMEM can serve several sockets, on several interfaces and queues
/// (``Socket/init(umem:interface:queue:configuration:)``): that is how a
/// forwarder moves a packet from one port to another without copying it.
/// The region stays mapped until the UMEM and every socket made on it are gone.
public struct UMEM: ~Copyable, @unchecked Sendable {
    @usableFromInline let storage: UMEMStorage
    /// The free frames. Take frames to transmit from it, return frames to it.
    public var pool: FramePool
    /// The layout this UMEM was made with.
    public let configuration: UMEMConfiguration

    /// Maps and registers a UMEM.
    /// - Parameter configuration: The layout.
    /// - Throws: ``XDPError``: invalid layout, no huge pages, memlock too low, no permission.
    public init(configuration: UMEMConfiguration = .init()) throws(XDPError) {
        try configuration.validate()
        storage = try UMEMStorage(configuration: configuration)
        pool = FramePool(base: storage.area, frameCount: configuration.frameCount, frameSize: configuration.frameSize,
                         dataOffset: configuration.headroom + UMEMConfiguration.kernelHeadroom)
        self.configuration = configuration
    }

    /// The start of the mapped region. An escape hatch (diagnostics, tests
    /// that write descriptors by hand): frames give safe views of their
    /// bytes, tied to their ownership; a pointer from here is tied to
    /// nothing, valid only while this UMEM lives, and reaches every frame,
    /// including those the kernel owns.
    @unsafe
    public var baseAddress: UnsafeMutableRawPointer { storage.area }
}

/// Owns the mapping and the libxdp UMEM handle; shared (by reference) with
/// every socket made on the UMEM so the region outlives them all. Touched
/// only at setup and teardown, never on the packet path.
@usableFromInline
final class UMEMStorage: @unchecked Sendable {
    let area: UnsafeMutableRawPointer
    let byteCount: Int
    /// The length of the mapping: `byteCount`, rounded up to whole 2 MiB
    /// pages on huge pages (munmap of a hugetlb mapping needs that).
    let mappedByteCount: Int
    let frameSize: Int
    let unaligned: Bool
    /// Bytes reserved in front of a TX packet for `struct xsk_tx_metadata` (0: none).
    let txMetadataLength: Int
    let fillRingSize: Int
    let completionRingSize: Int
    /// libxdp's UMEM, or `nil` for a UMEM registered directly (TX metadata;
    /// see `cxdp_xsk.h`), whose socket is `directFD`.
    let handle: OpaquePointer?
    /// The socket that registered a directly registered UMEM (the first
    /// socket binds it), or -1.
    let directFD: Int32
    /// Ring headers libxdp fills at UMEM creation. The first socket must be
    /// created with exactly these (libxdp keeps pointers to them, and on a
    /// failed bind of a socket given other headers it unmaps these rings while
    /// still offering them to the next attempt).
    let initialRings: UnsafeMutablePointer<cxdp_ring_set>
    /// Whether a socket has taken over the initial fill/completion rings.
    let initialRingsClaimed = Mutex<Bool>(false)
    /// A directly registered UMEM's own socket has had its rings set up
    /// (the kernel allows that once per socket).
    let directRingsSetUp = Mutex<Bool>(false)
    /// (ifindex, queue) pairs with a socket on this UMEM: one fill and one
    /// completion ring each, so at most one socket each.
    let boundQueues = Mutex<Set<UInt64>>([])

    init(configuration: UMEMConfiguration) throws(XDPError) {
        byteCount = configuration.byteCount
        let hugePageSize = 2 << 20
        mappedByteCount = configuration.hugePages ? (byteCount + hugePageSize - 1) / hugePageSize * hugePageSize : byteCount
        frameSize = configuration.frameSize
        unaligned = configuration.unalignedChunks
        txMetadataLength = configuration.txMetadataLength
        fillRingSize = configuration.fillRingSize
        completionRingSize = configuration.completionRingSize
        var flags = MAP_POPULATE
        if configuration.hugePages { flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT) }
        let mapped: UnsafeMutableRawPointer
        switch SystemCall.mapAnonymous(length: mappedByteCount, flags: flags) {
        case .success(let area):
            mapped = area
        case .failure(let error):
            throw XDPError.fromErrno(error.code, operation: "map \(mappedByteCount) bytes for the UMEM",
                                     hint: configuration.hugePages
                                        ? "no free 2 MiB huge pages: reserve them (echo \((byteCount + (2 << 20) - 1) >> 21) > /proc/sys/vm/nr_hugepages) or drop the huge-page option"
                                        : "")
        }
        area = mapped
        initialRings = .allocate(capacity: 1)
        initialRings.initialize(to: cxdp_ring_set())
        var umemFlags: UInt32 = configuration.unalignedChunks ? UInt32(XDP_UMEM_UNALIGNED_CHUNK_FLAG) : 0
        if configuration.softwareTXChecksum { umemFlags |= cxdp_xdp_umem_tx_sw_csum }
        let rc: Int32
        var umem: OpaquePointer?
        if configuration.txMetadataLength > 0 || configuration.softwareTXChecksum {
            // libxdp 1.3 cannot register tx_metadata_len: register directly.
            let fd = cxdp_xsk_register_umem(mapped, UInt64(byteCount), UInt32(configuration.frameSize), UInt32(configuration.headroom),
                                            umemFlags, UInt32(configuration.txMetadataLength))
            rc = fd < 0 ? fd : 0
            directFD = fd
        } else {
            var umemConfig = xsk_umem_config(
                fill_size: UInt32(configuration.fillRingSize), comp_size: UInt32(configuration.completionRingSize),
                frame_size: UInt32(configuration.frameSize), frame_headroom: UInt32(configuration.headroom), flags: umemFlags)
            rc = xsk_umem__create(&umem, mapped, UInt64(byteCount), &initialRings.pointee.fill,
                                  &initialRings.pointee.completion, &umemConfig)
            directFD = -1
        }
        guard rc == 0, umem != nil || directFD >= 0 else {
            SystemCall.unmap(mapped, length: mappedByteCount)
            initialRings.deallocate()
            let error = -rc
            let hint: String
            switch error {
            case EPERM, EACCES:
                throw XDPError(.permissionDenied, operation: "create the AF_XDP socket for the UMEM", errno: error,
                               hint: "EPERM: AF_XDP sockets need CAP_NET_RAW (and CAP_NET_ADMIN, CAP_BPF for the program): run as root or grant them")
            case ENOMEM, ENOBUFS:
                let limit = cxdp_memlock_limit()
                hint = "registering \(byteCount) bytes needs CAP_IPC_LOCK or a memlock limit above it (now \(limit == .max ? "unlimited" : "\(limit) bytes")): run as root, raise `ulimit -l`, or use fewer frames"
            case EINVAL where configuration.txMetadataLength > 0 || configuration.softwareTXChecksum:
                hint = "the kernel refused TX metadata (tx_metadata_len \(configuration.txMetadataLength), XDP_UMEM_TX_METADATA_LEN/XDP_UMEM_TX_SW_CSUM need Linux 6.8+; the length must be a multiple of 8 below 256)"
            default:
                hint = ""
            }
            throw XDPError.fromErrno(error, operation: "register the UMEM (\(configuration.frameCount) frames of \(configuration.frameSize) bytes)", hint: hint)
        }
        handle = umem
    }

    deinit {
        // Every socket holds a reference, so none is left: delete cannot be EBUSY.
        if let handle { _ = xsk_umem__delete(handle) }
        if directFD >= 0 { close(directFD) }
        SystemCall.unmap(area, length: mappedByteCount)
        initialRings.deallocate()
    }
}
