import Glibc
import Packet
import Testing
@testable import XDP
import XDPControl

/// rx_invalid_descs provoked: a fill-ring entry the kernel must reject. The
/// typed API cannot write one (a FillRing takes only Frames of its UMEM), so
/// the test writes the raw entry through the ring's internals.
@Suite("RX invalid descriptors", .serialized)
struct RXInvalidDescriptorTests {
    /// Linux 6.18 counts a rejected fill address on the fill queue's own
    /// invalid counter; XDP_STATISTICS' rx_invalid_descs reports the RX
    /// ring's, which nothing increments: the field stays 0. What shows the
    /// rejection is the fill ring's consumer moving past both bad entries.
    @Test("a fill address past the UMEM is consumed and skipped: the packets land in the valid frames; rx_invalid_descs stays 0 on 6.18",
          arguments: [AttachMode.generic, .native])
    func invalidFillAddress(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 64, fillRingSize: 64)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config, fill: false)
        // First in the ring: an address past the end of the UMEM, then a frame-aligned one far past it.
        receiver.socket.fill.ring.append(UInt64(config.byteCount))
        receiver.socket.fill.ring.append(UInt64(config.byteCount) * 4)
        receiver.socket.fill.refill(from: &receiver.umem.pool, upTo: 32)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(10, link: link)
        #expect(transmit(packets, from: &sender) == 10)
        expectSame(receive(10, on: &receiver), packets)
        // 34 entries given, 10 frames recycled by receive(): 2 bad + 10 good consumed.
        #expect(receiver.socket.fill.ring.outstanding == 34 + 10 - 12, "the kernel consumed both bad entries and one per packet")
        let statistics = try receiver.socket.statistics()
        #expect(statistics.rxInvalidDescriptors == 0, "\(statistics)")
        #expect(statistics.rxDropped == 0, "\(statistics)")
        _ = consume program
    }
}
