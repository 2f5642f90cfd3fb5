@testable import Packet
import Testing

@Suite("Neighbor table")
struct NeighborTableTests {
    let mac = MACAddress(0x02, 0, 0, 0, 0, 0x42)

    @Test("usable states", arguments: [
        (Neighbor.State.incomplete, false), (.reachable, true), (.stale, true), (.delay, true), (.probe, true),
        (.failed, false), (.noARP, true), (.permanent, true),
    ])
    func states(state: Neighbor.State, usable: Bool) {
        #expect(state.isUsable == usable)
        var table = NeighborTable()
        table.set(Neighbor(mac: mac, state: state), for: .v4(ip(10, 0, 0, 9)), interface: 3)
        #expect(table.entry(for: .v4(ip(10, 0, 0, 9)), interface: 3)?.state == state)
        #expect(table.usableMAC(for: .v4(ip(10, 0, 0, 9)), interface: 3) == (usable ? mac : nil))
        #expect(table.usableMAC(forIPv4: ip(10, 0, 0, 9), interface: 3) == (usable ? mac : nil))
    }

    @Test("keyed by address and interface; IPv4 and IPv6 apart")
    func keys() {
        var table = NeighborTable()
        let other = MACAddress(0x02, 0, 0, 0, 0, 0x43)
        let address6 = v6(0xfe80_0000_0000_0000, 1)
        table.set(Neighbor(mac: mac, state: .reachable), for: .v4(ip(10, 0, 0, 1)), interface: 1)
        table.set(Neighbor(mac: other, state: .reachable), for: .v4(ip(10, 0, 0, 1)), interface: 2)
        table.set(Neighbor(mac: other, state: .stale), for: .v6(address6), interface: 1)
        #expect(table.count == 3 && !table.isEmpty)
        #expect(table.usableMAC(for: .v4(ip(10, 0, 0, 1)), interface: 1) == mac)
        #expect(table.usableMAC(for: .v4(ip(10, 0, 0, 1)), interface: 2) == other)
        #expect(table.usableMAC(for: .v4(ip(10, 0, 0, 1)), interface: 3) == nil)
        #expect(table.usableMAC(for: .v6(address6), interface: 1) == other)
        #expect(table.usableMAC(forIPv6: address6, interface: 1) == other)
        #expect(table.usableMAC(forIPv6: address6, interface: 2) == nil)
        #expect(table.usableMAC(for: .v4(0), interface: 1) == nil)
    }

    @Test("replace, remove, remove an interface")
    func updates() {
        var table = NeighborTable()
        let address = IPAddress.v4(ip(192, 0, 2, 1))
        #expect(table.set(Neighbor(mac: mac, state: .incomplete), for: address, interface: 1) == nil)
        let replaced = table.set(Neighbor(mac: mac, state: .reachable), for: address, interface: 1)
        #expect(replaced?.state == .incomplete && table.count == 1)
        #expect(table.usableMAC(for: address, interface: 1) == mac)
        #expect(table.remove(address, interface: 2) == nil)
        #expect(table.remove(address, interface: 1)?.state == .reachable && table.isEmpty)

        table.set(Neighbor(mac: mac, state: .reachable), for: .v4(1), interface: 1)
        table.set(Neighbor(mac: mac, state: .reachable), for: .v4(2), interface: 2)
        table.set(Neighbor(mac: mac, state: .reachable), for: .v6(v6(1, 1)), interface: 1)
        table.set(Neighbor(mac: mac, state: .reachable), for: .v6(v6(1, 1)), interface: 2)
        let before = table
        table.removeAll(interface: 1)
        #expect(table.count == 2 && table.entry(for: .v4(2), interface: 2) != nil)
        #expect(table.entry(for: .v6(v6(1, 1)), interface: 1) == nil)
        #expect(before.count == 4 && before != table, "value semantics")
    }
}
