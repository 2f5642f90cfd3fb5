// Parsing Ethernet (with up to two VLAN tags), IPv4, IPv6 and the UDP/TCP
// ports of a frame into a ``ParsedPacket``, plus the address value types the
// rest of the module uses.
//
// Safety: every header is bounds-checked once, before any of its bytes is
// read; the reads that follow use unchecked unaligned loads at offsets inside
// the checked range. Nothing past `bytes.count` is ever read.

// MARK: - Address value types

/// A 48-bit Ethernet MAC address, stored in the low 48 bits of an integer
/// (the first byte on the wire is the most significant).
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in the low 48 bits, first wire byte most significant.
    public var value: UInt64

    /// Creates an address from its 48-bit integer form (higher bits ignored).
    @inlinable
    public init(_ value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    /// Creates an address from its six bytes in wire order.
    @inlinable
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        value = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
            | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// Creates an address from six bytes in wire order; `nil` if `bytes`
    /// does not hold exactly six.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.init(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5])
    }

    /// The six bytes in wire order.
    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64($0))) } }

    /// The broadcast address ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(0xffff_ffff_ffff)

    /// Whether the group bit is set (multicast or broadcast).
    @inlinable
    public var isGroup: Bool { value & 0x0100_0000_0000 != 0 }

    /// Writes the six bytes in wire order at `pointer` (which the caller
    /// has checked holds six bytes).
    @inlinable @inline(__always)
    func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: UInt32(truncatingIfNeeded: value >> 16).bigEndian, as: UInt32.self)
        (pointer + 4).storeBytes(of: UInt16(truncatingIfNeeded: value).bigEndian, as: UInt16.self)
    }

    /// Colon-separated lowercase hex, e.g. `02:00:00:00:00:01`.
    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

/// A 128-bit IPv6 address as two integers (`high` holds the first eight
/// bytes on the wire, most significant first).
@frozen
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The first 64 bits of the address (wire bytes 0...7).
    public var high: UInt64
    /// The last 64 bits of the address (wire bytes 8...15).
    public var low: UInt64

    /// Creates an address from its two 64-bit halves.
    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates an address from 16 bytes in wire order; `nil` if `bytes` does
    /// not hold exactly 16.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        self.init(high: high, low: low)
    }

    /// The 16 bytes in wire order.
    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
        }
    }

    /// The unspecified address `::`.
    public static let unspecified = IPv6Address(high: 0, low: 0)
    /// The loopback address `::1`.
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// Whether this is a multicast address (`ff00::/8`).
    @inlinable
    public var isMulticast: Bool { high >> 56 == 0xff }

    /// Whether this is a link-local unicast address (`fe80::/10`).
    @inlinable
    public var isLinkLocal: Bool { high >> 54 == 0xfe80 >> 6 }

    /// The address with all bits after the first `length` cleared.
    /// - Parameter length: Prefix length, 0...128.
    @inlinable
    public func masked(toPrefixLength length: Int) -> IPv6Address {
        if length >= 128 { return self }
        if length <= 0 { return IPv6Address(high: 0, low: 0) }
        if length <= 64 { return IPv6Address(high: high & ~(UInt64.max >> UInt64(length)), low: 0) }
        return IPv6Address(high: high, low: low & ~(UInt64.max >> UInt64(length - 64)))
    }

    /// Eight colon-separated groups of lowercase hex (not compressed).
    public var description: String {
        (0..<8).map { group in
            let word = group < 4 ? high : low
            return String(UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(group % 4))), radix: 16)
        }.joined(separator: ":")
    }
}

/// An IPv4 or IPv6 address. IPv4 addresses are host-order integers
/// (`10.0.0.1` is `0x0a00_0001`).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address in host byte order.
    case v4(UInt32)
    /// An IPv6 address.
    case v6(IPv6Address)

    /// Dotted-quad for IPv4, ``IPv6Address/description`` for IPv6.
    public var description: String {
        switch self {
        case .v4(let address):
            return (0..<4).map { String(UInt8(truncatingIfNeeded: address >> (24 - 8 * UInt32($0)))) }
                .joined(separator: ".")
        case .v6(let address):
            return address.description
        }
    }
}

// MARK: - Parse result

/// Why a frame could not be parsed into a ``ParsedPacket``.
///
/// Most cases mean the frame is malformed. Three mean "not for the fast path"
/// and should go to the kernel instead: ``arp``, ``ipv6ExtensionHeaders`` and
/// ``unsupportedEtherType`` (see ``isMalformed``); ``tooManyVLANTags`` is
/// likewise a kernel matter.
public enum ParseError: Error, Hashable, Sendable {
    /// Shorter than the 14-byte Ethernet header.
    case truncatedEthernet
    /// A VLAN tag (802.1Q / 802.1ad) with fewer than 4 bytes after it.
    case truncatedVLAN
    /// More than two VLAN tags.
    case tooManyVLANTags
    /// Shorter than the IPv4 header (20 bytes, or IHL × 4 with options).
    case truncatedIPv4
    /// EtherType IPv4 but the version nibble is not 4.
    case badIPv4Version
    /// IPv4 IHL below 5.
    case badIHL
    /// IPv4 total length runs past the end of the frame.
    case ipv4TotalLengthBeyondFrame
    /// IPv4 total length smaller than the IPv4 header.
    case ipv4TotalLengthTooShort
    /// Shorter than the 40-byte IPv6 header.
    case truncatedIPv6
    /// EtherType IPv6 but the version nibble is not 6.
    case badIPv6Version
    /// IPv6 payload length runs past the end of the frame.
    case ipv6PayloadLengthBeyondFrame
    /// The IPv6 next header is an extension header (hop-by-hop, routing,
    /// fragment, destination options, AH, ESP, mobility, HIP, shim6,
    /// experimental): left to the kernel.
    case ipv6ExtensionHeaders
    /// An EtherType other than IPv4, IPv6 or ARP (after VLAN tags).
    case unsupportedEtherType
    /// An ARP frame: the kernel answers and learns from these.
    case arp

    /// Whether the frame is broken, as opposed to well formed but not for
    /// the fast path (ARP, IPv6 extension headers, other EtherTypes, more
    /// than two VLAN tags).
    @inlinable
    public var isMalformed: Bool {
        switch self {
        case .arp, .ipv6ExtensionHeaders, .unsupportedEtherType, .tooManyVLANTags: return false
        default: return true
        }
    }
}

/// What ``ParsedPacket/parse(_:)`` found in a frame: where the headers are and
/// the fields forwarding decisions use. Addresses are host-order integers.
@frozen
public struct ParsedPacket: Hashable, Sendable {
    /// Offset of the IP header: 14 plus 4 per VLAN tag.
    public var l3Offset: Int
    /// VLAN tags before the IP header: 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q).
    public var vlanTags: Int
    /// The EtherType after any VLAN tags: `0x0800` or `0x86dd`.
    public var etherType: UInt16
    /// 4 or 6.
    public var ipVersion: UInt8
    /// IP header length in bytes: IHL × 4 for IPv4 (options included), 40 for IPv6.
    public var ipHeaderLength: Int
    /// IP packet length in bytes: IPv4 total length, or 40 + IPv6 payload
    /// length. Bytes after it (Ethernet padding) are not part of the packet.
    public var ipPacketLength: Int
    /// IPv4 protocol or IPv6 next header.
    public var ipProtocol: UInt8
    /// IPv4 source address (host order); 0 for IPv6.
    public var sourceIPv4: UInt32
    /// IPv4 destination address (host order); 0 for IPv6.
    public var destinationIPv4: UInt32
    /// IPv6 source address; `::` for IPv4.
    public var sourceIPv6: IPv6Address
    /// IPv6 destination address; `::` for IPv4.
    public var destinationIPv6: IPv6Address
    /// IPv4 TTL or IPv6 hop limit.
    public var ttlOrHopLimit: UInt8
    /// Offset of the layer-4 header: `l3Offset + ipHeaderLength`.
    public var l4Offset: Int
    /// UDP/TCP source port; `nil` for other protocols, non-first IPv4
    /// fragments, or when the ports lie past the end of the IP packet.
    public var sourcePort: UInt16?
    /// UDP/TCP destination port, under the same conditions as ``sourcePort``.
    public var destinationPort: UInt16?
    /// IPv4 only: more-fragments set or a non-zero fragment offset.
    public var isFragment: Bool
    /// The Ethernet destination has the group bit set (multicast, broadcast).
    public var linkLayerDestinationIsGroup: Bool

    /// The IPv4 EtherType.
    public static let etherTypeIPv4: UInt16 = 0x0800
    /// The IPv6 EtherType.
    public static let etherTypeIPv6: UInt16 = 0x86dd
    /// The ARP EtherType.
    public static let etherTypeARP: UInt16 = 0x0806
    /// IP protocol number of TCP.
    public static let protocolTCP: UInt8 = 6
    /// IP protocol number of UDP.
    public static let protocolUDP: UInt8 = 17

    /// The source address as an ``IPAddress``.
    @inlinable
    public var sourceAddress: IPAddress { ipVersion == 4 ? .v4(sourceIPv4) : .v6(sourceIPv6) }

    /// The destination address as an ``IPAddress``.
    @inlinable
    public var destinationAddress: IPAddress { ipVersion == 4 ? .v4(destinationIPv4) : .v6(destinationIPv6) }

    /// Creates a description directly (for tests and callers that build one).
    @inlinable
    public init(l3Offset: Int, vlanTags: Int, etherType: UInt16, ipVersion: UInt8, ipHeaderLength: Int,
                ipPacketLength: Int, ipProtocol: UInt8, sourceIPv4: UInt32 = 0, destinationIPv4: UInt32 = 0,
                sourceIPv6: IPv6Address = .unspecified, destinationIPv6: IPv6Address = .unspecified,
                ttlOrHopLimit: UInt8, l4Offset: Int, sourcePort: UInt16? = nil, destinationPort: UInt16? = nil,
                isFragment: Bool = false, linkLayerDestinationIsGroup: Bool = false) {
        self.l3Offset = l3Offset
        self.vlanTags = vlanTags
        self.etherType = etherType
        self.ipVersion = ipVersion
        self.ipHeaderLength = ipHeaderLength
        self.ipPacketLength = ipPacketLength
        self.ipProtocol = ipProtocol
        self.sourceIPv4 = sourceIPv4
        self.destinationIPv4 = destinationIPv4
        self.sourceIPv6 = sourceIPv6
        self.destinationIPv6 = destinationIPv6
        self.ttlOrHopLimit = ttlOrHopLimit
        self.l4Offset = l4Offset
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.isFragment = isFragment
        self.linkLayerDestinationIsGroup = linkLayerDestinationIsGroup
    }

    // MARK: Parsing

    /// Parses the Ethernet, VLAN, IP and (for UDP/TCP) port fields of a frame.
    ///
    /// Each header is bounds-checked once before it is read; no byte at or
    /// past the span's end is ever read. IPv4 options are allowed and skipped.
    /// Bytes after the IP packet (Ethernet padding) are ignored.
    /// - Parameter span: The frame, starting at the Ethernet destination MAC
    ///   (e.g. a frame's `bytes`).
    /// - Returns: The parsed description.
    /// - Throws: ``ParseError`` for malformed frames and for frames the fast
    ///   path leaves to the kernel (ARP, IPv6 extension headers, other
    ///   EtherTypes, more than two VLAN tags).
    @inlinable
    public static func parse(_ span: RawSpan) throws(ParseError) -> ParsedPacket {
        try unsafe span.withUnsafeBytes { buffer throws(ParseError) in try parse(buffer) }
    }

    // Safety: each header is bounds-checked against `count` before its
    // unchecked loads (``ByteLoad``).
    @inlinable
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> ParsedPacket {
        let count = bytes.count
        guard count >= 14, let base = bytes.baseAddress else { throw .truncatedEthernet }
        let groupDestination = base.load(as: UInt8.self) & 1 != 0
        var etherType = ByteLoad.u16(base, 12)
        var offset = 14
        var tags = 0
        while etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 {
            guard tags < 2 else { throw .tooManyVLANTags }
            guard count - offset >= 4 else { throw .truncatedVLAN }
            etherType = ByteLoad.u16(base, offset + 2)
            offset += 4
            tags += 1
        }
        switch etherType {
        case etherTypeIPv4:
            return try parseIPv4(base, count: count, l3Offset: offset, vlanTags: tags, group: groupDestination)
        case etherTypeIPv6:
            return try parseIPv6(base, count: count, l3Offset: offset, vlanTags: tags, group: groupDestination)
        case etherTypeARP:
            throw .arp
        default:
            throw .unsupportedEtherType
        }
    }

    @inlinable @inline(__always)
    static func parseIPv4(_ base: UnsafeRawPointer, count: Int, l3Offset: Int, vlanTags: Int,
                          group: Bool) throws(ParseError) -> ParsedPacket {
        guard count - l3Offset >= 20 else { throw .truncatedIPv4 }
        let versionIHL = ByteLoad.u8(base, l3Offset)
        guard versionIHL >> 4 == 4 else { throw .badIPv4Version }
        let headerLength = Int(versionIHL & 0x0f) &* 4
        guard headerLength >= 20 else { throw .badIHL }
        guard count - l3Offset >= headerLength else { throw .truncatedIPv4 }
        let totalLength = Int(ByteLoad.u16(base, l3Offset + 2))
        guard totalLength >= headerLength else { throw .ipv4TotalLengthTooShort }
        guard count - l3Offset >= totalLength else { throw .ipv4TotalLengthBeyondFrame }
        let fragment = ByteLoad.u16(base, l3Offset + 6)
        let ipProtocol = ByteLoad.u8(base, l3Offset + 9)
        let l4Offset = l3Offset + headerLength
        var packet = ParsedPacket(
            l3Offset: l3Offset, vlanTags: vlanTags, etherType: etherTypeIPv4, ipVersion: 4,
            ipHeaderLength: headerLength, ipPacketLength: totalLength, ipProtocol: ipProtocol,
            sourceIPv4: ByteLoad.u32(base, l3Offset + 12), destinationIPv4: ByteLoad.u32(base, l3Offset + 16),
            ttlOrHopLimit: ByteLoad.u8(base, l3Offset + 8), l4Offset: l4Offset,
            isFragment: fragment & 0x3fff != 0, linkLayerDestinationIsGroup: group)
        // Ports: UDP/TCP, first (or only) fragment, 4 bytes inside the packet.
        if ipProtocol == protocolUDP || ipProtocol == protocolTCP, fragment & 0x1fff == 0,
           totalLength - headerLength >= 4 {
            packet.sourcePort = ByteLoad.u16(base, l4Offset)
            packet.destinationPort = ByteLoad.u16(base, l4Offset + 2)
        }
        return packet
    }

    @inlinable @inline(__always)
    static func parseIPv6(_ base: UnsafeRawPointer, count: Int, l3Offset: Int, vlanTags: Int,
                          group: Bool) throws(ParseError) -> ParsedPacket {
        guard count - l3Offset >= 40 else { throw .truncatedIPv6 }
        guard ByteLoad.u8(base, l3Offset) >> 4 == 6 else { throw .badIPv6Version }
        let payloadLength = Int(ByteLoad.u16(base, l3Offset + 4))
        guard count - l3Offset - 40 >= payloadLength else { throw .ipv6PayloadLengthBeyondFrame }
        let nextHeader = ByteLoad.u8(base, l3Offset + 6)
        guard !isIPv6ExtensionHeader(nextHeader) else { throw .ipv6ExtensionHeaders }
        let l4Offset = l3Offset + 40
        var packet = ParsedPacket(
            l3Offset: l3Offset, vlanTags: vlanTags, etherType: etherTypeIPv6, ipVersion: 6,
            ipHeaderLength: 40, ipPacketLength: 40 + payloadLength, ipProtocol: nextHeader,
            sourceIPv6: IPv6Address(high: ByteLoad.u64(base, l3Offset + 8), low: ByteLoad.u64(base, l3Offset + 16)),
            destinationIPv6: IPv6Address(high: ByteLoad.u64(base, l3Offset + 24),
                                         low: ByteLoad.u64(base, l3Offset + 32)),
            ttlOrHopLimit: ByteLoad.u8(base, l3Offset + 7), l4Offset: l4Offset,
            linkLayerDestinationIsGroup: group)
        if nextHeader == protocolUDP || nextHeader == protocolTCP, payloadLength >= 4 {
            packet.sourcePort = ByteLoad.u16(base, l4Offset)
            packet.destinationPort = ByteLoad.u16(base, l4Offset + 2)
        }
        return packet
    }

    /// Whether an IPv6 next-header value names an extension header (RFC 8200
    /// and the IANA "IPv6 Extension Header Types" registry, ESP included).
    /// - Parameter nextHeader: The next-header value.
    @inlinable
    public static func isIPv6ExtensionHeader(_ nextHeader: UInt8) -> Bool {
        switch nextHeader {
        case 0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254: return true
        default: return false
        }
    }
}

/// Unchecked big-endian loads at offsets the caller has already bounds-checked.
@usableFromInline
enum ByteLoad {
    @inlinable @inline(__always)
    static func u8(_ base: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    static func u16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    static func u32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    static func u64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
