import Foundation
import Glibc
import Synchronization
import XDP
import XDPControl

/// A throw-away network for tests, demos and benchmarks: two namespaces
/// ("peer" and "device") joined by veth pairs, addressed from 198.18.0.0/15,
/// routing nowhere else. Everything it creates carries a unique name with the
/// creating process's id, and ``tearDown()`` (or dropping the last reference)
/// deletes it all. Labs left by a process that no longer runs are removed by
/// ``removeStale()``.
public final class VethLab: @unchecked Sendable {
    /// One veth pair of the lab.
    public struct Link: Sendable, Equatable {
        /// The end in the peer namespace (traffic source / sink).
        public let peerInterface: String
        /// The end in the device namespace (where the data plane binds).
        public let deviceInterface: String
        /// MAC address of the peer end.
        public let peerMAC: [UInt8]
        /// MAC address of the device end.
        public let deviceMAC: [UInt8]
        /// IPv4 address of the peer end (198.18.x.1).
        public let peerIPv4: [UInt8]
        /// IPv4 address of the device end (198.18.x.2).
        public let deviceIPv4: [UInt8]
        /// The namespace the peer end is in.
        public let peerNamespace: String
    }

    /// The namespace of the traffic generator / sink side (of the first link,
    /// and of every link unless the lab has separate hosts).
    public let peerNamespace: String
    /// Every peer-side namespace: one, or one per link (separate hosts).
    public let peerNamespaces: [String]
    /// The namespace of the data plane under test.
    public let deviceNamespace: String
    /// The veth pairs, in creation order.
    public let links: [Link]
    /// Queues per veth end.
    public let queues: Int
    private var torn = false

    /// The prefix of every lab name; labs are `xl<pid hex><n>` + suffix.
    public static let namePrefix = "xl"

    /// Creates the namespaces and `linkCount` veth pairs with `queues` queues.
    /// - Parameters:
    ///   - linkCount: Veth pairs between the two namespaces (1...8).
    ///   - queues: RX/TX queues per veth end (1...64).
    ///   - mtu: The MTU of every veth end.
    ///   - name: A fixed lab name (for `xdpbench lab up`); default unique.
    ///   - ipv6: Keep IPv6 on; off by default so no neighbor discovery or
    ///     router solicitation mixes into counted traffic.
    ///   - separateHosts: Put each link's peer end in a namespace of its own
    ///     (`NAMEp`, `NAMEq`, `NAMEr`, ...): hosts A, B, ... on either side of the device.
    /// - Throws: `XDPError` when `ip` fails (not root, no iproute2).
    public init(linkCount: Int = 1, queues: Int = 1, mtu: Int = 1500, name: String? = nil, ipv6: Bool = false,
                separateHosts: Bool = false) throws(XDPError) {
        guard (1...8).contains(linkCount), (1...64).contains(queues) else {
            throw XDPError(.invalidConfiguration, operation: "create veth lab", hint: "1 to 8 links and 1 to 64 queues")
        }
        let base = name ?? VethLab.uniqueName()
        peerNamespace = base + "p"
        deviceNamespace = base + "d"
        let hostSuffixes = ["p", "q", "r", "s", "t", "u", "v", "w"]
        peerNamespaces = separateHosts ? (0..<linkCount).map { base + hostSuffixes[$0] } : [base + "p"]
        self.queues = queues
        var links: [Link] = []
        do throws(XDPError) {
            for ns in peerNamespaces + [deviceNamespace] {
                try Command.run(["ip", "netns", "add", ns])
            }
            // The lab's namespaces route nothing: loopback only besides the veths.
            for ns in peerNamespaces + [deviceNamespace] {
                try Command.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                if !ipv6 {
                    try Command.run(["ip", "netns", "exec", ns, "sh", "-c",
                                     "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6"])
                }
            }
            for index in 0..<linkCount {
                let peer = "\(base)p\(index)", device = "\(base)d\(index)"
                let hostNamespace = peerNamespaces[separateHosts ? index : 0]
                try Command.run(["ip", "link", "add", peer, "netns", hostNamespace,
                                 "numtxqueues", "\(queues)", "numrxqueues", "\(queues)", "type", "veth",
                                 "peer", "name", device, "netns", deviceNamespace,
                                 "numtxqueues", "\(queues)", "numrxqueues", "\(queues)"])
                let subnet = UInt8(index)
                let peerIP: [UInt8] = [198, 18, subnet, 1], deviceIP: [UInt8] = [198, 18, subnet, 2]
                for (ns, interface, ip) in [(hostNamespace, peer, peerIP), (deviceNamespace, device, deviceIP)] {
                    try Command.run(["ip", "-n", ns, "link", "set", interface, "mtu", "\(mtu)"])
                    try Command.run(["ip", "-n", ns, "addr", "add", ip.map(String.init).joined(separator: ".") + "/24", "dev", interface])
                    try Command.run(["ip", "-n", ns, "link", "set", interface, "up"])
                }
                links.append(Link(peerInterface: peer, deviceInterface: device,
                                  peerMAC: try VethLab.mac(of: peer, in: hostNamespace),
                                  deviceMAC: try VethLab.mac(of: device, in: deviceNamespace),
                                  peerIPv4: peerIP, deviceIPv4: deviceIP, peerNamespace: hostNamespace))
            }
        } catch {
            VethLab.delete(base: base)
            throw error
        }
        self.links = links
    }

    deinit { tearDown() }

    /// Deletes the namespaces (and with them the veths and any XDP program on them).
    public func tearDown() {
        guard !torn else { return }
        torn = true
        VethLab.delete(base: String(peerNamespace.dropLast()))
    }

    /// Leaves the lab in place when this value goes (for `xdpbench lab up`);
    /// remove it later with ``delete(name:)``.
    public func keep() { torn = true }

    /// Deletes a lab made with a fixed name.
    public static func delete(name: String) { delete(base: name) }

    /// Whether a lab with this fixed name exists.
    public static func exists(name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(name)d")
    }

    /// Runs `body` in the device namespace (see ``NetworkNamespace/withEntered(_:_:)``).
    public func inDevice<R: ~Copyable>(_ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        try NetworkNamespace.withEntered(deviceNamespace, body)
    }

    /// Runs `body` in the peer namespace.
    public func inPeer<R: ~Copyable>(_ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        try NetworkNamespace.withEntered(peerNamespace, body)
    }

    /// Runs a command in the peer namespace (`ip netns exec`).
    @discardableResult
    public func runInPeer(_ arguments: [String], allowFailure: Bool = false) throws(XDPError) -> String {
        try Command.run(["ip", "netns", "exec", peerNamespace] + arguments, allowFailure: allowFailure)
    }

    /// Runs a command in the device namespace (`ip netns exec`).
    @discardableResult
    public func runInDevice(_ arguments: [String], allowFailure: Bool = false) throws(XDPError) -> String {
        try Command.run(["ip", "netns", "exec", deviceNamespace] + arguments, allowFailure: allowFailure)
    }

    /// Removes labs whose creating process is gone (left by a crash or SIGKILL).
    public static func removeStale() {
        guard let output = try? Command.run(["ip", "netns", "list"], allowFailure: true) else { return }
        for line in output.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(namePrefix), let last = name.last, "pqrstuvwd".contains(last) else { continue }
            let body = name.dropFirst(namePrefix.count).dropLast()
            guard let underscore = body.firstIndex(of: "x"), let pid = Int32(body[..<underscore], radix: 16) else { continue }
            if kill(pid, 0) != 0 && Glibc.errno == ESRCH {
                _ = try? Command.run(["ip", "netns", "del", name], allowFailure: true)
            }
        }
    }

    private static let counter = Atomic<Int>(0)

    /// `xl<pid hex>x<n hex>`: short enough for interface names (15 bytes).
    static func uniqueName() -> String {
        "\(namePrefix)\(String(getpid(), radix: 16))x\(String(counter.add(1, ordering: .relaxed).newValue, radix: 16))"
    }

    static func delete(base: String) {
        for ns in ["p", "q", "r", "s", "t", "u", "v", "w", "d"].map({ base + $0 }) where FileManager.default.fileExists(atPath: "/run/netns/\(ns)") {
            _ = try? Command.run(["ip", "netns", "del", ns], allowFailure: true)
        }
    }

    static func mac(of interface: String, in namespace: String) throws(XDPError) -> [UInt8] {
        let output = try Command.run(["ip", "-n", namespace, "-o", "link", "show", interface])
        guard let range = output.range(of: "link/ether ") else {
            throw XDPError(.systemCall, operation: "read MAC of \(interface)", hint: output)
        }
        let text = output[range.upperBound...].prefix(17)
        return text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
    }
}

