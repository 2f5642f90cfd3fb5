import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// What an operator gets from `xdpfwd check` and a reload: every error with
/// key, line and the valid choices; the effective configuration as YAML.
@Suite("xdpfwd configuration checks", .serialized)
struct ConfigurationCheckTests {
    static func write(_ text: String, mode: mode_t = 0o644) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test("errors name key, line, the value found and the valid choices", arguments: [
        ("mode: macswap\nports:\n  - interface: a\n    queus: all\n", "line 4, key ports[0].queus: unknown key (known in ports entries: interface, queues)"),
        ("mode: macswap\nports:\n  - interface: a\nbatch: 5000\n", "line 4, key batch: 5000 out of range: use 1 to 2048"),
        ("mode: macswap\nports:\n  - interface: a\nbatch: lots\n", "key batch: 'lots' is not a whole number"),
        ("mode: macswap\nports:\n  - interface: a\nattach: sometimes\n", "key attach: 'sometimes' is not one of: native, generic, auto, skb"),
        ("mode: teleport\nports:\n  - interface: a\n", "line 1, key mode: 'teleport' is not one of: xconnect, macswap, l3"),
        ("mode: macswap\nports:\n  - interface: a\nzero_copy: maybe\n", "'maybe' is not one of: required, preferred, off"),
        ("mode: macswap\nports:\n  - interface: a\ncpus: \"4095\"\n", "line 4, key cpus: CPU 4095 is not available to this process"),
        ("mode: xconnect\nports:\n  - interface: a\n  - interface: a\n", "line 4, key ports[1].interface: a is listed twice"),
        ("mode: xconnect\nports:\n  - interface: a\n    queues: [0]\n  - interface: b\n    queues: [1]\n", "key ports[1].queues: xconnect pairs queue q"),
        ("mode: macswap\nports:\n  - interface: a\nframe_count: 0\n", "line 4, key frame_count"),
        ("mode: macswap\nports:\n  - interface: a\nprogram_loss_policy: ignore\n", "key program_loss_policy: 'ignore' is not one of: reattach, exit"),
    ])
    func errors(text: String, message: String) throws {
        try requireRoot()
        let path = try Self.write(text)
        defer { unlink(path) }
        let run = try Daemon.run(["check", "--config", path])
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains(message), "stderr: \(run.standardError)")
    }

    @Test("check prints the effective configuration, defaults included, as YAML that check accepts again; skb means generic")
    func effectiveYAML() throws {
        try requireRoot()
        let path = try Self.write("mode: macswap\nports:\n  - interface: a\nattach: skb\n")
        defer { unlink(path) }
        let run = try Daemon.run(["check", "--config", path])
        #expect(run.process.terminationStatus == 0, "\(run.standardError)")
        let output = run.standardOutput
        for line in ["mode: macswap", "attach: generic", "batch: 64", "frame_size: 2048", "frame_count: 4096", "zero_copy: preferred",
                     "need_wakeup: true", "metrics: 127.0.0.1:9109", "program_loss_policy: reattach", "queues: all", "cpus: auto"] {
            #expect(output.contains(line), "'\(line)' in:\n\(output)")
        }
        #expect(output.hasSuffix("configuration OK\n"))
        let again = try Self.write(String(output.dropLast("configuration OK\n".count)))
        defer { unlink(again) }
        let second = try Daemon.run(["check", "--config", again])
        #expect(second.process.terminationStatus == 0, "the printed configuration is itself valid: \(second.standardError)")
    }

    @Test("reload (SIGHUP): re-checks the file, applies what can change live, names what needs a restart, refuses a world-writable file")
    func reload() throws {
        let lab = try ForwardingLab(.bridge)
        let text = "mode: xconnect\nports:\n  - interface: \(lab.portA)\n  - interface: \(lab.portB)\nnetns: \(lab.device)\nmetrics: \"off\"\n"
        let path = try Self.write(text)
        defer { unlink(path) }
        let daemon = try Daemon.start(["run", "--config", path])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        try (text + "program_loss_policy: exit\nbatch: 128\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        kill(daemon.pid, SIGHUP)
        usleep(600_000)
        chmod(path, 0o666)
        kill(daemon.pid, SIGHUP)
        usleep(600_000)
        chmod(path, 0o644)
        // The live change took effect: a removed program now ends the daemon (policy exit).
        try Command.run(["ip", "-n", lab.device, "link", "set", "dev", lab.portA, "xdp", "off"])
        let status = daemon.wait(timeout: 10)
        #expect(status == 2, "program_loss_policy exit applied by the reload: \(daemon.standardError)")
        let log = daemon.standardError
        #expect(log.contains(#"program_loss_policy "reattach" -> "exit" (applied)"#), "\(log)")
        #expect(log.contains("needs a restart (systemctl restart xdpfwd): batch 64 -> 128"), "\(log)")
        #expect(log.contains("keeping the running configuration") && log.contains("world-writable"), "\(log)")
    }
}
