import XDP

/// The kernel's IP forwarding switches of the interfaces a router serves.
///
/// An L3 fast path that asks the kernel's FIB (`bpf_fib_lookup`) gets
/// "forwarding disabled" for every packet that comes in on an interface
/// whose `forwarding` sysctl is 0 (the distributions' default), and hands
/// the packet to the kernel, which does not forward it either: a silent
/// blackhole. Read the switches before starting, and refuse or switch them
/// on (as recorded ``SystemChanges``).
public struct IPForwarding: Sendable, Equatable {
    /// An address family whose forwarding is off on an interface.
    public struct Off: Sendable, Equatable, CustomStringConvertible {
        /// The interface.
        public var interface: String
        /// "ipv4" or "ipv6".
        public var family: String
        /// The sysctl file, relative to the root (e.g. "proc/sys/net/ipv4/conf/eth0/forwarding").
        public var path: String

        /// The command that switches it on (in the interface's namespace).
        public var command: String {
            "sysctl -w net.\(family).conf.\(String(interface.map { $0 == "." ? "/" : $0 })).forwarding=1"
        }

        public var description: String { "\(family) forwarding is off on \(interface)" }
    }

    /// Families whose forwarding is off on `interfaces`, read in the calling
    /// thread's network namespace. IPv6 counts only where the interface has
    /// IPv6 (`disable_ipv6` is 0).
    /// - Parameters:
    ///   - interfaces: The ports.
    ///   - root: The file system root (tests point it at a fake /proc).
    /// - Returns: What is off; empty when both families forward everywhere.
    public static func off(on interfaces: [String], root: String = "/") -> [Off] {
        func read(_ path: String) -> String? {
            SystemFiles.value(root + path)
        }
        var off: [Off] = []
        for interface in interfaces {
            let v4 = "proc/sys/net/ipv4/conf/\(interface)/forwarding"
            if read(v4) == "0" { off.append(Off(interface: interface, family: "ipv4", path: v4)) }
            let v6 = "proc/sys/net/ipv6/conf/\(interface)/forwarding"
            if read("proc/sys/net/ipv6/conf/\(interface)/disable_ipv6") == "0", read(v6) == "0" {
                off.append(Off(interface: interface, family: "ipv6", path: v6))
            }
        }
        return off
    }

    /// The error for a router whose ports do not forward: what is off and the commands that fix it.
    /// - Parameters:
    ///   - off: What ``off(on:root:)`` found (not empty).
    ///   - namespace: The ports' network namespace, when not the caller's.
    ///   - switchName: The configuration switch that enables forwarding instead.
    public static func refusal(_ off: [Off], namespace: String?, switchName: String) -> XDPError {
        let prefix = namespace.map { "ip netns exec \($0) " } ?? ""
        return XDPError(.invalidConfiguration, operation: "route between \(Set(off.map(\.interface)).sorted().joined(separator: " and "))",
                        hint: "\(off.map(\.description).joined(separator: ", ")): the kernel's FIB answers \"forwarding disabled\" and every packet would be dropped. Run \(off.map { prefix + $0.command }.joined(separator: "; ")), or set \(switchName) to let xdpfwd switch it on while it runs")
    }

    /// Switches forwarding on where `off` says it is off, recorded in
    /// `changes` (undone with them).
    public static func enable(_ off: [Off], changes: SystemChanges) {
        for entry in off { changes.write(entry.path, "1") }
    }
}
