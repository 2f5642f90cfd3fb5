// Properties every frame must satisfy, whatever its bytes. Shared by the
// libFuzzer target (Fuzz/PacketFuzzer.swift, compiled with Sources/Packet in
// one module, hence the conditional import) and by PacketTests, which replay
// the seed corpus and every crash reproducer through it.
#if canImport(Packet)
import Packet
#endif

/// Checks parsing, the L3 forwarding decision and its in-place rewrite.
enum PacketProperties {
    static let lanMAC = MACAddress(0x02, 0, 0, 0, 0x01, 0x01)
    static let wanMAC = MACAddress(0x02, 0, 0, 0, 0x02, 0x02)
    static let gatewayMAC = MACAddress(0x02, 0, 0, 0, 0x0f, 0xfe)
    static let gateway6 = IPv6Address(high: 0xfe80_0000_0000_0000, low: 1)

    /// Routes for everything (so most well-formed frames reach the rewrite):
    /// 198.18.0.0/24 connected on 1, default via 198.18.1.254 on 2; IPv6
    /// 2001:db8::/64 connected on 1, default via fe80::1 on 2 (MTU 1400).
    static let forwarder: L3Forwarder = {
        var routes4 = IPv4RouteTable()
        routes4.insert(.connected(interface: 1), prefix: 0xC612_0000, length: 24)
        routes4.insert(.gateway(.v4(0xC612_01FE), interface: 2), prefix: 0, length: 0)
        var routes6 = IPv6RouteTable()
        routes6.insert(.connected(interface: 1), prefix: IPv6Address(high: 0x2001_0db8_0000_0000, low: 0), length: 64)
        routes6.insert(.gateway(.v6(gateway6), interface: 2), prefix: .unspecified, length: 0)
        var neighbors = NeighborTable()
        neighbors.set(Neighbor(mac: gatewayMAC, state: .reachable), for: .v4(0xC612_01FE), interface: 2)
        neighbors.set(Neighbor(mac: gatewayMAC, state: .reachable), for: .v6(gateway6), interface: 2)
        neighbors.set(Neighbor(mac: gatewayMAC, state: .stale), for: .v4(0xC612_0007), interface: 1)
        return L3Forwarder(ipv4Routes: routes4, ipv6Routes: routes6, neighbors: neighbors,
                           localIPv4: [0xC612_0001], localIPv6: [IPv6Address(high: 0x2001_0db8_0000_0000, low: 1)],
                           interfaces: [1: OutputInterface(mac: lanMAC), 2: OutputInterface(mac: wanMAC, mtu: 1400)])
    }()

    /// The properties that do not hold for `frame`, empty when all hold.
    /// The frame is copied into an allocation of exactly its size, so an
    /// out-of-bounds read trips AddressSanitizer in the fuzzer.
    static func violations(_ frame: RawSpan) -> [String] {
        frame.withUnsafeBytes { violations($0) }
    }

    static func violations(_ frame: UnsafeRawBufferPointer) -> [String] {
        var found: [String] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frame.count, 1), alignment: 1)
        defer { buffer.deallocate() }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<frame.count])
        if frame.count > 0 { bytes.copyMemory(from: frame) }
        var span = MutableRawSpan(_unsafeBytes: bytes)

        // Parsing: whatever it accepts lies inside the frame.
        let parsed = try? ParsedPacket.parse(span.bytes)
        if let packet = parsed {
            if packet.l3Offset < 14 || packet.l3Offset > frame.count { found.append("l3Offset \(packet.l3Offset) outside a \(frame.count)-byte frame") }
            if packet.l4Offset < packet.l3Offset || packet.l4Offset > frame.count { found.append("l4Offset \(packet.l4Offset) outside the frame") }
            if packet.l3Offset + packet.ipPacketLength > frame.count { found.append("IP length \(packet.ipPacketLength) beyond the frame") }
        }

        // Forwarding: only a forwarded frame is changed, and then exactly as promised.
        let before = Array(bytes)
        let decision = forwarder.process(&span)
        switch decision {
        case .forward(let action):
            guard let old = parsed else { found.append("forwarded a frame that does not parse"); break }
            guard let new = try? ParsedPacket.parse(span.bytes) else { found.append("a forwarded frame no longer parses"); break }
            if new.ttlOrHopLimit != old.ttlOrHopLimit &- 1 { found.append("TTL \(old.ttlOrHopLimit) became \(new.ttlOrHopLimit)") }
            if old.ttlOrHopLimit <= 1 { found.append("forwarded with TTL \(old.ttlOrHopLimit)") }
            if MACAddress(bytes: Array(bytes[0..<6])) != action.destinationMAC || MACAddress(bytes: Array(bytes[6..<12])) != action.sourceMAC {
                found.append("MACs not rewritten to the action's")
            }
            if old.ipVersion == 4, !InternetChecksum.isValidIPv4Header(span.bytes, l3Offset: new.l3Offset, headerLength: new.ipHeaderLength) {
                found.append("IPv4 header checksum invalid after the TTL rewrite")
            }
            for index in 12..<frame.count where index != action.l3Offset + (old.ipVersion == 4 ? 8 : 7)
                && !(old.ipVersion == 4 && (index == action.l3Offset + 10 || index == action.l3Offset + 11)) && bytes[index] != before[index] {
                found.append("byte \(index) changed outside the MACs, TTL and checksum")
                break
            }
        case .toKernel, .drop:
            if Array(bytes) != before { found.append("a frame not forwarded (\(decision)) was modified") }
        }
        return found
    }
}
