@testable import Packet
import Testing

@Suite("TTL / hop limit decrement and checksum update")
struct ChecksumUpdateTests {
    /// Runs `body` on a mutable copy of `frame` and returns its result and the bytes after.
    func mutate<R>(_ frame: [UInt8], _ body: (inout MutableRawSpan) -> R) -> (R, [UInt8]) {
        var copy = frame
        let result = copy.withMutableBytes { body(&$0) }
        return (result, copy)
    }

    /// The header checksum computed from scratch (field zeroed).
    func recomputed(_ frame: [UInt8], l3Offset: Int = 14) -> UInt16 {
        var header = Array(frame[l3Offset..<(l3Offset + Int(frame[l3Offset] & 0x0f) * 4)])
        header[10] = 0
        header[11] = 0
        return InternetChecksum.compute(header.span.bytes)
    }

    @Test("RFC 1624 §4 example: eqn. 3 gives 0x0000 where eqn. 2 would give 0xFFFF")
    func rfc1624Example() {
        #expect(InternetChecksum.update(0xdd2f, old: 0x5555, new: 0x3285) == 0x0000)
    }

    @Test("after a decrement the header verifies and matches a full recompute")
    func decrementVerifies() {
        let frame = TestFrames.ipv4(ttl: 64)
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(ok)
        #expect(after[22] == 63)
        #expect(TestFrames.ipv4HeaderVerifies(after))
        #expect(TestFrames.ipv4Checksum(after) == recomputed(after))
        #expect(Array(after[0..<22]) == Array(frame[0..<22]) && after[23] == frame[23]
                && Array(after[26...]) == Array(frame[26...]), "only TTL (22) and checksum (24, 25) change")
    }

    @Test("with options and behind VLAN tags")
    func optionsAndVLANs() {
        let frame = TestFrames.ipv4(ttl: 2, options: [1, 1, 1, 1, 7, 7, 7, 7], tags: [0x88a8, 0x8100])
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 22) }
        #expect(ok && after[30] == 1)
        #expect(TestFrames.ipv4HeaderVerifies(after, l3Offset: 22))
        let (again, unchanged) = mutate(after) { IPv4TTL.decrement(&$0, l3Offset: 22) }
        #expect(!again && unchanged == after)
    }

    @Test("TTL 1 and 0: expired, nothing changed", arguments: [UInt8(0), 1])
    func expired(ttl: UInt8) {
        let frame = TestFrames.ipv4(ttl: ttl)
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(!ok && after == frame)
    }

    @Test("TTL 255 down to 1, checksum correct at every step")
    func everyTTL() {
        var frame = TestFrames.ipv4(ttl: 255)
        for expected in stride(from: 254, through: 1, by: -1) {
            let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
            #expect(ok && Int(after[22]) == expected)
            #expect(TestFrames.ipv4Checksum(after) == recomputed(after))
            frame = after
        }
        let (ok, _) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(!ok)
    }

    /// Finds an IPv4 frame (varying the identification) whose checksum,
    /// before or after a TTL decrement, is `target`.
    func frameWithChecksum(_ target: UInt16, afterDecrement: Bool) -> [UInt8]? {
        for identification in 0...UInt16.max {
            let frame = TestFrames.ipv4(ttl: 100, identification: identification)
            if afterDecrement {
                var copy = frame
                copy[22] = 99
                if recomputed(copy) == target { return frame }
            } else if TestFrames.ipv4Checksum(frame) == target {
                return frame
            }
        }
        return nil
    }

    @Test("checksum 0x0000 before the decrement")
    func zeroBefore() throws {
        let frame = try #require(frameWithChecksum(0x0000, afterDecrement: false))
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(ok && TestFrames.ipv4HeaderVerifies(after))
        #expect(TestFrames.ipv4Checksum(after) == 0x0100)
    }

    @Test("checksum 0xFFFF (the other zero) before the decrement")
    func negativeZeroBefore() throws {
        var frame = try #require(frameWithChecksum(0x0000, afterDecrement: false))
        frame[24] = 0xff
        frame[25] = 0xff
        #expect(TestFrames.ipv4HeaderVerifies(frame), "0xFFFF is an equally valid encoding here")
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(ok && TestFrames.ipv4HeaderVerifies(after))
        #expect(TestFrames.ipv4Checksum(after) == recomputed(after))
    }

    @Test("checksum becomes 0x0000 after the decrement")
    func zeroAfter() throws {
        let frame = try #require(frameWithChecksum(0x0000, afterDecrement: true))
        #expect(TestFrames.ipv4Checksum(frame) == 0xfeff)
        let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
        #expect(ok && TestFrames.ipv4Checksum(after) == 0x0000)
        #expect(TestFrames.ipv4HeaderVerifies(after))
    }

    @Test("checksum 0xFFFF is never produced from a valid header")
    func neverNegativeZero() {
        #expect(frameWithChecksum(0xffff, afterDecrement: false) == nil)
        #expect(frameWithChecksum(0xffff, afterDecrement: true) == nil)
    }

    @Test("1,000 random headers: incremental == recomputed")
    func randomHeaders() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<1_000 {
            let options = (0..<(4 * Int.random(in: 0...10, using: &rng))).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let frame = TestFrames.ipv4(source: .random(in: 0...UInt32.max, using: &rng),
                                        destination: .random(in: 0...UInt32.max, using: &rng),
                                        ttl: .random(in: 2...255, using: &rng),
                                        protocol: .random(in: 0...255, using: &rng), options: options,
                                        fragment: .random(in: 0...UInt16.max, using: &rng),
                                        identification: .random(in: 0...UInt16.max, using: &rng))
            let (ok, after) = mutate(frame) { IPv4TTL.decrement(&$0, l3Offset: 14) }
            #expect(ok && after[22] == frame[22] - 1)
            #expect(TestFrames.ipv4Checksum(after) == recomputed(after))
        }
    }

    @Test("isValidIPv4Header: good, corrupted, with options")
    func validity() {
        for frame in [TestFrames.ipv4(), TestFrames.ipv4(options: [UInt8](repeating: 0x44, count: 40))] {
            let length = Int(frame[14] & 0x0f) * 4
            #expect(InternetChecksum.isValidIPv4Header(frame.span.bytes, l3Offset: 14, headerLength: length) == true)
            for byte in 14..<(14 + length) {
                var bad = frame
                bad[byte] ^= 0x10
                #expect(InternetChecksum.isValidIPv4Header(bad.span.bytes, l3Offset: 14, headerLength: length) == false)
            }
        }
    }

    @Test("IPv6 hop limit: decremented; 1 and 0 left alone")
    func hopLimit() {
        let frame = TestFrames.ipv6(hopLimit: 64, tags: [0x8100])
        let (ok, after) = mutate(frame) { IPv6HopLimit.decrement(&$0, l3Offset: 18) }
        #expect(ok && after[25] == 63)
        var expected = frame
        expected[25] = 63
        #expect(after == expected)
        for limit: UInt8 in [0, 1] {
            let expiring = TestFrames.ipv6(hopLimit: limit)
            let (ok, unchanged) = mutate(expiring) { IPv6HopLimit.decrement(&$0, l3Offset: 14) }
            #expect(!ok && unchanged == expiring)
        }
    }

    @Test("MAC rewrite touches only bytes 0...11")
    func macRewrite() {
        let frame = TestFrames.ipv4()
        let destination = MACAddress(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f)
        let source = MACAddress(bytes: [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc])!
        let (_, after) = mutate(frame) { EthernetAddresses.rewrite(&$0, destination: destination, source: source) }
        #expect(Array(after[0..<6]) == [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f])
        #expect(Array(after[6..<12]) == [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc])
        #expect(Array(after[12...]) == Array(frame[12...]))
    }

    @Test("MACAddress bytes, description, group bit")
    func macAddress() {
        let mac = MACAddress(bytes: [0x02, 0x00, 0x5e, 0x10, 0xab, 0x0c])!
        #expect(mac.value == 0x0200_5e10_ab0c && mac.bytes == [0x02, 0x00, 0x5e, 0x10, 0xab, 0x0c])
        #expect(mac.description == "02:00:5e:10:ab:0c" && !mac.isGroup)
        #expect(MACAddress.broadcast.isGroup && MACAddress(0x3333_0000_0001).isGroup)
        #expect(MACAddress(bytes: [1, 2, 3]) == nil)
        #expect(MACAddress(0xffff_0000_0000_0001).value == 0x0000_0000_0001)
    }
}
