// udp-echo: answers UDP on one port through AF_XDP; ping, TCP and every other
// port on the interface still reach the kernel.
import ArgumentParser
import Logging
import ServiceLifecycle
import XDP
import XDPControl
import XDPService

@main
struct UDPEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp-echo",
        abstract: "Answer UDP on one port through AF_XDP; everything else on the interface stays with the kernel.",
        discussion: "Pinned workers run EchoHandler; with --async a Swift task does the same echo over the async bridge (PacketStream), to compare the two. SIGINT/SIGTERM stop it; it then prints its counters as one JSON line.")

    @Option(name: [.short, .customLong("interface")], help: "The interface (in --netns if given).") var interface: String
    @Option(help: "The UDP port to answer.") var port: UInt16
    @OptionGroup var placement: Placement
    @Flag(help: "Echo from a Swift task over the async bridge instead of on the pinned workers.") var async = false

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "udp-echo")
        let configuration = try placement.configuration(interface: interface, match: .udp(port: port))
        let statistics: PacketServiceStatistics
        if async {
            statistics = try await AsyncEcho.run(configuration: configuration, logger: logger)
        } else {
            let service = try PacketService(configuration: configuration) { _ in EchoHandler() }
            logger.info("udp-echo on port \(port): \(service.setup.summary)")
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
            statistics = service.statistics
        }
        print(#"{"mode":"\#(async ? "async" : "pinned")","received":\#(statistics.received),"transmitted":\#(statistics.transmitted),"# +
              #""tx_ring_full":\#(statistics.transmitRingFull),"dropped_slow_consumer":\#(statistics.droppedSlowConsumer),"# +
              #""frames_held":\#(statistics.frames.held)}"#)
    }
}

/// Where to serve: queues, CPUs, namespace, attach mode.
struct Placement: ParsableArguments {
    @Option(help: "Queues to serve: all, or a list like 0-3.") var queues = "all"
    @Option(help: "CPUs for the pinned workers, e.g. 2-3 (default: the affinity mask).") var cpus: String?
    @Option(help: "Set up in this network namespace (ip netns).") var netns: String?
    @Option(help: "XDP attach mode: native, generic or auto.") var attach = "auto"
    @Option(name: .customLong("zero-copy"), help: "Zero-copy: required, preferred or off.") var zeroCopy = "preferred"

    func configuration(interface: String, match: RedirectMatch) throws -> PacketServiceConfiguration {
        guard let mode = AttachMode(name: attach) else { throw ValidationError("--attach \(attach): use native (drv), generic (skb) or auto") }
        guard let bind = ZeroCopyMode(rawValue: zeroCopy) else { throw ValidationError("--zero-copy \(zeroCopy): use required, preferred or off") }
        do {
            return PacketServiceConfiguration(interface: interface, match: match,
                                              queues: queues == "all" ? nil : try CPUList.parse(queues).map(UInt32.init),
                                              cpus: try cpus.map { try CPUList.parse($0) }, attach: mode, zeroCopy: bind, namespace: netns)
        } catch {
            throw ValidationError("--queues/--cpus: \(error)")
        }
    }
}
