import CXDP
import Glibc
import Packet
import XDP
import XDPControl

/// Mirrors the kernel's routes (main table), neighbors and local addresses
/// into an ``L3Forwarder`` over rtnetlink: a dump at start and after every
/// change notification, plus static routes and neighbors from the config.
/// `ip route` and `ip neigh` thus configure the fast path, and the kernel
/// keeps resolving neighbors (the BPF program passes ARP and ND to it).
public final class KernelRoutingMirror: @unchecked Sendable {
    /// A static route from the configuration.
    public struct StaticRoute: Sendable, Equatable {
        public var prefix: IPAddress
        public var length: Int
        public var gateway: IPAddress?
        public var interfaceIndex: Int32
        public init(prefix: IPAddress, length: Int, gateway: IPAddress?, interfaceIndex: Int32) {
            self.prefix = prefix
            self.length = length
            self.gateway = gateway
            self.interfaceIndex = interfaceIndex
        }
    }

    /// A static neighbor from the configuration.
    public struct StaticNeighbor: Sendable, Equatable {
        public var address: IPAddress
        public var mac: MACAddress
        public var interfaceIndex: Int32
        public init(address: IPAddress, mac: MACAddress, interfaceIndex: Int32) {
            self.address = address
            self.mac = mac
            self.interfaceIndex = interfaceIndex
        }
    }

    /// The ports forwarded between: index → MAC and MTU.
    public let ports: [Int32: OutputInterface]
    public var staticRoutes: [StaticRoute]
    public var staticNeighbors: [StaticNeighbor]
    private let namespace: String?
    private var subscription: Int32 = -1
    /// Rebuilds done.
    public private(set) var rebuilds = 0

    /// Subscribes to changes (before the first dump, so none is missed).
    public init(ports: [Int32: OutputInterface], staticRoutes: [StaticRoute] = [], staticNeighbors: [StaticNeighbor] = [],
                namespace: String?) throws(XDPError) {
        self.ports = ports
        self.staticRoutes = staticRoutes
        self.staticNeighbors = staticNeighbors
        self.namespace = namespace
        subscription = try inNamespace { () throws(XDPError) -> Int32 in
            let fd = cxdp_rtnl_subscribe()
            guard fd >= 0 else { throw XDPError.fromErrno(-fd, operation: "subscribe to route and neighbor changes (rtnetlink)") }
            return fd
        }
    }

    deinit { if subscription >= 0 { close(subscription) } }

    private func inNamespace<R>(_ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        if let namespace { return try NetworkNamespace.withEntered(namespace, body) }
        return try body()
    }

    /// Whether the kernel reported changes since the last call (drains them).
    /// Overflow (ENOBUFS) counts as a change: the caller rebuilds from a dump.
    public func changesPending() -> Bool {
        guard subscription >= 0 else { return false }
        let handled = cxdp_rtnl_read_changes(subscription, nil, nil, nil, nil)
        return handled != 0
    }

    /// Dumps the kernel's tables and builds a forwarder from them and the static entries.
    public func build() throws(XDPError) -> L3Forwarder {
        var collected = try inNamespace { () throws(XDPError) -> Collected in
            var collected = Collected()
            try withUnsafeMutablePointer(to: &collected) { (pointer) throws(XDPError) in
                let context = UnsafeMutableRawPointer(pointer)
                var rc = cxdp_dump_routes(AF_UNSPEC, { route, context in
                    context!.assumingMemoryBound(to: Collected.self).pointee.routes.append(route!.pointee)
                }, context)
                if rc != 0 { throw XDPError.fromErrno(-rc, operation: "dump routes (rtnetlink)") }
                rc = cxdp_dump_neighbors(AF_UNSPEC, { neighbor, context in
                    context!.assumingMemoryBound(to: Collected.self).pointee.neighbors.append(neighbor!.pointee)
                }, context)
                if rc != 0 { throw XDPError.fromErrno(-rc, operation: "dump neighbors (rtnetlink)") }
                rc = cxdp_dump_addresses(AF_UNSPEC, { address, context in
                    context!.assumingMemoryBound(to: Collected.self).pointee.addresses.append(address!.pointee)
                }, context)
                if rc != 0 { throw XDPError.fromErrno(-rc, operation: "dump addresses (rtnetlink)") }
            }
            return collected
        }
        rebuilds += 1
        var forwarder = L3Forwarder(interfaces: ports)
        for route in collected.routes where route.table == 254 && route.type == 1 /* RTN_UNICAST */ && route.nexthop_index == 0 {
            guard let destination = KernelRoutingMirror.address(family: route.family, bytes: route.destination) else { continue }
            let hop: Route
            if route.has_gateway, let gateway = KernelRoutingMirror.address(family: route.gateway_family, bytes: route.gateway) {
                hop = Route.gateway(gateway, interface: route.output_ifindex)
            } else {
                hop = Route.connected(interface: route.output_ifindex)
            }
            switch destination {
            case .v4(let prefix): forwarder.ipv4Routes.insert(hop, prefix: prefix, length: Int(route.prefix_length))
            case .v6(let prefix): forwarder.ipv6Routes.insert(hop, prefix: prefix, length: Int(route.prefix_length))
            }
        }
        for entry in collected.neighbors where entry.has_lladdr {
            guard let address = KernelRoutingMirror.address(family: entry.family, bytes: entry.address),
                  let state = KernelRoutingMirror.state(entry.state) else { continue }
            let mac = withUnsafeBytes(of: entry.lladdr) { MACAddress(bytes: Array($0)) }
            if let mac { forwarder.neighbors.set(Neighbor(mac: mac, state: state), for: address, interface: entry.ifindex) }
        }
        for entry in collected.addresses {
            switch KernelRoutingMirror.address(family: entry.family, bytes: entry.address) {
            case .v4(let address): forwarder.localIPv4.insert(address)
            case .v6(let address): forwarder.localIPv6.insert(address)
            case nil: break
            }
        }
        for route in staticRoutes {
            let hop = route.gateway.map { Route.gateway($0, interface: route.interfaceIndex) } ?? Route.connected(interface: route.interfaceIndex)
            switch route.prefix {
            case .v4(let prefix): forwarder.ipv4Routes.insert(hop, prefix: prefix, length: route.length)
            case .v6(let prefix): forwarder.ipv6Routes.insert(hop, prefix: prefix, length: route.length)
            }
        }
        for neighbor in staticNeighbors {
            forwarder.neighbors.set(Neighbor(mac: neighbor.mac, state: .permanent), for: neighbor.address, interface: neighbor.interfaceIndex)
        }
        return forwarder
    }

    private struct Collected {
        var routes: [cxdp_route] = []
        var neighbors: [cxdp_neighbor] = []
        var addresses: [cxdp_address] = []
    }

    static func address<T>(family: UInt8, bytes: T) -> IPAddress? {
        withUnsafeBytes(of: bytes) { raw in
            switch Int32(family) {
            case AF_INET: .v4(UInt32(raw[0]) << 24 | UInt32(raw[1]) << 16 | UInt32(raw[2]) << 8 | UInt32(raw[3]))
            case AF_INET6: IPv6Address(bytes: Array(raw.prefix(16))).map { .v6($0) }
            default: nil
            }
        }
    }

    static func state(_ nud: UInt16) -> Neighbor.State? {
        switch nud {
        case _ where nud & 0x80 != 0: .permanent
        case _ where nud & 0x02 != 0: .reachable
        case _ where nud & 0x04 != 0: .stale
        case _ where nud & 0x08 != 0: .delay
        case _ where nud & 0x10 != 0: .probe
        case _ where nud & 0x40 != 0: .noARP
        case _ where nud & 0x20 != 0: .failed
        case _ where nud & 0x01 != 0: .incomplete
        default: nil
        }
    }
}
