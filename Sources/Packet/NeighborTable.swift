// The neighbor (ARP / NDP) cache the fast path resolves next hops with:
// (IP address, interface index) → MAC address and state, mirroring the
// kernel's neighbor table (`ip neigh`).

/// One neighbor entry: a MAC address and how far it can be trusted.
@frozen
public struct Neighbor: Hashable, Sendable {
    /// Neighbor states, as the kernel's NUD states (`NUD_*`).
    public enum State: Hashable, Sendable {
        /// Resolution in progress: no MAC yet. Unusable.
        case incomplete
        /// Confirmed recently. Usable.
        case reachable
        /// Not confirmed recently but presumed valid. Usable.
        case stale
        /// Stale and used, confirmation pending. Usable.
        case delay
        /// Being probed. Usable.
        case probe
        /// Resolution failed. Unusable.
        case failed
        /// No resolution needed on this link (`NUD_NOARP`). Usable.
        case noARP
        /// Configured statically. Usable.
        case permanent

        /// Whether a packet may be sent to the entry's MAC in this state.
        @inlinable
        public var isUsable: Bool {
            switch self {
            case .incomplete, .failed: return false
            case .reachable, .stale, .delay, .probe, .noARP, .permanent: return true
            }
        }
    }

    /// The neighbor's MAC address (meaningless while not ``State/isUsable``).
    public var mac: MACAddress
    /// The entry's state.
    public var state: State

    /// Creates an entry.
    @inlinable
    public init(mac: MACAddress, state: State) {
        self.mac = mac
        self.state = state
    }

    /// Whether a packet may be sent to ``mac``.
    @inlinable
    public var isUsable: Bool { state.isUsable }
}

/// IP address + interface index → ``Neighbor``, for IPv4 and IPv6.
///
/// A value type: the owner builds or edits a copy and swaps it in whole.
public struct NeighborTable: Sendable, Equatable {
    @usableFromInline
    struct V4Key: LinearProbeKey {
        @usableFromInline var address: UInt32
        @usableFromInline var interface: Int32
        @inlinable init(_ address: UInt32, _ interface: Int32) {
            self.address = address
            self.interface = interface
        }
        @inlinable var probeDigest: UInt64 { UInt64(address) | UInt64(UInt32(bitPattern: interface)) << 32 }
    }

    @usableFromInline
    struct V6Key: LinearProbeKey {
        @usableFromInline var address: IPv6Address
        @usableFromInline var interface: Int32
        @inlinable init(_ address: IPv6Address, _ interface: Int32) {
            self.address = address
            self.interface = interface
        }
        @inlinable var probeDigest: UInt64 { address.prefixDigest ^ UInt64(UInt32(bitPattern: interface)) &* 0xff51_afd7_ed55_8ccd }
    }

    @usableFromInline
    var v4 = LinearProbeMap<V4Key, Neighbor>()
    @usableFromInline
    var v6 = LinearProbeMap<V6Key, Neighbor>()

    /// Creates an empty table.
    public init() {}

    /// Number of entries, IPv4 and IPv6, in any state.
    public var count: Int { v4.count + v6.count }

    /// Whether the table has no entries.
    public var isEmpty: Bool { v4.count == 0 && v6.count == 0 }

    /// Adds or replaces the entry for `address` on `interface`.
    /// - Parameters:
    ///   - neighbor: The MAC and state.
    ///   - address: The neighbor's IP address.
    ///   - interface: The interface index it is reached through.
    /// - Returns: The entry it replaced, if any.
    @discardableResult
    public mutating func set(_ neighbor: Neighbor, for address: IPAddress, interface: Int32) -> Neighbor? {
        switch address {
        case .v4(let a): return v4.updateValue(neighbor, forKey: V4Key(a, interface))
        case .v6(let a): return v6.updateValue(neighbor, forKey: V6Key(a, interface))
        }
    }

    /// Removes the entry for `address` on `interface`.
    /// - Returns: The removed entry, if there was one.
    @discardableResult
    public mutating func remove(_ address: IPAddress, interface: Int32) -> Neighbor? {
        switch address {
        case .v4(let a): return v4.removeValue(forKey: V4Key(a, interface))
        case .v6(let a): return v6.removeValue(forKey: V6Key(a, interface))
        }
    }

    /// Removes every entry on `interface` (e.g. when it goes down).
    public mutating func removeAll(interface: Int32) {
        v4.filter { key, _ in key.interface != interface }
        v6.filter { key, _ in key.interface != interface }
    }

    /// Every entry, IPv4 first (order otherwise unspecified).
    public var entries: [(address: IPAddress, interface: Int32, neighbor: Neighbor)] {
        v4.entries.map { (address: IPAddress.v4($0.key.address), interface: $0.key.interface, neighbor: $0.value) }
            + v6.entries.map { (address: IPAddress.v6($0.key.address), interface: $0.key.interface, neighbor: $0.value) }
    }

    /// The entry for `address` on `interface`, in whatever state.
    @inlinable
    public func entry(for address: IPAddress, interface: Int32) -> Neighbor? {
        switch address {
        case .v4(let a): return v4[V4Key(a, interface)]
        case .v6(let a): return v6[V6Key(a, interface)]
        }
    }

    /// The MAC to send to `address` on `interface`, or `nil` if there is no
    /// entry or its state is unusable (incomplete, failed).
    @inlinable
    public func usableMAC(for address: IPAddress, interface: Int32) -> MACAddress? {
        guard let neighbor = entry(for: address, interface: interface), neighbor.isUsable else { return nil }
        return neighbor.mac
    }

    /// IPv4 shortcut for ``usableMAC(for:interface:)``.
    @inlinable
    public func usableMAC(forIPv4 address: UInt32, interface: Int32) -> MACAddress? {
        guard let neighbor = v4[V4Key(address, interface)], neighbor.isUsable else { return nil }
        return neighbor.mac
    }

    /// IPv6 shortcut for ``usableMAC(for:interface:)``.
    @inlinable
    public func usableMAC(forIPv6 address: IPv6Address, interface: Int32) -> MACAddress? {
        guard let neighbor = v6[V6Key(address, interface)], neighbor.isUsable else { return nil }
        return neighbor.mac
    }
}
