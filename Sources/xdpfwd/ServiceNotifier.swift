import Glibc
import Synchronization

/// systemd's notify protocol (`Type=notify`, sd_notify(3)) without libsystemd:
/// one datagram of `KEY=value` lines to the AF_UNIX socket named by
/// `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading '@').
/// Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
///
/// The socket is created at startup, before capabilities are given up; the
/// unit's RestrictAddressFamilies= must allow AF_UNIX.
final class ServiceNotifier: Sendable {
    /// The address from `$NOTIFY_SOCKET`, nil when not under systemd.
    private let address: [UInt8]?
    private let fileDescriptor: Int32
    /// `$WATCHDOG_USEC` (for this process: `$WATCHDOG_PID` unset or ours), in microseconds.
    let watchdogMicroseconds: UInt64?
    private let lastWatchdog = Atomic<UInt64>(0)

    init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let path, path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count < 108 {
            var bytes = Array(path.utf8)
            if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
            address = bytes
            fileDescriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        } else {
            address = nil
            fileDescriptor = -1
        }
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        watchdogMicroseconds = forUs ? environment["WATCHDOG_USEC"].flatMap { UInt64($0) }.flatMap { $0 > 0 ? $0 : nil } : nil
    }

    deinit { if fileDescriptor >= 0 { close(fileDescriptor) } }

    /// Whether `$NOTIFY_SOCKET` named a socket this process could open.
    var isActive: Bool { address != nil && fileDescriptor >= 0 }

    /// Sends `lines` (e.g. `["READY=1", "STATUS=forwarding"]`) as one datagram.
    /// - Returns: false if not under systemd or the send failed.
    @discardableResult
    func send(_ lines: [String]) -> Bool {
        guard let address, fileDescriptor >= 0 else { return false }
        // Newlines inside a value would start a new assignment.
        let message = Array(lines.map { $0.replacingNewlines() }.joined(separator: "\n").utf8)
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            for (index, byte) in address.enumerated() { path[index] = byte }
        }
        // Abstract names are exactly their bytes long; paths are NUL-terminated.
        let length = MemoryLayout<sa_family_t>.size + address.count + (address[0] == 0 ? 0 : 1)
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { bytes in
                    sendto(fileDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, socklen_t(length))
                }
            }
        }
        return sent == message.count
    }

    /// `WATCHDOG=1` if `$WATCHDOG_USEC` is set and half of it has passed since
    /// the last one (systemd's advice); call it from the control loop, so a
    /// stuck loop stops the keep-alives and systemd restarts the service.
    func watchdogIfDue() {
        guard let interval = watchdogMicroseconds, isActive else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        guard microseconds &- lastWatchdog.load(ordering: .relaxed) >= interval / 2 else { return }
        lastWatchdog.store(microseconds, ordering: .relaxed)
        send(["WATCHDOG=1"])
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
    }
}

extension Daemon {
    /// The `STATUS=` line once forwarding: mode, ports and how they run.
    var readyStatus: String {
        let ports = engine.configuration.ports.map { "\($0.interface) \(engine.attachModes[$0.interface].map { "\($0)" } ?? "?")" }
        return "forwarding (\(configuration.mode.rawValue)): \(ports.joined(separator: ", ")); \(engine.zeroCopy ? "zero-copy" : "copy mode"); \(engine.plan.workers.count) workers"
    }
}

/// The process's notifier (from its environment at start).
let serviceNotifier = ServiceNotifier(environment: ProcessEnvironment.current)

/// The environment without Foundation.
enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let line = String(cString: pointer)
            if let equals = line.firstIndex(of: "=") {
                result[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
