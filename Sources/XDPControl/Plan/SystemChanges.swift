import CNetdevProbe
import CXDP
import Glibc
import XDP

/// Changes a plan makes to the system (IRQ affinity, NAPI tunables,
/// channel counts), each logged and undone on exit when it was not there
/// before. With `dryRun`, nothing is written: the log says what would be.
public final class SystemChanges: @unchecked Sendable {
    /// One change.
    public struct Change: Sendable, Equatable, Codable, CustomStringConvertible {
        /// What is changed, e.g. "/proc/irq/40/smp_affinity_list" or "channels of eth0".
        public var target: String
        /// The value before.
        public var before: String
        /// The value written.
        public var after: String
        /// Whether it was written (false in a dry run, or when the write failed).
        public var applied: Bool
        /// Why it was not applied, if it was not.
        public var note: String?

        public var description: String {
            "\(target): \(before) -> \(after)" + (applied ? "" : " (\(note ?? "not applied"))")
        }
    }

    /// The root under which /proc and /sys paths are resolved ("/" normally; a temp directory in tests).
    public let root: String
    /// Only log, never write.
    public let dryRun: Bool
    /// Everything done or planned, in order.
    public private(set) var log: [Change] = []
    private var undoActions: [() -> Void] = []

    /// Creates a change set.
    public init(dryRun: Bool = false, root: String = "/") {
        self.dryRun = dryRun
        self.root = root.hasSuffix("/") ? root : root + "/"
    }

    deinit { undo() }

    /// Writes `value` to a /proc or /sys file (relative path, e.g. "proc/irq/40/smp_affinity_list"),
    /// remembering the old value to restore.
    @discardableResult
    public func write(_ relativePath: String, _ value: String) -> Change {
        let path = root + relativePath
        let before = SystemFiles.value(path)
        var change = Change(target: "/" + relativePath, before: before ?? "(unreadable)", after: value, applied: false, note: nil)
        if before == value {
            change.note = "already set"
        } else if dryRun {
            change.note = "dry run"
        } else if before == nil {
            change.note = "not present"
        } else if SystemChanges.writeInPlace(path, value) {
            change.applied = true
            let old = before!
            undoActions.append { _ = SystemChanges.writeInPlace(path, old) }
        } else {
            change.note = "write failed"
        }
        log.append(change)
        return change
    }

    /// Writes a /proc or /sys file the way the kernel wants it: open, one write, close (no temp file, no rename).
    static func writeInPlace(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)  // as the shell's `echo >` does
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count
    }

    /// Steers the plan's interrupts.
    public func applyIRQAffinity(_ plan: QueuePlan) {
        for irq in plan.irqAffinity {
            write("proc/irq/\(irq.irq)/smp_affinity_list", "\(irq.cpu)")
        }
    }

    /// Sets the NAPI busy-poll tunables of an interface (sysfs of this mount's namespace).
    public func setNAPITunables(interface: String, deferHardIRQs: Int, groFlushTimeoutNanoseconds: Int) {
        write("sys/class/net/\(interface)/napi_defer_hard_irqs", "\(deferHardIRQs)")
        write("sys/class/net/\(interface)/gro_flush_timeout", "\(groFlushTimeoutNanoseconds)")
    }

    /// Sets an interface's combined (or rx/tx) channel count with ETHTOOL_SCHANNELS, remembering the old counts.
    /// - Throws: `XDPError` when the driver refuses.
    public func setChannels(interface: String, count: Int) throws(XDPError) {
        var current = cxdp_channels()
        let rc = cxdp_probe_channels(interface, &current)
        guard rc == 0 else { throw XDPError.fromErrno(-rc, operation: "read channels of \(interface)", hint: "the driver does not report channels") }
        var wanted = current
        if current.max_combined > 0 { wanted.combined = UInt32(count) } else { wanted.rx = UInt32(count); wanted.tx = UInt32(count) }
        let before = "rx \(current.rx) tx \(current.tx) combined \(current.combined)"
        let after = "rx \(wanted.rx) tx \(wanted.tx) combined \(wanted.combined)"
        var change = Change(target: "channels of \(interface)", before: before, after: after, applied: false, note: nil)
        if before == after {
            change.note = "already set"
        } else if dryRun {
            change.note = "dry run"
        } else {
            let set = cxdp_set_channels(interface, &wanted)
            guard set == 0 else {
                throw XDPError.fromErrno(-set, operation: "set channels of \(interface) to \(count)",
                                         hint: "at most \(max(current.max_combined, current.max_rx)) on this device")
            }
            change.applied = true
            let original = current
            undoActions.append { var restore = original; _ = cxdp_set_channels(interface, &restore) }
        }
        log.append(change)
    }

    /// Restores everything changed, newest first. Safe to call twice.
    public func undo() {
        for action in undoActions.reversed() { action() }
        undoActions.removeAll()
    }
}
