import Logging
import ServiceLifecycle
import XDP
import XDPService

/// The echo over the async bridge: a task reads batches from a
/// ``PacketStream``, turns each datagram around in a copy and sends it back
/// on the queue it came from. Slower than the pinned handler (two copies and
/// a task hop per batch); here to measure by how much.
enum AsyncEcho {
    /// Echoes until SIGINT/SIGTERM; returns the stream's counters.
    static func run(configuration: PacketServiceConfiguration, logger: Logger) async throws -> PacketServiceStatistics {
        let stream = try PacketStream(configuration: configuration)
        logger.info("udp-echo (async bridge): \(stream.setup.summary)")
        let echo = EchoService(stream: stream)
        let group = ServiceGroup(configuration: .init(services: [.init(service: echo)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        stream.stop()
        return stream.statistics
    }

    struct EchoService: Service {
        let stream: PacketStream

        func run() async throws {
            let stream = stream
            try await cancelWhenGracefulShutdown {
                for await batch in stream {
                    let replies = batch.compactMap { packet -> [UInt8]? in
                        var reply = Array(packet.bytes)
                        return reflectUDP(&reply) ? reply : nil
                    }
                    try await stream.send(contentsOf: replies, queue: batch.queue)   // one hand-over per batch
                }
            }
        }
    }
}
