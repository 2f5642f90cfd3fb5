import Foundation
import Synchronization
import TestSupport
import Packet
import Testing
import XDP
import XDPControl
import XDPService

/// The async bridge: bounded buffering with counted drops, conservation of
/// frames, and cancellation tearing everything down.
@Suite("PacketStream", .serialized)
struct PacketStreamTests {
    @Test("a consumer that does not keep up: no crash, buffer bounded, drops counted, every frame back")
    func slowConsumer() async throws {
        let lab = try ServiceLab()
        let leaksBefore = Frame.leakedCount
        let stream = try PacketStream(configuration: .init(interface: lab.interface, match: .udp(port: 9200), namespace: lab.device),
                                      bufferCapacity: 64)
        // Nobody consumes while 1000 datagrams arrive.
        let sent = try await lab.client(["send", lab.serviceAddress, "9200", "1000", "40010"])
        #expect(sent.sent == 1000)
        await eventually { stream.statistics.received >= 1000 }
        let full = stream.statistics
        #expect(full.received == 1000, "every datagram taken off the RX ring: \(full)")
        #expect(stream.bufferedPackets <= 64, "the buffer never holds more than its capacity")
        #expect(full.delivered <= 64)
        #expect(full.droppedSlowConsumer >= 1000 - 64, "what did not fit is counted: \(full)")
        #expect(full.delivered + full.droppedSlowConsumer == full.received)

        // What was buffered is still there, whole.
        var consumed = 0
        var iterator = stream.makeAsyncIterator()
        while consumed < full.delivered, let batch = await iterator.next() {
            consumed += batch.count
            #expect(batch.allSatisfy { $0.bytes.count >= 42 })
        }
        #expect(consumed == full.delivered)

        // Traffic flows again once the consumer is back.
        _ = try await lab.client(["send", lab.serviceAddress, "9200", "10", "40011"])
        var after = 0
        while after < 10, let batch = await iterator.next() { after += batch.count }
        #expect(after == 10)

        stream.stop()
        let final = stream.statistics
        #expect(final.frames.isConserved, "frame conservation after stop: \(final.frames)")
        #expect(final.frames.total == 4096)
        #expect(Frame.leakedCount == leaksBefore)
        #expect(stream.programCounters == nil, "program gone after stop")
        #expect(try lab.attachedProgram() == nil)
    }

    @Test("cancelling the consuming task stops the workers and detaches the program")
    func cancellation() async throws {
        let lab = try ServiceLab(queues: 2)
        let stream = try PacketStream(configuration: .init(interface: lab.interface, match: .udp(port: 9300), namespace: lab.device))
        #expect(stream.isRunning)
        #expect(stream.setup.plan.workers.flatMap(\.assignments).count == 2, "all queues served")
        #expect(try lab.attachedProgram() == stream.setup.programID)
        let seen = Tally()
        let consumer = Task {
            for await batch in stream { seen.add(batch.count) }
        }
        _ = try await lab.client(["send", lab.serviceAddress, "9300", "25", "40020"])
        #expect(await eventually { seen.value >= 25 }, "the consumer got \(seen.value) of 25")
        consumer.cancel()
        await consumer.value
        #expect(seen.value == 25)
        #expect(!stream.isRunning, "workers stopped before the iteration ended")
        #expect(try lab.attachedProgram() == nil, "program detached before the iteration ended")
        #expect(stream.statistics.frames.isConserved)
        await #expect(throws: XDPError.self) { try await stream.send([UInt8](repeating: 0, count: 60)) }
    }

    @Test("send: packets from a task go out of the served queue")
    func send() async throws {
        let lab = try ServiceLab()
        let stream = try PacketStream(configuration: .init(interface: lab.interface, match: .udp(port: 9400), namespace: lab.device))
        defer { stream.stop() }
        await #expect(throws: XDPError.self) { try await stream.send([]) }
        await #expect(throws: XDPError.self) { try await stream.send([0], queue: 7) }
        // Answer each datagram with itself turned around (as udp-echo --async does).
        let responder = Task {
            for await batch in stream {
                for packet in batch {
                    var reply = Array(packet.bytes)
                    reply.withUnsafeMutableBytes { bytes in
                        for i in 0..<6 { bytes.swapAt(i, i + 6) }
                        for i in 0..<4 { bytes.swapAt(26 + i, 30 + i) }
                        for i in 0..<2 { bytes.swapAt(34 + i, 36 + i) }
                    }
                    do {
                        var span = reply.mutableSpan
                        var bytes = span.mutableBytes
                        TransportChecksum.finish(&bytes)  // the client leaves its checksum to offload
                    }
                    try? await stream.send(reply, queue: packet.queue)
                }
            }
        }
        let result = try await lab.client(["echo", lab.serviceAddress, "9400", "50"])
        #expect(result.echo == 50)
        #expect(stream.statistics.sent == 50)
        responder.cancel()
        await responder.value
        #expect(try lab.attachedProgram() == nil)
    }
}

/// A count shared between a consuming task and the test.
final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ value: Int) { count.add(value, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
