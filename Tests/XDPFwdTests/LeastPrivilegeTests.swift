import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// xdpfwd gives up what it no longer needs once its programs are attached and
/// its sockets bound, on every thread, and still does its job afterwards.
@Suite("xdpfwd least privilege", .serialized)
struct LeastPrivilegeTests {
    /// The capability lines of every thread of `pid`.
    static func threadCapabilities(_ pid: Int32) throws -> [(thread: String, fields: [String: String])] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return try tasks.map { task in
            let status = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)
            var fields: [String: String] = [:]
            for line in status.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd", "NoNewPrivs"].contains(parts[0]) {
                    fields[parts[0]] = parts[1]
                }
            }
            return (task, fields)
        }
    }

    /// Waits (bounded) until the daemon's main thread has given up CAP_BPF:
    /// setup is over then.
    static func waitForSetup(_ pid: Int32, timeout: Double = 15) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let main = try threadCapabilities(pid).first { $0.thread == "\(pid)" }
            if let effective = main?.fields["CapEff"].flatMap({ UInt64($0, radix: 16) }), effective & (1 << 39) == 0 { return }
            usleep(50_000)
        }
        Issue.record("xdpfwd \(pid) still holds CAP_BPF after \(timeout) s")
    }

    @Test("run inside the namespace: every thread keeps only CAP_NET_ADMIN, and the daemon still forwards, reattaches, reloads and detaches")
    func onlyNetAdminRemains() throws {
        let lab = try ForwardingLab(.bridge)
        // From a file, so that SIGHUP has something to re-read and apply.
        let text = "mode: xconnect\nports:\n  - interface: \(lab.portA)\n  - interface: \(lab.portB)\nmetrics: \"off\"\n"
        let path = try ConfigurationCheckTests.write(text)
        defer { unlink(path) }
        let daemon = try ToolProcess(tool: "xdpfwd", ["run", "--config", path],
                                     prefix: ["ip", "netns", "exec", lab.device])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        try LeastPrivilegeTests.waitForSetup(daemon.pid)
        let threads = try LeastPrivilegeTests.threadCapabilities(daemon.pid)
        #expect(threads.count >= 2, "main thread and at least one worker")
        for (thread, fields) in threads {
            #expect(fields["CapEff"] == "0000000000001000", "thread \(thread): \(fields)")
            #expect(fields["CapPrm"] == "0000000000001000", "thread \(thread): \(fields)")
            #expect(fields["CapInh"] == "0000000000000000", "thread \(thread): \(fields)")
            #expect(fields["CapAmb"] == "0000000000000000", "thread \(thread): \(fields)")
            #expect(fields["CapBnd"] == "0000000000001000", "thread \(thread): \(fields)")
            #expect(fields["NoNewPrivs"] == "1", "thread \(thread): \(fields)")
        }
        // What CAP_NET_ADMIN is kept for: putting the program back...
        try Command.run(["ip", "-n", lab.device, "link", "set", "dev", lab.portA, "xdp", "off"])
        usleep(1_200_000)
        let back = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: lab.portA) }
        #expect(back != nil, "reattached without CAP_BPF or CAP_SYS_ADMIN: \(daemon.standardError)")
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        // ...SIGHUP re-reads the file and applies a live change with no capability at all...
        try (text + "program_loss_policy: exit\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        kill(daemon.pid, SIGHUP)
        usleep(600_000)
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        // ...and detaching at stop.
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        #expect(daemon.standardError.contains("capabilities: gave up"))
        #expect(daemon.standardError.contains("reload (SIGHUP): program_loss_policy \"reattach\" -> \"exit\" (applied)"), "\(daemon.standardError)")
        for port in [lab.portA, lab.portB] {
            let left = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(left == nil, "\(port): nothing left attached after a clean stop")
        }
    }

    @Test("with --netns the daemon also keeps CAP_SYS_ADMIN (setns), nothing else; --keep-capabilities keeps all")
    func netnsKeepsSysAdmin() throws {
        let lab = try ForwardingLab(.bridge)
        let base = ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"]
        let daemon = try Daemon.start(base)
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        try LeastPrivilegeTests.waitForSetup(daemon.pid)
        for (thread, fields) in try LeastPrivilegeTests.threadCapabilities(daemon.pid) {
            #expect(fields["CapEff"] == "0000000000201000", "thread \(thread): \(fields)")
        }
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        let keeping = try Daemon.start(base + ["--keep-capabilities"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 5) == 5, "forwarding: setup is over")
        let main = try LeastPrivilegeTests.threadCapabilities(keeping.pid).first { $0.thread == "\(keeping.pid)" }
        #expect(main?.fields["CapEff"] != "0000000000201000")
        #expect(Daemon.stop(keeping) == 0, "\(keeping.standardError)")
        #expect(keeping.standardError.contains("--keep-capabilities"))
    }

    @Test("as the systemd unit runs it: a non-root user with only the five setup capabilities forwards, ends with CAP_NET_ADMIN, detaches at stop")
    func asUnprivilegedUser() throws {
        let lab = try ForwardingLab(.bridge)
        // The build directory may sit under /root: a copy anyone can execute.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-user-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let binary = scratch + "/xdpfwd"
        try FileManager.default.copyItem(atPath: toolPath("xdpfwd"), toPath: binary)
        chmod(scratch, 0o755)
        chmod(binary, 0o755)
        // dist/xdpfwd.service: AmbientCapabilities=CAP_NET_ADMIN CAP_BPF CAP_NET_RAW CAP_IPC_LOCK CAP_PERFMON, a dynamic user, NoNewPrivileges.
        let caps = "net_admin,+bpf,+net_raw,+ipc_lock,+perfmon"
        let daemon = try ToolProcess(tool: binary, ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--metrics", "off"],
                                     prefix: ["ip", "netns", "exec", lab.device, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                              "--inh-caps=-all,+\(caps)", "--ambient-caps=+\(caps)", "--bounding-set=-all,+\(caps)", "--no-new-privs"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB), "\(daemon.pid)")
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        try LeastPrivilegeTests.waitForSetup(daemon.pid)
        for (thread, fields) in try LeastPrivilegeTests.threadCapabilities(daemon.pid) {
            #expect(fields["CapEff"] == "0000000000001000", "thread \(thread): \(fields)")
            #expect(fields["CapPrm"] == "0000000000001000", "thread \(thread): \(fields)")
            #expect(fields["CapAmb"] == "0000000000000000", "thread \(thread): \(fields)")
        }
        let status = try String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t65534"), "runs as nobody")
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        for port in [lab.portA, lab.portB] {
            let left = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(left == nil, "\(port): detached at stop by a non-root user holding CAP_NET_ADMIN only")
        }
    }
}
