import CXDP
import Glibc
import XDP

/// Linux capabilities as a set (bit n is capability number n, as in
/// `/proc/PID/status`).
public struct Capabilities: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Open files whatever their permissions (root-owned /proc/irq, sysfs).
    public static let dacOverride = Capabilities(rawValue: 1 << 1)
    /// Change capability sets and bounding sets.
    public static let setPCap = Capabilities(rawValue: 1 << 8)
    /// Bind ports below 1024.
    public static let netBindService = Capabilities(rawValue: 1 << 10)
    /// Attach and detach XDP programs, ethtool changes, busy-poll options.
    public static let netAdmin = Capabilities(rawValue: 1 << 12)
    /// Create AF_XDP sockets.
    public static let netRaw = Capabilities(rawValue: 1 << 13)
    /// Lock memory whatever the memlock limit (UMEM registration).
    public static let ipcLock = Capabilities(rawValue: 1 << 14)
    /// Enter network namespaces (setns), among much else.
    public static let sysAdmin = Capabilities(rawValue: 1 << 21)
    /// Raise resource limits.
    public static let sysResource = Capabilities(rawValue: 1 << 24)
    /// Performance monitoring (some BPF helpers).
    public static let perfmon = Capabilities(rawValue: 1 << 38)
    /// Load BPF programs and create maps.
    public static let bpf = Capabilities(rawValue: 1 << 39)

    static let names: [(Capabilities, String)] = [
        (.dacOverride, "CAP_DAC_OVERRIDE"), (.setPCap, "CAP_SETPCAP"), (.netBindService, "CAP_NET_BIND_SERVICE"),
        (.netAdmin, "CAP_NET_ADMIN"), (.netRaw, "CAP_NET_RAW"), (.ipcLock, "CAP_IPC_LOCK"), (.sysAdmin, "CAP_SYS_ADMIN"),
        (.sysResource, "CAP_SYS_RESOURCE"), (.perfmon, "CAP_PERFMON"), (.bpf, "CAP_BPF"),
    ]

    /// `CAP_NET_ADMIN CAP_SYS_ADMIN`, or `none`; capabilities this project
    /// does not name are counted (`CAP_BPF and 30 more`).
    public var description: String {
        let named = Capabilities.names.filter { contains($0.0) }.map(\.1)
        let others = rawValue.nonzeroBitCount - named.count
        if named.isEmpty { return others == 0 ? "none" : "\(others) capabilities" }
        return named.joined(separator: " ") + (others > 0 ? " and \(others) more" : "")
    }
}

/// The process's capabilities, and giving them up once setup is done.
public enum Privileges {
    /// The calling thread's permitted capabilities.
    public static var permitted: Capabilities { Capabilities(rawValue: cxdp_permitted_capabilities()) }

    /// Gives up every capability but `keep` for good: permitted and effective
    /// sets reduced, inheritable and ambient cleared, the bounding set shrunk
    /// when CAP_SETPCAP allows, and no_new_privs set, so nothing this process
    /// executes later can regain them.
    ///
    /// Linux keeps capabilities per thread, so this must run while the
    /// process has exactly one thread: threads started afterwards inherit the
    /// reduced sets. A daemon does its privileged setup (programs attached,
    /// sockets bound) on the main thread, calls this, then starts workers and
    /// the concurrency runtime.
    /// - Returns: The capabilities given up.
    /// - Throws: `XDPError` `.invalidConfiguration` if other threads exist
    ///   (they would keep their capabilities), or the kernel's refusal.
    @discardableResult
    public static func limit(to keep: Capabilities) throws(XDPError) -> Capabilities {
        let threads = cxdp_thread_count()
        guard threads == 1 else {
            throw XDPError(.invalidConfiguration, operation: "give up capabilities",
                           errno: threads < 0 ? -threads : 0,
                           hint: "the process has \(threads) threads and capabilities are per thread on Linux: give them up before starting workers or the concurrency runtime")
        }
        let before = permitted
        let rc = cxdp_limit_capabilities(keep.rawValue)
        if rc != 0 { throw XDPError.fromErrno(-rc, operation: "give up capabilities (keeping \(keep))") }
        return before.subtracting(permitted)
    }
}
