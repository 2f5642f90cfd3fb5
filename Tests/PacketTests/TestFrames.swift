#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Packet

/// Builds frames for the parser, checksum and forwarder tests.
enum TestFrames {
    static let routerMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    static let hostMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0xaa]

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }

    /// Ethernet header with `tags` (TPIDs, outermost first; TCI = 100, 101, ...).
    static func ethernet(destination: [UInt8] = routerMAC, source: [UInt8] = hostMAC, tags: [UInt16] = [],
                         etherType: UInt16) -> [UInt8] {
        var bytes = destination + source
        for (index, tpid) in tags.enumerated() { bytes += be16(tpid) + be16(UInt16(100 + index)) }
        return bytes + be16(etherType)
    }

    /// An 8-byte UDP header (length covers `extra` payload bytes).
    static func udp(_ sourcePort: UInt16, _ destinationPort: UInt16, extra: Int = 0) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + extra)) + [0, 0] + [UInt8](repeating: 0x5a, count: extra)
    }

    /// A 20-byte TCP header.
    static func tcp(_ sourcePort: UInt16, _ destinationPort: UInt16) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
    }

    /// Ethernet + IPv4 (checksum correct) + `payload`, padded with zeros to `padTo`.
    static func ipv4(source: UInt32 = ip(192, 0, 2, 10), destination: UInt32 = ip(198, 51, 100, 20), ttl: UInt8 = 64,
                     protocol ipProtocol: UInt8 = 17, options: [UInt8] = [], fragment: UInt16 = 0x4000,
                     identification: UInt16 = 0x1234, payload: [UInt8] = udp(1234, 80),
                     tags: [UInt16] = [], destinationMAC: [UInt8] = routerMAC, padTo: Int = 0) -> [UInt8] {
        precondition(options.count % 4 == 0 && options.count <= 40)
        let headerLength = 20 + options.count
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0]
        header += be16(UInt16(headerLength + payload.count)) + be16(identification) + be16(fragment)
        header += [ttl, ipProtocol, 0, 0] + be32(source) + be32(destination) + options
        let checksum = InternetChecksum.compute(header.span.bytes)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xff)
        var frame = ethernet(destination: destinationMAC, tags: tags, etherType: 0x0800) + header + payload
        if frame.count < padTo { frame += [UInt8](repeating: 0, count: padTo - frame.count) }
        return frame
    }

    /// Ethernet + IPv6 + `payload`.
    static func ipv6(source: IPv6Address = v6(0x2001_0db8_0001_0000, 0x10),
                     destination: IPv6Address = v6(0x2001_0db8_0002_0000, 0x20), hopLimit: UInt8 = 64,
                     nextHeader: UInt8 = 17, payload: [UInt8] = udp(5353, 443), tags: [UInt16] = [],
                     destinationMAC: [UInt8] = routerMAC) -> [UInt8] {
        var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [nextHeader, hopLimit]
        header += source.bytes + destination.bytes
        return ethernet(destination: destinationMAC, tags: tags, etherType: 0x86dd) + header + payload
    }

    /// A broadcast ARP request.
    static func arp(tags: [UInt16] = []) -> [UInt8] {
        ethernet(destination: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], tags: tags, etherType: 0x0806)
            + [0, 1, 8, 0, 6, 4, 0, 1] + hostMAC + be32(ip(192, 0, 2, 10)) + [0, 0, 0, 0, 0, 0] + be32(ip(192, 0, 2, 1))
    }

    /// The IPv4 header's 16-bit checksum field.
    static func ipv4Checksum(_ frame: [UInt8], l3Offset: Int = 14) -> UInt16 {
        UInt16(frame[l3Offset + 10]) << 8 | UInt16(frame[l3Offset + 11])
    }

    /// Whether the IPv4 header at `l3Offset` sums to zero (verifies).
    static func ipv4HeaderVerifies(_ frame: [UInt8], l3Offset: Int = 14) -> Bool {
        let headerLength = Int(frame[l3Offset] & 0x0f) * 4
        return InternetChecksum.compute(frame[l3Offset..<(l3Offset + headerLength)].span.bytes) == 0
    }
}

/// Host-order IPv4 address from dotted-quad parts.
func ip(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> UInt32 {
    UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
}

/// IPv6 address from its two halves.
func v6(_ high: UInt64, _ low: UInt64) -> IPv6Address { IPv6Address(high: high, low: low) }

/// Memory whose end is followed by an inaccessible page: bytes copied in end
/// exactly at the guard, so any read past the buffer's end faults.
final class GuardedBuffer {
    let pageSize: Int
    let region: UnsafeMutableRawPointer

    init() {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = mmap(nil, 2 * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0)
        precondition(mapped != MAP_FAILED && mapped != nil, "mmap failed")
        region = mapped!
        precondition(mprotect(region + pageSize, pageSize, PROT_NONE) == 0, "mprotect failed")
    }

    deinit { munmap(region, 2 * pageSize) }

    /// Copies `bytes` to end at the guard page and calls `body` with them
    /// (writable); returns what `body` returns and the bytes afterwards.
    func with<R>(_ bytes: [UInt8], _ body: (inout MutableRawSpan) -> R) -> (R, [UInt8]) {
        precondition(bytes.count <= pageSize)
        let start = region + pageSize - bytes.count
        let buffer = UnsafeMutableRawBufferPointer(start: start, count: bytes.count)
        if !bytes.isEmpty { buffer.copyBytes(from: bytes) }
        var span = MutableRawSpan(_unsafeBytes: buffer)
        let result = body(&span)
        return (result, Array(buffer))
    }

    /// Parses `bytes` placed against the guard page.
    func parse(_ bytes: [UInt8]) -> Result<ParsedPacket, ParseError> {
        with(bytes) { buffer in
            Result { () throws(ParseError) in try ParsedPacket.parse(buffer.bytes) }
        }.0
    }
}

/// A small deterministic generator (SplitMix64) for reproducible random tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with the array's bytes as a `MutableRawSpan`.
    mutating func withMutableBytes<R>(_ body: (inout MutableRawSpan) throws -> R) rethrows -> R {
        var span = mutableSpan
        var bytes = span.mutableBytes
        return try body(&bytes)
    }
}
