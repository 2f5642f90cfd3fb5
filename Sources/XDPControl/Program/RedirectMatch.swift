/// Which packets the redirect program hands to AF_XDP sockets; the rest go
/// to the kernel stack (XDP_PASS). A `nil` field matches anything.
///
/// Mirrors `struct match_config` in `bpf/xdp_redirect.bpf.c`.
public struct RedirectMatch: Sendable, Equatable {
    /// Ethertype after at most one VLAN tag, e.g. 0x0800 for IPv4.
    public var ethertype: UInt16?
    /// IP protocol / IPv6 next header, e.g. 17 for UDP.
    public var ipProtocol: UInt8?
    /// Destination port range (UDP or TCP).
    public var destinationPorts: ClosedRange<UInt16>?
    /// A matching packet on a queue with no socket goes to the kernel
    /// (`true`) or is dropped and counted (`false`).
    public var passWithoutSocket: Bool

    /// Router mode: only packets the kernel's FIB would forward, to a known
    /// neighbor, out of an interface set with
    /// `XDPProgram.setServedInterfaces(_:)`, go to the socket
    /// (bpf_fib_lookup), carrying the FIB's answer in front of them
    /// (`FIBMetadata`); everything else goes to the kernel, counted by
    /// ``RedirectCounters/RouterReason``.
    public var router: Bool = false

    /// Every packet goes to the queue's socket.
    public static let everything = RedirectMatch()

    /// Router mode (see ``router``); the other fields are ignored.
    public static var forwardable: RedirectMatch {
        var match = RedirectMatch(passWithoutSocket: true)
        match.router = true
        return match
    }

    /// Creates a match.
    public init(ethertype: UInt16? = nil, ipProtocol: UInt8? = nil, destinationPorts: ClosedRange<UInt16>? = nil,
                passWithoutSocket: Bool = false) {
        self.ethertype = ethertype
        self.ipProtocol = ipProtocol
        self.destinationPorts = destinationPorts
        self.passWithoutSocket = passWithoutSocket
    }

    /// UDP to the given destination ports, over IPv4 and IPv6.
    public static func udp(ports: ClosedRange<UInt16>) -> RedirectMatch {
        RedirectMatch(ipProtocol: 17, destinationPorts: ports, passWithoutSocket: true)
    }

    /// UDP to one destination port, over IPv4 and IPv6.
    public static func udp(port: UInt16) -> RedirectMatch { .udp(ports: port...port) }

    /// TCP to the given destination ports, over IPv4 and IPv6.
    public static func tcp(ports: ClosedRange<UInt16>) -> RedirectMatch {
        RedirectMatch(ipProtocol: 6, destinationPorts: ports, passWithoutSocket: true)
    }

    /// Every packet of one IP protocol (e.g. 47 for GRE, 132 for SCTP), over IPv4 and IPv6.
    public static func ipProtocol(_ value: UInt8) -> RedirectMatch {
        RedirectMatch(ipProtocol: value, passWithoutSocket: true)
    }

    /// Every frame of one ethertype (after at most one VLAN tag), e.g. 0x88F7 for PTP.
    public static func ethertype(_ value: UInt16) -> RedirectMatch {
        RedirectMatch(ethertype: value, passWithoutSocket: true)
    }

    /// Decodes the 16-byte map value (what ``mapValue`` writes).
    init?(mapValue bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        func read<T: FixedWidthInteger>(_ offset: Int, _ type: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        let enabled = read(0, UInt32.self) != 0
        let ethertype = read(4, UInt16.self), ipProtocol = read(6, UInt8.self)
        let low = read(8, UInt16.self), high = read(10, UInt16.self)
        self.init(ethertype: enabled && ethertype != 0 ? ethertype : nil, ipProtocol: enabled && ipProtocol != 0 ? ipProtocol : nil,
                  destinationPorts: enabled && (low != 0 || high != 0) && low <= high ? low...high : nil,
                  passWithoutSocket: read(7, UInt8.self) != 0)
        router = read(12, UInt8.self) != 0
    }

    /// The 16-byte map value the BPF program reads.
    var mapValue: [UInt8] {
        let enabled: UInt32 = (ethertype != nil || ipProtocol != nil || destinationPorts != nil) ? 1 : 0
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(enabled)
        append(ethertype ?? 0)
        append(ipProtocol ?? 0)
        append(UInt8(passWithoutSocket ? 1 : 0))
        append(destinationPorts?.lowerBound ?? 0)
        append(destinationPorts?.upperBound ?? 0)
        append(UInt8(router ? 1 : 0))
        bytes.append(contentsOf: [0, 0, 0])
        return bytes
    }
}

/// What the redirect program did, summed over CPUs.
public struct RedirectCounters: Sendable, Equatable, Codable {
    /// Packets handed to a socket.
    public var redirected: UInt64
    /// Packets that did not match, passed to the kernel.
    public var passed: UInt64
    /// Matching packets dropped because their queue had no socket.
    public var droppedNoSocket: UInt64
    /// Matching packets passed to the kernel because their queue had no socket.
    public var passedNoSocket: UInt64
    /// Router mode: packets left to the kernel, for any ``RouterReason``.
    public var routerPassed: UInt64 = 0
    /// Router mode: packets left to the kernel by reason, keyed by ``RouterReason/label``.
    public var routerReasons: [String: UInt64] = [:]

    /// Why router mode left a packet to the kernel (`bpf/xdp_redirect.bpf.c`, `COUNTER_ROUTER_*`).
    public enum RouterReason: Int, CaseIterable, Sendable, Codable {
        /// ARP, neighbor discovery, VLAN-tagged, other ethertypes, IPv6 hop-by-hop options, malformed IP.
        case notIP = 5
        /// TTL or hop limit ≤ 1 (the kernel sends time exceeded).
        case ttlExpired = 6
        /// The FIB does not forward it: a local destination, or no route.
        case notForwarded = 7
        /// A blackhole, unreachable or prohibit route.
        case unreachable = 8
        /// The next hop's MAC is not known yet (the kernel resolves it).
        case noNeighbor = 9
        /// Longer than the egress MTU (the kernel fragments or sends ICMP).
        case fragmentationNeeded = 10
        /// Forwarding is disabled on the ingress interface (sysctl).
        case forwardingDisabled = 11
        /// The FIB forwards it out of an interface the daemon does not serve: the kernel forwards it.
        case unservedEgress = 12
        /// Any other answer of the FIB, or no room for the FIB metadata.
        case other = 13
        /// An IPv4 source route or router alert option: the kernel's settings
        /// (accept_source_route, router alert sockets) decide, not the FIB.
        case ipOptions = 14

        /// The metric label.
        public var label: String {
            switch self {
            case .notIP: "not_ip"
            case .ttlExpired: "ttl_expired"
            case .notForwarded: "not_forwarded"
            case .unreachable: "unreachable"
            case .noNeighbor: "no_neighbor"
            case .fragmentationNeeded: "fragmentation_needed"
            case .forwardingDisabled: "forwarding_disabled"
            case .unservedEgress: "unserved_egress"
            case .other: "other"
            case .ipOptions: "ip_options"
            }
        }
    }

    /// Router mode: packets left to the kernel for `reason`.
    public func routerPassed(_ reason: RouterReason) -> UInt64 { routerReasons[reason.label] ?? 0 }

    /// The counters the program keeps (`COUNTER_COUNT`).
    static let programCounterCount = 15

    /// Creates a value.
    public init(redirected: UInt64 = 0, passed: UInt64 = 0, droppedNoSocket: UInt64 = 0, passedNoSocket: UInt64 = 0) {
        self.redirected = redirected
        self.passed = passed
        self.droppedNoSocket = droppedNoSocket
        self.passedNoSocket = passedNoSocket
    }
}

extension RedirectMatch: CustomStringConvertible {
    /// The match as xdpctl's `--match` writes it: all, udp:PORT[-PORT],
    /// tcp:..., protocol:N, ethertype:0xNNNN, or "router" (l3's forwardable).
    public var description: String {
        if router { return "router (what the kernel's FIB forwards out of a served port)" }
        var parts: [String] = []
        if let ethertype, ipProtocol == nil, destinationPorts == nil { parts.append("ethertype:0x" + String(ethertype, radix: 16)) }
        if let destinationPorts {
            let name = ipProtocol == 6 ? "tcp" : ipProtocol == 17 ? "udp" : "ports"
            parts.append(destinationPorts.count == 1 ? "\(name):\(destinationPorts.lowerBound)" : "\(name):\(destinationPorts.lowerBound)-\(destinationPorts.upperBound)")
        } else if let ipProtocol {
            parts.append("protocol:\(ipProtocol)")
        }
        return parts.isEmpty ? "all" : parts.joined(separator: ",")
    }
}
