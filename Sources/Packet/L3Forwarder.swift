// The IP forwarding decision of a router's fast path, and the frame rewrite
// that carries out a `.forward`.
//
// The fast path forwards plain unicast IPv4/IPv6 between interfaces it owns
// and leaves everything else to the kernel (which answers ARP/NDP, delivers
// local traffic, sends ICMP errors, and handles options, extension headers,
// VLANs and fragmentation), or drops frames that are malformed.

/// Why a packet goes to the kernel (XDP_PASS) rather than being forwarded.
public enum KernelReason: Hashable, Sendable {
    /// An ARP frame.
    case arp
    /// An IPv6 packet whose next header is an extension header.
    case ipv6ExtensionHeaders
    /// An EtherType other than IPv4, IPv6 and ARP (LLDP, MPLS, ...).
    case unsupportedEtherType
    /// The frame carries VLAN tags (VLAN sub-interfaces are the kernel's), or more than two.
    case vlanTagged
    /// Multicast or broadcast, at layer 2 (group destination MAC) or layer 3
    /// (IPv4 224.0.0.0/4 or 255.255.255.255, IPv6 ff00::/8), or a next hop
    /// that resolves to a group MAC (a directed broadcast).
    case multicast
    /// Addressed to one of the host's own addresses.
    case localAddress
    /// A link-local source or destination (IPv4 169.254.0.0/16, IPv6
    /// fe80::/10): never forwarded.
    case linkLocal
    /// A source or destination that must not be forwarded (RFC 1812
    /// §5.3.7, RFC 4291): loopback, unspecified, IPv4 0.0.0.0/8 or
    /// 240.0.0.0/4, or a multicast source.
    case specialAddress
    /// TTL or hop limit 0 or 1: the kernel sends ICMP time exceeded.
    case ttlExpired
    /// IPv4 header with options (IHL > 5): options need slow-path processing.
    case ipv4Options
    /// No route, not even a default one: the kernel sends ICMP unreachable.
    case noRoute
    /// The route's output interface is not one the fast path transmits on.
    case outputInterfaceNotHandled
    /// The next hop's MAC is unknown or unusable: the kernel resolves it.
    case noNeighbor
    /// The IP packet is longer than the output interface's MTU: the kernel
    /// fragments or sends ICMP fragmentation needed / packet too big.
    case exceedsMTU
}

/// Why a frame is dropped.
public enum DropReason: Hashable, Sendable {
    /// The frame is malformed (a ``ParseError`` whose ``ParseError/isMalformed`` is true).
    case malformed(ParseError)
    /// The IPv4 header checksum does not verify (RFC 1812 §5.2.2).
    case badIPv4Checksum
}

/// An interface the fast path can transmit on.
@frozen
public struct OutputInterface: Hashable, Sendable {
    /// The interface's MAC: the source MAC of forwarded frames.
    public var mac: MACAddress
    /// The interface's IP MTU in bytes; longer IP packets go to the kernel.
    public var mtu: Int

    /// Creates an interface description.
    /// - Parameters:
    ///   - mac: The interface's MAC address.
    ///   - mtu: The IP MTU; `Int.max` to skip the check.
    @inlinable
    public init(mac: MACAddress, mtu: Int = 1500) {
        self.mac = mac
        self.mtu = mtu
    }
}

/// Everything needed to forward one frame: what ``L3Forwarder/apply(_:to:)`` writes.
@frozen
public struct ForwardAction: Hashable, Sendable {
    /// The output interface index.
    public var outputInterface: Int32
    /// The next hop's MAC: the new Ethernet destination.
    public var destinationMAC: MACAddress
    /// The output interface's MAC: the new Ethernet source.
    public var sourceMAC: MACAddress
    /// The next hop (gateway, or the destination when connected).
    public var nextHop: IPAddress
    /// Offset of the IP header in the frame.
    public var l3Offset: Int
    /// 4 or 6.
    public var ipVersion: UInt8

    /// Creates an action.
    @inlinable
    public init(outputInterface: Int32, destinationMAC: MACAddress, sourceMAC: MACAddress, nextHop: IPAddress,
                l3Offset: Int, ipVersion: UInt8) {
        self.outputInterface = outputInterface
        self.destinationMAC = destinationMAC
        self.sourceMAC = sourceMAC
        self.nextHop = nextHop
        self.l3Offset = l3Offset
        self.ipVersion = ipVersion
    }
}

/// What to do with a received frame.
public enum L3Decision: Hashable, Sendable {
    /// Rewrite with ``L3Forwarder/apply(_:to:)`` and transmit on the action's interface.
    case forward(ForwardAction)
    /// Pass to the kernel (XDP_PASS).
    case toKernel(KernelReason)
    /// Drop.
    case drop(DropReason)
}

/// The forwarding state and decision: routes, neighbors, the host's own
/// addresses and the interfaces the fast path transmits on.
///
/// A value type: the owner builds an updated copy and swaps it in whole; a
/// decision only reads it. ``decide(_:)`` is a pure function of the packet
/// and this state.
public struct L3Forwarder: Sendable, Equatable {
    /// IPv4 routes.
    public var ipv4Routes: IPv4RouteTable
    /// IPv6 routes.
    public var ipv6Routes: IPv6RouteTable
    /// The neighbor cache.
    public var neighbors: NeighborTable
    /// The host's own IPv4 addresses (host order): packets to them go to the kernel.
    public var localIPv4: Set<UInt32> { didSet { localIPv4Index = Self.index(localIPv4) } }
    /// The host's own IPv6 addresses: packets to them go to the kernel.
    public var localIPv6: Set<IPv6Address> { didSet { localIPv6Index = Self.index(localIPv6) } }
    /// Interfaces the fast path transmits on, by index; a route out of any
    /// other interface sends the packet to the kernel.
    public var interfaces: [Int32: OutputInterface] { didSet { interfaceIndex = Self.index(interfaces) } }

    // Per-packet lookup copies of the three collections above (no SipHash),
    // rebuilt whenever one of them is set.
    @usableFromInline var localIPv4Index: LinearProbeMap<UInt32, Bool>
    @usableFromInline var localIPv6Index: LinearProbeMap<IPv6Address, Bool>
    @usableFromInline var interfaceIndex: LinearProbeMap<Int32, OutputInterface>
    /// Whether ``decide(frame:)`` verifies IPv4 header checksums (default on).
    public var verifiesIPv4Checksum: Bool

    /// Creates a forwarder.
    public init(ipv4Routes: IPv4RouteTable = IPv4RouteTable(), ipv6Routes: IPv6RouteTable = IPv6RouteTable(),
                neighbors: NeighborTable = NeighborTable(), localIPv4: Set<UInt32> = [],
                localIPv6: Set<IPv6Address> = [], interfaces: [Int32: OutputInterface] = [:],
                verifiesIPv4Checksum: Bool = true) {
        self.ipv4Routes = ipv4Routes
        self.ipv6Routes = ipv6Routes
        self.neighbors = neighbors
        self.localIPv4 = localIPv4
        self.localIPv6 = localIPv6
        self.interfaces = interfaces
        self.verifiesIPv4Checksum = verifiesIPv4Checksum
        localIPv4Index = Self.index(localIPv4)
        localIPv6Index = Self.index(localIPv6)
        interfaceIndex = Self.index(interfaces)
    }

    static func index<Key: LinearProbeKey & Hashable>(_ keys: Set<Key>) -> LinearProbeMap<Key, Bool> {
        var map = LinearProbeMap<Key, Bool>()
        for key in keys { _ = map.updateValue(true, forKey: key) }
        return map
    }

    static func index<Value>(_ dictionary: [Int32: Value]) -> LinearProbeMap<Int32, Value> {
        var map = LinearProbeMap<Int32, Value>()
        for (key, value) in dictionary { _ = map.updateValue(value, forKey: key) }
        return map
    }

    /// Decides what to do with a parsed packet.
    ///
    /// In order: VLAN-tagged → kernel; L2 or L3 multicast/broadcast → kernel;
    /// a local destination → kernel; link-local or special addresses →
    /// kernel; TTL/hop limit ≤ 1 → kernel (``KernelReason/ttlExpired``);
    /// IPv4 options → kernel; then route lookup, output interface, neighbor
    /// and MTU, each failing to the kernel; otherwise `.forward`.
    /// - Parameter packet: The packet, from ``ParsedPacket/parse(_:)``.
    /// - Returns: The decision.
    @inlinable
    public func decide(_ packet: ParsedPacket) -> L3Decision {
        if packet.vlanTags != 0 { return .toKernel(.vlanTagged) }
        if packet.linkLayerDestinationIsGroup { return .toKernel(.multicast) }
        let route: Route
        let destination: IPAddress
        switch packet.ipVersion {
        case 4:
            let dst = packet.destinationIPv4, src = packet.sourceIPv4
            if dst >> 28 == 0xe || dst == .max { return .toKernel(.multicast) }
            if localIPv4Index[dst] != nil { return .toKernel(.localAddress) }
            if dst >> 16 == 0xa9fe || src >> 16 == 0xa9fe { return .toKernel(.linkLocal) }
            if dst >> 24 == 0 || dst >> 24 == 127 || dst >> 28 == 0xf
                || src >> 24 == 0 || src >> 24 == 127 || src >> 28 >= 0xe { return .toKernel(.specialAddress) }
            if packet.ttlOrHopLimit <= 1 { return .toKernel(.ttlExpired) }
            if packet.ipHeaderLength > 20 { return .toKernel(.ipv4Options) }
            guard let found = ipv4Routes.lookup(dst) else { return .toKernel(.noRoute) }
            route = found
            destination = .v4(dst)
        case 6:
            let dst = packet.destinationIPv6, src = packet.sourceIPv6
            if dst.isMulticast { return .toKernel(.multicast) }
            if localIPv6Index[dst] != nil { return .toKernel(.localAddress) }
            if dst.isLinkLocal || src.isLinkLocal { return .toKernel(.linkLocal) }
            if dst == .loopback || dst == .unspecified || src == .loopback || src == .unspecified
                || src.isMulticast { return .toKernel(.specialAddress) }
            if packet.ttlOrHopLimit <= 1 { return .toKernel(.ttlExpired) }
            guard let found = ipv6Routes.lookup(dst) else { return .toKernel(.noRoute) }
            route = found
            destination = .v6(dst)
        default:
            return .toKernel(.unsupportedEtherType)
        }
        guard let output = interfaceIndex[route.outputInterface] else { return .toKernel(.outputInterfaceNotHandled) }
        let nextHop = route.neighborAddress(for: destination)
        guard let mac = neighbors.usableMAC(for: nextHop, interface: route.outputInterface) else {
            return .toKernel(.noNeighbor)
        }
        if mac.isGroup { return .toKernel(.multicast) }
        if packet.ipPacketLength > output.mtu { return .toKernel(.exceedsMTU) }
        return .forward(ForwardAction(outputInterface: route.outputInterface, destinationMAC: mac,
                                      sourceMAC: output.mac, nextHop: nextHop, l3Offset: packet.l3Offset,
                                      ipVersion: packet.ipVersion))
    }

    /// Parses a frame and decides what to do with it. Malformed frames (and
    /// IPv4 headers whose checksum fails, when ``verifiesIPv4Checksum``) are
    /// dropped; ARP, IPv6 extension headers, other EtherTypes and more than
    /// two VLAN tags go to the kernel.
    /// - Parameter frame: The frame, starting at the Ethernet destination MAC.
    /// - Returns: The decision.
    @inlinable
    public func decide(frame: RawSpan) -> L3Decision {
        let packet: ParsedPacket
        do throws(ParseError) {
            packet = try ParsedPacket.parse(frame)
        } catch {
            return L3Forwarder.decision(for: error)
        }
        if verifiesIPv4Checksum, packet.ipVersion == 4,
           !InternetChecksum.isValidIPv4Header(frame, l3Offset: packet.l3Offset, headerLength: packet.ipHeaderLength) {
            return .drop(.badIPv4Checksum)
        }
        return decide(packet)
    }

    /// The decision for a frame that did not parse.
    /// - Parameter error: The parse error.
    @inlinable
    public static func decision(for error: ParseError) -> L3Decision {
        switch error {
        case .arp: return .toKernel(.arp)
        case .ipv6ExtensionHeaders: return .toKernel(.ipv6ExtensionHeaders)
        case .unsupportedEtherType: return .toKernel(.unsupportedEtherType)
        case .tooManyVLANTags: return .toKernel(.vlanTagged)
        default: return .drop(.malformed(error))
        }
    }

    /// Rewrites a frame for a `.forward` decision: destination MAC = the next
    /// hop's, source MAC = the output interface's, TTL (with the IPv4 header
    /// checksum, incrementally) or hop limit decremented.
    /// - Parameters:
    ///   - action: The decision's action, for this frame.
    ///   - bytes: The frame the decision was made on.
    /// - Returns: `false`, leaving the frame unchanged, if the TTL/hop limit
    ///   is ≤ 1 (``decide(_:)`` never forwards those).
    @inlinable
    public static func apply(_ action: ForwardAction, to bytes: inout MutableRawSpan) -> Bool {
        let decremented = action.ipVersion == 4
            ? IPv4TTL.decrement(&bytes, l3Offset: action.l3Offset)
            : IPv6HopLimit.decrement(&bytes, l3Offset: action.l3Offset)
        guard decremented else { return false }
        EthernetAddresses.rewrite(&bytes, destination: action.destinationMAC, source: action.sourceMAC)
        return true
    }

    /// Decides on a frame and, for `.forward`, rewrites it in place
    /// (``decide(frame:)`` then ``apply(_:to:)``).
    /// - Parameter frame: The frame; changed only when the result is `.forward`.
    /// - Returns: The decision.
    @inlinable
    public func process(_ frame: inout MutableRawSpan) -> L3Decision {
        let decision = decide(frame: frame.bytes)
        if case .forward(let action) = decision, !L3Forwarder.apply(action, to: &frame) {
            return .toKernel(.ttlExpired)
        }
        return decision
    }
}
