// Longest-prefix-match route tables for IPv4 and IPv6.
//
// Layout: one open-addressing hash index keyed by (masked prefix, length),
// and the list of prefix lengths in use, longest first. A lookup masks the
// address to each length in use and probes the index: one probe (a multiply
// and usually one slot) per distinct prefix length, no allocation. Insert
// and remove are single index updates, so building a fresh table is cheap;
// the table is a value type, so an owner can build a new one aside and swap
// it in whole.
//
// The index, `LinearProbeMap`, also backs the neighbor table and the
// forwarder's address and interface lookups.

/// Where a route sends packets: out of an interface, straight to the
/// destination (connected) or through a gateway.
@frozen
public struct Route: Hashable, Sendable {
    /// The next hop of a route.
    public enum NextHop: Hashable, Sendable {
        /// The destination is on the link: resolve the destination itself.
        case connected
        /// Send through this gateway: resolve the gateway's address.
        case gateway(IPAddress)
    }

    /// The next hop.
    public var nextHop: NextHop
    /// The output interface index (`ifindex`).
    public var outputInterface: Int32

    /// Creates a route.
    @inlinable
    public init(nextHop: NextHop, outputInterface: Int32) {
        self.nextHop = nextHop
        self.outputInterface = outputInterface
    }

    /// A directly connected route out of `interface`.
    @inlinable
    public static func connected(interface: Int32) -> Route { Route(nextHop: .connected, outputInterface: interface) }

    /// A route through `gateway` out of `interface`.
    @inlinable
    public static func gateway(_ gateway: IPAddress, interface: Int32) -> Route {
        Route(nextHop: .gateway(gateway), outputInterface: interface)
    }

    /// The address whose MAC the packet goes to: the gateway, or the
    /// destination itself for a connected route.
    /// - Parameter destination: The packet's destination.
    @inlinable
    public func neighborAddress(for destination: IPAddress) -> IPAddress {
        switch nextHop {
        case .connected: return destination
        case .gateway(let gateway): return gateway
        }
    }
}

/// An address type a ``PrefixTable`` can key on: a fixed-width bit string that
/// can be cut to a prefix.
public protocol PrefixAddress: Hashable, Sendable {
    /// Bits in an address: 32 for IPv4, 128 for IPv6.
    static var prefixBitWidth: Int { get }
    /// The address with every bit after the first `length` cleared.
    /// - Parameter length: 0...``prefixBitWidth``.
    func masked(toPrefixLength length: Int) -> Self
    /// A cheap, non-cryptographic 64-bit digest of the address for the
    /// table's open-addressing index (equal addresses, equal digests).
    var prefixDigest: UInt64 { get }
}

extension UInt32: PrefixAddress {
    /// 32: IPv4 addresses as host-order integers.
    @inlinable
    public static var prefixBitWidth: Int { 32 }

    /// The IPv4 address with every bit after the first `length` cleared.
    /// - Parameter length: 0...32.
    @inlinable
    public func masked(toPrefixLength length: Int) -> UInt32 {
        // Smart shift: a shift by 32 gives 0, so /0 masks everything away.
        self & (UInt32.max << (32 - length))
    }

    /// The address itself, widened.
    @inlinable
    public var prefixDigest: UInt64 { UInt64(self) }
}

extension IPv6Address: PrefixAddress {
    /// 128.
    @inlinable
    public static var prefixBitWidth: Int { 128 }

    /// Both halves folded together.
    @inlinable
    public var prefixDigest: UInt64 { high ^ (low &* 0xc2b2_ae3d_27d4_eb4f) ^ (low >> 29) }
}

/// A longest-prefix-match table from address prefixes to values.
///
/// Use ``IPv4RouteTable`` and ``IPv6RouteTable``. Prefixes are stored masked
/// to their length, so `10.1.2.3/8` and `10.0.0.0/8` are the same entry.
public struct PrefixTable<Address: PrefixAddress, Value> {
    /// All entries, keyed by (masked prefix, length).
    @usableFromInline
    var map: LinearProbeMap<PrefixKey<Address>, Value>
    /// Entries per prefix length (index = length).
    @usableFromInline
    var lengthCounts: [Int]
    /// The prefix lengths that have entries, longest first.
    @usableFromInline
    var activeLengths: [Int]

    /// Creates an empty table.
    public init() {
        map = LinearProbeMap()
        lengthCounts = Array(repeating: 0, count: Address.prefixBitWidth + 1)
        activeLengths = []
    }

    /// Number of prefixes in the table.
    @inlinable
    public var count: Int { map.count }

    /// Whether the table has no prefixes.
    @inlinable
    public var isEmpty: Bool { map.count == 0 }

    /// Adds or replaces the value for `prefix/length`.
    /// - Parameters:
    ///   - value: The value (route) for the prefix.
    ///   - prefix: The prefix; bits after `length` are ignored.
    ///   - length: Prefix length, 0...32 (IPv4) or 0...128 (IPv6); traps outside.
    /// - Returns: The value it replaced, if any.
    @discardableResult
    public mutating func insert(_ value: Value, prefix: Address, length: Int) -> Value? {
        precondition(length >= 0 && length <= Address.prefixBitWidth, "prefix length \(length) out of range")
        let old = map.updateValue(value, forKey: PrefixKey(prefix.masked(toPrefixLength: length), length))
        if old == nil {
            lengthCounts[length] += 1
            if lengthCounts[length] == 1 {
                let position = activeLengths.firstIndex { $0 < length } ?? activeLengths.endIndex
                activeLengths.insert(length, at: position)
            }
        }
        return old
    }

    /// Removes `prefix/length`.
    /// - Parameters:
    ///   - prefix: The prefix; bits after `length` are ignored.
    ///   - length: Prefix length; traps outside the address width.
    /// - Returns: The removed value, or `nil` if there was none.
    @discardableResult
    public mutating func remove(prefix: Address, length: Int) -> Value? {
        precondition(length >= 0 && length <= Address.prefixBitWidth, "prefix length \(length) out of range")
        guard let old = map.removeValue(forKey: PrefixKey(prefix.masked(toPrefixLength: length), length)) else {
            return nil
        }
        lengthCounts[length] -= 1
        if lengthCounts[length] == 0 { activeLengths.removeAll { $0 == length } }
        return old
    }

    /// Removes every prefix.
    public mutating func removeAll() { self = PrefixTable() }

    /// The value stored for exactly `prefix/length` (no longest-match search).
    /// - Parameters:
    ///   - prefix: The prefix; bits after `length` are ignored.
    ///   - length: Prefix length; traps outside the address width.
    public func value(prefix: Address, length: Int) -> Value? {
        precondition(length >= 0 && length <= Address.prefixBitWidth, "prefix length \(length) out of range")
        return map[PrefixKey(prefix.masked(toPrefixLength: length), length)]
    }

    /// The value of the longest prefix containing `address`.
    /// - Parameter address: The address to look up (a packet destination).
    /// - Returns: The best match's value, or `nil` if no prefix (not even a
    ///   /0 default) contains `address`.
    @inlinable
    public func lookup(_ address: Address) -> Value? {
        for length in activeLengths {
            if let value = map[PrefixKey(address.masked(toPrefixLength: length), length)] { return value }
        }
        return nil
    }

    /// The longest prefix containing `address`, with its length and value.
    /// - Parameter address: The address to look up.
    @inlinable
    public func match(_ address: Address) -> (prefix: Address, length: Int, value: Value)? {
        for length in activeLengths {
            let key = address.masked(toPrefixLength: length)
            if let value = map[PrefixKey(key, length)] { return (key, length, value) }
        }
        return nil
    }

    /// Every entry, longest prefixes first (order within a length unspecified).
    public var entries: [(prefix: Address, length: Int, value: Value)] {
        map.entries.map { (prefix: $0.key.address, length: Int($0.key.length), value: $0.value) }
            .sorted { $0.length > $1.length }
    }
}

extension PrefixTable: Sendable where Value: Sendable {}

extension PrefixTable: Equatable where Value: Equatable {
    /// Tables are equal when they hold the same prefixes with equal values.
    public static func == (lhs: PrefixTable, rhs: PrefixTable) -> Bool {
        lhs.map == rhs.map
    }
}

/// IPv4 routes: host-order `UInt32` prefixes, /0.../32.
public typealias IPv4RouteTable = PrefixTable<UInt32, Route>

/// IPv6 routes: ``IPv6Address`` prefixes, /0.../128.
public typealias IPv6RouteTable = PrefixTable<IPv6Address, Route>

/// A prefix table key: a masked prefix and its length.
@usableFromInline
struct PrefixKey<Address: PrefixAddress>: LinearProbeKey {
    @usableFromInline var address: Address
    @usableFromInline var length: UInt8

    @inlinable @inline(__always)
    init(_ address: Address, _ length: Int) {
        self.address = address
        self.length = UInt8(truncatingIfNeeded: length)
    }

    @inlinable
    var probeDigest: UInt64 { address.prefixDigest ^ UInt64(length) &<< 40 }
}

// MARK: - The index under the route and neighbor tables

/// A key of a ``LinearProbeMap``: equality plus a cheap 64-bit digest.
@usableFromInline
protocol LinearProbeKey: Equatable, Sendable {
    /// Equal keys must have equal digests; the map mixes it further.
    var probeDigest: UInt64 { get }
}

extension UInt32: LinearProbeKey {
    @inlinable
    var probeDigest: UInt64 { UInt64(self) }
}

extension Int32: LinearProbeKey {
    @inlinable
    var probeDigest: UInt64 { UInt64(UInt32(bitPattern: self)) }
}

extension IPv6Address: LinearProbeKey {
    @inlinable
    var probeDigest: UInt64 { prefixDigest }
}

/// A hash map for the per-packet lookups: open addressing with linear
/// probing, Fibonacci hashing of the key's digest (no SipHash), load factor
/// at most 1/2, backward-shift deletion (no tombstones). A value type with
/// copy-on-write storage (one array); lookups never allocate.
///
/// The digest is not keyed, so an adversary choosing *table contents* could
/// build long probe chains; table contents here come from the host's own
/// configuration (routes, neighbors, addresses), and packets only look up.
@usableFromInline
struct LinearProbeMap<Key: LinearProbeKey, Value> {
    @usableFromInline
    struct Slot {
        @usableFromInline var key: Key
        @usableFromInline var value: Value
        @inlinable init(_ key: Key, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// Capacity is 0 or a power of two ≥ 8.
    @usableFromInline var slots: [Slot?] = []
    /// 64 − log2(capacity): the home slot is the digest's product's top bits.
    @usableFromInline var shift: UInt64 = 64
    @usableFromInline var count = 0

    @inlinable
    init() {}

    @inlinable @inline(__always)
    func home(_ key: Key) -> Int {
        Int(truncatingIfNeeded: (key.probeDigest &* 0x9e37_79b9_7f4a_7c15) &>> shift)
    }

    @inlinable
    subscript(key: Key) -> Value? {
        guard count != 0 else { return nil }
        let mask = slots.count &- 1
        var index = home(key)
        while let slot = slots[index] {
            if slot.key == key { return slot.value }
            index = (index &+ 1) & mask
        }
        return nil
    }

    @usableFromInline
    mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        if (count + 1) * 2 > slots.count { resize(to: Swift.max(8, slots.count * 2)) }
        let mask = slots.count - 1
        var index = home(key)
        while let slot = slots[index] {
            if slot.key == key {
                slots[index] = Slot(key, value)
                return slot.value
            }
            index = (index + 1) & mask
        }
        slots[index] = Slot(key, value)
        count += 1
        return nil
    }

    @usableFromInline
    mutating func removeValue(forKey key: Key) -> Value? {
        guard count != 0 else { return nil }
        let mask = slots.count - 1
        var index = home(key)
        while let slot = slots[index] {
            if slot.key == key {
                // Backward shift: pull later members of the probe run into
                // the hole when the hole lies on their path from home.
                var hole = index
                var next = (hole + 1) & mask
                while let candidate = slots[next] {
                    let candidateHome = home(candidate.key)
                    if (hole - candidateHome) & mask < (next - candidateHome) & mask {
                        slots[hole] = candidate
                        hole = next
                    }
                    next = (next + 1) & mask
                }
                slots[hole] = nil
                count -= 1
                return slot.value
            }
            index = (index + 1) & mask
        }
        return nil
    }

    @usableFromInline
    mutating func resize(to capacity: Int) {
        let old = slots
        slots = Array(repeating: nil, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        count = 0
        for case let slot? in old { _ = updateValue(slot.value, forKey: slot.key) }
    }

    /// Keeps the entries for which `isIncluded` is true.
    @usableFromInline
    mutating func filter(_ isIncluded: (Key, Value) -> Bool) {
        var kept = LinearProbeMap()
        for case let slot? in slots where isIncluded(slot.key, slot.value) { _ = kept.updateValue(slot.value, forKey: slot.key) }
        self = kept
    }

    @usableFromInline
    var entries: [(key: Key, value: Value)] {
        slots.compactMap { slot in slot.map { (key: $0.key, value: $0.value) } }
    }
}

extension LinearProbeMap: Sendable where Value: Sendable {}
extension LinearProbeMap.Slot: Sendable where Value: Sendable {}

extension LinearProbeMap: Equatable where Value: Equatable {
    @usableFromInline
    static func == (lhs: LinearProbeMap, rhs: LinearProbeMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for case let slot? in lhs.slots where rhs[slot.key] != slot.value { return false }
        return true
    }
}
