// packet-counter: per-flow packet and byte counters over the async bridge,
// printed once a second; everything the match leaves alone stays with the kernel.
import ArgumentParser
import Foundation
import XDPControl
import XDPService

@main
struct PacketCounter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packet-counter",
        abstract: "Count packets and bytes per flow over the async bridge, printed once a second.",
        discussion: "Stops after --duration seconds or on SIGINT/SIGTERM, then prints the final table as one JSON line: {\"flows\":[{\"flow\":..,\"packets\":..,\"bytes\":..}],\"received\":..}.")

    @Option(name: [.short, .customLong("interface")], help: "The interface (in --netns if given).") var interface: String
    @Option(help: "Count UDP to this port.") var port: UInt16?
    @Option(help: "Count UDP to this port range, e.g. 9000-9099.") var ports: String?
    @Option(help: "Count this IP protocol, e.g. 47.") var `protocol`: UInt8?
    @Option(help: "Count this ethertype, in hex, e.g. 88f7.") var ethertype: String?
    @Option(help: "Queues to serve: all, or a list like 0-3.") var queues = "all"
    @Option(help: "CPUs for the pinned workers (default: the affinity mask).") var cpus: String?
    @Option(help: "Set up in this network namespace (ip netns).") var netns: String?
    @Option(help: "Stop after this many seconds.") var duration: Int?
    @Option(help: "Packets buffered for the counting task at most.") var buffer = 4096

    func run() async throws {
        let stream = try PacketStream(configuration: try configuration(), bufferCapacity: buffer)
        FileHandle.standardError.write(Data("packet-counter: \(stream.setup.summary)\n".utf8))
        let table = FlowTable()
        let counting = Task {
            for await batch in stream { table.count(batch) }
        }
        // SIGINT/SIGTERM or the duration cancel the counting task, which stops the stream.
        for number in [SIGINT, SIGTERM] { signal(number, SIG_IGN) }
        let signals = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { counting.cancel() }
            source.resume()
            return source
        }
        let started = ContinuousClock.now
        while !counting.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            FileHandle.standardOutput.write(Data((table.report(elapsed: ContinuousClock.now - started) + "\n").utf8))
            if let duration, ContinuousClock.now - started >= .seconds(duration) { counting.cancel() }
        }
        await counting.value
        signals.forEach { $0.cancel() }
        FileHandle.standardOutput.write(Data((table.json(stream.statistics) + "\n").utf8))
    }

    func configuration() throws -> PacketServiceConfiguration {
        let match: RedirectMatch
        if let port {
            match = .udp(port: port)
        } else if let ports {
            let bounds = ports.split(separator: "-").compactMap { UInt16($0) }
            guard bounds.count == 2, bounds[0] <= bounds[1] else { throw ValidationError("--ports \(ports): use LOW-HIGH") }
            match = .udp(ports: bounds[0]...bounds[1])
        } else if let `protocol` {
            match = .ipProtocol(`protocol`)
        } else if let ethertype, let value = UInt16(ethertype.replacingOccurrences(of: "0x", with: ""), radix: 16) {
            match = .ethertype(value)
        } else {
            throw ValidationError("give one of --port, --ports, --protocol, --ethertype (hex)")
        }
        do {
            return PacketServiceConfiguration(interface: interface, match: match,
                                              queues: queues == "all" ? nil : try CPUList.parse(queues).map(UInt32.init),
                                              cpus: try cpus.map { try CPUList.parse($0) }, namespace: netns)
        } catch {
            throw ValidationError("--queues/--cpus: \(error)")
        }
    }
}
