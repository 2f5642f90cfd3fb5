import ArgumentParser
import Foundation
import XDP
import XDPControl

/// `xdpbench inspect`: what the kernel says about the interfaces, and the
/// queue→core plan the data plane would use.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show interfaces' XDP capabilities and the queue-to-CPU plan.")

    @Option(name: [.short, .customLong("interface")], help: "An interface (repeat for several).")
    var interfaces: [String]
    @Option(help: "Inspect inside this network namespace.")
    var netns: String?
    @Option(help: "CPUs the plan may use (default: this process's affinity mask).")
    var cpus: String?
    @Option(help: "Queues to plan: 'all' or a list like 0-3.")
    var queues: String = "all"
    @Option(help: "Ports that forward to each other, as A:B (repeatable): they share a worker per queue.")
    var forward: [String] = []
    @Option(help: "Where queue interrupts go: same-cpu, sibling or none.")
    var irq: QueuePlan.IRQPlacement = .sameCPU
    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard !interfaces.isEmpty else { throw ValidationError("give at least one -i INTERFACE") }
        if let cpus { do { _ = try CPUList.parse(cpus) } catch { throw ValidationError("--cpus \(cpus): \(error)") } }
        if queues != "all" { do { _ = try CPUList.parse(queues) } catch { throw ValidationError("--queues \(queues): \(error)") } }
        for pair in forward where pair.split(separator: ":").count != 2 { throw ValidationError("--forward \(pair): use A:B") }
    }

    func run() throws {
        let found: [Interface] = try {
            let body = { () throws(XDPError) -> [Interface] in
                var result: [Interface] = []
                for name in interfaces { result.append(try Interface.discover(name)) }
                return result
            }
            if let netns { return try NetworkNamespace.withEntered(netns, body) }
            return try body()
        }()
        let allowed = try cpus.map { try CPUList.parse($0) }
        let topology = CPUTopology.current(allowed: allowed)
        let ports = try found.map { interface -> QueuePlan.Port in
            let count = interface.channels?.queueCount ?? 1
            let wanted = queues == "all" ? Array(0..<count) : try CPUList.parse(queues)
            return QueuePlan.Port(name: interface.name, queues: wanted.map(UInt32.init), numaNode: interface.numaNode, irqs: interface.queueIRQs)
        }
        let pairs = forward.map { pair -> (String, String) in
            let parts = pair.split(separator: ":").map(String.init)
            return (parts[0], parts[1])
        }
        let plan = QueuePlan.make(ports: ports, topology: topology, forwarding: pairs, irqPlacement: irq)
        if json {
            printJSON(InspectReport(interfaces: found, topology: topology, plan: plan))
            return
        }
        for interface in found { print(describe(interface)) }
        print("plan over CPUs \(CPUList.format(topology.cpus.map(\.id))):")
        print(plan.table)
    }
}

extension QueuePlan.IRQPlacement: ExpressibleByArgument {}

struct InspectReport: Encodable {
    var interfaces: [Interface]
    var topology: CPUTopology
    var plan: QueuePlan
}

/// A few lines a person can read about an interface.
func describe(_ interface: Interface) -> String {
    let unknown = "unknown"
    var lines = ["\(interface.name) (index \(interface.index)): driver \(interface.driver ?? unknown)"
                 + (interface.firmware.map { ", firmware \($0)" } ?? "") + (interface.bus.map { ", bus \($0)" } ?? "")
                 + ", mtu \(interface.mtu), \(interface.isUp ? "up" : "down")\(interface.isRunning ? ", carrier" : ", no carrier")"]
    if let channels = interface.channels {
        lines.append("  channels (\(channels.source)): rx \(channels.rx)/\(channels.maxRX) tx \(channels.tx)/\(channels.maxTX) combined \(channels.combined)/\(channels.maxCombined) (current/max)")
    } else {
        lines.append("  channels: \(unknown)")
    }
    lines.append("  numa node: \(interface.numaNode.map(String.init) ?? unknown); queue irqs: \(interface.queueIRQs.isEmpty ? "none found" : interface.queueIRQs.sorted { $0.key < $1.key }.map { "q\($0.key)=\($0.value)" }.joined(separator: " "))")
    let xdp = interface.xdp
    if xdp.reported {
        lines.append("  xdp-features: \(XDPFeatures.names(xdp.flags, XDPFeatures.flagNames).joined(separator: ", ")) (0x\(String(xdp.flags, radix: 16)))")
        lines.append("  xdp-zc-max-segs: \(xdp.zeroCopyMaxSegments.map(String.init) ?? "not reported (no zero-copy)"); rx-metadata: \(XDPFeatures.names(xdp.rxMetadata, XDPFeatures.rxMetadataNames).joined(separator: ", ")); xsk-features: \(XDPFeatures.names(xdp.xskFeatures, XDPFeatures.xskFeatureNames).joined(separator: ", "))")
        lines.append("  AF_XDP here: \(xdp.recommendedAttachMode == .native ? "native XDP with redirect" : "generic (skb) mode only: the driver has no native redirect")"
                     + ", \(xdp.hasZeroCopy ? "zero-copy available" : "copy mode (no zero-copy)")")
    } else {
        lines.append("  xdp-features: not reported by this kernel (unknown)")
    }
    return lines.joined(separator: "\n")
}
