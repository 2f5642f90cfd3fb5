@testable import Packet
import Testing

@Suite("Longest-prefix-match route tables")
struct RouteTableTests {
    static func out(_ interface: Int32) -> Route { .connected(interface: interface) }

    func ipv4Table() -> IPv4RouteTable {
        var table = IPv4RouteTable()
        table.insert(.gateway(.v4(ip(10, 0, 0, 1)), interface: 1), prefix: 0, length: 0)
        table.insert(Self.out(2), prefix: ip(10, 0, 0, 0), length: 8)
        table.insert(Self.out(3), prefix: ip(10, 1, 0, 0), length: 16)
        table.insert(Self.out(4), prefix: ip(10, 1, 2, 0), length: 24)
        table.insert(Self.out(5), prefix: ip(10, 1, 2, 3), length: 32)
        return table
    }

    @Test("the longest matching prefix wins")
    func longestMatch() {
        let table = ipv4Table()
        #expect(table.count == 5)
        #expect(table.lookup(ip(10, 1, 2, 3)) == Self.out(5))
        #expect(table.lookup(ip(10, 1, 2, 4)) == Self.out(4))
        #expect(table.lookup(ip(10, 1, 3, 3)) == Self.out(3))
        #expect(table.lookup(ip(10, 2, 2, 3)) == Self.out(2))
        #expect(table.lookup(ip(11, 1, 2, 3)) == .gateway(.v4(ip(10, 0, 0, 1)), interface: 1))
        let match = table.match(ip(10, 1, 9, 9))
        #expect(match?.prefix == ip(10, 1, 0, 0) && match?.length == 16 && match?.value == Self.out(3))
    }

    @Test("default route only; no default means no match")
    func defaultRoute() {
        var table = IPv4RouteTable()
        #expect(table.lookup(ip(1, 2, 3, 4)) == nil && table.isEmpty)
        table.insert(Self.out(9), prefix: ip(1, 2, 3, 4), length: 0)  // stored as 0.0.0.0/0
        for address in [0, UInt32.max, ip(192, 168, 1, 1)] { #expect(table.lookup(address) == Self.out(9)) }
        #expect(table.value(prefix: 0, length: 0) == Self.out(9))
        table.insert(Self.out(7), prefix: ip(192, 168, 0, 0), length: 16)
        table.remove(prefix: 0, length: 0)
        #expect(table.lookup(ip(8, 8, 8, 8)) == nil && table.lookup(ip(192, 168, 3, 3)) == Self.out(7))
    }

    @Test("/32 host routes match only their address")
    func hostRoutes() {
        var table = IPv4RouteTable()
        table.insert(Self.out(1), prefix: ip(203, 0, 113, 7), length: 32)
        table.insert(Self.out(2), prefix: UInt32.max, length: 32)
        table.insert(Self.out(3), prefix: 0, length: 32)
        #expect(table.lookup(ip(203, 0, 113, 7)) == Self.out(1))
        #expect(table.lookup(ip(203, 0, 113, 6)) == nil && table.lookup(ip(203, 0, 113, 8)) == nil)
        #expect(table.lookup(UInt32.max) == Self.out(2) && table.lookup(0) == Self.out(3))
    }

    @Test("prefixes are masked; inserting again replaces")
    func normalisation() {
        var table = IPv4RouteTable()
        #expect(table.insert(Self.out(1), prefix: ip(10, 9, 8, 7), length: 8) == nil)
        #expect(table.value(prefix: ip(10, 0, 0, 0), length: 8) == Self.out(1))
        #expect(table.insert(Self.out(2), prefix: ip(10, 0, 0, 0), length: 8) == Self.out(1))
        #expect(table.count == 1 && table.lookup(ip(10, 200, 0, 1)) == Self.out(2))
        #expect(table.entries.count == 1 && table.entries[0].prefix == ip(10, 0, 0, 0))
    }

    @Test("removal falls back to the next shorter prefix")
    func removal() {
        var table = ipv4Table()
        #expect(table.remove(prefix: ip(10, 1, 2, 3), length: 32) == Self.out(5))
        #expect(table.lookup(ip(10, 1, 2, 3)) == Self.out(4) && table.count == 4)
        #expect(table.remove(prefix: ip(10, 1, 2, 99), length: 24) == Self.out(4))  // host bits ignored
        #expect(table.lookup(ip(10, 1, 2, 3)) == Self.out(3))
        #expect(table.remove(prefix: ip(10, 1, 2, 0), length: 24) == nil, "already gone")
        #expect(table.remove(prefix: ip(10, 1, 0, 0), length: 17) == nil, "wrong length")
        table.remove(prefix: ip(10, 1, 0, 0), length: 16)
        table.remove(prefix: ip(10, 0, 0, 0), length: 8)
        table.remove(prefix: 0, length: 0)
        #expect(table.isEmpty && table.count == 0 && table.activeLengths.isEmpty)
        #expect(table.lookup(ip(10, 1, 2, 3)) == nil)
        #expect(table == IPv4RouteTable())
    }

    @Test("value semantics: a copy is independent")
    func valueSemantics() {
        let original = ipv4Table()
        var copy = original
        copy.remove(prefix: ip(10, 0, 0, 0), length: 8)
        copy.insert(Self.out(42), prefix: ip(172, 16, 0, 0), length: 12)
        #expect(original.lookup(ip(10, 9, 9, 9)) == Self.out(2) && original.lookup(ip(172, 16, 1, 1))?.outputInterface == 1)
        #expect(copy.lookup(ip(10, 9, 9, 9))?.outputInterface == 1 && copy.lookup(ip(172, 31, 1, 1)) == Self.out(42))
        #expect(original != copy)
        copy.removeAll()
        #expect(copy.isEmpty)
    }

    @Test("UInt32 masks at /0, /1, /31, /32")
    func ipv4Masks() {
        let address = ip(255, 255, 255, 255)
        #expect(address.masked(toPrefixLength: 0) == 0)
        #expect(address.masked(toPrefixLength: 1) == 0x8000_0000)
        #expect(address.masked(toPrefixLength: 31) == 0xffff_fffe)
        #expect(address.masked(toPrefixLength: 32) == address)
    }

    @Test("IPv6 masks across the 64-bit halves")
    func ipv6Masks() {
        let all = v6(.max, .max)
        #expect(all.masked(toPrefixLength: 0) == v6(0, 0))
        #expect(all.masked(toPrefixLength: 1) == v6(0x8000_0000_0000_0000, 0))
        #expect(all.masked(toPrefixLength: 63) == v6(0xffff_ffff_ffff_fffe, 0))
        #expect(all.masked(toPrefixLength: 64) == v6(.max, 0))
        #expect(all.masked(toPrefixLength: 65) == v6(.max, 0x8000_0000_0000_0000))
        #expect(all.masked(toPrefixLength: 127) == v6(.max, 0xffff_ffff_ffff_fffe))
        #expect(all.masked(toPrefixLength: 128) == all)
    }

    @Test("IPv6: longest match, default, /128, removal")
    func ipv6() {
        var table = IPv6RouteTable()
        let gateway = Route.gateway(.v6(v6(0xfe80_0000_0000_0000, 1)), interface: 1)
        table.insert(gateway, prefix: .unspecified, length: 0)
        table.insert(Self.out(2), prefix: v6(0x2001_0db8_0000_0000, 0), length: 32)
        table.insert(Self.out(3), prefix: v6(0x2001_0db8_0001_0000, 0), length: 48)
        table.insert(Self.out(4), prefix: v6(0x2001_0db8_0001_0002, 0), length: 64)
        table.insert(Self.out(5), prefix: v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0000), length: 65)
        table.insert(Self.out(6), prefix: v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0001), length: 128)
        #expect(table.count == 6)
        #expect(table.lookup(v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0001)) == Self.out(6))
        #expect(table.lookup(v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0002)) == Self.out(5))
        #expect(table.lookup(v6(0x2001_0db8_0001_0002, 0x7fff_0000_0000_0000)) == Self.out(4))
        #expect(table.lookup(v6(0x2001_0db8_0001_0003, 0)) == Self.out(3))
        #expect(table.lookup(v6(0x2001_0db8_ffff_0000, 0)) == Self.out(2))
        #expect(table.lookup(v6(0x2001_0db9_0000_0000, 0)) == gateway)
        #expect(table.remove(prefix: v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0001), length: 128) == Self.out(6))
        #expect(table.lookup(v6(0x2001_0db8_0001_0002, 0x8000_0000_0000_0001)) == Self.out(5))
        table.remove(prefix: .unspecified, length: 0)
        #expect(table.lookup(v6(0x2001_0db9_0000_0000, 0)) == nil && table.count == 4)
    }

    @Test("the probe map under the tables: churn against a Dictionary")
    func probeMapChurn() {
        var rng = SplitMix64(seed: 99)
        var map = LinearProbeMap<UInt32, Int>()
        var reference: [UInt32: Int] = [:]
        // A small key space forces collisions, long runs and wrap-around.
        for step in 0..<20_000 {
            let key = UInt32.random(in: 0..<600, using: &rng) &* 0x100
            if Int.random(in: 0..<3, using: &rng) == 0 {
                #expect(map.removeValue(forKey: key) == reference.removeValue(forKey: key))
            } else {
                #expect(map.updateValue(step, forKey: key) == reference.updateValue(step, forKey: key))
            }
            if step % 1_000 == 0 {
                #expect(map.count == reference.count)
                for key in stride(from: UInt32(0), to: 600 * 0x100, by: 0x100) { #expect(map[key] == reference[key]) }
            }
        }
        #expect(map.count == reference.count && map.entries.count == reference.count)
        for (key, value) in reference { #expect(map[key] == value) }
        var copy = map
        copy.filter { key, _ in key % 0x200 == 0 }
        #expect(copy.count == reference.keys.filter { $0 % 0x200 == 0 }.count && map.count == reference.count)
        #expect(LinearProbeMap<UInt32, Int>()[5] == nil)
    }

    /// Brute-force LPM over a list, for cross-checking.
    func linearLookup<A: PrefixAddress>(_ entries: [(A, Int, Route)], _ address: A) -> Route? {
        var best: (Int, Route)?
        for (prefix, length, route) in entries where address.masked(toPrefixLength: length) == prefix {
            if best == nil || length > best!.0 { best = (length, route) }
        }
        return best?.1
    }

    @Test("random IPv4 tables agree with a brute-force search")
    func randomIPv4() {
        var rng = SplitMix64(seed: 7)
        var table = IPv4RouteTable()
        var reference: [String: (UInt32, Int, Route)] = [:]  // keyed by "prefix/length"
        for step in 0..<600 {
            let length = Int.random(in: 0...32, using: &rng)
            let prefix = UInt32.random(in: 0...UInt32.max, using: &rng).masked(toPrefixLength: length)
            let route = Self.out(Int32(step))
            table.insert(route, prefix: prefix, length: length)
            reference["\(prefix)/\(length)"] = (prefix, length, route)
            if step % 5 == 0, let victim = reference.randomElement(using: &rng) {
                #expect(table.remove(prefix: victim.value.0, length: victim.value.1) == victim.value.2)
                reference[victim.key] = nil
            }
        }
        #expect(table.count == reference.count)
        let entries = Array(reference.values)
        for _ in 0..<3_000 {
            var address = UInt32.random(in: 0...UInt32.max, using: &rng)
            if Bool.random(using: &rng), let near = entries.randomElement(using: &rng) {
                address = near.0 | (address & ~UInt32.max.masked(toPrefixLength: near.1))
            }
            #expect(table.lookup(address) == linearLookup(entries, address))
        }
    }

    @Test("random IPv6 tables agree with a brute-force search")
    func randomIPv6() {
        var rng = SplitMix64(seed: 8)
        var table = IPv6RouteTable()
        var entries: [(IPv6Address, Int, Route)] = []
        // Prefixes under a few shared roots so that they nest.
        let roots = [v6(0x2001_0db8_0000_0000, 0), v6(0xfd00_0000_0000_0000, 0), v6(0, 0)]
        for step in 0..<400 {
            let length = Int.random(in: 0...128, using: &rng)
            let root = roots.randomElement(using: &rng)!
            let noise = v6(.random(in: 0...UInt64.max, using: &rng) >> 20, .random(in: 0...UInt64.max, using: &rng))
            let prefix = v6(root.high | noise.high, noise.low).masked(toPrefixLength: length)
            guard !entries.contains(where: { $0.0 == prefix && $0.1 == length }) else { continue }
            table.insert(Self.out(Int32(step)), prefix: prefix, length: length)
            entries.append((prefix, length, Self.out(Int32(step))))
        }
        #expect(table.count == entries.count)
        for _ in 0..<2_000 {
            let near = entries.randomElement(using: &rng)!
            let bits = v6(.random(in: 0...UInt64.max, using: &rng), .random(in: 0...UInt64.max, using: &rng))
            let hostMask = v6(.max, .max).masked(toPrefixLength: near.1)
            let address = v6(near.0.high | (bits.high & ~hostMask.high), near.0.low | (bits.low & ~hostMask.low))
            #expect(table.lookup(address) == linearLookup(entries, address))
        }
    }
}
