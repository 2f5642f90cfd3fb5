import CXDP
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPService

/// XDPService with the user's own XDP program
/// (`PacketServiceConfiguration.program`): port-steer's program, compiled
/// from the example's source as a user compiles it, loaded, attached and
/// detached by the stream.
@Suite("XDPService with your own XDP program", .serialized)
struct CustomProgramServiceTests {
    /// Examples/port-steer/port_steer.bpf.c, compiled with clang for BPF.
    static func portSteerObject() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Examples/port-steer/port_steer.bpf.c"), encoding: .utf8)
        return try TestBPFObject.compile("svc_port_steer", source: source)
    }

    @Test("PacketStream with program: the user's program steers exactly the port's 40 packets to the stream and counts the rest in its own map; stop detaches")
    func streamThroughOwnProgram() async throws {
        let lab = try ServiceLab()
        let object = try CustomProgramServiceTests.portSteerObject()
        var configuration = PacketServiceConfiguration(interface: lab.interface, match: .everything, namespace: lab.device)
        configuration.program = .init(object: .file(object), programName: "port_steer", socketMapName: "steer_xsks")
        let stream = try PacketStream(configuration: configuration)
        let attached = try #require(try lab.attachedProgram())
        #expect(attached == stream.setup.programID)
        #expect(cxdp_program_is_named(attached, "port_steer"), "the user's program is the one attached")
        #expect(stream.programCounters == nil, "swift-xdp's counters belong to its own program")
        // The program steers nothing until told its port, through its own map.
        try stream.writeProgramMap("steer_port", key: UInt32(0), value: UInt32(9600))
        #expect(try stream.readProgramMap("steer_port", key: UInt32(0), as: UInt32.self) == 9600)
        let othersBefore = try stream.readProgramMap("others", key: UInt32(0), as: UInt64.self) ?? 0

        let counter = Task {
            var received = 0
            var ports: Set<UInt16> = []
            for await batch in stream {
                for packet in batch where packet.bytes.count >= 38 {
                    let bytes = Array(packet.bytes)
                    ports.insert(UInt16(bytes[36]) << 8 | UInt16(bytes[37]))
                }
                received += batch.count
                if received >= 40 { break }
            }
            return (received, ports)
        }
        // Another port first: it must not reach the stream.
        _ = try await lab.client(["send", lab.serviceAddress, "9601", "25", "40030", "send", lab.serviceAddress, "9600", "40", "40031"])
        let (received, ports) = await counter.value
        #expect(received == 40)
        #expect(ports == [9600], "only the steered port reached the stream: \(ports)")
        let others = try stream.readProgramMap("others", key: UInt32(0), as: UInt64.self) ?? 0
        #expect(others - othersBefore >= 25 && others - othersBefore <= 29, "the 25 to the other port (and at most a few ARP) counted in its map: \(others - othersBefore)")
        stream.stop()
        #expect(stream.statistics.frames.isConserved)
        #expect(try lab.attachedProgram() == nil, "stop detached the user's program")
        do { _ = try stream.readProgramMap("others", key: UInt32(0), as: UInt64.self); Issue.record("a map read after stop") } catch {
            #expect(error.kind == .unsupported, "\(error)")
        }
    }

    @Test("a bad object is refused with the reason, nothing attached: no such XSKMAP, a map of the wrong type, not an object, a program the verifier rejects")
    func badObjectsRefused() throws {
        let lab = try ServiceLab()
        let object = try CustomProgramServiceTests.portSteerObject()
        let rejected = try TestBPFObject.compile("svc_rejected", source: TestBPFObject.prelude + """
            struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 64); __type(key, __u32); __type(value, __u32); } xsks SEC(".maps");
            SEC("xdp") int reads_past_end(struct xdp_md *ctx) {
                unsigned char *data = (void *)(long)ctx->data;
                if (data[20] == 7) return XDP_DROP;   // no bounds check against data_end
                return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
            }
            """)
        let cases: [(XDPProgram.ObjectSource, String?, String, String)] = [
            (.file(object), "port_steer", "xsks", "no map named xsks"),
            (.file(object), "port_steer", "others", "not an xskmap"),
            (.bytes([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3], name: "junk"), nil, "xsks", "not a BPF ELF object"),
            (.file(rejected), nil, "xsks", "the verifier says"),
        ]
        for (source, name, map, reason) in cases {
            var configuration = PacketServiceConfiguration(interface: lab.interface, match: .everything, namespace: lab.device)
            configuration.program = .init(object: source, programName: name, socketMapName: map)
            do {
                _ = try PacketStream(configuration: configuration)
                Issue.record("accepted \(source), map \(map)")
            } catch {
                #expect(error.kind == .program && error.description.contains(reason), "\(reason): \(error)")
            }
            #expect(try lab.attachedProgram() == nil, "nothing left attached after refusing \(reason)")
        }
        var both = PacketServiceConfiguration(interface: lab.interface, match: .everything, namespace: lab.device)
        both.program = .init(object: .file(object))
        both.xskMapSocket = "/tmp/afxdp.sock"
        do { try both.validate(); Issue.record("program with xskMapSocket accepted") } catch {
            #expect(error.kind == .invalidConfiguration && error.hint.contains("give one of them"), "\(error)")
        }
    }
}
