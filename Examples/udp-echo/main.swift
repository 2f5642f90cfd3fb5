// udp-echo: answers UDP on one port through AF_XDP; ping, TCP and every other
// port on the interface still reach the kernel.
//
//   udp-echo -i IFACE --port P [--queues all|LIST] [--cpus LIST] [--async] [--netns NS] [--attach native|generic|auto]
//
// Pinned workers run EchoHandler (the default), or, with --async, the same
// echo is done by a Swift task over the async bridge (PacketStream), to
// compare the two. SIGINT/SIGTERM stop it; it then prints its counters as one
// JSON line on standard output.
import Foundation
import Logging
import ServiceLifecycle
import XDP
import XDPControl
import XDPService

let options: EchoOptions
do {
    options = try EchoOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("udp-echo: \(error)\n\(EchoOptions.usage)\n".utf8))
    exit(64)
}
LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
let logger = Logger(label: "udp-echo")

do {
    let statistics: PacketServiceStatistics
    if options.async {
        statistics = try await AsyncEcho.run(configuration: options.configuration, logger: logger)
    } else {
        let service = try PacketService(configuration: options.configuration) { _ in EchoHandler() }
        logger.info("udp-echo on port \(options.port): \(service.setup.summary)")
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        statistics = service.statistics
    }
    print(#"{"mode":"\#(options.async ? "async" : "pinned")","received":\#(statistics.received),"transmitted":\#(statistics.transmitted),"# +
          #""tx_ring_full":\#(statistics.transmitRingFull),"dropped_slow_consumer":\#(statistics.droppedSlowConsumer),"# +
          #""frames_held":\#(statistics.frames.held)}"#)
} catch {
    logger.error("\(error)")
    exit(1)
}
