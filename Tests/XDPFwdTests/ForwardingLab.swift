import Foundation
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// Host A (netns) — veth — [xdpfwd, two ports, in the device netns] — veth — host B (netns).
/// Addresses from 198.18.0.0/15 (and 2001:2::/48 with `ipv6`) only; A and B
/// route only the lab's subnets, via the device.
final class ForwardingLab {
    let lab: VethLab
    var hostA: String { lab.peerNamespaces[0] }
    var hostB: String { lab.peerNamespaces[1] }
    var device: String { lab.deviceNamespace }
    var portA: String { lab.links[0].deviceInterface }
    var portB: String { lab.links[1].deviceInterface }
    var addressA = "198.18.0.1"
    var addressB = "198.18.1.1"
    /// With `ipv6`: A is 2001:2::1, the device 2001:2::2 and 2001:2:0:1::2, B 2001:2:0:1::1.
    let addressA6 = "2001:2::1"
    let addressB6 = "2001:2:0:1::1"

    enum Topology { case bridge, router }

    /// The hosts' offloads: as the distribution ships them (checksum
    /// offload on: TCP/UDP leave with partial checksums, as from any
    /// container), or all off (full checksums, one packet per MTU).
    enum HostOffloads { case defaults, off }

    init(_ topology: Topology, hostOffloads: HostOffloads = .defaults, ipv6: Bool = false) throws {
        try requireRoot()
        VethLab.removeStale()
        lab = try VethLab(linkCount: 2, ipv6: ipv6, separateHosts: true)
        if hostOffloads == .off {
            for (namespace, interface) in [(hostA, lab.links[0].peerInterface), (hostB, lab.links[1].peerInterface)] {
                try Command.run(["ip", "netns", "exec", namespace, "ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"])
            }
        }
        switch topology {
        case .bridge:
            // Bump in the wire: A and B share 198.18.0.0/24; the device's ports have no address.
            addressB = "198.18.0.3"
            try Command.run(["ip", "-n", hostB, "addr", "flush", "dev", lab.links[1].peerInterface])
            try Command.run(["ip", "-n", hostB, "addr", "add", "198.18.0.3/24", "dev", lab.links[1].peerInterface])
            for port in [portA, portB] { try Command.run(["ip", "-n", device, "addr", "flush", "dev", port]) }
        case .router:
            try Command.run(["ip", "-n", hostA, "route", "add", "198.18.1.0/24", "via", "198.18.0.2"])
            try Command.run(["ip", "-n", hostB, "route", "add", "198.18.0.0/24", "via", "198.18.1.2"])
            // bpf_fib_lookup answers "forwarding disabled" otherwise; inside the lab's namespace only.
            try Command.run(["ip", "netns", "exec", device, "sh", "-c",
                             "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"])
            if ipv6 {
                // nodad: usable at once, no duplicate address detection delay.
                for (namespace, interface, address) in [(hostA, lab.links[0].peerInterface, "2001:2::1/64"), (device, portA, "2001:2::2/64"),
                                                        (hostB, lab.links[1].peerInterface, "2001:2:0:1::1/64"), (device, portB, "2001:2:0:1::2/64")] {
                    try Command.run(["ip", "-n", namespace, "addr", "add", address, "dev", interface, "nodad"])
                }
                try Command.run(["ip", "-n", hostA, "-6", "route", "add", "2001:2:0:1::/64", "via", "2001:2::2"])
                try Command.run(["ip", "-n", hostB, "-6", "route", "add", "2001:2::/64", "via", "2001:2:0:1::2"])
                // The kernel sends no neighbor solicitation for a forwarded
                // packet while the link-local address is tentative (DAD):
                // wait, at most 5 s, until none is.
                let deadline = Date().addingTimeInterval(5)
                while Date() < deadline {
                    let tentative = try [hostA, device, hostB].map { try Command.run(["ip", "-n", $0, "-6", "addr", "show", "tentative"]) }
                    if tentative.allSatisfy({ $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) { break }
                    usleep(50_000)
                }
            }
        }
    }

    /// Runs `ping` from A to `address` and returns how many replies came back.
    /// Host A first resolves its neighbors with a ping of its own (not
    /// counted: the kernel may drop packets queued behind an unresolved
    /// neighbor), then the counted run waits up to 2 s for late replies.
    func ping(_ address: String, count: Int = 100, interval: String = "0.01") throws -> Int {
        _ = try Command.run(["ip", "netns", "exec", hostA, "ping", "-c", "1", "-W", "2", "-q", address], allowFailure: true)
        let output = try Command.run(["ip", "netns", "exec", hostA, "ping", "-c", "\(count)", "-i", interval, "-W", "2", "-q", address], allowFailure: true)
        guard let range = output.range(of: #"(\d+) received"#, options: .regularExpression) else { return 0 }
        return Int(output[range].split(separator: " ")[0]) ?? 0
    }

    /// A TCP iperf3 run A → B; returns the bytes the receiver got.
    func iperfTCP(seconds: Int = 2, port: Int = 5201) throws -> (bytes: Int, bitsPerSecond: Double) {
        let server = try ToolProcessLike.start(["ip", "netns", "exec", hostB, "iperf3", "-s", "-1", "-p", "\(port)", "-J"])
        usleep(300_000)
        let client = try Command.run(["ip", "netns", "exec", hostA, "iperf3", "-c", addressB, "-p", "\(port)", "-t", "\(seconds)", "-J"], allowFailure: true)
        server.waitUntilExit()
        guard let data = client.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any] else { return (0, 0) }
        return ((received["bytes"] as? NSNumber)?.intValue ?? 0, (received["bits_per_second"] as? NSNumber)?.doubleValue ?? 0)
    }

}

/// A background process that is not one of our tools (iperf3 server).
enum ToolProcessLike {
    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// xdpfwd for these tests.
enum Daemon {
    static func start(_ arguments: [String]) throws -> ToolProcess { try ToolProcess(tool: "xdpfwd", arguments) }
    static func run(_ arguments: [String], timeout: Double = 30) throws -> ToolProcess { try ToolProcess.run(tool: "xdpfwd", arguments, timeout: timeout) }

    /// Stops a daemon with SIGTERM and returns its exit status.
    static func stop(_ daemon: ToolProcess) -> Int32 {
        kill(daemon.pid, SIGTERM)
        return daemon.wait(timeout: 15)
    }
}
