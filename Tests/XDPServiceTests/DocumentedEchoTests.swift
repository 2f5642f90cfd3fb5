import Logging
import Packet
import ServiceLifecycle
import Testing
import XDP
import XDPService

// The echo service of the README and of XDPService.docc/EchoService.md, kept
// here verbatim (but for the names) so that it keeps compiling and working.

/// Answers each UDP datagram with itself: addresses and ports swapped in place.
struct DocumentedEchoHandler: PacketHandler {
    mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        var bytes = frame.mutableBytes                  // the frame's bytes, checked, no pointer
        guard let udp = try? ParsedPacket.parse(bytes.bytes),
              udp.ipProtocol == 17, !udp.isFragment else { return .drop }
        udp.swapEndpoints(in: &bytes)                   // MAC and IP addresses, UDP ports
        TransportChecksum.finish(&bytes)                // a client with checksum offload sent a partial one
        return .transmit                                // back out of the queue it came in on
    }
}

enum DocumentedUDPEcho {
    static func main() async throws {
        let logger = Logger(label: "udp-echo")
        let configuration = PacketServiceConfiguration(interface: "eth0", match: .udp(port: 7000), cpus: [2, 3])
        let service = try PacketService(configuration: configuration) { _ in DocumentedEchoHandler() }
        logger.info("serving \(service.setup.summary)")
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()                               // SIGTERM: workers joined, program detached
    }
}

@Suite("Documented echo handler")
struct DocumentedEchoTests {
    @Test("turns a UDP datagram around in place; anything else is dropped")
    func reflects() throws {
        var umem = try UMEM(configuration: .init(frameCount: 4))
        let builder = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                       sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 0, 2],
                                       sourcePort: 40000, destinationPort: 7000)
        let request = builder.make(frameLength: 80, payload: Array("hello".utf8))
        var frame = umem.pool.allocate()!
        frame.length = request.count
        do { var bytes = frame.mutableBytes; for (i, byte) in request.enumerated() { bytes.storeBytes(of: byte, toByteOffset: i, as: UInt8.self) } }
        var handler = DocumentedEchoHandler()
        let verdict = handler.handle(&frame)
        #expect(verdict == .transmit)
        var reply = builder
        reply.sourceMAC = builder.destinationMAC
        reply.destinationMAC = builder.sourceMAC
        reply.sourceIPv4 = builder.destinationIPv4
        reply.destinationIPv4 = builder.sourceIPv4
        reply.sourcePort = 7000
        reply.destinationPort = 40000
        let answered = frame.bytes.withUnsafeBytes { Array($0) }
        #expect(answered == reply.make(frameLength: 80, payload: Array("hello".utf8)), "the reply a kernel would have built")

        frame.length = 20
        let short = handler.handle(&frame)
        #expect(short == .drop)
        umem.pool.release(frame)
    }
}
