import Foundation
import Glibc
import Packet
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// l3 forwards exactly as the kernel's FIB says: the program asks it per
/// packet and hands its answer to userspace in front of the packet. Real
/// traffic between namespaces for each case where a mirrored table used to
/// disagree with the kernel. "Forwarded by userspace" is shown twice: the
/// daemon's tx counters grow, and the kernel's own forwarding counters in
/// the device namespace (ForwDatagrams, Ip6OutForwDatagrams) do not.
@Suite("xdpfwd l3 follows the kernel's FIB", .serialized)
struct L3FIBTests {
    /// Starts the l3 daemon on the lab's two ports and waits for its programs.
    static func startDaemon(_ lab: ForwardingLab, metrics: UInt16) throws -> ToolProcess {
        let daemon = try Daemon.start(["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device,
                                       "--metrics", "127.0.0.1:\(metrics)"])
        guard try waitForProgram(lab.lab, interface: lab.portA), try waitForProgram(lab.lab, interface: lab.portB) else {
            if daemon.process.isRunning { _ = Daemon.stop(daemon) }
            throw TestFailure("the daemon attached no program: \(daemon.standardError)")
        }
        return daemon
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Packets sent out of `port` (queue 0) by the daemon's workers.
    static func sent(_ metrics: [String: Double], _ port: String) -> Double {
        metrics[#"xdpfwd_tx_packets_total{port="\#(port)",queue="0"}"#] ?? 0
    }

    /// The program on `port` left this many packets to the kernel for `reason`.
    static func passed(_ metrics: [String: Double], _ port: String, _ reason: String) -> Double {
        metrics[#"xdpfwd_program_router_passed_total{port="\#(port)",reason="\#(reason)"}"#] ?? 0
    }

    /// The program's router_passed counters on `port`, as text for a failure message.
    static func reasons(_ metrics: [String: Double], _ port: String) -> String {
        metrics.filter { $0.key.hasPrefix(#"xdpfwd_program_router_passed_total{port="\#(port)""#) && $0.value > 0 }
            .map { "\($0.key.split(separator: "\"").dropLast().last ?? ""): \(Int($0.value))" }.sorted().joined(separator: ", ")
    }

    /// Runs a command in host A and returns its output (never throws on a non-zero exit).
    static func inHostA(_ lab: ForwardingLab, _ arguments: [String]) throws -> String {
        try Command.run(["ip", "netns", "exec", lab.hostA] + arguments, allowFailure: true)
    }

    static func received(_ pingOutput: String) -> Int {
        guard let range = pingOutput.range(of: #"(\d+) received"#, options: .regularExpression) else { return 0 }
        return Int(pingOutput[range].split(separator: " ")[0]) ?? 0
    }

    @Test("IPv4 and IPv6 on the wire (2001:2::/48): ping and ping -6 through the daemon, forwarded by userspace, not by the kernel")
    func ipv4AndIPv6OnTheWire() throws {
        let lab = try ForwardingLab(.router, ipv6: true)
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9191)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        // Neighbors resolved (by the kernel: the first packets find none).
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")
        _ = try lab.ping(lab.addressB6, count: 3, interval: "0.1")
        let kernelBefore = try lab.kernelForwarded()
        let before = scrape(port: 9191)
        #expect(try lab.ping(lab.addressB, count: 100) == 100)
        let middle = scrape(port: 9191)
        #expect(try lab.ping(lab.addressB6, count: 100) == 100)
        let after = scrape(port: 9191)
        let kernelAfter = try lab.kernelForwarded()
        let v4 = L3FIBTests.sent(middle, lab.portB) - L3FIBTests.sent(before, lab.portB)
        let v6 = L3FIBTests.sent(after, lab.portB) - L3FIBTests.sent(middle, lab.portB)
        #expect(v4 >= 100, "100 echo requests sent on B by userspace (\(v4))")
        #expect(v6 >= 100, "100 IPv6 echo requests sent on B by userspace (\(v6))")
        #expect(L3FIBTests.sent(after, lab.portA) - L3FIBTests.sent(before, lab.portA) >= 200, "the 200 replies sent on A by userspace")
        #expect(kernelAfter.v4 - kernelBefore.v4 < 5, "the kernel forwarded \(kernelAfter.v4 - kernelBefore.v4) IPv4 datagrams")
        #expect(kernelAfter.v6 - kernelBefore.v6 < 5, "the kernel forwarded \(kernelAfter.v6 - kernelBefore.v6) IPv6 datagrams")
        let invalid = after.filter { $0.key.hasPrefix("xdpfwd_drops_total{") && $0.key.contains("invalid_metadata") }.map(\.value).reduce(0, +)
        #expect(invalid == 0, "every redirected packet carried the FIB answer")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("IPv4 with options (ping -R, record route) is forwarded by userspace both ways; a loose source route is left to the kernel")
    func ipv4Options() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9192)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")
        let kernelBefore = try lab.kernelForwarded()
        let before = scrape(port: 9192)
        let output = try L3FIBTests.inHostA(lab, ["ping", "-R", "-c", "20", "-i", "0.02", "-W", "1", lab.addressB])
        let after = scrape(port: 9192)
        let kernelAfter = try lab.kernelForwarded()
        #expect(L3FIBTests.received(output) == 20, "\(output)")
        #expect(output.contains("RR:"), "B echoed the record-route option: \(output)")
        #expect(L3FIBTests.sent(after, lab.portB) - L3FIBTests.sent(before, lab.portB) >= 20)
        #expect(L3FIBTests.sent(after, lab.portA) - L3FIBTests.sent(before, lab.portA) >= 20)
        #expect(kernelAfter.v4 - kernelBefore.v4 < 5, "the kernel forwarded \(kernelAfter.v4 - kernelBefore.v4)")

        // A loose source route (0x83): accept_source_route, not the FIB, decides.
        let link = lab.lab.links[0]
        let plain = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1],
                                     destinationIPv4: [198, 18, 1, 1]).make(frameLength: 80)
        var routed = Array(plain[0..<34]) + [0x83, 7, 4, 198, 18, 1, 1, 0] + Array(plain[34...])
        routed[14] = 0x47
        let total = routed.count - 14
        routed[16] = UInt8(total >> 8); routed[17] = UInt8(total & 0xff)
        routed[24] = 0; routed[25] = 0
        let checksum = InternetChecksum.compute(routed[14..<42].span.bytes)
        routed[24] = UInt8(checksum >> 8); routed[25] = UInt8(checksum & 0xff)
        let sent = try {
            var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
            return host.blast(Array(repeating: routed, count: 20), timeout: 5)
        }()
        usleep(200_000)
        let last = scrape(port: 9192)
        #expect(sent == 20)
        #expect(L3FIBTests.passed(last, lab.portA, "ip_options") - L3FIBTests.passed(after, lab.portA, "ip_options") >= 20,
                "left to the kernel: \(L3FIBTests.reasons(last, lab.portA))")
        #expect(L3FIBTests.sent(last, lab.portB) - L3FIBTests.sent(after, lab.portB) < 20, "not forwarded by userspace")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("ECMP: a route with two next hops; traffic to 200 destinations reaches both, forwarded by userspace")
    func ecmp() throws {
        let lab = try ForwardingLab(.router)
        let hostBInterface = lab.lab.links[1].peerInterface
        let hops = [("198.18.1.11", "02:00:00:00:00:11", "xm1"), ("198.18.1.12", "02:00:00:00:00:12", "xm2")]
        for (_, mac, name) in hops {
            // A macvlan per next hop in host B: frames to its MAC arrive on it (rx_packets).
            try Command.run(["ip", "-n", lab.hostB, "link", "add", name, "link", hostBInterface, "address", mac, "type", "macvlan", "mode", "bridge"])
            try Command.run(["ip", "-n", lab.hostB, "link", "set", name, "up"])
        }
        for (address, mac, _) in hops {
            try Command.run(["ip", "-n", lab.device, "neigh", "replace", address, "lladdr", mac, "dev", lab.portB, "nud", "permanent"])
        }
        try Command.run(["ip", "-n", lab.device, "route", "add", "198.19.5.0/24",
                         "nexthop", "via", hops[0].0, "dev", lab.portB, "nexthop", "via", hops[1].0, "dev", lab.portB])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9193)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        func rx(_ name: String) throws -> Int {
            Int(try Command.run(["ip", "netns", "exec", lab.hostB, "cat", "/sys/class/net/\(name)/statistics/rx_packets"])
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let rxBefore = (try rx("xm1"), try rx("xm2"))
        let kernelBefore = try lab.kernelForwarded()
        let before = scrape(port: 9193)
        let link = lab.lab.links[0]
        let frames = (0..<400).map { index in
            UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1],
                             destinationIPv4: [198, 19, 5, UInt8(index % 200 + 1)], sourcePort: UInt16(10_000 + index))
                .make(frameLength: 80)
        }
        let sent = try {
            var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
            return host.blast(frames, timeout: 10)
        }()
        usleep(300_000)
        let after = scrape(port: 9193)
        let rxAfter = (try rx("xm1"), try rx("xm2"))
        let kernelAfter = try lab.kernelForwarded()
        #expect(sent == 400)
        let first = rxAfter.0 - rxBefore.0, second = rxAfter.1 - rxBefore.1
        #expect(first > 20 && second > 20, "both next hops receive traffic: \(first) and \(second) of 400")
        #expect(first + second >= 390, "\(first) + \(second) of 400 arrived")
        #expect(L3FIBTests.sent(after, lab.portB) - L3FIBTests.sent(before, lab.portB) >= 390, "sent on B by userspace")
        #expect(kernelAfter.v4 - kernelBefore.v4 < 10, "the kernel forwarded \(kernelAfter.v4 - kernelBefore.v4)")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("a policy rule to another table, whose route uses a nexthop object: followed, forwarded by userspace")
    func policyRuleAndNexthopObject() throws {
        let lab = try ForwardingLab(.router)
        try Command.run(["ip", "-n", lab.hostB, "addr", "add", "198.19.8.1/32", "dev", "lo"])
        try Command.run(["ip", "-n", lab.hostA, "route", "add", "198.19.0.0/16", "via", "198.18.0.2"])
        // Not in the main table: only the rule leads to table 100, whose route names nexthop object 81.
        try Command.run(["ip", "-n", lab.device, "nexthop", "add", "id", "81", "via", lab.addressB, "dev", lab.portB])
        try Command.run(["ip", "-n", lab.device, "route", "add", "198.19.8.0/24", "nhid", "81", "table", "100"])
        try Command.run(["ip", "-n", lab.device, "rule", "add", "from", "198.18.0.0/24", "to", "198.19.8.0/24", "table", "100"])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9197)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")
        let kernelBefore = try lab.kernelForwarded()
        let before = scrape(port: 9197)
        #expect(try lab.ping("198.19.8.1", count: 50) == 50)
        let after = scrape(port: 9197)
        let kernelAfter = try lab.kernelForwarded()
        #expect(L3FIBTests.sent(after, lab.portB) - L3FIBTests.sent(before, lab.portB) >= 50,
                "sent on B by userspace; left to the kernel: \(L3FIBTests.reasons(after, lab.portA))")
        #expect(kernelAfter.v4 - kernelBefore.v4 < 5, "the kernel forwarded \(kernelAfter.v4 - kernelBefore.v4)")
        // Without the rule the main table has no route: the program leaves the packets to the kernel.
        try Command.run(["ip", "-n", lab.device, "rule", "del", "from", "198.18.0.0/24", "to", "198.19.8.0/24", "table", "100"])
        #expect(try lab.ping("198.19.8.1", count: 5, interval: "0.05") == 0)
        let last = scrape(port: 9197)
        #expect(L3FIBTests.passed(last, lab.portA, "not_forwarded") - L3FIBTests.passed(after, lab.portA, "not_forwarded") >= 5)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("a route out of an interface the daemon does not serve: the program leaves the packets to the kernel, which forwards them")
    func unservedEgress() throws {
        let lab = try ForwardingLab(.router)
        // A third interface in the device namespace, not a port of the daemon.
        let third = lab.device + "v0", thirdPeer = lab.device + "v1"
        try Command.run(["ip", "-n", lab.device, "link", "add", third, "type", "veth", "peer", "name", thirdPeer])
        for name in [third, thirdPeer] { try Command.run(["ip", "-n", lab.device, "link", "set", name, "up"]) }
        try Command.run(["ip", "-n", lab.device, "addr", "add", "198.19.66.1/24", "dev", third])
        try Command.run(["ip", "-n", lab.device, "neigh", "replace", "198.19.66.5", "lladdr", "02:00:00:00:00:66", "dev", third, "nud", "permanent"])
        try Command.run(["ip", "-n", lab.hostA, "route", "add", "198.19.0.0/16", "via", "198.18.0.2"])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9198)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        func received() throws -> Int {
            Int(try Command.run(["ip", "netns", "exec", lab.device, "cat", "/sys/class/net/\(thirdPeer)/statistics/rx_packets"])
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let kernelBefore = try lab.kernelForwarded()
        let receivedBefore = try received()
        let before = scrape(port: 9198)
        _ = try lab.ping("198.19.66.5", count: 20, interval: "0.02")   // nobody answers: counted where they go
        usleep(200_000)
        let after = scrape(port: 9198)
        let kernelAfter = try lab.kernelForwarded()
        let unserved = L3FIBTests.passed(after, lab.portA, "unserved_egress") - L3FIBTests.passed(before, lab.portA, "unserved_egress")
        #expect(unserved >= 20, "left to the kernel as unserved egress: \(unserved); \(L3FIBTests.reasons(after, lab.portA))")
        #expect(kernelAfter.v4 - kernelBefore.v4 >= 20, "the kernel forwarded them (\(kernelAfter.v4 - kernelBefore.v4))")
        #expect(try received() - receivedBefore >= 20, "out of the third interface")
        let userspace = after.filter { $0.key.hasPrefix("xdpfwd_rx_packets_total{") }.map(\.value).reduce(0, +)
            - before.filter { $0.key.hasPrefix("xdpfwd_rx_packets_total{") }.map(\.value).reduce(0, +)
        #expect(userspace < 5, "userspace received \(userspace) packets meanwhile")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("left to the kernel and counted by reason: TTL 1 (time exceeded), no neighbor, forwarding disabled")
    func kernelReasons() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9199)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")
        let before = scrape(port: 9199)
        let expiring = try L3FIBTests.inHostA(lab, ["ping", "-t", "1", "-c", "3", "-i", "0.05", "-W", "1", lab.addressB])
        #expect(expiring.contains("Time to live exceeded"), "the kernel answered: \(expiring)")
        // Nobody has 198.18.1.77: the kernel asks (ARP) and gives up.
        _ = try lab.ping("198.18.1.77", count: 3, interval: "0.05")
        let middle = scrape(port: 9199)
        #expect(L3FIBTests.passed(middle, lab.portA, "ttl_expired") - L3FIBTests.passed(before, lab.portA, "ttl_expired") >= 3,
                "\(L3FIBTests.reasons(middle, lab.portA))")
        #expect(L3FIBTests.passed(middle, lab.portA, "no_neighbor") - L3FIBTests.passed(before, lab.portA, "no_neighbor") >= 3,
                "\(L3FIBTests.reasons(middle, lab.portA))")
        // Forwarding switched off while running (inside the lab's namespace only).
        try Command.run(["ip", "netns", "exec", lab.device, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"])
        #expect(try lab.ping(lab.addressB, count: 3, interval: "0.05") == 0)
        let after = scrape(port: 9199)
        #expect(L3FIBTests.passed(after, lab.portA, "forwarding_disabled") - L3FIBTests.passed(middle, lab.portA, "forwarding_disabled") >= 3,
                "\(L3FIBTests.reasons(after, lab.portA))")
        try Command.run(["ip", "netns", "exec", lab.device, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
        #expect(try lab.ping(lab.addressB, count: 10) == 10, "forwarding again once switched back on")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("a route added and removed while traffic flows: used within a second, and unused within a second after removal")
    func routeChangeUnderTraffic() throws {
        let lab = try ForwardingLab(.router)
        try Command.run(["ip", "-n", lab.hostB, "addr", "add", "198.19.7.1/32", "dev", "lo"])
        try Command.run(["ip", "-n", lab.hostA, "route", "add", "198.19.0.0/16", "via", "198.18.0.2"])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9194)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")
        let before = scrape(port: 9194)
        // 50 pings a second for 6 s, with a receive timestamp on every reply (-D).
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ping.arguments = ["ip", "netns", "exec", lab.hostA, "ping", "-D", "-n", "-i", "0.02", "-c", "300", "-W", "1", "198.19.7.1"]
        let pipe = Pipe()
        ping.standardOutput = pipe
        ping.standardError = FileHandle.nullDevice
        try ping.run()
        defer { if ping.isRunning { kill(ping.processIdentifier, SIGKILL) } }
        usleep(1_500_000)
        let added = Date().timeIntervalSince1970
        try Command.run(["ip", "-n", lab.device, "route", "add", "198.19.0.0/16", "via", "198.18.1.1"])
        usleep(2_000_000)
        let removed = Date().timeIntervalSince1970
        try Command.run(["ip", "-n", lab.device, "route", "del", "198.19.0.0/16"])
        let deadline = Date().addingTimeInterval(15)
        while ping.isRunning && Date() < deadline { usleep(50_000) }
        if ping.isRunning { kill(ping.processIdentifier, SIGKILL) }
        ping.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let replies = output.split(separator: "\n").filter { $0.contains("bytes from 198.19.7.1") }.compactMap { line -> Double? in
            guard line.hasPrefix("["), let end = line.firstIndex(of: "]") else { return nil }
            return Double(line[line.index(after: line.startIndex)..<end])
        }
        let after = scrape(port: 9194)
        try #require(!replies.isEmpty, "no replies at all: \(output.suffix(500))")
        #expect(replies.allSatisfy { $0 > added }, "no reply before the route existed")
        #expect(replies.min()! - added < 1.0, "the new route carried traffic \(replies.min()! - added) s after it was added")
        #expect(replies.max()! - removed < 1.0, "the removed route carried traffic until \(replies.max()! - removed) s after removal")
        #expect(replies.count >= 50, "\(replies.count) replies while the route existed (2 s at 50/s)")
        let forwarded = L3FIBTests.sent(after, lab.portB) - L3FIBTests.sent(before, lab.portB)
        #expect(forwarded >= Double(replies.count), "userspace sent \(forwarded) on B for \(replies.count) replies")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("IPv6 MTU check is exact: a 1400-byte packet on a 1400 MTU egress is forwarded by userspace, a 1408-byte one goes to the kernel (packet too big)")
    func ipv6MTU() throws {
        let lab = try ForwardingLab(.router, ipv6: true)
        try Command.run(["ip", "-n", lab.device, "link", "set", lab.portB, "mtu", "1400"])
        try Command.run(["ip", "-n", lab.hostB, "link", "set", lab.lab.links[1].peerInterface, "mtu", "1400"])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9195)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB6, count: 3, interval: "0.1")
        let before = scrape(port: 9195)
        // 1352 bytes of ICMPv6 echo data + 8 + 40 = an IPv6 packet of exactly 1400 bytes.
        let fits = try L3FIBTests.inHostA(lab, ["ping", "-6", "-M", "do", "-s", "1352", "-c", "5", "-i", "0.05", "-W", "1", lab.addressB6])
        let middle = scrape(port: 9195)
        #expect(L3FIBTests.received(fits) == 5, "\(fits)")
        #expect(L3FIBTests.sent(middle, lab.portB) - L3FIBTests.sent(before, lab.portB) >= 5,
                "the 1400-byte packets were sent on B by userspace; left to the kernel: \(L3FIBTests.reasons(middle, lab.portA))")
        // 1408 bytes: within the 40 bytes the old check (payload length only) let through.
        let tooBig = try L3FIBTests.inHostA(lab, ["ping", "-6", "-M", "do", "-s", "1360", "-c", "3", "-i", "0.2", "-W", "1", lab.addressB6])
        let after = scrape(port: 9195)
        #expect(L3FIBTests.received(tooBig) == 0, "\(tooBig)")
        #expect(tooBig.range(of: #"mtu[=:] ?1400"#, options: .regularExpression) != nil, "the kernel sent packet too big, mtu 1400: \(tooBig)")
        let fragNeeded = L3FIBTests.passed(after, lab.portA, "fragmentation_needed") - L3FIBTests.passed(middle, lab.portA, "fragmentation_needed")
        #expect(fragNeeded >= 1, "the program left the 1408-byte packet to the kernel (\(fragNeeded))")
        let bytesOnB = (after[#"xdpfwd_tx_bytes_total{port="\#(lab.portB)",queue="0"}"#] ?? 0) - (middle[#"xdpfwd_tx_bytes_total{port="\#(lab.portB)",queue="0"}"#] ?? 0)
        #expect(bytesOnB < 1400, "userspace sent no oversized packet on B (\(bytesOnB) bytes)")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("hairpin: a route back out of the port the packet came in on is forwarded by userspace on that port")
    func hairpin() throws {
        let lab = try ForwardingLab(.router)
        try Command.run(["ip", "-n", lab.device, "route", "add", "198.19.9.0/24", "via", lab.addressA, "dev", lab.portA])
        let daemon = try L3FIBTests.startDaemon(lab, metrics: 9196)
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        _ = try lab.ping(lab.addressB, count: 3, interval: "0.1")   // the device learns A's MAC
        let before = scrape(port: 9196)
        let link = lab.lab.links[0]
        let frames = (0..<50).map { index in
            UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1],
                             destinationIPv4: [198, 19, 9, 1], sourcePort: UInt16(20_000 + index)).make(frameLength: 80)
        }
        let back = try {
            var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
            return host.exchange(frames, timeout: 5)
        }()
        let after = scrape(port: 9196)
        let hairpinned = back.filter { frame in
            frame.count >= 34 && Array(frame[0..<6]) == link.peerMAC && Array(frame[6..<12]) == link.deviceMAC
                && frame[12] == 0x08 && frame[13] == 0 && Array(frame[30..<34]) == [198, 19, 9, 1]
        }
        #expect(hairpinned.count == 50, "\(hairpinned.count) of 50 came back out of A (\(back.count) frames in all)")
        #expect(hairpinned.allSatisfy { $0[22] == 63 }, "TTL decremented")
        #expect(hairpinned.allSatisfy { frame in InternetChecksum.isValidIPv4Header(frame.span.bytes, l3Offset: 14, headerLength: 20) })
        #expect(L3FIBTests.sent(after, lab.portA) - L3FIBTests.sent(before, lab.portA) >= 50, "sent on A by userspace")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }
}

extension ForwardingLab {
    /// Datagrams the kernel itself forwarded in the device namespace
    /// (IPv4 ForwDatagrams, IPv6 Ip6OutForwDatagrams).
    func kernelForwarded() throws -> (v4: Int, v6: Int) {
        let snmp = try Command.run(["ip", "netns", "exec", device, "cat", "/proc/net/snmp"]).split(separator: "\n")
        let ip = snmp.filter { $0.hasPrefix("Ip: ") }
        var v4 = -1
        if ip.count >= 2 {
            let names = ip[0].split(separator: " "), values = ip[1].split(separator: " ")
            if let index = names.firstIndex(of: "ForwDatagrams"), index < values.count { v4 = Int(values[index]) ?? -1 }
        }
        let snmp6 = try Command.run(["ip", "netns", "exec", device, "cat", "/proc/net/snmp6"])
        var v6 = -1
        for line in snmp6.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count == 2, parts[0] == "Ip6OutForwDatagrams" { v6 = Int(parts[1]) ?? -1 }
        }
        guard v4 >= 0, v6 >= 0 else { throw L3FIBTests.TestFailure("no forwarding counters in \(device)") }
        return (v4, v6)
    }
}
