import Forwarding
import Packet
import TestSupport
import Testing
@testable import XDP
import XDPControl

/// The l3 handler over frames in plain memory: the FIB answer the program
/// writes in front of the packet (FIBMetadata) is checked, used once, and
/// turned into the rewrite and the output socket; anything else is a counted drop.
@Suite("l3 handler and FIB metadata")
struct L3HandlerTests {
    final class Region {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 4 * 2048, alignment: 4096)
        init() { base.initializeMemory(as: UInt8.self, repeating: 0, count: 4 * 2048) }
        deinit { base.deallocate() }
    }

    static let nextHopMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x11]
    static let egressMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x22]

    /// An IPv4 UDP frame (TTL 64, valid header checksum) from the builder.
    static let ipv4 = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                       sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 1, 1]).make(frameLength: 80)

    /// A minimal IPv6 UDP frame, hop limit 64.
    static let ipv6: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd,
                                0x60, 0, 0, 0, 0, 8, 17, 64]
        + [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [1]
        + [0x20, 0x01, 0, 2, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 7) + [1]
        + [0x12, 0x34, 0x56, 0x78, 0, 8, 0, 0]

    /// The 20-byte area `struct xdp_fib_meta` as the program writes it.
    static func metadata(egress: UInt32, magic: UInt32 = FIBMetadata.magic) -> [UInt8] {
        var bytes = nextHopMAC + egressMAC
        withUnsafeBytes(of: egress.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: magic.littleEndian) { bytes += $0 }
        return bytes
    }

    /// Runs `body` with a frame holding `packet`, `meta` written right in front of it.
    static func withFrame<R>(_ packet: [UInt8], meta: [UInt8]?, _ body: (inout Frame) -> R) -> R {
        let region = Region()
        var pool = FramePool(base: region.base, frameCount: 4, frameSize: 2048, dataOffset: 256)
        var frame = pool.allocate()!
        frame.length = packet.count
        frame.withUnsafeMutableBytes { buffer in packet.withUnsafeBytes { buffer.copyMemory(from: $0) } }
        if let meta {
            let start = region.base + Int(frame.address) - meta.count
            meta.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: meta.count) }
        }
        let result = body(&frame)
        pool.release(frame)
        return result
    }

    /// Egress 7 leaves by socket 1, egress 5 (the port it came in on) by socket 0.
    static func handler() -> L3Handler { L3Handler(outputs: [(interfaceIndex: 5, socket: 0), (interfaceIndex: 7, socket: 1)]) }

    @Test("IPv4: the FIB's MACs written, TTL 64 to 63 with a header checksum that verifies, out of the egress port's socket, metadata used once")
    func ipv4Forward() {
        var handler = L3HandlerTests.handler()
        let (verdict, bytes, again) = L3HandlerTests.withFrame(L3HandlerTests.ipv4, meta: L3HandlerTests.metadata(egress: 7)) { frame in
            (handler.route(&frame), bytesOf(frame), frame.fibMetadata)
        }
        #expect(verdict == .transmit(socket: 1))
        #expect(Array(bytes[0..<6]) == L3HandlerTests.nextHopMAC && Array(bytes[6..<12]) == L3HandlerTests.egressMAC)
        #expect(bytes[22] == 63)
        #expect(InternetChecksum.isValidIPv4Header(bytes.span.bytes, l3Offset: 14, headerLength: 20) == true)
        #expect(Array(bytes[12...]).enumerated().allSatisfy { i, byte in i == 10 || i == 12 || i == 13 || byte == L3HandlerTests.ipv4[12 + i] },
                "only the TTL and the header checksum changed after the MACs")
        #expect(again == nil, "the magic is erased: a later packet in this chunk cannot reuse the answer")
        #expect(handler.drops == DropCounts())
    }

    @Test("IPv6: hop limit 64 to 63; hairpin out of the port it came in on")
    func ipv6Hairpin() {
        var handler = L3HandlerTests.handler()
        let (verdict, bytes) = L3HandlerTests.withFrame(L3HandlerTests.ipv6, meta: L3HandlerTests.metadata(egress: 5)) { frame in
            (handler.route(&frame), bytesOf(frame))
        }
        #expect(verdict == .transmit(socket: 0))
        #expect(bytes[21] == 63)
        #expect(Array(bytes[0..<12]) == L3HandlerTests.nextHopMAC + L3HandlerTests.egressMAC)
    }

    @Test("no metadata, a wrong magic, egress 0: invalid_metadata drops; an unserved egress, TTL 1, a bad checksum: their own drops")
    func drops() {
        var handler = L3HandlerTests.handler()
        for meta in [nil, L3HandlerTests.metadata(egress: 7, magic: RXMetadata.magic), L3HandlerTests.metadata(egress: 0)] {
            #expect(L3HandlerTests.withFrame(L3HandlerTests.ipv4, meta: meta) { handler.route(&$0) } == .drop)
        }
        #expect(handler.drops.invalidMetadata == 3)
        #expect(L3HandlerTests.withFrame(L3HandlerTests.ipv4, meta: L3HandlerTests.metadata(egress: 9)) { handler.route(&$0) } == .drop)
        #expect(handler.drops.routeToUnservedPort == 1)
        var expiring = L3HandlerTests.ipv4
        expiring[22] = 1
        expiring[24] = 0; expiring[25] = 0
        let checksum = InternetChecksum.compute(expiring[14..<34].span.bytes)
        expiring[24] = UInt8(checksum >> 8); expiring[25] = UInt8(checksum & 0xff)
        #expect(InternetChecksum.isValidIPv4Header(expiring.span.bytes, l3Offset: 14, headerLength: 20) == true)
        #expect(L3HandlerTests.withFrame(expiring, meta: L3HandlerTests.metadata(egress: 7)) { handler.route(&$0) } == .drop)
        #expect(handler.drops.ttlExpired == 1)
        var corrupt = L3HandlerTests.ipv4
        corrupt[24] ^= 0xff
        #expect(L3HandlerTests.withFrame(corrupt, meta: L3HandlerTests.metadata(egress: 7)) { handler.route(&$0) } == .drop)
        #expect(handler.drops.malformed == 1)
        // Lengths beyond the frame (the kernel drops such packets): IPv4 by 1 byte, IPv6 by 1 byte.
        #expect(L3HandlerTests.withFrame(Array(L3HandlerTests.ipv4.prefix(14 + 65)), meta: L3HandlerTests.metadata(egress: 7)) { handler.route(&$0) } == .drop)
        #expect(L3HandlerTests.withFrame(Array(L3HandlerTests.ipv6.dropLast()), meta: L3HandlerTests.metadata(egress: 7)) { handler.route(&$0) } == .drop)
        #expect(handler.drops.malformed == 3)
        #expect(handler.drops.invalidMetadata == 3 && handler.drops.routeToUnservedPort == 1)
    }

    @Test("FIB and RX metadata are exclusive: neither reads the other's area, and router mode refuses the RX metadata program")
    func exclusive() {
        let fib = L3HandlerTests.withFrame(L3HandlerTests.ipv4, meta: L3HandlerTests.metadata(egress: 7)) { frame in (frame.fibMetadata, frame.metadata) }
        #expect(fib.0 == FIBMetadata(egressInterfaceIndex: 7, destinationMAC: 0x02_00_00_00_00_11, sourceMAC: 0x02_00_00_00_00_22))
        #expect(fib.1 == nil)
        var rx = [UInt8](repeating: 0, count: 32)
        rx[20] = 2   // present: hash
        withUnsafeBytes(of: RXMetadata.magic.littleEndian) { for i in 0..<4 { rx[28 + i] = $0[i] } }
        let read = L3HandlerTests.withFrame(L3HandlerTests.ipv4, meta: rx) { frame in (frame.fibMetadata, frame.metadata) }
        #expect(read.0 == nil)
        #expect(read.1 != nil)
        #expect(throws: XDPError.self) { _ = try XDPProgram(interface: "lo", match: .forwardable, rxMetadata: true) }
    }
}
