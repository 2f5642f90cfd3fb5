import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// A notify socket the test owns, standing in for systemd's: an AF_UNIX
/// datagram socket bound to an abstract name ('@' in `$NOTIFY_SOCKET`) or to a
/// path anyone may send to.
final class NotifyListener {
    let fileDescriptor: Int32
    /// The value for `$NOTIFY_SOCKET`.
    let address: String
    private let path: String?
    /// Every datagram received so far, in order.
    private(set) var messages: [String] = []

    init(abstract: Bool) throws {
        fileDescriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fileDescriptor >= 0 else { throw XDPError.fromErrno(errno, operation: "create the test's notify socket") }
        let name = "swift-xdp-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
        var bytes: [UInt8]
        if abstract {
            address = "@" + name
            path = nil
            bytes = [0] + Array(name.utf8)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(directory, 0o755)
            path = directory
            address = directory + "/notify"
            bytes = Array(address.utf8) + [0]
        }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { sunPath in
            for (index, byte) in bytes.enumerated() { sunPath[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fileDescriptor, $0, length) }
        }
        guard rc == 0 else { throw XDPError.fromErrno(errno, operation: "bind the test's notify socket \(address)") }
        // systemd's socket takes datagrams from any user (the service's dynamic user).
        if !abstract { chmod(address, 0o777) }
    }

    deinit {
        close(fileDescriptor)
        if let path { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Receives datagrams until one has the line `line` (returns true) or `timeout` seconds pass.
    func waitFor(_ line: String, timeout: Double) -> Bool { waitFor(timeout: timeout) { $0 == line } }

    /// Receives datagrams until one has a line matching `matches` or `timeout` seconds pass.
    func waitFor(timeout: Double, _ matches: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let message = receive(timeout: deadline.timeIntervalSinceNow), message.split(separator: "\n").contains(where: { matches(String($0)) }) {
                return true
            }
        }
        return false
    }

    /// Receives what is already queued (the datagrams sent while the test
    /// did something else), so a count over a window that follows starts
    /// clean.
    func flush() {
        while receive(timeout: 0.001) != nil {}
    }

    /// Keeps receiving for `seconds`.
    func drain(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { _ = receive(timeout: deadline.timeIntervalSinceNow) }
    }

    private func receive(timeout: Double) -> String? {
        var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(max(1, timeout * 1000))) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fileDescriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let message = String(decoding: buffer[..<count], as: UTF8.self)
        messages.append(message)
        return message
    }

    /// Every line received so far.
    var lines: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }
}

/// dist/xdpfwd.service and dist/xdpfwd.yaml as shipped, and the notify
/// protocol (Type=notify) the unit relies on, with a real daemon in a veth lab.
@Suite("xdpfwd systemd unit", .serialized)
struct ServiceUnitTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var unitText: String { (try? String(contentsOf: repository.appendingPathComponent("dist/xdpfwd.service"), encoding: .utf8)) ?? "" }

    /// The values of `key=` in the unit (all occurrences, in order).
    static func unitValues(_ key: String) -> [String] {
        unitText.split(separator: "\n").compactMap { line in
            line.hasPrefix(key + "=") ? String(line.dropFirst(key.count + 1)) : nil
        }
    }

    @Test("Type=notify: STATUS during setup, READY=1 with the programs attached and forwarding, WATCHDOG=1 at WATCHDOG_USEC/2, STOPPING=1 at drain (abstract socket)")
    func notifyProtocol() throws {
        let lab = try ForwardingLab(.bridge)
        let listener = try NotifyListener(abstract: true)
        // --netns: the notify socket is created before setns, so an abstract
        // name (scoped to a network namespace) still reaches the test's.
        let daemon = try ToolProcess(tool: "xdpfwd", ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"],
                                     prefix: ["NOTIFY_SOCKET=\(listener.address)", "WATCHDOG_USEC=200000"])
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        #expect(listener.waitFor("READY=1", timeout: 30), "no READY=1: \(listener.messages) \(daemon.standardError)")
        // READY means ready: the programs are attached and packets go through now.
        for port in [lab.portA, lab.portB] {
            let attached = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(attached != nil, "\(port) has no program at READY=1")
        }
        #expect(try lab.ping(lab.addressB, count: 10) == 10)
        let beforeReady = listener.lines.prefix { $0 != "READY=1" }
        #expect(beforeReady.contains { $0.hasPrefix("STATUS=setting up") }, "\(listener.lines)")
        #expect(listener.lines.contains { $0.hasPrefix("STATUS=forwarding (xconnect): \(lab.portA)") }, "\(listener.lines)")
        // Watchdog every 100 ms (half of 200 ms), from the control loop; the
        // keep-alives queued while the test pinged are taken first.
        listener.flush()
        let watchdogsBefore = listener.lines.filter { $0 == "WATCHDOG=1" }.count
        listener.drain(for: 1.0)
        let watchdogs = listener.lines.filter { $0 == "WATCHDOG=1" }.count - watchdogsBefore
        #expect((5...12).contains(watchdogs), "\(watchdogs) WATCHDOG=1 in 1 s at WATCHDOG_USEC=200000")
        // SIGHUP: a reload shows in STATUS.
        kill(daemon.pid, SIGHUP)
        #expect(listener.waitFor(timeout: 5) { $0.hasPrefix("STATUS=forwarding (xconnect)") && $0.hasSuffix("reloaded 1 times") }, "\(listener.lines.suffix(3))")
        kill(daemon.pid, SIGTERM)
        #expect(listener.waitFor("STOPPING=1", timeout: 10), "no STOPPING=1: \(listener.lines.suffix(5))")
        #expect(daemon.wait(timeout: 15) == 0, "\(daemon.standardError)")
    }

    @Test("without WATCHDOG_USEC no WATCHDOG=1; without NOTIFY_SOCKET the daemon runs as before")
    func noWatchdogUnlessAsked() throws {
        let lab = try ForwardingLab(.bridge)
        let listener = try NotifyListener(abstract: true)
        let daemon = try ToolProcess(tool: "xdpfwd", ["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"],
                                     prefix: ["NOTIFY_SOCKET=\(listener.address)"])
        #expect(listener.waitFor("READY=1", timeout: 30), "\(daemon.standardError)")
        listener.drain(for: 0.5)
        #expect(!listener.lines.contains("WATCHDOG=1"))
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        let plain = try Daemon.start(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off"])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        #expect(try lab.ping(lab.addressB, count: 5) == 5)
        #expect(Daemon.stop(plain) == 0, "\(plain.standardError)")
    }

    @Test("the unit as shipped: its dynamic-user capabilities run the shipped config (l3, irq_affinity) plus NAPI keys; every system change is written and undone; notify on a path socket")
    func shippedUnitAndConfig() throws {
        let lab = try ForwardingLab(.router)
        let ambient = ServiceUnitTests.unitValues("AmbientCapabilities").first ?? ""
        let bounding = ServiceUnitTests.unitValues("CapabilityBoundingSet").first ?? ""
        #expect(ambient == bounding, "AmbientCapabilities and CapabilityBoundingSet differ")
        #expect(ServiceUnitTests.unitValues("Type") == ["notify"])
        #expect(ServiceUnitTests.unitValues("RestrictAddressFamilies").first?.contains("AF_UNIX") == true, "the notify socket is AF_UNIX")
        let caps = ambient.split(separator: " ").map { $0.lowercased().replacingOccurrences(of: "cap_", with: "") }
        #expect(caps.contains("dac_override"), "irq_affinity in dist/xdpfwd.yaml needs CAP_DAC_OVERRIDE")
        let list = caps.joined(separator: ",+")

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-unit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        chmod(scratch, 0o755)
        let binary = scratch + "/xdpfwd"
        try FileManager.default.copyItem(atPath: toolPath("xdpfwd"), toPath: binary)
        chmod(binary, 0o755)
        // The shipped config with the lab's ports, plus the NAPI keys (same capability need as irq_affinity; veth has no queue IRQs).
        var config = try String(contentsOf: ServiceUnitTests.repository.appendingPathComponent("dist/xdpfwd.yaml"), encoding: .utf8)
        config = config.replacingOccurrences(of: "interface: eth1", with: "interface: \(lab.portA)")
            .replacingOccurrences(of: "interface: eth2", with: "interface: \(lab.portB)")
        #expect(config.contains("irq_affinity: same-cpu"))
        config += "napi_defer_hard_irqs: 2\ngro_flush_timeout: 200000\n"
        try config.write(toFile: scratch + "/xdpfwd.yaml", atomically: true, encoding: .utf8)
        chmod(scratch + "/xdpfwd.yaml", 0o644)

        let sysfs = "/sys/class/net/\(lab.portA)/napi_defer_hard_irqs"
        let before = try Command.run(["ip", "netns", "exec", lab.device, "cat", sysfs]).trimmingCharacters(in: .whitespacesAndNewlines)
        let listener = try NotifyListener(abstract: false)
        // As the unit runs it: NetworkNamespacePath= (inside the namespace), a non-root user, the unit's capabilities, no_new_privs.
        let daemon = try ToolProcess(tool: binary, ["run", "--config", scratch + "/xdpfwd.yaml"],
                                     prefix: ["NOTIFY_SOCKET=\(listener.address)", "WATCHDOG_USEC=10000000",
                                              "ip", "netns", "exec", lab.device, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                              "--inh-caps=-all,+\(list)", "--ambient-caps=+\(list)", "--bounding-set=-all,+\(list)", "--no-new-privs"])
        defer { if daemon.process.isRunning { _ = Daemon.stop(daemon) } }
        #expect(listener.waitFor("READY=1", timeout: 30), "no READY=1: \(listener.messages) \(daemon.standardError)")
        #expect(listener.lines.contains { $0.hasPrefix("STATUS=forwarding (l3)") }, "\(listener.lines)")
        #expect(listener.lines.contains("WATCHDOG=1") || listener.waitFor("WATCHDOG=1", timeout: 2), "first keep-alive on the first tick")
        #expect(try lab.ping(lab.addressB, count: 10) == 10, "routed through the daemon")
        let during = try Command.run(["ip", "netns", "exec", lab.device, "cat", sysfs]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(during == "2", "napi_defer_hard_irqs written by the unit's user")
        kill(daemon.pid, SIGTERM)
        #expect(listener.waitFor("STOPPING=1", timeout: 10))
        #expect(daemon.wait(timeout: 15) == 0, "\(daemon.standardError)")
        let log = daemon.standardError
        #expect(log.contains("system change: /sys/class/net/\(lab.portA)/napi_defer_hard_irqs"), "\(log)")
        #expect(!log.contains("write failed"), "\(log)")
        #expect(!log.contains("could not give up capabilities"), "\(log)")
        let after = try Command.run(["ip", "netns", "exec", lab.device, "cat", sysfs]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(after == before, "undone at stop (kept CAP_DAC_OVERRIDE only for that)")
    }

    @Test("systemd-analyze verify accepts dist/xdpfwd.service (ExecStart pointed at the built xdpfwd)")
    func verifyUnit() throws {
        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let analyze else {
            Issue.record("systemd-analyze not found: scripts/deps.sh installs systemd")
            return
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-verify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let unit = ServiceUnitTests.unitText.replacingOccurrences(of: "/usr/local/bin/xdpfwd", with: toolPath("xdpfwd"))
        try unit.write(toFile: scratch + "/xdpfwd.service", atomically: true, encoding: .utf8)
        let output = try Command.run([analyze, "verify", "--man=no", scratch + "/xdpfwd.service"])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "systemd-analyze verify: \(output)")
        let documentation = ServiceUnitTests.unitValues("Documentation")
        #expect(!documentation.isEmpty && documentation.allSatisfy { !$0.contains("example") && ($0.hasPrefix("file:") || $0.hasPrefix("man:")) })
        // Every file: page is one `make install` puts there (README, docs/, dist/).
        for page in documentation where page.hasPrefix("file:/usr/local/share/doc/swift-xdp/") {
            let inRepository = ServiceUnitTests.repository.appendingPathComponent(String(page.dropFirst("file:/usr/local/share/doc/swift-xdp/".count))).path
            #expect(FileManager.default.fileExists(atPath: inRepository), "Documentation=\(page) has no source in the repository")
        }
        #expect(ServiceUnitTests.unitValues("WatchdogSec").count == 1)
    }
}
