import Packet
import Testing

/// Partial (offload) and full TCP/UDP checksums: found, told apart, finished.
@Suite("TCP/UDP checksums: partial and full")
struct TransportChecksumTests {
    /// A reference checksum, byte by byte (RFC 768/793): pseudo-header plus
    /// segment with the field zeroed, complemented; UDP's 0 becomes 0xFFFF.
    static func reference(_ frame: [UInt8], l3: Int, ipv6: Bool, proto: UInt8, end: Int) -> UInt16 {
        let l4 = l3 + (ipv6 ? 40 : 20)
        var words: [UInt8] = ipv6 ? Array(frame[(l3 + 8)..<(l3 + 40)]) : Array(frame[(l3 + 12)..<(l3 + 20)])
        let length = end - l4
        words += ipv6 ? [UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff), 0, 0, 0, proto]
                      : [0, proto, UInt8(length >> 8), UInt8(length & 0xff)]
        var segment = Array(frame[l4..<end])
        let field = proto == 6 ? 16 : 6
        segment[field] = 0
        segment[field + 1] = 0
        words += segment
        if words.count % 2 == 1 { words.append(0) }
        var sum: UInt32 = 0
        for index in stride(from: 0, to: words.count, by: 2) { sum += UInt32(words[index]) << 8 | UInt32(words[index + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        return checksum == 0 && proto == 17 ? 0xffff : checksum
    }

    /// The folded pseudo-header sum, as a sender with checksum offload leaves it.
    static func partial(_ frame: [UInt8], l3: Int, ipv6: Bool, proto: UInt8, end: Int) -> UInt16 {
        let l4 = l3 + (ipv6 ? 40 : 20)
        var words: [UInt8] = ipv6 ? Array(frame[(l3 + 8)..<(l3 + 40)]) : Array(frame[(l3 + 12)..<(l3 + 20)])
        let length = end - l4
        words += ipv6 ? [UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff), 0, 0, 0, proto]
                      : [0, proto, UInt8(length >> 8), UInt8(length & 0xff)]
        var sum: UInt32 = 0
        for index in stride(from: 0, to: words.count, by: 2) { sum += UInt32(words[index]) << 8 | UInt32(words[index + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return UInt16(sum)
    }

    /// Ethernet (+ VLAN tags) + IPv4 or IPv6 + TCP or UDP with `payload`, checksum field left 0, then `padding` zero bytes.
    static func frame(ipv6: Bool = false, proto: UInt8 = 17, vlanTags: Int = 0, payload: [UInt8], padding: Int = 0) -> (bytes: [UInt8], l3: Int, end: Int) {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]
        for _ in 0..<vlanTags { bytes += [0x81, 0x00, 0x00, 0x07] }
        bytes += ipv6 ? [0x86, 0xdd] : [0x08, 0x00]
        let l3 = bytes.count
        let l4Length = (proto == 6 ? 20 : 8) + payload.count
        if ipv6 {
            bytes += [0x60, 0, 0, 0, UInt8(l4Length >> 8), UInt8(l4Length & 0xff), proto, 64]
            bytes += [0x20, 0x01, 0x00, 0x02] + [UInt8](repeating: 0, count: 11) + [1]
            bytes += [0x20, 0x01, 0x00, 0x02, 0, 1] + [UInt8](repeating: 0, count: 9) + [2]
        } else {
            let total = 20 + l4Length
            bytes += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1, 0x40, 0, 64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 1, 1]
        }
        if proto == 6 {
            bytes += [0x9c, 0x40, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]
        } else {
            bytes += [0x9c, 0x40, 0x1e, 0x61, UInt8(l4Length >> 8), UInt8(l4Length & 0xff), 0, 0]
        }
        bytes += payload
        let end = bytes.count
        bytes += [UInt8](repeating: 0, count: padding)
        return (bytes, l3, end)
    }

    static func store(_ value: UInt16, in bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xff)
    }

    @Test("a partial checksum is found and finished to the full one",
          arguments: [(false, UInt8(17), 0), (false, 6, 0), (true, 17, 0), (true, 6, 0), (false, 17, 1), (true, 6, 2)])
    func finishesPartial(ipv6: Bool, proto: UInt8, vlanTags: Int) throws {
        for payloadLength in [0, 1, 7, 8, 33, 1400] {
            var (bytes, l3, end) = Self.frame(ipv6: ipv6, proto: proto, vlanTags: vlanTags,
                                              payload: (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
            let found = TransportChecksum.locate(bytes.span.bytes)
            let location = try #require(found)
            #expect(location.start == l3 + (ipv6 ? 40 : 20))
            #expect(location.fieldOffset == (proto == 6 ? 16 : 6))
            #expect(location.end == end)
            Self.store(Self.partial(bytes, l3: l3, ipv6: ipv6, proto: proto, end: end), in: &bytes, at: location.field)
            #expect(TransportChecksum.isPartial(bytes.span.bytes, at: location) == true, "payload \(payloadLength)")
            bytes.withMutableBytes { TransportChecksum.finish(&$0, at: location) }
            let stored = UInt16(bytes[location.field]) << 8 | UInt16(bytes[location.field + 1])
            #expect(stored == Self.reference(bytes, l3: l3, ipv6: ipv6, proto: proto, end: end), "payload \(payloadLength)")
            #expect(TransportChecksum.isPartial(bytes.span.bytes, at: location) == false, "a finished checksum is no longer partial")
        }
    }

    @Test("a full checksum is not partial, and finishing it changes nothing")
    func fullUntouched() throws {
        var (bytes, l3, end) = Self.frame(proto: 6, payload: Array("full checksum".utf8))
        let found = TransportChecksum.locate(bytes.span.bytes)
            let location = try #require(found)
        let full = Self.reference(bytes, l3: l3, ipv6: false, proto: 6, end: end)
        Self.store(full, in: &bytes, at: location.field)
        let before = bytes
        #expect(TransportChecksum.isPartial(bytes.span.bytes, at: location) == false)
        #expect(bytes.withMutableBytes { TransportChecksum.finish(&$0) })
        #expect(bytes == before)
    }

    @Test("a full checksum that equals the pseudo-header sum stays right when taken for partial")
    func fullEqualToPseudoHeaderSum() throws {
        // Choose the last payload word so that the valid checksum is the pseudo-header sum itself.
        var (bytes, l3, end) = Self.frame(payload: [UInt8](repeating: 0x5a, count: 20))
        let found = TransportChecksum.locate(bytes.span.bytes)
            let location = try #require(found)
        let pseudo = Self.partial(bytes, l3: l3, ipv6: false, proto: 17, end: end)
        Self.store(0, in: &bytes, at: end - 2)
        let checksumWithZeroWord = Self.reference(bytes, l3: l3, ipv6: false, proto: 17, end: end)
        // Valid iff pseudo + data + checksum == 0xFFFF; with checksum == pseudo the last word w must make up the rest.
        var need = UInt32(~checksumWithZeroWord) // pseudo + data(w = 0)
        need = need + UInt32(pseudo)             // + checksum field (= pseudo)
        while need >> 16 != 0 { need = (need & 0xffff) + (need >> 16) }
        Self.store(~UInt16(need), in: &bytes, at: end - 2)
        Self.store(pseudo, in: &bytes, at: location.field)
        #expect(Self.reference(bytes, l3: l3, ipv6: false, proto: 17, end: end) == pseudo, "the crafted packet's valid checksum is the pseudo-header sum")
        #expect(TransportChecksum.isPartial(bytes.span.bytes, at: location) == true, "indistinguishable from a partial one")
        let before = bytes
        bytes.withMutableBytes { TransportChecksum.finish(&$0, at: location) }
        #expect(bytes == before, "finishing it gives the same, right, checksum")
    }

    @Test("Ethernet padding is not summed")
    func paddingExcluded() throws {
        var (bytes, l3, end) = Self.frame(payload: [1, 2, 3], padding: 17)
        let found = TransportChecksum.locate(bytes.span.bytes)
            let location = try #require(found)
        #expect(location.end == end && end < bytes.count)
        Self.store(Self.partial(bytes, l3: l3, ipv6: false, proto: 17, end: end), in: &bytes, at: location.field)
        bytes.withMutableBytes { TransportChecksum.finish(&$0, at: location) }
        #expect(UInt16(bytes[location.field]) << 8 | UInt16(bytes[location.field + 1]) == Self.reference(bytes, l3: l3, ipv6: false, proto: 17, end: end))
    }

    @Test("UDP over IPv4 without a checksum keeps none; other packets have no TCP/UDP checksum")
    func noChecksum() throws {
        var (bytes, _, _) = Self.frame(payload: [9, 9, 9])
        let before = bytes
        #expect(bytes.withMutableBytes { TransportChecksum.finish(&$0) })
        #expect(bytes == before, "a zero UDP checksum over IPv4 means none")
        var fragment = Self.frame(payload: [1]).bytes
        fragment[20] = 0x20  // more fragments
        #expect(TransportChecksum.locate(fragment.span.bytes) == nil)
        var icmp = Self.frame(payload: [1]).bytes
        icmp[23] = 1
        #expect(TransportChecksum.locate(icmp.span.bytes) == nil)
        let truncated = Array(Self.frame(proto: 6, payload: []).bytes.prefix(40))
        #expect(TransportChecksum.locate(truncated.span.bytes) == nil)
        #expect(TransportChecksum.locate([UInt8](repeating: 0, count: 10).span.bytes) == nil)
    }

    @Test("the fast sum matches the byte-wise sum at every length and alignment")
    func sumMatchesReference() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for start in 0..<8 {
            for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255] where start + length <= data.count {
                let slice = Array(data[start..<(start + length)])
                var sum: UInt32 = 0
                var index = 0
                while index + 1 < slice.count { sum += UInt32(slice[index]) << 8 | UInt32(slice[index + 1]); index += 2 }
                if index < slice.count { sum += UInt32(slice[index]) << 8 }
                while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
                let fast = TransportChecksum.sum(data[start..<(start + length)].span.bytes)
                #expect(fast == UInt16(sum) || (fast == 0 && sum == 0xffff) || (fast == 0xffff && sum == 0), "start \(start) length \(length)")
            }
        }
    }
}
