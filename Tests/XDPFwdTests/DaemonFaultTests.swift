import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// The daemon under faults: SIGKILL and restart, its program removed behind
/// its back, UDP at a fixed rate, the shipped example config.
@Suite("xdpfwd faults", .serialized)
struct DaemonFaultTests {
    @Test("kill -9 mid-traffic, then start again: the new instance replaces the stale program and forwards")
    func killAndRestart() throws {
        let lab = try ForwardingLab(.bridge)
        let arguments = ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"]
        let first = try Daemon.start(arguments)
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        kill(first.pid, SIGKILL)
        first.wait(timeout: 10)
        let stale = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(stale != nil, "SIGKILL leaves the program attached (the kernel's behaviour)")
        let second = try Daemon.start(arguments)
        let deadline = Date().addingTimeInterval(10)
        var replaced = false
        while Date() < deadline && !replaced {
            let now = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
            replaced = now != nil && now != stale
            usleep(50_000)
        }
        #expect(replaced, "the new instance replaced its dead predecessor's program: \(second.standardError)")
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        #expect(Daemon.stop(second) == 0, "\(second.standardError)")
        let left = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(left == nil)
    }

    @Test("our program removed behind our back: reattached within a second (policy reattach)")
    func programRemovedReattach() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portA))
        try Command.run(["ip", "-n", lab.device, "link", "set", "dev", lab.portA, "xdp", "off"])
        usleep(1_200_000)
        let back = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(back != nil, "reattached")
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        #expect(Daemon.stop(daemon) == 0)
        #expect(daemon.standardError.contains("was removed by someone else: reattaching"), "\(daemon.standardError)")
    }

    @Test("our program removed behind our back: exit non-zero with a clear message (policy exit)")
    func programRemovedExit() throws {
        let lab = try ForwardingLab(.bridge)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try """
            mode: xconnect
            ports:
              - interface: \(lab.portA)
              - interface: \(lab.portB)
            netns: \(lab.device)
            metrics: "off"
            program_loss_policy: exit
            """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        defer { unlink(path) }
        let daemon = try Daemon.start(["run", "--config", path])
        #expect(try waitForProgram(lab.lab, interface: lab.portA))
        try Command.run(["ip", "-n", lab.device, "link", "set", "dev", lab.portA, "xdp", "off"])
        let status = daemon.wait(timeout: 10)
        #expect(status != 0)
        #expect(daemon.standardError.contains("was removed by someone else; exiting"), "\(daemon.standardError)")
        let left = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portB) }
        #expect(left == nil, "the other port's program is detached on the way out")
    }

    @Test("UDP at a fixed rate through l3: iperf3's loss is what the daemon's counters and the hosts' UDP stacks show")
    func udpLoss() throws {
        let lab = try ForwardingLab(.router)
        let daemon = try Daemon.start(["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9186"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 5) == 5)
        let before = try DaemonFaultTests.udpErrors(namespace: lab.hostB, "InErrors")
            + DaemonFaultTests.udpErrors(namespace: lab.hostA, "SndbufErrors")
        let server = try ToolProcessLike.start(["ip", "netns", "exec", lab.hostB, "iperf3", "-s", "-1", "-p", "5202"])
        usleep(300_000)
        let output = try Command.run(["ip", "netns", "exec", lab.hostA, "iperf3", "-c", lab.addressB, "-p", "5202", "-u", "-b", "20M", "-t", "2", "-J"], allowFailure: true)
        server.waitUntilExit()
        let json = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any]
        let sum = ((json?["end"] as? [String: Any])?["sum"] as? [String: Any]) ?? [:]
        let sent = (sum["packets"] as? NSNumber)?.intValue ?? 0
        let lost = (sum["lost_packets"] as? NSNumber)?.intValue ?? -1
        let metrics = scrape(port: 9186)
        let dropped = metrics.filter { $0.key.hasPrefix("xdpfwd_drops_total") }.values.reduce(0, +)
            + metrics.filter { $0.key.hasPrefix("xdpfwd_xdp_statistics_total") && ($0.key.contains("rx_ring_full") || $0.key.contains("rx_dropped")) }.values.reduce(0, +)
        // What the hosts' own kernels dropped (a receiver starved of CPU overflows its socket buffer): counted too.
        // InErrors alone: Linux counts a full receive buffer in RcvbufErrors and in InErrors.
        let hosts = try DaemonFaultTests.udpErrors(namespace: lab.hostB, "InErrors")
            + DaemonFaultTests.udpErrors(namespace: lab.hostA, "SndbufErrors")
            - before
        #expect(sent > 1000, "iperf3 sent \(sent) datagrams")
        #expect(lost == Int(dropped) + hosts, "iperf3 lost \(lost); the daemon counted \(dropped) drops, the hosts' UDP stacks \(hosts): \(metrics.filter { $0.value > 0 && !$0.key.contains("bytes") })")
        #expect(Daemon.stop(daemon) == 0)
    }

    /// A counter of the `Udp:` lines of /proc/net/snmp in `namespace`.
    static func udpErrors(namespace: String, _ name: String) throws -> Int {
        let text = try Command.run(["ip", "netns", "exec", namespace, "cat", "/proc/net/snmp"])
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("Udp:") }.map { $0.split(separator: " ") }
        guard lines.count == 2, let index = lines[0].firstIndex(of: Substring(name)) else { return 0 }
        return Int(lines[1][index]) ?? 0
    }

    @Test("the shipped example config (dist/xdpfwd.yaml) is valid")
    func exampleConfig() throws {
        try requireRoot()
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("dist/xdpfwd.yaml").path
        chmod(path, 0o644)
        let check = try Daemon.run(["check", "--config", path])
        #expect(check.process.terminationStatus == 0, "\(check.standardError)")
        #expect(check.standardOutput.contains("configuration OK"))
    }
}

/// Links that go away.
@Suite("xdpfwd links", .serialized)
struct DaemonLinkTests {
    @Test("link flap under traffic: forwarding resumes within a second of link up, frames conserved")
    func linkFlap() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9185"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        let load = try ToolProcessLike.start(["ip", "netns", "exec", lab.hostA, "ping", "-c", "300", "-i", "0.005", "-q", lab.addressB])
        usleep(300_000)
        try Command.run(["ip", "-n", lab.device, "link", "set", lab.portA, "down"])
        usleep(300_000)
        try Command.run(["ip", "-n", lab.device, "link", "set", lab.portA, "up"])
        load.waitUntilExit()
        usleep(1_000_000)
        #expect(try lab.ping(lab.addressB, count: 20) == 20, "forwarding resumed after link up")
        let metrics = scrape(port: 9185)
        #expect(metrics[#"xdpfwd_frames{worker="0",place="held"}"#] == 0)
        #expect(daemon.process.isRunning)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("an interface deleted while running: a clean exit with the reason, never a crash or a hang")
    func interfaceDeleted() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 5) == 5)
        try Command.run(["ip", "-n", lab.device, "link", "del", lab.portB])
        let status = daemon.wait(timeout: 10)
        #expect(status == 3, "exit status \(status): \(daemon.standardError)")
        #expect(daemon.process.terminationReason == .exit, "exited, not killed by a signal")
        #expect(daemon.standardError.contains("interface \(lab.portB) disappeared"), "\(daemon.standardError)")
        let left = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(left == nil, "the surviving port's program is detached")
    }
}
