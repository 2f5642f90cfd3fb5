import Foundation
import Testing
@testable import XDPControl

/// IRQ and tunable writes against a fake /proc and /sys (veth has no IRQs).
@Suite("System changes")
struct SystemChangesTests {
    func fakeRoot() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("xdp-sys-\(UUID().uuidString)").path
        for irq in [40, 41] {
            try FileManager.default.createDirectory(atPath: "\(root)/proc/irq/\(irq)", withIntermediateDirectories: true)
            try "0-15\n".write(toFile: "\(root)/proc/irq/\(irq)/smp_affinity_list", atomically: false, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: "\(root)/sys/class/net/eth0", withIntermediateDirectories: true)
        try "0\n".write(toFile: "\(root)/sys/class/net/eth0/napi_defer_hard_irqs", atomically: false, encoding: .utf8)
        try "0\n".write(toFile: "\(root)/sys/class/net/eth0/gro_flush_timeout", atomically: false, encoding: .utf8)
        return root
    }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    }

    @Test("the plan's IRQ affinity is written, logged and undone")
    func irqAffinity() throws {
        let root = try fakeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let plan = QueuePlan.make(ports: [QueuePlan.Port(name: "eth0", queues: [0, 1], irqs: [0: 40, 1: 41])],
                                  topology: CPUTopology.synthetic(nodes: 1, coresPerNode: 2))
        let changes = SystemChanges(root: root)
        changes.applyIRQAffinity(plan)
        changes.setNAPITunables(interface: "eth0", deferHardIRQs: 2, groFlushTimeoutNanoseconds: 200_000)
        #expect(read("\(root)/proc/irq/40/smp_affinity_list") == "0")
        #expect(read("\(root)/proc/irq/41/smp_affinity_list") == "1")
        #expect(read("\(root)/sys/class/net/eth0/napi_defer_hard_irqs") == "2")
        #expect(changes.log.count == 4 && changes.log.allSatisfy(\.applied))
        #expect(changes.log[0].description == "/proc/irq/40/smp_affinity_list: 0-15 -> 0")
        changes.undo()
        #expect(read("\(root)/proc/irq/40/smp_affinity_list") == "0-15")
        #expect(read("\(root)/sys/class/net/eth0/gro_flush_timeout") == "0")
    }

    @Test("a dry run writes nothing and says what it would do")
    func dryRun() throws {
        let root = try fakeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let changes = SystemChanges(dryRun: true, root: root)
        changes.write("proc/irq/40/smp_affinity_list", "3")
        changes.write("proc/irq/99/smp_affinity_list", "3")
        #expect(read("\(root)/proc/irq/40/smp_affinity_list") == "0-15")
        #expect(changes.log.map(\.note) == ["dry run", "dry run"])
        #expect(!changes.log[0].applied)
    }

    @Test("a missing file is reported, not created; an unchanged value is not rewritten")
    func missingAndUnchanged() throws {
        let root = try fakeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let changes = SystemChanges(root: root)
        #expect(changes.write("proc/irq/99/smp_affinity_list", "1").note == "not present")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/proc/irq/99/smp_affinity_list"))
        #expect(changes.write("proc/irq/40/smp_affinity_list", "0-15").note == "already set")
    }

    @Test("/proc/interrupts lines map queue IRQs by their trailing number")
    func interruptsParsing() {
        let text = """
                   CPU0       CPU1
          40:          5          0   PCI-MSI 1048576-edge      eth0-TxRx-0
          41:          5          0   PCI-MSI 1048577-edge      eth0-TxRx-1
          42:          0          0   PCI-MSI 1048578-edge      eth0
          43:          0          0   PCI-MSI 1048579-edge      eth10-TxRx-0
        """
        #expect(Interface.queueIRQs(of: "eth0", interrupts: text) == [0: 40, 1: 41])
    }
}
