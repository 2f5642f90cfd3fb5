/// What the NIC (or veth) knew about a received packet, as the RX metadata
/// program (`XDPProgram(..., rxMetadata: true)`) asked the driver through the
/// XDP metadata kfuncs (`bpf_xdp_metadata_rx_hash`, `_rx_timestamp`,
/// `_rx_vlan_tag`) and wrote in front of the packet (`bpf_xdp_adjust_meta`).
///
/// A field is `nil` when the driver did not provide it for this packet (the
/// kfunc failed, e.g. ENODATA, or the driver does not implement it): never a
/// guess. Mirrors `struct xdp_rx_meta` in `bpf/xdp_redirect.bpf.c`.
///
/// Only frames received through a socket whose program writes metadata have
/// it: the program writes it on every packet it redirects (or does not
/// redirect the packet), and the area carries a magic number so frames from a
/// program that writes none read as `nil`.
@frozen
public struct RXMetadata: Sendable, Equatable {
    /// An 802.1Q/802.1ad tag the device took off the packet (hardware-accelerated VLAN).
    @frozen
    public struct VLANTag: Sendable, Equatable {
        /// The tag protocol identifier, host order (0x8100 or 0x88A8).
        public var protocolID: UInt16
        /// The tag control information: priority (3 bits), DEI (1), VLAN id (12).
        public var controlInformation: UInt16
        /// The VLAN id (low 12 bits of the TCI).
        public var id: UInt16 { controlInformation & 0x0FFF }
        /// Creates a tag.
        @inlinable
        public init(protocolID: UInt16, controlInformation: UInt16) {
            self.protocolID = protocolID
            self.controlInformation = controlInformation
        }
    }

    /// The RX hash (RSS or the stack's flow hash).
    public var hash: UInt32?
    /// The hash's `enum xdp_rss_hash_type` bits (L3/L4 and protocol), with ``hash``.
    public var hashType: UInt32?
    /// The RX timestamp (hardware, nanoseconds); `nil` when the device had
    /// none for this packet (the kfunc failed or gave 0).
    public var timestamp: UInt64?
    /// The VLAN tag the device stripped, if any.
    public var vlan: VLANTag?

    /// Creates a value.
    @inlinable
    public init(hash: UInt32? = nil, hashType: UInt32? = nil, timestamp: UInt64? = nil, vlan: VLANTag? = nil) {
        self.hash = hash
        self.hashType = hashType
        self.timestamp = timestamp
        self.vlan = vlan
    }

    /// XDP_RSS_L4 in ``hashType``: the hash covers the L4 ports.
    public static let hashTypeL4: UInt32 = 1 << 3

    /// Bytes the program puts in front of the packet (the kernel's maximum).
    public static let byteCount = 32
    /// Marks a metadata area written by our program ("XDM1").
    public static let magic: UInt32 = 0x5844_4D31
    @usableFromInline static let timestampPresent: UInt32 = 1 << 0
    @usableFromInline static let hashPresent: UInt32 = 1 << 1
    @usableFromInline static let vlanPresent: UInt32 = 1 << 2

    /// Reads the area that ends at `packet`, when `headroom` bytes in front
    /// of it leave room for one and it carries the magic number.
    @inlinable
    static func read(before packet: UnsafeMutableRawPointer, headroom: Int) -> RXMetadata? {
        guard headroom >= byteCount else { return nil }
        let area = UnsafeRawPointer(packet - byteCount)
        guard area.loadUnaligned(fromByteOffset: 28, as: UInt32.self) == magic else { return nil }
        let present = area.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
        var value = RXMetadata()
        if present & timestampPresent != 0 {
            value.timestamp = area.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        }
        if present & hashPresent != 0 {
            value.hash = area.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            value.hashType = area.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        }
        if present & vlanPresent != 0 {
            value.vlan = VLANTag(protocolID: UInt16(bigEndian: area.loadUnaligned(fromByteOffset: 18, as: UInt16.self)),
                                 controlInformation: area.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
        }
        return value
    }
}

extension Frame {
    /// The RX metadata in front of the packet (see ``RXMetadata``), or `nil`
    /// when the program that redirected it wrote none.
    @inlinable
    public var metadata: RXMetadata? {
        RXMetadata.read(before: UMEMPointer.at(address, in: base), headroom: Int(offset))
    }
}
