import Packet
import Synchronization
import XDPService

/// Packets and bytes per flow (addresses, protocol, ports), filled by the
/// consuming task and read by the once-a-second printer.
final class FlowTable: Sendable {
    struct Counts: Sendable { var packets = 0, bytes = 0 }

    private let flows = Mutex<[String: Counts]>([:])

    /// Counts every packet of a batch under its flow's name.
    func count(_ batch: ReceivedBatch) {
        var local: [String: Counts] = [:]
        for packet in batch {
            let name = FlowTable.flowName(packet.bytes.span.bytes)
            local[name, default: Counts()].packets += 1
            local[name, default: Counts()].bytes += packet.bytes.count
        }
        flows.withLock { flows in
            for (name, counts) in local {
                flows[name, default: Counts()].packets += counts.packets
                flows[name, default: Counts()].bytes += counts.bytes
            }
        }
    }

    /// "198.18.0.1:40000 > 198.18.0.2:9000 udp", or the frame kind when it is not IP.
    static func flowName(_ bytes: RawSpan) -> String {
        guard let packet = try? ParsedPacket.parse(bytes) else { return "other" }
        let name: String
        switch packet.ipProtocol {
        case ParsedPacket.protocolUDP: name = "udp"
        case ParsedPacket.protocolTCP: name = "tcp"
        default: name = "proto \(packet.ipProtocol)"
        }
        let source = packet.sourcePort.map { "\(packet.sourceAddress):\($0)" } ?? "\(packet.sourceAddress)"
        let destination = packet.destinationPort.map { "\(packet.destinationAddress):\($0)" } ?? "\(packet.destinationAddress)"
        return "\(source) > \(destination) \(name)"
    }

    /// The table for people, busiest flows first.
    func report(elapsed: Duration) -> String {
        let sorted = flows.withLock { $0 }.sorted { $0.value.packets > $1.value.packets }
        var lines = ["--- \(elapsed.components.seconds) s: \(sorted.count) flow\(sorted.count == 1 ? "" : "s")"]
        for (name, counts) in sorted.prefix(20) { lines.append("\(name)  packets \(counts.packets)  bytes \(counts.bytes)") }
        return lines.joined(separator: "\n")
    }

    /// The final table and the stream's counters as one JSON line.
    func json(_ statistics: PacketServiceStatistics) -> String {
        let entries = flows.withLock { $0 }.sorted { $0.key < $1.key }.map { name, counts in
            #"{"flow":"\#(name)","packets":\#(counts.packets),"bytes":\#(counts.bytes)}"#
        }
        return #"{"flows":[\#(entries.joined(separator: ","))],"received":\#(statistics.received),"delivered":\#(statistics.delivered),"# +
            #""dropped_slow_consumer":\#(statistics.droppedSlowConsumer),"frames_held":\#(statistics.frames.held)}"#
    }
}
