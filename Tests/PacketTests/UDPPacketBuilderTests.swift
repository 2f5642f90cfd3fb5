import Packet
import Testing

@Suite("UDP packet builder")
struct UDPPacketBuilderTests {
    let builder = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                   sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 0, 2],
                                   sourcePort: 1234, destinationPort: 9000)

    @Test("headers are where Ethernet, IPv4 and UDP put them")
    func layout() {
        let frame = builder.make(frameLength: 64, payload: [0xde, 0xad])
        #expect(frame.count == 64)
        #expect(Array(frame[0..<6]) == [2, 0, 0, 0, 0, 2])
        #expect(Array(frame[6..<12]) == [2, 0, 0, 0, 0, 1])
        #expect(frame[12] == 0x08 && frame[13] == 0x00)
        #expect(frame[14] == 0x45)
        #expect(Int(frame[16]) << 8 | Int(frame[17]) == 50, "IPv4 total length")
        #expect(frame[23] == 17)
        #expect(Array(frame[26..<30]) == [198, 18, 0, 1] && Array(frame[30..<34]) == [198, 18, 0, 2])
        #expect(Int(frame[34]) << 8 | Int(frame[35]) == 1234 && Int(frame[36]) << 8 | Int(frame[37]) == 9000)
        #expect(Int(frame[38]) << 8 | Int(frame[39]) == 30, "UDP length")
        #expect(frame[42] == 0xde && frame[43] == 0xad && frame[44] == 0)
    }

    @Test("the IPv4 header checksum verifies to zero")
    func checksum() {
        let frame = builder.make(frameLength: 200)
        let verify = InternetChecksum.compute(frame[14..<34].span.bytes)
        #expect(verify == 0)
    }

    @Test("frames are at least the Ethernet minimum")
    func minimum() {
        #expect(builder.make(frameLength: 10).count == UDPPacketBuilder.minimumFrameLength)
    }

    @Test("RFC 1071 example")
    func rfc1071() {
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        #expect(InternetChecksum.compute(bytes.span.bytes) == ~UInt16(0xddf2))
    }
}
