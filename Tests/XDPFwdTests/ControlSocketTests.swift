import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl

/// `xdpfwd status` / `show` against a running daemon over its control socket.
@Suite("xdpfwd control socket", .serialized)
struct ControlSocketTests {
    @Test("status and show, text and JSON, from a running daemon; mode 0660; removed at stop")
    func statusAndShow() throws {
        let lab = try ForwardingLab(.bridge)
        let socketPath = ControlSocketTests.defaultPath(lab)
        let daemon = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        usleep(200_000)
        var info = stat()
        #expect(stat(socketPath, &info) == 0, "the default socket is \(socketPath): \(daemon.standardError)")
        #expect(info.st_mode & 0o777 == 0o660)

        let text = try Daemon.run(["status", "--socket", socketPath], timeout: 15)
        #expect(text.process.terminationStatus == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("mode xconnect"))
        #expect(text.standardOutput.contains("\(lab.portA)  ifindex"))

        let json = try Daemon.run(["status", "--socket", socketPath, "--json"], timeout: 15)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any], "\(json.standardOutput)")
        #expect(object["version"] as? String == SwiftXDPVersion.string)
        #expect(object["pid"] as? Int == Int(daemon.pid))
        let ports = (object["ports"] as? [[String: Any]]) ?? []
        #expect(ports.map { $0["name"] as? String } == [lab.portA, lab.portB])
        #expect(ports.allSatisfy { $0["attach"] as? String == "native" && $0["program_attached"] as? Bool == true })
        let queues = (object["queues"] as? [[String: Any]]) ?? []
        let rx = queues.first { $0["port"] as? String == lab.portA }?["rx_packets"] as? Int ?? 0
        #expect(rx >= 10, "numbers as numbers: \(queues)")
        let frames = (object["frames"] as? [[String: Any]]) ?? []
        #expect(frames.first?["held"] as? Int == 0)

        let plan = try Daemon.run(["show", "plan", "--socket", socketPath], timeout: 15)
        #expect(plan.standardOutput.contains("\(lab.portA):0"), "\(plan.standardOutput)")
        let counters = try Daemon.run(["show", "counters", "--socket", socketPath], timeout: 15)
        #expect(counters.standardOutput.contains("xdpfwd_rx_packets_total{port=\"\(lab.portA)\""))
        let bad = try Daemon.run(["show", "routes", "--socket", socketPath], timeout: 15)
        #expect(bad.process.terminationStatus == 64)

        // A second daemon (on another interface) cannot take a live daemon's socket.
        let other = String(lab.device.prefix(12)) + "o"
        try lab.lab.runInDevice(["ip", "link", "add", other, "type", "veth", "peer", "name", other + "p"])
        for name in [other, other + "p"] { try lab.lab.runInDevice(["ip", "link", "set", name, "up"]) }
        let second = try Daemon.run(["run", "--mode", "macswap", "-i", other, "--netns", lab.device, "--metrics", "off",
                                     "--control-socket", socketPath], timeout: 30)
        #expect(second.process.terminationStatus != 0)
        #expect(second.standardError.contains("another xdpfwd answers on \(socketPath)"), "\(second.standardError)")

        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        #expect(!FileManager.default.fileExists(atPath: socketPath), "removed at stop")
        let gone = try Daemon.run(["status", "--socket", socketPath], timeout: 15)
        #expect(gone.process.terminationStatus != 0)
        #expect(gone.standardError.contains("is xdpfwd running with this control_socket?"), "\(gone.standardError)")
    }

    @Test("--log-format json writes one JSON object per line; --log-level warning leaves out info")
    func logging() throws {
        let lab = try ForwardingLab(.bridge)
        let arguments = ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off", "--control-socket", "off"]
        let json = try Daemon.start(arguments + ["--log-format", "json"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        usleep(300_000)
        #expect(Daemon.stop(json) == 0)
        let lines = json.standardError.split(separator: "\n")
        #expect(lines.count >= 3)
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count, "every line is a JSON object: \(json.standardError)")
        #expect(objects.contains { ($0["message"] as? String)?.hasPrefix("xdpfwd xconnect:") == true && $0["level"] as? String == "info" })
        let quiet = try Daemon.start(arguments + ["--log-level", "warning"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        usleep(300_000)
        #expect(Daemon.stop(quiet) == 0)
        #expect(!quiet.standardError.contains(" info "), "\(quiet.standardError)")
    }

    static func defaultPath(_ lab: ForwardingLab) -> String { "/run/xdpfwd/\(lab.device)-\(lab.portA).sock" }
}
