import CXDP
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl

/// xdpfwd in a pod: the Kubernetes AF_XDP device plugin (here the test, as
/// root, with the in-suite handshake server) attached the program on both
/// ports; the daemon, as `nobody` with only CAP_NET_RAW, takes each port's
/// XSKMAP over the handshake (`--xsk-map-socket`) and forwards.
@Suite("xdpfwd with the AF_XDP device plugin's socket", .serialized)
struct DevicePluginDaemonTests {
    static let nobody: UInt32 = 65534

    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The plugin's side: swift-xdp's program attached to `port`, its XSKMAP
    /// pinned root-only under `pin`; returns the map's descriptor.
    static func attachAsPlugin(_ lab: ForwardingLab, port: String, pin: String) throws -> Int32 {
        let attach = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", port, "--netns", lab.device, "--pin", pin])
        try #require(attach.process.terminationStatus == 0, "\(attach.standardError)")
        let fd = bpf_obj_get(pin + "/xsks")
        try #require(fd >= 0, "open \(pin)/xsks: \(-fd)")
        return fd
    }

    static func detachAsPlugin(_ lab: ForwardingLab, port: String, pin: String) {
        _ = try? ToolProcess.run(tool: "xdpctl", ["detach", "-i", port, "--netns", lab.device, "--pin", pin])
    }

    /// `nobody` with only CAP_NET_RAW, in the lab's device namespace (as a pod).
    static func asNobody(_ namespace: String) -> [String] {
        ["nsenter", "--net=/run/netns/\(namespace)",
         "setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups",
         "--inh-caps=-all,+net_raw", "--ambient-caps=+net_raw", "--bounding-set=-all,+net_raw"]
    }

    /// A scratch directory anyone may read, removed by the caller.
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-dp-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
        return path
    }

    @Test("pod-style: nobody with only CAP_NET_RAW, one plugin socket per device ({port}), xconnect forwards ping 20 of 20; the plugin's programs stay after stop")
    func unprivilegedForwardThroughPluginSockets() throws {
        let lab = try ForwardingLab(.bridge)
        let scratch = try DevicePluginDaemonTests.scratch()
        let pins = [lab.portA, lab.portB].map { "/sys/fs/bpf/swift-xdp-fwd-dp-\(getpid())-\($0)" }
        defer {
            for (port, pin) in zip([lab.portA, lab.portB], pins) { DevicePluginDaemonTests.detachAsPlugin(lab, port: port, pin: pin) }
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let daemonTool = scratch + "/xdpfwd"
        try FileManager.default.copyItem(atPath: toolPath("xdpfwd"), toPath: daemonTool)
        chmod(daemonTool, 0o755)
        var maps: [Int32] = []
        defer { maps.forEach { close($0) } }
        for (port, pin) in zip([lab.portA, lab.portB], pins) { maps.append(try DevicePluginDaemonTests.attachAsPlugin(lab, port: port, pin: pin)) }
        let ids = try [lab.portA, lab.portB].map { port in try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) } }

        // As the plugin mounts them today: /tmp/afxdp_dp/<device>/afxdp.sock, one per device.
        let plugins = try zip([lab.portA, lab.portB], maps).map { port, fd in
            try FakeDevicePlugin(pod: DevicePluginDaemonTests.hostname, devices: [port: fd])
        }
        for (port, plugin) in zip([lab.portA, lab.portB], plugins) {
            try FileManager.default.createDirectory(atPath: scratch + "/" + port, withIntermediateDirectories: true)
            chmod(scratch + "/" + port, 0o755)
            try FileManager.default.createSymbolicLink(atPath: scratch + "/" + port + "/afxdp.sock", withDestinationPath: plugin.path)
        }
        // The memlock limit of an unprivileged pod: 1024 frames per socket.
        let config = scratch + "/xdpfwd.yaml"
        try "mode: xconnect\nports:\n  - interface: \(lab.portA)\n  - interface: \(lab.portB)\nframe_count: 1024\nmetrics: off\ncontrol_socket: off\nxsk_map_socket: \(scratch)/{port}/afxdp.sock\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o644)

        let daemon = try ToolProcess(tool: daemonTool, ["run", "--config", config], prefix: DevicePluginDaemonTests.asNobody(lab.device))
        for plugin in plugins { plugin.finish(timeout: 15) }
        #expect(plugins[0].requests == ["/connect,\(DevicePluginDaemonTests.hostname)", "/xsk_map_fd,\(lab.portA)", "/fin"], "\(daemon.standardError)")
        #expect(plugins[1].requests == ["/connect,\(DevicePluginDaemonTests.hostname)", "/xsk_map_fd,\(lab.portB)", "/fin"], "\(daemon.standardError)")
        let warm = ContinuousClock.now + .seconds(10)
        while try lab.ping(lab.addressB, count: 1) != 1 && ContinuousClock.now < warm {}
        #expect(try lab.ping(lab.addressB, count: 20) == 20, "\(daemon.standardError)")
        let status = try String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t\(DevicePluginDaemonTests.nobody)"), "the daemon runs as nobody")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        // The plugin's programs are the plugin's: still there, unchanged.
        let after = try [lab.portA, lab.portB].map { port in try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) } }
        #expect(after == ids && !ids.contains(nil), "before \(ids), after \(after)")
        // Without the daemon nothing is forwarded: the pings went through it.
        #expect(try lab.ping(lab.addressB, count: 3) == 0)
    }

    @Test("refusals name the fix and leave nothing attached: no socket, /fd_nak for a port the pod lacks (one session for both ports), silence; program or l3 with xsk_map_socket")
    func refusals() throws {
        let lab = try ForwardingLab(.bridge)
        let common = ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off", "--control-socket", "off"]

        let missing = try Daemon.run(common + ["--xsk-map-socket", "/tmp/afxdp-dp-missing-\(getpid()).sock"])
        #expect(missing.process.terminationStatus == 1)
        #expect(missing.standardError.contains("no device plugin socket") && missing.standardError.contains("resources.limits"), "\(missing.standardError)")

        // One session for both ports; the plugin knows only port A.
        let pin = "/sys/fs/bpf/swift-xdp-fwd-dp-\(getpid())-refusal"
        let map = try DevicePluginDaemonTests.attachAsPlugin(lab, port: lab.portA, pin: pin)
        defer {
            close(map)
            DevicePluginDaemonTests.detachAsPlugin(lab, port: lab.portA, pin: pin)
        }
        let plugin = try FakeDevicePlugin(pod: DevicePluginDaemonTests.hostname, devices: [lab.portA: map])
        let nak = try Daemon.run(common + ["--xsk-map-socket", plugin.path])
        plugin.finish()
        #expect(nak.process.terminationStatus == 1)
        #expect(nak.standardError.contains("/fd_nak") && nak.standardError.contains(lab.portB), "\(nak.standardError)")
        #expect(plugin.requests == ["/connect,\(DevicePluginDaemonTests.hostname)", "/xsk_map_fd,\(lab.portA)", "/xsk_map_fd,\(lab.portB)"])
        let onB = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portB) }
        #expect(onB == nil, "the daemon attached nothing of its own")

        let silent = try FakeDevicePlugin(pod: DevicePluginDaemonTests.hostname, devices: [:], behaviour: .silent, silence: 7)
        let started = ContinuousClock.now
        let quiet = try Daemon.run(common + ["--xsk-map-socket", silent.path])
        silent.finish()
        #expect(quiet.process.terminationStatus == 1)
        #expect(quiet.standardError.contains("no answer within 5000 ms"), "\(quiet.standardError)")
        #expect(ContinuousClock.now - started < .seconds(15), "the timeout holds")

        let withProgram = try Daemon.run(["check", "--mode", "xconnect", "-i", "a", "-i", "b", "--xsk-map-socket", "/tmp/x.sock", "--program", "/tmp/p.o"])
        #expect(withProgram.process.terminationStatus == 78)
        #expect(withProgram.standardError.contains("remove program"), "\(withProgram.standardError)")
        let l3 = try Daemon.run(["check", "--mode", "l3", "-i", "a", "-i", "b", "--xsk-map-socket", "auto"])
        #expect(l3.process.terminationStatus == 78)
        #expect(l3.standardError.contains("l3 needs swift-xdp's program"), "\(l3.standardError)")
        let checked = try Daemon.run(["check", "--mode", "macswap", "-i", "a", "--xsk-map-socket", "auto"])
        #expect(checked.process.terminationStatus == 0, "\(checked.standardError)")
        #expect(checked.standardOutput.contains("xsk_map_socket: auto"), "\(checked.standardOutput)")
    }
}
