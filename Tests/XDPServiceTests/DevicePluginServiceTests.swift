import CXDP
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPService

/// XDPService with the Kubernetes AF_XDP device plugin's Unix-socket mode
/// (`xskMapSocket`): the "plugin" (the test) attaches the program and serves
/// its XSKMAP over the handshake; the stream attaches nothing and receives.
@Suite("XDPService through the AF_XDP device plugin socket", .serialized)
struct DevicePluginServiceTests {
    @Test("PacketStream with xskMapSocket: no program of its own, the plugin's map, exact counts; the plugin's program stays after stop")
    func streamThroughPluginSocket() async throws {
        let lab = try ServiceLab()
        let pin = "/sys/fs/bpf/swift-xdp-svc-dp-\(getpid())"
        // The plugin's side: program attached, XSKMAP pinned (root only) and opened.
        let program = try NetworkNamespace.withEntered(lab.device) { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: lab.interface, mode: .auto, match: .udp(port: 9500))
        }
        try program.pinMaps(in: pin)
        defer { XDPProgram.unpinMaps(in: pin) }
        let mapFD = bpf_obj_get(pin + "/xsks")
        try #require(mapFD >= 0)
        defer { close(mapFD) }
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        let hostname = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let plugin = try FakeDevicePlugin(pod: hostname, devices: [lab.interface: mapFD])

        var configuration = PacketServiceConfiguration(interface: lab.interface, match: .udp(port: 9500), namespace: lab.device)
        configuration.xskMapSocket = plugin.path
        let stream = try PacketStream(configuration: configuration)
        plugin.finish()
        #expect(plugin.requests == ["/connect,\(hostname)", "/xsk_map_fd,\(lab.interface)", "/fin"])
        #expect(stream.setup.programID == program.programID, "the plugin's program, found on the interface")

        let counter = Task {
            var received = 0
            for await batch in stream {
                received += batch.count
                if received >= 20 { break }
            }
            return received
        }
        _ = try await lab.client(["send", lab.serviceAddress, "9500", "20", "40020"])
        let received = await counter.value
        #expect(received == 20)
        stream.stop()
        #expect(stream.statistics.frames.isConserved)
        #expect(try lab.attachedProgram() == program.programID, "the stream never detaches the plugin's program")
    }
}
