import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// xdpfwd with what real hosts have: the distribution's offloads on the
/// hosts (partial checksums), IP forwarding as the namespace ships it (off),
/// someone else's XDP program, and a configuration that would loop.
@Suite("xdpfwd with real defaults", .serialized)
struct RealDefaultsTests {
    /// The hosts' TX checksum offload is on: TCP/UDP leave with partial checksums.
    static func expectChecksumOffloadOn(_ lab: ForwardingLab) throws {
        let features = try Command.run(["ip", "netns", "exec", lab.hostA, "ethtool", "-k", lab.lab.links[0].peerInterface])
        #expect(features.contains("tx-checksumming: on"), "host A keeps its default offloads: \(features)")
    }

    @Test("xconnect, hosts with default offloads: TCP opens and flows, partial checksums handed on as offload requests",
          arguments: ["xconnect", "l3"])
    func defaultOffloads(mode: String) throws {
        let lab = try ForwardingLab(mode == "l3" ? .router : .bridge)
        try Self.expectChecksumOffloadOn(lab)
        let port: UInt16 = mode == "l3" ? 9171 : 9170
        let daemon = try Daemon.start(["run", "--mode", mode, "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:\(port)"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        let tcp = try lab.iperfTCP(port: Int(port) - 4000)
        #expect(tcp.bytes > 1_000_000, "iperf3 TCP with partial checksums moved \(tcp.bytes) bytes")
        let metrics = scrape(port: port)
        let offloaded = metrics[#"xdpfwd_partial_checksums_total{port="\#(lab.portA)",queue="0",how="offload"}"#] ?? 0
        let software = metrics[#"xdpfwd_partial_checksums_total{port="\#(lab.portA)",queue="0",how="software"}"#] ?? 0
        #expect(offloaded >= 100, "copy mode carries the offload on (offloaded \(offloaded), software \(software))")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("xconnect, hosts with offloads off: full checksums pass untouched")
    func offloadsOff() throws {
        let lab = try ForwardingLab(.bridge, hostOffloads: .off)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "127.0.0.1:9172"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        let tcp = try lab.iperfTCP(port: 5172)
        #expect(tcp.bytes > 1_000_000, "iperf3 moved \(tcp.bytes) bytes")
        let metrics = scrape(port: 9172)
        // A full checksum equals the pseudo-header sum about once in 65536
        // packets: taken for partial, it is finished to the same value.
        let partial = metrics.filter { $0.key.hasPrefix("xdpfwd_partial_checksums_total") }.values.reduce(0, +)
        let packets = metrics.filter { $0.key.hasPrefix("xdpfwd_rx_packets_total") }.values.reduce(0, +)
        #expect(packets > 1000 && partial * 1000 < packets, "hosts that compute checksums send (almost) no partial ones: \(partial) of \(packets)")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
    }

    @Test("l3 with IP forwarding off (as a new namespace has it): refused with the command; --enable-forwarding switches it on and back")
    func forwardingOff() throws {
        let lab = try ForwardingLab(.router)
        try lab.lab.runInDevice(["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"])
        let arguments = ["run", "--mode", "l3", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"]
        let refused = try Daemon.run(arguments)
        #expect(refused.process.terminationStatus != 0)
        let expected = "ip netns exec \(lab.device) sysctl -w net.ipv4.conf.\(lab.portA).forwarding=1"
        #expect(refused.standardError.contains(expected), "\(refused.standardError)")
        #expect(refused.standardError.contains("ipv4 forwarding is off on \(lab.portB)"))
        #expect(try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) } == nil,
                "nothing attached by a refused start")

        let daemon = try Daemon.start(arguments + ["--enable-forwarding"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        let during = try lab.lab.runInDevice(["cat", "/proc/sys/net/ipv4/conf/\(lab.portA)/forwarding"])
        #expect(during.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        #expect(daemon.standardError.contains("system change: /proc/sys/net/ipv4/conf/\(lab.portA)/forwarding"), "\(daemon.standardError)")
        let after = try lab.lab.runInDevice(["cat", "/proc/sys/net/ipv4/conf/\(lab.portA)/forwarding"])
        #expect(after.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "switched back at exit")
    }

    @Test("xconnect between the two ends of one veth pair is refused: it would forward its own output forever")
    func vethPeersRefused() throws {
        let lab = try ForwardingLab(.bridge)
        let a = lab.lab.deviceNamespace.prefix(10) + "la", b = lab.lab.deviceNamespace.prefix(10) + "lb"
        try lab.lab.runInDevice(["ip", "link", "add", String(a), "type", "veth", "peer", "name", String(b)])
        for name in [a, b] { try lab.lab.runInDevice(["ip", "link", "set", String(name), "up"]) }
        let refused = try Daemon.run(["run", "--mode", "xconnect", "-i", String(a), "-i", String(b), "--netns", lab.device, "--metrics", "off"])
        #expect(refused.process.terminationStatus != 0)
        #expect(refused.standardError.contains("two ends of one veth pair"), "\(refused.standardError)")
        #expect(try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: String(a)) } == nil)
        // Two ports of different pairs are fine.
        let check = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(Daemon.stop(check) == 0)
    }

    @Test("a foreign program that replaced ours is left in place and reported; ours is back once it is removed")
    func foreignProgramKept() throws {
        let lab = try ForwardingLab(.bridge)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portA))
        let ours = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        try ForeignXDPProgram.attach(interface: lab.portA, namespace: lab.device, mode: "xdpdrv")
        let foreign = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(foreign != nil && foreign != ours)
        usleep(1_500_000)
        let still = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(still == foreign, "the daemon did not overwrite the foreign program (policy reattach)")
        try Command.run(["ip", "-n", lab.device, "link", "set", "dev", lab.portA, "xdpdrv", "off"])
        let deadline = Date().addingTimeInterval(5)
        var back: UInt32?
        while Date() < deadline {
            back = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
            if back == ours { break }
            usleep(50_000)
        }
        #expect(back == ours, "reattached once the interface was free")
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        #expect(Daemon.stop(daemon) == 0)
        let log = daemon.standardError
        // "(NAME, a foreign program, native mode)": the program's name, then whose it is.
        #expect(log.contains("replaced by XDP program id \(foreign ?? 0) ("), "\(log)")
        #expect(log.contains(", a foreign program, native mode); leaving it in place"), "\(log)")
        #expect(log.contains("ip link set dev \(lab.portA) xdpdrv off"))
    }
}
