import CXDP
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// Pods through the Kubernetes AF_XDP device plugin's Unix-socket mode: the
/// plugin (here the test, as root) attaches the program and keeps the XSKMAP
/// to itself (pinned root-only); an unprivileged process gets the map over
/// the handshake and receives.
@Suite("AF_XDP device plugin socket", .serialized)
struct DevicePluginTests {
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The lab's program attached and its XSKMAP pinned root-only; returns the map's descriptor (the plugin's).
    static func attachAsPlugin(_ lab: VethLab, pin: String) throws -> Int32 {
        let attach = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", lab.links[0].deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
        try #require(attach.process.terminationStatus == 0, "\(attach.standardError)")
        let fd = bpf_obj_get(pin + "/xsks")
        try #require(fd >= 0, "open \(pin)/xsks: \(-fd)")
        return fd
    }

    @Test("pod-style: nobody with only CAP_NET_RAW, the XSKMAP from the handshake (connect, map, busy poll, fin) receives exactly N")
    func unprivilegedReceiveThroughPluginSocket() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let pin = "/sys/fs/bpf/swift-xdp-dp-test-\(getpid())"
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xdpctl-dp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            _ = try? ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let bench = try UnprivilegedDataPathTests.publicCopy(of: "xdpbench", in: scratch)
        let mapFD = try DevicePluginTests.attachAsPlugin(lab, pin: pin)
        defer { close(mapFD) }

        // The pin is root's: nobody cannot take the pinned-map route.
        let pinned = try ToolProcess.run(tool: bench, ["rxdrop", "-i", link.deviceInterface, "--pinned-map", pin, "-d", "1", "--frames", "1024"],
                                         prefix: UnprivilegedDataPathTests.asNobody(lab.deviceNamespace))
        #expect(pinned.process.terminationStatus != 0)

        let plugin = try FakeDevicePlugin(pod: DevicePluginTests.hostname, devices: [link.deviceInterface: mapFD])
        let receiver = try ToolProcess(tool: bench, ["rxdrop", "-i", link.deviceInterface, "--xsk-map-socket", plugin.path, "--busy-poll",
                                                     "--count", "2000", "-d", "30", "--frames", "1024", "--json"],
                                       prefix: UnprivilegedDataPathTests.asNobody(lab.deviceNamespace))
        plugin.finish(timeout: 15)
        #expect(plugin.requests == ["/connect,\(DevicePluginTests.hostname)", "/xsk_map_fd,\(link.deviceInterface)",
                                    "/config_busy_poll,20,64", "/fin"], "\(receiver.standardError)")
        #expect(plugin.busyPollSettings.count == 1 && plugin.busyPollSettings.first?.timeout == 20 && plugin.busyPollSettings.first?.budget == 64,
                "the plugin set busy polling on the pod's AF_XDP socket: \(plugin.busyPollSettings)")
        let sender = try ToolProcess.run(tool: "xdpbench", ["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                                            "--count", "40000", "--rate", "20000", "--json"])
        #expect(sender.json.integer("packets") == 40000, "\(sender.standardError)")
        #expect(receiver.wait(timeout: 40) == 0, "\(receiver.standardError)")
        #expect(receiver.json.integer("packets") == 2000, "\(receiver.standardOutput) \(receiver.standardError)")
        #expect(receiver.json["frames_conserved"] as? Bool == true)
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        #expect(status.contains("Uid:\t0"), "the plugin side is root; the receiver was nobody")
    }

    @Test("every refusal is an error naming the fix: no socket, /host_nak, /fd_nak, silence (timeout), hang-up; /version answers 0.1")
    func refusals() throws {
        try requireRoot()
        let missing = "/tmp/afxdp-dp-missing-\(getpid()).sock"
        do { _ = try DevicePluginConnection(path: missing); Issue.record("connected to nothing") } catch {
            #expect(error.errno == ENOENT && error.hint.contains("resources.limits"), "\(error)")
        }

        let wrongPod = try FakeDevicePlugin(pod: "some-other-pod", devices: [:])
        do { _ = try DevicePluginConnection(path: wrongPod.path); Issue.record("accepted by the wrong pod") } catch {
            #expect(error.hint.contains("/host_nak") && error.hint.contains(DevicePluginTests.hostname), "\(error)")
        }
        wrongPod.finish()

        let plugin = try FakeDevicePlugin(pod: "pod-a", devices: [:])
        let connection = try DevicePluginConnection(path: plugin.path, hostname: "pod-a")
        #expect(try connection.version() == "0.1")
        do { _ = try connection.socketMap(interface: "eth9"); Issue.record("a map for a device the pod does not have") } catch {
            #expect(error.kind == .interfaceNotFound && error.hint.contains("/fd_nak") && error.hint.contains("eth9"), "\(error)")
        }
        try connection.finish()
        plugin.finish()
        #expect(plugin.requests == ["/connect,pod-a", "/version", "/xsk_map_fd,eth9", "/fin"])

        let silent = try FakeDevicePlugin(pod: "pod-a", devices: [:], behaviour: .silent)
        let started = Date()
        do { _ = try DevicePluginConnection(path: silent.path, hostname: "pod-a", timeout: .milliseconds(500)); Issue.record("no answer, yet connected") } catch {
            #expect(error.errno == EAGAIN && error.hint.contains("no answer within 500 ms"), "\(error)")
        }
        #expect(Date().timeIntervalSince(started) < 2.5, "the timeout holds")
        silent.finish()

        let hangUp = try FakeDevicePlugin(pod: "pod-a", devices: [:], behaviour: .hangUp)
        do { _ = try DevicePluginConnection(path: hangUp.path, hostname: "pod-a"); Issue.record("closed, yet connected") } catch {
            #expect(error.hint.contains("closed the connection"), "\(error)")
        }
        hangUp.finish()
    }
}
