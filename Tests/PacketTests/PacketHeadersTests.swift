@testable import Packet
import Testing

@Suite("Packet header parsing")
struct PacketHeadersTests {
    let guarded = GuardedBuffer()

    func parsed(_ frame: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> ParsedPacket {
        switch guarded.parse(frame) {
        case .success(let packet): return packet
        case .failure(let error):
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    // MARK: Good frames

    @Test("IPv4/UDP without options")
    func ipv4UDP() throws {
        let frame = TestFrames.ipv4(source: ip(192, 0, 2, 10), destination: ip(198, 51, 100, 20), ttl: 17,
                                    payload: TestFrames.udp(1234, 53, extra: 10))
        let packet = try parsed(frame)
        #expect(packet.l3Offset == 14 && packet.vlanTags == 0 && packet.etherType == 0x0800)
        #expect(packet.ipVersion == 4 && packet.ipHeaderLength == 20 && packet.ipPacketLength == 38)
        #expect(packet.ipProtocol == 17 && packet.ttlOrHopLimit == 17 && packet.l4Offset == 34)
        #expect(packet.sourceIPv4 == 0xc000_020a && packet.destinationIPv4 == 0xc633_6414)
        #expect(packet.sourcePort == 1234 && packet.destinationPort == 53)
        #expect(!packet.isFragment && !packet.linkLayerDestinationIsGroup)
        #expect(packet.sourceIPv6 == .unspecified && packet.destinationIPv6 == .unspecified)
        #expect(packet.sourceAddress == .v4(ip(192, 0, 2, 10)) && packet.destinationAddress == .v4(ip(198, 51, 100, 20)))
    }

    @Test("a UDPPacketBuilder frame (padded payload) parses")
    func builderFrame() throws {
        let builder = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                       sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2],
                                       sourcePort: 7, destinationPort: 9000)
        let packet = try parsed(builder.make(frameLength: 64))
        #expect(packet.sourceIPv4 == ip(10, 0, 0, 1) && packet.destinationIPv4 == ip(10, 0, 0, 2))
        #expect(packet.sourcePort == 7 && packet.destinationPort == 9000 && packet.ipPacketLength == 50)
    }

    @Test("IPv4 with options: skipped, L4 found after them", arguments: [4, 8, 40])
    func ipv4Options(optionBytes: Int) throws {
        let options = [UInt8](repeating: 1, count: optionBytes)  // NOPs
        let packet = try parsed(TestFrames.ipv4(options: options, payload: TestFrames.udp(4000, 4001)))
        #expect(packet.ipHeaderLength == 20 + optionBytes)
        #expect(packet.l4Offset == 34 + optionBytes)
        #expect(packet.sourcePort == 4000 && packet.destinationPort == 4001)
    }

    @Test("IPv4/TCP ports")
    func ipv4TCP() throws {
        let packet = try parsed(TestFrames.ipv4(protocol: 6, payload: TestFrames.tcp(50000, 443)))
        #expect(packet.ipProtocol == 6 && packet.sourcePort == 50000 && packet.destinationPort == 443)
    }

    @Test("no ports for ICMP")
    func ipv4ICMP() throws {
        let packet = try parsed(TestFrames.ipv4(protocol: 1, payload: [8, 0, 0, 0, 0, 1, 0, 1]))
        #expect(packet.ipProtocol == 1 && packet.sourcePort == nil && packet.destinationPort == nil)
    }

    @Test("fragments: ports only in the first")
    func fragments() throws {
        let first = try parsed(TestFrames.ipv4(fragment: 0x2000))  // MF, offset 0
        #expect(first.isFragment && first.sourcePort == 1234)
        let later = try parsed(TestFrames.ipv4(fragment: 0x0003))  // offset 24
        #expect(later.isFragment && later.sourcePort == nil && later.destinationPort == nil)
        let whole = try parsed(TestFrames.ipv4(fragment: 0x4000))  // DF only
        #expect(!whole.isFragment)
    }

    @Test("UDP with fewer than 4 bytes of L4: no ports, still parses")
    func shortL4() throws {
        let packet = try parsed(TestFrames.ipv4(payload: [1, 2, 3]))
        #expect(packet.sourcePort == nil && packet.ipPacketLength == 23)
    }

    @Test("Ethernet padding after the IPv4 packet is ignored")
    func padding() throws {
        let frame = TestFrames.ipv4(payload: TestFrames.udp(1, 2), padTo: 60)
        #expect(frame.count == 60)
        let packet = try parsed(frame)
        #expect(packet.ipPacketLength == 28)
    }

    @Test("IPv6/UDP and IPv6/TCP")
    func ipv6() throws {
        let src = v6(0x2001_0db8_0000_0001, 0xdead_beef), dst = v6(0xfd00_0000_0000_0002, 0x1)
        let udp = try parsed(TestFrames.ipv6(source: src, destination: dst, hopLimit: 9,
                                             payload: TestFrames.udp(5353, 443, extra: 3)))
        #expect(udp.l3Offset == 14 && udp.etherType == 0x86dd && udp.ipVersion == 6 && udp.ipHeaderLength == 40)
        #expect(udp.ipPacketLength == 51 && udp.ipProtocol == 17 && udp.ttlOrHopLimit == 9 && udp.l4Offset == 54)
        #expect(udp.sourceIPv6 == src && udp.destinationIPv6 == dst)
        #expect(udp.sourceIPv4 == 0 && udp.destinationIPv4 == 0)
        #expect(udp.sourcePort == 5353 && udp.destinationPort == 443)
        #expect(udp.destinationAddress == .v6(dst))
        let tcp = try parsed(TestFrames.ipv6(nextHeader: 6, payload: TestFrames.tcp(22, 60000)))
        #expect(tcp.ipProtocol == 6 && tcp.sourcePort == 22 && tcp.destinationPort == 60000)
        let icmp = try parsed(TestFrames.ipv6(nextHeader: 58, payload: [128, 0, 0, 0, 0, 0, 0, 0]))
        #expect(icmp.ipProtocol == 58 && icmp.sourcePort == nil)
        let noNext = try parsed(TestFrames.ipv6(nextHeader: 59, payload: []))
        #expect(noNext.ipProtocol == 59 && noNext.ipPacketLength == 40)
    }

    @Test("one 802.1Q tag and 802.1ad + 802.1Q")
    func vlans() throws {
        let one = try parsed(TestFrames.ipv4(payload: TestFrames.udp(1, 2), tags: [0x8100]))
        #expect(one.vlanTags == 1 && one.l3Offset == 18 && one.l4Offset == 38 && one.sourcePort == 1)
        let two = try parsed(TestFrames.ipv6(tags: [0x88a8, 0x8100]))
        #expect(two.vlanTags == 2 && two.l3Offset == 22 && two.l4Offset == 62 && two.sourcePort == 5353)
        let old = try parsed(TestFrames.ipv4(tags: [0x9100, 0x8100]))
        #expect(old.vlanTags == 2 && old.etherType == 0x0800)
    }

    @Test("group destination MAC flagged")
    func groupDestination() throws {
        let broadcast = try parsed(TestFrames.ipv4(destinationMAC: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
        #expect(broadcast.linkLayerDestinationIsGroup)
        let multicast = try parsed(TestFrames.ipv6(destinationMAC: [0x33, 0x33, 0, 0, 0, 1]))
        #expect(multicast.linkLayerDestinationIsGroup)
    }

    @Test("RawSpan overload agrees")
    func rawSpan() throws {
        let frame = TestFrames.ipv4()
        let viaSpan = try ParsedPacket.parse(frame.span.bytes)
        #expect(viaSpan == (try parsed(frame)))
        let arpFrame = TestFrames.arp()
        #expect(throws: ParseError.arp) { try ParsedPacket.parse(arpFrame.span.bytes) }
    }

    // MARK: Not for the fast path

    @Test("ARP is reported as such, tagged or not")
    func arp() {
        #expect(guarded.parse(TestFrames.arp()) == .failure(.arp))
        #expect(guarded.parse(TestFrames.arp(tags: [0x8100])) == .failure(.arp))
        #expect(!ParseError.arp.isMalformed)
    }

    @Test("IPv6 extension headers", arguments: [UInt8(0), 43, 44, 50, 51, 60, 135, 139, 140, 253, 254])
    func extensionHeaders(nextHeader: UInt8) {
        #expect(guarded.parse(TestFrames.ipv6(nextHeader: nextHeader)) == .failure(.ipv6ExtensionHeaders))
        #expect(ParsedPacket.isIPv6ExtensionHeader(nextHeader))
    }

    @Test("other EtherTypes")
    func otherEtherTypes() {
        for etherType: UInt16 in [0x88cc, 0x8847, 0x0000, 0x05dc, 0x88e5] {
            let frame = TestFrames.ethernet(etherType: etherType) + [UInt8](repeating: 0, count: 46)
            #expect(guarded.parse(frame) == .failure(.unsupportedEtherType))
        }
    }

    // MARK: Every ParseError

    @Test("truncatedEthernet")
    func truncatedEthernet() {
        for length in 0..<14 {
            #expect(guarded.parse(Array(TestFrames.ipv4().prefix(length))) == .failure(.truncatedEthernet))
        }
    }

    @Test("truncatedVLAN")
    func truncatedVLAN() {
        let frame = TestFrames.ipv4(tags: [0x88a8, 0x8100])
        for length in [14, 15, 16, 17, 18, 19, 20, 21] {
            #expect(guarded.parse(Array(frame.prefix(length))) == .failure(.truncatedVLAN), "length \(length)")
        }
    }

    @Test("tooManyVLANTags")
    func tooManyVLANTags() {
        #expect(guarded.parse(TestFrames.ipv4(tags: [0x88a8, 0x8100, 0x8100])) == .failure(.tooManyVLANTags))
        // The third tag is refused before its bytes are needed.
        let frame = TestFrames.ethernet(tags: [0x8100, 0x8100], etherType: 0x8100)
        #expect(guarded.parse(frame) == .failure(.tooManyVLANTags))
        #expect(!ParseError.tooManyVLANTags.isMalformed)
    }

    @Test("truncatedIPv4: short of 20 bytes, or of IHL × 4")
    func truncatedIPv4() {
        let frame = TestFrames.ipv4()
        for length in 14..<34 {
            #expect(guarded.parse(Array(frame.prefix(length))) == .failure(.truncatedIPv4))
        }
        let withOptions = TestFrames.ipv4(options: [UInt8](repeating: 1, count: 12))
        for length in 34..<46 {
            #expect(guarded.parse(Array(withOptions.prefix(length))) == .failure(.truncatedIPv4))
        }
    }

    @Test("badIPv4Version")
    func badIPv4Version() {
        for version: UInt8 in [0, 5, 6, 15] {
            var frame = TestFrames.ipv4()
            frame[14] = version << 4 | 5
            #expect(guarded.parse(frame) == .failure(.badIPv4Version))
        }
    }

    @Test("badIHL", arguments: [UInt8(0), 1, 4])
    func badIHL(ihl: UInt8) {
        var frame = TestFrames.ipv4()
        frame[14] = 0x40 | ihl
        #expect(guarded.parse(frame) == .failure(.badIHL))
    }

    @Test("ipv4TotalLengthBeyondFrame")
    func totalLengthBeyond() {
        var frame = TestFrames.ipv4(padTo: 60)
        frame[16] = 0
        frame[17] = 47  // 14 + 47 = 61 > 60
        #expect(guarded.parse(frame) == .failure(.ipv4TotalLengthBeyondFrame))
        frame[17] = 46
        #expect((try? guarded.parse(frame).get())?.ipPacketLength == 46)
        frame[16] = 0xff
        frame[17] = 0xff
        #expect(guarded.parse(frame) == .failure(.ipv4TotalLengthBeyondFrame))
    }

    @Test("ipv4TotalLengthTooShort")
    func totalLengthTooShort() {
        var frame = TestFrames.ipv4()
        frame[16] = 0
        frame[17] = 19
        #expect(guarded.parse(frame) == .failure(.ipv4TotalLengthTooShort))
        frame[17] = 0
        #expect(guarded.parse(frame) == .failure(.ipv4TotalLengthTooShort))
        var withOptions = TestFrames.ipv4(options: [1, 1, 1, 1])
        withOptions[17] = 23
        #expect(guarded.parse(withOptions) == .failure(.ipv4TotalLengthTooShort))
        withOptions[16] = 0
        withOptions[17] = 24  // header only: fine
        #expect((try? guarded.parse(withOptions).get())?.sourcePort == nil)
    }

    @Test("truncatedIPv6")
    func truncatedIPv6() {
        let frame = TestFrames.ipv6(tags: [0x8100])
        for length in 18..<58 {
            #expect(guarded.parse(Array(frame.prefix(length))) == .failure(.truncatedIPv6))
        }
    }

    @Test("badIPv6Version")
    func badIPv6Version() {
        var frame = TestFrames.ipv6()
        frame[14] = 0x40
        #expect(guarded.parse(frame) == .failure(.badIPv6Version))
    }

    @Test("ipv6PayloadLengthBeyondFrame")
    func payloadLengthBeyond() {
        var frame = TestFrames.ipv6(payload: TestFrames.udp(1, 2))
        frame[18] = 0
        frame[19] = 9
        #expect(guarded.parse(frame) == .failure(.ipv6PayloadLengthBeyondFrame))
        frame[19] = 8
        #expect((try? guarded.parse(frame).get())?.ipPacketLength == 48)
    }

    @Test("which errors are malformed")
    func malformedClassification() {
        let malformed: [ParseError] = [.truncatedEthernet, .truncatedVLAN, .truncatedIPv4, .badIPv4Version, .badIHL,
                                       .ipv4TotalLengthBeyondFrame, .ipv4TotalLengthTooShort, .truncatedIPv6,
                                       .badIPv6Version, .ipv6PayloadLengthBeyondFrame]
        for error in malformed { #expect(error.isMalformed, "\(error)") }
        for error: ParseError in [.arp, .ipv6ExtensionHeaders, .unsupportedEtherType, .tooManyVLANTags] {
            #expect(!error.isMalformed, "\(error)")
        }
    }

    // MARK: Robustness

    static let validFrames: [[UInt8]] = [
        TestFrames.ipv4(),
        TestFrames.ipv4(options: [UInt8](repeating: 1, count: 8), payload: TestFrames.tcp(1, 2)),
        TestFrames.ipv4(tags: [0x8100]),
        TestFrames.ipv4(protocol: 1, payload: [8, 0, 0, 0], tags: [0x88a8, 0x8100]),
        TestFrames.ipv6(),
        TestFrames.ipv6(nextHeader: 6, payload: TestFrames.tcp(3, 4), tags: [0x8100]),
        TestFrames.ipv6(tags: [0x88a8, 0x8100]),
        TestFrames.arp(),
    ]

    @Test("every prefix of a valid frame: a ParseError or a parse within bounds, never a crash",
          arguments: validFrames)
    func everyPrefix(frame: [UInt8]) {
        let full = guarded.parse(frame)
        for length in 0...frame.count {
            let result = guarded.parse(Array(frame.prefix(length)))
            switch result {
            case .success(let packet):
                check(packet, length: length)
                // The IP packet fills these frames, so only the whole frame parses.
                #expect(length == frame.count, "prefix \(length) of \(frame.count) parsed")
            case .failure(let error):
                if length < frame.count { #expect(error.isMalformed || error == .arp || error == full.failure) }
            }
        }
    }

    @Test("10,000 random buffers of 0...200 bytes never crash the parser or the forwarder")
    func randomBuffers() {
        var rng = SplitMix64(seed: 0x5eed_1234)
        let forwarder = L3ForwarderTests.makeForwarder()
        var parsedCount = 0
        for _ in 0..<10_000 {
            let length = Int.random(in: 0...200, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Steer most buffers into the interesting paths.
            if length >= 14, Int.random(in: 0..<4, using: &rng) != 0 {
                var offset = 12
                let tags = Int.random(in: 0...3, using: &rng)
                for _ in 0..<tags where offset + 2 <= length {
                    let tpid: UInt16 = [0x8100, 0x88a8, 0x9100].randomElement(using: &rng)!
                    bytes[offset] = UInt8(tpid >> 8); bytes[offset + 1] = UInt8(tpid & 0xff)
                    offset += 4
                }
                if offset + 2 <= length {
                    let v4 = Bool.random(using: &rng)
                    bytes[offset] = v4 ? 0x08 : 0x86; bytes[offset + 1] = v4 ? 0x00 : 0xdd
                    if offset + 2 < length {
                        bytes[offset + 2] = v4 ? 0x40 | (bytes[offset + 2] & 0x0f) : 0x60 | (bytes[offset + 2] & 0x0f)
                    }
                    if offset + 5 < length, Bool.random(using: &rng) {  // plausible lengths
                        let ipLength = length - offset - 2 - (v4 ? 0 : 40)
                        let field = v4 ? offset + 4 : offset + 6
                        if ipLength >= 0, field + 1 < length {
                            bytes[field] = UInt8(truncatingIfNeeded: ipLength >> 8)
                            bytes[field + 1] = UInt8(truncatingIfNeeded: ipLength)
                        }
                    }
                }
            }
            let (result, _) = guarded.with(bytes) { buffer -> Result<ParsedPacket, ParseError> in
                _ = forwarder.process(&buffer)
                return Result { () throws(ParseError) in try ParsedPacket.parse(buffer.bytes) }
            }
            if case .success(let packet) = result {
                parsedCount += 1
                check(packet, length: length)
            }
        }
        #expect(parsedCount > 200, "random frames should sometimes parse (got \(parsedCount))")
    }

    /// Invariants of any successful parse of a `length`-byte buffer.
    func check(_ packet: ParsedPacket, length: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(packet.l3Offset == 14 + 4 * packet.vlanTags && packet.vlanTags <= 2, sourceLocation: sourceLocation)
        #expect(packet.l4Offset == packet.l3Offset + packet.ipHeaderLength, sourceLocation: sourceLocation)
        #expect(packet.ipHeaderLength <= packet.ipPacketLength, sourceLocation: sourceLocation)
        #expect(packet.l3Offset + packet.ipPacketLength <= length, sourceLocation: sourceLocation)
        #expect(packet.ipVersion == 4 || packet.ipVersion == 6, sourceLocation: sourceLocation)
        if packet.sourcePort != nil {
            #expect(packet.l4Offset + 4 <= packet.l3Offset + packet.ipPacketLength, sourceLocation: sourceLocation)
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
