import Foundation
import Glibc
import Packet
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// xdpfwd between two hosts, with real ping and iperf3 traffic.
@Suite("xdpfwd", .serialized)
struct XDPFwdTests {
    @Test("xconnect: ping gets 100 of 100 replies, iperf3 TCP completes, counters agree, SIGTERM detaches")
    func xconnect() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9181"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB) == 100)
        let tcp = try lab.iperfTCP()
        #expect(tcp.bytes > 1_000_000, "iperf3 moved \(tcp.bytes) bytes")
        let metrics = scrape(port: 9181)
        #expect((metrics[#"xdpfwd_rx_packets_total{port="\#(lab.portA)",queue="0"}"#] ?? 0) >= 100)
        #expect((metrics[#"xdpfwd_tx_packets_total{port="\#(lab.portB)",queue="0"}"#] ?? 0) >= 100)
        #expect(metrics[#"xdpfwd_frames{worker="0",place="held"}"#] == 0)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        for port in [lab.portA, lab.portB] {
            let attached = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(attached == nil, "no program left on \(port)")
        }
    }

    @Test("l3: ping 100 of 100 and iperf3 through the router; ip route changes are used within a second")
    func l3() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try Daemon.start(["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9182"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB) == 100)
        let tcp = try lab.iperfTCP()
        #expect(tcp.bytes > 1_000_000, "iperf3 moved \(tcp.bytes) bytes")
        var metrics = scrape(port: 9182)
        let forwarded = metrics[#"xdpfwd_tx_packets_total{port="\#(lab.portB)",queue="0"}"#] ?? 0
        #expect(forwarded >= 90, "the fast path, not the kernel, forwarded the traffic (\(forwarded))")

        // A route the kernel learns now is in the fast path within a second.
        try Command.run(["ip", "-n", lab.hostB, "addr", "add", "198.19.7.1/32", "dev", "lo"])
        try Command.run(["ip", "-n", lab.hostA, "route", "add", "198.19.0.0/16", "via", "198.18.0.2"])
        try Command.run(["ip", "-n", lab.device, "route", "add", "198.19.0.0/16", "via", "198.18.1.1"])
        usleep(1_000_000)
        metrics = scrape(port: 9182)
        let before = metrics[#"xdpfwd_tx_packets_total{port="\#(lab.portB)",queue="0"}"#] ?? 0
        #expect(try lab.ping("198.19.7.1", count: 20) == 20)
        let after = scrape(port: 9182)[#"xdpfwd_tx_packets_total{port="\#(lab.portB)",queue="0"}"#] ?? 0
        #expect(after - before >= 18, "the new route is forwarded by the fast path")
        // Deleting it stops forwarding.
        try Command.run(["ip", "-n", lab.device, "route", "del", "198.19.0.0/16"])
        usleep(500_000)
        #expect(try lab.ping("198.19.7.1", count: 5, interval: "0.1") == 0)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("macswap: N packets sent come back with MACs swapped")
    func macswap() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "macswap", "-i", lab.portA, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portA))
        let link = lab.lab.links[0]
        var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
        let builder = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 0, 9])
        let packets = (0..<500).map { builder.make(frameLength: 80, payload: [UInt8($0 & 0xff), UInt8($0 >> 8)]) }
        let back = host.exchange(packets, timeout: 10)
        #expect(back.count == 500)
        #expect(back.allSatisfy { Array($0[0..<6]) == link.peerMAC && Array($0[6..<12]) == link.deviceMAC })
        #expect(Daemon.stop(daemon) == 0)
    }

    @Test("malformed frames are counted and dropped (or left to the kernel), good traffic keeps flowing")
    func malformed() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try Daemon.start(["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9183"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)   // neighbors resolved
        let link = lab.lab.links[0]
        let good = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 1, 1])
            .make(frameLength: 100)
        var bad: [[UInt8]] = []
        var lengthBeyond = good; lengthBeyond[16] = 0x05; lengthBeyond[17] = 0xdc          // IPv4 total length 1500 in a 100-byte frame
        bad.append(lengthBeyond)
        bad.append(Array(good.prefix(20)))                                                  // truncated IPv4 header
        var badIHL = good; badIHL[14] = 0x43                                                // IHL 3
        bad.append(badIHL)
        var ihlBeyond = good; ihlBeyond[14] = 0x4f                                          // IHL 15: 60-byte header, options unverified
        bad.append(ihlBeyond)
        bad.append(Array(good[0..<12]) + [0x81, 0x00, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3] + Array(good[12...]))  // three stacked VLAN tags
        bad.append(Array(good.prefix(10)))                                                  // truncated Ethernet header
        var ipv6 = Array(good[0..<12]) + [0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 0 /* hop-by-hop */, 64]
        ipv6 += [UInt8](repeating: 0x20, count: 32) + [17, 0, 0, 0, 0, 0, 0, 0]
        bad.append(ipv6)                                                                    // IPv6 with an extension header
        do {
            // AF_XDP on host A only while sending the bad frames: its program takes all of A's traffic.
            var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
            _ = host.exchange(Array(repeating: bad, count: 30).flatMap { $0 }, timeout: 2)   // 210 frames: within the endpoint's window of 256 unanswered
        }
        #expect(try lab.ping(lab.addressB, count: 20) == 20, "good traffic keeps flowing")
        let metrics = scrape(port: 9183)
        let malformed = metrics[#"xdpfwd_drops_total{port="\#(lab.portA)",queue="0",reason="malformed"}"#] ?? 0
        let passed = metrics[#"xdpfwd_program_packets_total{port="\#(lab.portA)",decision="router_passed"}"#] ?? 0
        #expect(malformed >= 30, "frames that reached userspace malformed are counted (\(malformed))")
        // 7 kinds x 30; a 10-byte runt may be dropped by veth before it reaches the device's XDP hook.
        #expect(malformed + passed >= 180, "every bad frame that reaches the device is a userspace drop or left to the kernel (\(malformed) + \(passed))")
        #expect(Daemon.stop(daemon) == 0)
    }

    @Test("the fuzz seed corpus at full rate through l3: every frame forwarded, counted in a drop reason or left to the kernel; good traffic flows")
    func corpusAtFullRate() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try Daemon.start(["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9184"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)   // neighbors resolved
        let link = lab.lab.links[0]
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/packet")
        let corpus = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name -> [UInt8] in
            var frame = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
            // Addressed to the device, from host A, so each reaches the router's decisions.
            if frame.count >= 12 { frame.replaceSubrange(0..<12, with: link.deviceMAC + link.peerMAC) }
            return frame
        }.filter { $0.count >= 14 }  // shorter is no Ethernet frame: veth refuses it before any XDP hook
        try #require(corpus.count >= 30)
        let good = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 1, 1])
            .make(frameLength: 100)
        let rounds = 300
        let frames = Array(repeating: corpus + [good], count: rounds).flatMap { $0 }
        let sent = try {
            // AF_XDP on host A only while blasting: its program takes all of A's traffic.
            var host = try PeerEndpoint(namespace: lab.hostA, interface: link.peerInterface)
            return host.blast(frames, timeout: 30)
        }()
        #expect(sent == frames.count, "all \(frames.count) frames completed")
        usleep(500_000)
        // The corpus holds ARP and neighbor-discovery frames from made-up
        // hosts: a reply may go missing while the neighbor tables settle.
        let replies = try lab.ping(lab.addressB, count: 20)
        #expect(replies >= 18, "good traffic keeps flowing (\(replies) of 20)")
        let metrics = scrape(port: 9184)
        func sum(_ prefix: String) -> Double { metrics.filter { $0.key.hasPrefix(prefix) }.map(\.value).reduce(0, +) }
        let received = sum("xdpfwd_rx_packets_total{"), transmitted = sum("xdpfwd_tx_packets_total{"), dropped = sum("xdpfwd_drops_total{")
        let redirected = sum(#"xdpfwd_program_packets_total{port="\#(lab.portA)",decision="redirected"}"#)
            + sum(#"xdpfwd_program_packets_total{port="\#(lab.portB)",decision="redirected"}"#)
        let socketDrops = metrics.filter { $0.key.hasPrefix("xdpfwd_xdp_statistics_total{") && ($0.key.contains("rx_dropped") || $0.key.contains("rx_ring_full")) }
            .map(\.value).reduce(0, +)
        #expect(received == transmitted + dropped, "every frame userspace received was forwarded or counted in a drop reason: \(received) = \(transmitted) + \(dropped)")
        #expect(redirected == received + socketDrops, "every frame the program redirected reached userspace or a kernel drop counter: \(redirected) = \(received) + \(socketDrops)")
        let forwardedToB = metrics[#"xdpfwd_tx_packets_total{port="\#(lab.portB)",queue="0"}"#] ?? 0
        #expect(forwardedToB >= Double(rounds), "the \(rounds) good frames among the bad went through (\(forwardedToB) sent on B)")
        let malformed = metrics[#"xdpfwd_drops_total{port="\#(lab.portA)",queue="0",reason="malformed"}"#] ?? 0
        let leftToKernel = metrics[#"xdpfwd_program_packets_total{port="\#(lab.portA)",decision="router_passed"}"#] ?? 0
        let decisions = sum(#"xdpfwd_program_packets_total{port="\#(lab.portA)""#)
        // Host A's ping (10 + 20 requests) and its ARP also crossed port A.
        #expect(decisions >= Double(sent) && decisions <= Double(sent + 64),
                "every frame sent got a decision of the program on A: \(decisions) for \(sent) sent (\(leftToKernel) left to the kernel, \(malformed) malformed in userspace)")
        #expect(leftToKernel >= Double(rounds * (corpus.count - 8)), "malformed, ARP, local and unroutable frames left to the kernel by the program (\(leftToKernel))")
        #expect(Daemon.stop(daemon) == 0)
    }

    @Test("bad configuration files: each error names the problem", arguments: [
        ("mode: xconnect\nports:\n  - interface: a\n  - interface: b\nfrobnicate: 1\n", "line 5, key frobnicate: unknown key"),
        ("mode: teleport\nports:\n  - interface: a\n", "key mode"),
        ("mode: xconnect\nports:\n  - interface: a\n", "xconnect needs exactly 2 ports"),
        ("mode: macswap\nports:\n  - interface: a\n    queues: 3-1\n", "queues"),
        ("mode: macswap\nports:\n  - interface: a\ncpus: x\n", "key cpus"),
        ("mode: macswap\nports:\n  - interface: a\nframe_size: 3000\n", "frame size 3000 not a power of two"),
        ("mode: macswap\nports:\n  - interface: a\nmetrics: everywhere\n", "key metrics"),
        ("mode: [unclosed\n", "not valid YAML"),
        ("mode: l3\nports:\n  - interface: a\n  - interface: b\nroutes:\n  - prefix: 198.19.0.0/16\n    via: 198.18.1.1\n    interface: b\n",
         "key routes: static routes are not supported: xdpfwd l3 follows the kernel's FIB, so add them to the kernel in the daemon's network namespace (ip route add 198.19.0.0/16 via 198.18.1.1 dev b)"),
        ("mode: l3\nports:\n  - interface: a\n  - interface: b\nneighbors:\n  - address: 198.18.1.1\n    mac: 02:00:00:00:00:01\n    interface: b\n",
         "ip neigh replace 198.18.1.1 lladdr 02:00:00:00:00:01 dev b nud permanent"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ])
    func badConfiguration(text: String, message: String) throws {
        try requireRoot()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        defer { unlink(path) }
        let run = try Daemon.run(["check", "--config", path])
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains(message), "stderr: \(run.standardError)")
    }

    @Test("a world-writable config is refused; a missing interface is an error, not a crash")
    func refusals() throws {
        try requireRoot()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try "mode: macswap\nports:\n  - interface: lo\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o666)
        defer { unlink(path) }
        let open = try Daemon.run(["check", "--config", path])
        #expect(open.process.terminationStatus != 0)
        #expect(open.standardError.contains("world-writable"), "\(open.standardError)")
        let missing = try Daemon.run(["run", "--mode", "macswap", "-i", "xd9", "--metrics", "off"])
        #expect(missing.process.terminationStatus != 0)
        #expect(missing.standardError.contains("interface xd9 not found"), "\(missing.standardError)")
        chmod(path, 0o644)
        let good = try Daemon.run(["check", "--config", path])
        #expect(good.process.terminationStatus == 0)
        #expect(good.standardOutput.contains("configuration OK"))
    }
}

/// Fetches /metrics from the daemon (it listens on loopback in the test's namespace).
func scrape(port: UInt16) -> [String: Double] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return [:] }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard connected == 0 else { return [:] }
    let request = Array("GET /metrics HTTP/1.0\r\n\r\n".utf8)
    _ = send(fd, request, request.count, 0)
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        data += buffer.prefix(n)
    }
    var values: [String: Double] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
    }
    return values
}
