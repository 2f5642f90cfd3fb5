import ArgumentParser
import ToolSupport
import Forwarding
import Foundation
import XDP
import XDPControl
import Yams

/// `xdpfwd`: forwards packets between ports in userspace at AF_XDP speed
/// (xconnect, macswap, or l3 with the kernel as control plane).
@main
struct XDPFwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpfwd",
        abstract: "AF_XDP forwarding daemon (swift-xdp).",
        discussion: """
            Exit codes: 0 stopped cleanly (SIGTERM/SIGINT, or stopped during setup);
            1 a setup error (interface, program, socket, privileges: the message names
            the fix); 2 stopped by program_loss_policy: exit, or another run-time
            failure; 3 a port's interface disappeared; 64 a usage error (bad option);
            78 a configuration error (bad file, key or value, or a world-writable file).
            """,
        version: SwiftXDPVersion.string,
        subcommands: [Run.self, Check.self, Plan.self, Status.self, Show.self])

    /// ArgumentParser's entry, except that a configuration problem exits 78
    /// (EX_CONFIG) rather than 1, as documented in `--help`; an error found
    /// while running shows the subcommand's usage.
    static func main() {
        CommandEntry.run(XDPFwd.self) { error in
            guard let problem = error as? ConfigurationExit else { return }
            FileHandle.standardError.write(Data("Error: \(problem.message)\n".utf8))
            Foundation.exit(ConfigurationExit.exitCode)
        }
    }
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
    @Option(help: "XDP attach mode: native (drv), generic (skb) or auto (from the driver's xdp-features).")
    var attach: AttachMode?
    @Option(help: "Set up inside this network namespace.")
    var netns: String?
    @Option(help: "Prometheus metrics address host:port (default 127.0.0.1:9109), or off.")
    var metrics: String?
    @Flag(help: "l3: switch IP forwarding on where a port has it off, while running (default: refuse to start, naming the sysctl).")
    var enableForwarding = false
    @Option(help: "Control socket for xdpfwd status/show (a path, or off; default /run/xdpfwd/[NETNS-]FIRSTPORT.sock).")
    var controlSocket: String?
    @Option(help: "Attach your own XDP program (xconnect, macswap): a compiled object, optionally with the entry point's function or section (FILE[:SECTION]).")
    var program: String?
    @Option(name: .customLong("program-map"), help: "The XSKMAP of --program (default xsks).")
    var programMap: String?
    @Option(name: .customLong("xsk-map-socket"), help: "Attach no program: take each port's XSKMAP from the Kubernetes AF_XDP device plugin's Unix socket (in a pod: /tmp/afxdp_dp/IFACE/afxdp.sock) and register the sockets in it (xconnect, macswap). Needs only CAP_NET_RAW.")
    var xskMapSocket: String?
    @Flag(name: .customLong("busy-poll"), help: "Preferred busy polling (SO_PREFER_BUSY_POLL): the workers' syscalls run the queues' NAPI work; sets napi_defer_hard_irqs 2 and gro_flush_timeout 200000 on the ports unless configured (undone on exit).")
    var busyPoll = false

    /// Usage checks, before the subcommand runs (so its own usage is shown).
    func validate() throws {
        if config == nil, mode == nil || interfaces.isEmpty {
            throw ValidationError("give --config FILE, or --mode and -i for each port")
        }
    }

    /// The effective configuration: the file (if any) with flags applied on
    /// top. A configuration problem is printed and exits 78 (EX_CONFIG).
    func effective() throws -> DaemonConfiguration {
        do {
            return try merged()
        } catch let error as ConfigurationError {
            throw ConfigurationExit(message: "\(error)")
        } catch let error as ConfigurationExit {
            throw error
        }
    }

    private func merged() throws -> DaemonConfiguration {
        var configuration: DaemonConfiguration
        if let path = config {
            try checkFilePermissions(path)
            configuration = try DaemonConfiguration.load(path: path)
        } else {
            configuration = DaemonConfiguration(mode: mode ?? .xconnect, ports: [])
        }
        if let mode { configuration.mode = mode }
        if !interfaces.isEmpty { configuration.ports = interfaces.map { DaemonConfiguration.Port(interface: $0, queues: nil) } }
        if let cpus { configuration.cpus = cpus }
        if let attach { configuration.attach = attach }
        if let netns { configuration.netns = netns }
        if let metrics { configuration.metrics = metrics }
        if enableForwarding { configuration.enableForwarding = true }
        if let controlSocket { configuration.controlSocket = controlSocket }
        if let program { configuration.program = program }
        if let programMap { configuration.programMap = programMap }
        if let xskMapSocket { configuration.xskMapSocket = xskMapSocket }
        if busyPoll { configuration.busyPoll = true }
        _ = try configuration.engineConfiguration()
        return configuration
    }
}

/// A configuration the daemon cannot use: printed as the error, exit 78
/// (EX_CONFIG), told apart from a usage error (64).
struct ConfigurationExit: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    /// EX_CONFIG from sysexits.h.
    static let exitCode: Int32 = 78
}

/// Refuses a world-writable configuration file: anyone could reroute traffic.
func checkFilePermissions(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ConfigurationExit(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
    if info.st_mode & S_IWOTH != 0 {
        throw ConfigurationExit(message: "\(path) is world-writable: anyone could change what this daemon forwards; run chmod o-w \(path)")
    }
}

extension AttachMode: ExpressibleByArgument {
    /// native (driver, drv), generic (skb) or auto.
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["native", "generic", "skb", "auto"] }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the configuration and print the effective one.")
    @OptionGroup var options: ConfigurationOptions
    func run() throws {
        let configuration = try options.effective()
        // The effective configuration, every default written out, as YAML
        // (a file `run` accepts as it is).
        print(try YAMLEncoder().encode(configuration.effective), terminator: "")
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

/// Which running daemon to ask, shared by status and show.
struct DaemonAddress: ParsableArguments {
    @Option(help: "The daemon's control socket (default: the only one in /run/xdpfwd).")
    var socket: String?
    @Flag(help: "JSON (snake_case keys, numbers as numbers).")
    var json = false

    /// Sends `request` and prints the answer.
    func ask(_ request: String) throws {
        let path: String
        if let socket {
            path = socket
        } else {
            // Only sockets a daemon answers on: a killed daemon's file may be left.
            let found = ControlSocket.defaultSockets().filter { (try? ControlSocket.request("status", path: $0)) != nil }
            guard found.count == 1 else {
                throw ValidationError(found.isEmpty ? "no running xdpfwd found in \(ControlSocket.directory): give --socket PATH"
                                                    : "several daemons run (\(found.joined(separator: ", "))): give --socket PATH")
            }
            path = found[0]
        }
        let answer = try ControlSocket.request(request + (json ? " json" : ""), path: path)
        print(answer, terminator: "")
        if answer.hasPrefix("error:") { throw ExitCode(1) }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask a running daemon: ports, queues, counters, frames.")
    @OptionGroup var address: DaemonAddress
    func run() throws { try address.ask("status") }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask a running daemon for one part: ports, queues, plan or counters (Prometheus text).")
    @Argument(help: "ports, queues, plan or counters.")
    var what: String
    @OptionGroup var address: DaemonAddress
    func validate() throws {
        guard ["ports", "queues", "plan", "counters"].contains(what) else {
            throw ValidationError("'\(what)': use ports, queues, plan or counters")
        }
    }
    func run() throws { try address.ask("show \(what)") }
}
