import ArgumentParser
import Forwarding
import Foundation
import XDP
import XDPControl

/// `xdpfwd`: forwards packets between ports in userspace at AF_XDP speed
/// (xconnect, macswap, or l3 with the kernel as control plane).
@main
struct XDPFwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpfwd",
        abstract: "AF_XDP forwarding daemon (swift-xdp).",
        subcommands: [Run.self, Check.self, Plan.self])
}

/// Options shared by run, check and plan: a config file and/or flags (flags win).
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "Configuration file (YAML).")
    var config: String?
    @Option(help: "Forwarding mode: xconnect, macswap or l3.")
    var mode: ForwardingMode?
    @Option(name: [.short, .customLong("interface")], help: "A port (repeat: -i A -i B).")
    var interfaces: [String] = []
    @Option(help: "CPUs for workers: a list like 0-3, or auto.")
    var cpus: String?
    @Option(help: "XDP attach mode: native, generic or auto.")
    var attach: AttachMode?
    @Option(help: "Set up inside this network namespace.")
    var netns: String?
    @Option(help: "Prometheus metrics address host:port (default 127.0.0.1:9109), or off.")
    var metrics: String?
    @Flag(help: "l3: switch IP forwarding on where a port has it off, while running (default: refuse to start, naming the sysctl).")
    var enableForwarding = false
    @Option(help: "Attach your own XDP program (xconnect, macswap): a compiled object, optionally with the entry point's function or section (FILE[:SECTION]).")
    var program: String?
    @Option(name: .customLong("program-map"), help: "The XSKMAP of --program (default xsks).")
    var programMap: String?

    /// The effective configuration: the file (if any) with flags applied on top.
    func effective() throws -> DaemonConfiguration {
        var configuration: DaemonConfiguration
        if let path = config {
            try checkFilePermissions(path)
            configuration = try DaemonConfiguration.load(path: path)
        } else {
            guard let mode, !interfaces.isEmpty else {
                throw ValidationError("give --config FILE, or --mode and -i for each port")
            }
            configuration = DaemonConfiguration(mode: mode, ports: [])
        }
        if let mode { configuration.mode = mode }
        if !interfaces.isEmpty { configuration.ports = interfaces.map { DaemonConfiguration.Port(interface: $0, queues: nil) } }
        if let cpus { configuration.cpus = cpus }
        if let attach { configuration.attach = attach }
        if let netns { configuration.netns = netns }
        if let metrics { configuration.metrics = metrics }
        if enableForwarding { configuration.enableForwarding = true }
        if let program { configuration.program = program }
        if let programMap { configuration.programMap = programMap }
        _ = try configuration.engineConfiguration()
        return configuration
    }
}

/// Refuses a world-writable configuration file: anyone could reroute traffic.
func checkFilePermissions(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ValidationError("cannot read \(path): \(String(cString: strerror(errno)))") }
    if info.st_mode & S_IWOTH != 0 {
        throw ValidationError("\(path) is world-writable: anyone could change what this daemon forwards; run chmod o-w \(path)")
    }
}

extension AttachMode: ExpressibleByArgument {}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the configuration and print the effective one.")
    @OptionGroup var options: ConfigurationOptions
    func run() throws {
        let configuration = try options.effective()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
        print("configuration OK")
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the ports' capabilities and the queue-to-CPU plan.")
    @OptionGroup var options: ConfigurationOptions
    func run() throws {
        let configuration = try options.effective()
        let engine = try configuration.engineConfiguration()
        let interfaces = try { () throws(XDPError) -> [Interface] in
            let body = { () throws(XDPError) -> [Interface] in
                var found: [Interface] = []
                for port in engine.ports { found.append(try Interface.discover(port.interface)) }
                return found
            }
            if let namespace = engine.namespace { return try NetworkNamespace.withEntered(namespace, body) }
            return try body()
        }()
        let ports = zip(engine.ports, interfaces).map { port, interface in
            QueuePlan.Port(name: port.interface, queues: port.queues ?? Array(0..<UInt32(interface.channels?.queueCount ?? 1)),
                           numaNode: interface.numaNode, irqs: interface.queueIRQs)
        }
        let pairs = engine.mode == .macswap ? [] : [(engine.ports[0].interface, engine.ports[1].interface)]
        let plan = QueuePlan.make(ports: ports, topology: CPUTopology.current(allowed: engine.cpus), forwarding: pairs)
        for interface in interfaces {
            print("\(interface.name): driver \(interface.driver ?? "unknown"), \(interface.channels?.queueCount ?? 1) queue(s), "
                  + "AF_XDP \(interface.xdp.recommendedAttachMode == .native ? "native" : "generic (skb) only")"
                  + ", \(interface.xdp.hasZeroCopy ? "zero-copy" : "copy mode")")
        }
        print(plan.table)
    }
}
