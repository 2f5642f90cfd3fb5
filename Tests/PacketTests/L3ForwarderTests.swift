@testable import Packet
import Testing

@Suite("L3 forwarding decisions")
struct L3ForwarderTests {
    static let lanMAC = MACAddress(0x02, 0, 0, 0, 0x01, 0x01)       // interface 1
    static let wanMAC = MACAddress(0x02, 0, 0, 0, 0x02, 0x02)       // interface 2
    static let gatewayMAC = MACAddress(0x02, 0, 0, 0, 0x0f, 0xfe)   // 10.0.1.254 on 1
    static let hostMAC = MACAddress(0x02, 0, 0, 0, 0x02, 0x07)      // 10.0.2.7 on 2
    static let gateway6 = v6(0xfe80_0000_0000_0000, 0x1)            // on 2
    static let gateway6MAC = MACAddress(0x02, 0, 0, 0, 0x06, 0x01)
    static let local6 = v6(0x2001_0db8_0001_0000, 0x1)
    static let host6 = v6(0x2001_0db8_0001_0000, 0x77)              // connected on 1
    static let host6MAC = MACAddress(0x02, 0, 0, 0, 0x06, 0x77)

    /// Interfaces 1 (LAN, 10.0.1.0/24) and 2 (WAN, 10.0.2.0/24, MTU 1000)
    /// are handled; 3 exists in routes only.
    static func makeForwarder() -> L3Forwarder {
        var routes4 = IPv4RouteTable()
        routes4.insert(.connected(interface: 1), prefix: ip(10, 0, 1, 0), length: 24)
        routes4.insert(.connected(interface: 2), prefix: ip(10, 0, 2, 0), length: 24)
        routes4.insert(.gateway(.v4(ip(10, 0, 1, 254)), interface: 1), prefix: 0, length: 0)
        routes4.insert(.gateway(.v4(ip(10, 0, 3, 1)), interface: 3), prefix: ip(192, 0, 2, 0), length: 24)
        routes4.insert(.gateway(.v4(ip(10, 0, 2, 99)), interface: 2), prefix: ip(203, 0, 113, 0), length: 24)
        var routes6 = IPv6RouteTable()
        routes6.insert(.connected(interface: 1), prefix: v6(0x2001_0db8_0001_0000, 0), length: 64)
        routes6.insert(.gateway(.v6(gateway6), interface: 2), prefix: .unspecified, length: 0)
        var neighbors = NeighborTable()
        neighbors.set(Neighbor(mac: gatewayMAC, state: .reachable), for: .v4(ip(10, 0, 1, 254)), interface: 1)
        neighbors.set(Neighbor(mac: hostMAC, state: .stale), for: .v4(ip(10, 0, 2, 7)), interface: 2)
        neighbors.set(Neighbor(mac: hostMAC, state: .incomplete), for: .v4(ip(10, 0, 2, 8)), interface: 2)
        neighbors.set(Neighbor(mac: hostMAC, state: .failed), for: .v4(ip(10, 0, 2, 9)), interface: 2)
        neighbors.set(Neighbor(mac: .broadcast, state: .noARP), for: .v4(ip(10, 0, 2, 255)), interface: 2)
        neighbors.set(Neighbor(mac: gateway6MAC, state: .reachable), for: .v6(gateway6), interface: 2)
        neighbors.set(Neighbor(mac: host6MAC, state: .permanent), for: .v6(host6), interface: 1)
        return L3Forwarder(ipv4Routes: routes4, ipv6Routes: routes6, neighbors: neighbors,
                           localIPv4: [ip(10, 0, 1, 1), ip(10, 0, 2, 1)], localIPv6: [local6],
                           interfaces: [1: OutputInterface(mac: lanMAC), 2: OutputInterface(mac: wanMAC, mtu: 1000)])
    }

    let forwarder = Self.makeForwarder()

    func decide(_ frame: [UInt8]) -> L3Decision {
        forwarder.decide(frame: frame.span.bytes)
    }

    func decideIPv4(to destination: UInt32, from source: UInt32 = ip(10, 0, 1, 50), ttl: UInt8 = 64) -> L3Decision {
        decide(TestFrames.ipv4(source: source, destination: destination, ttl: ttl))
    }

    // MARK: Forward

    @Test("IPv4 via the default gateway")
    func forwardViaGateway() {
        let expected = ForwardAction(outputInterface: 1, destinationMAC: Self.gatewayMAC, sourceMAC: Self.lanMAC,
                                     nextHop: .v4(ip(10, 0, 1, 254)), l3Offset: 14, ipVersion: 4)
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: ip(10, 0, 2, 7)) == .forward(expected))
    }

    @Test("IPv4 to a connected host (stale neighbor is usable)")
    func forwardConnected() {
        let expected = ForwardAction(outputInterface: 2, destinationMAC: Self.hostMAC, sourceMAC: Self.wanMAC,
                                     nextHop: .v4(ip(10, 0, 2, 7)), l3Offset: 14, ipVersion: 4)
        #expect(decideIPv4(to: ip(10, 0, 2, 7)) == .forward(expected))
        #expect(decideIPv4(to: ip(10, 0, 2, 7), ttl: 2) == .forward(expected), "TTL 2 still forwards")
    }

    @Test("IPv6 via a link-local gateway, and to a connected host")
    func forwardIPv6() {
        let frame = TestFrames.ipv6(source: Self.host6, destination: v6(0x2600_0000_0000_0000, 5))
        #expect(decide(frame) == .forward(ForwardAction(outputInterface: 2, destinationMAC: Self.gateway6MAC,
                                                        sourceMAC: Self.wanMAC, nextHop: .v6(Self.gateway6),
                                                        l3Offset: 14, ipVersion: 6)))
        let inbound = TestFrames.ipv6(source: v6(0x2600_0000_0000_0000, 5), destination: Self.host6)
        #expect(decide(inbound) == .forward(ForwardAction(outputInterface: 1, destinationMAC: Self.host6MAC,
                                                          sourceMAC: Self.lanMAC, nextHop: .v6(Self.host6),
                                                          l3Offset: 14, ipVersion: 6)))
    }

    // MARK: To the kernel

    @Test("local addresses go to the kernel, even with TTL 1")
    func local() {
        #expect(decideIPv4(to: ip(10, 0, 2, 1)) == .toKernel(.localAddress))
        #expect(decideIPv4(to: ip(10, 0, 1, 1), ttl: 1) == .toKernel(.localAddress))
        #expect(decide(TestFrames.ipv6(destination: Self.local6)) == .toKernel(.localAddress))
    }

    @Test("changing addresses and interfaces after init takes effect")
    func updatesAfterInit() {
        var forwarder = self.forwarder
        let frame = TestFrames.ipv4(destination: ip(10, 0, 2, 7))
        forwarder.localIPv4.insert(ip(10, 0, 2, 7))
        #expect(forwarder.decide(frame: frame.span.bytes) == .toKernel(.localAddress))
        forwarder.localIPv4.remove(ip(10, 0, 2, 7))
        forwarder.interfaces[2] = nil
        #expect(forwarder.decide(frame: frame.span.bytes) == .toKernel(.outputInterfaceNotHandled))
        forwarder.interfaces[2] = OutputInterface(mac: Self.lanMAC, mtu: 9000)
        guard case .forward(let action) = forwarder.decide(frame: frame.span.bytes) else {
            Issue.record("should forward")
            return
        }
        #expect(action.sourceMAC == Self.lanMAC)
        forwarder.localIPv6 = [v6(0x2001_0db8_0002_0000, 0x20)]
        #expect(forwarder.decide(frame: TestFrames.ipv6().span.bytes) == .toKernel(.localAddress))
        #expect(forwarder != self.forwarder)
    }

    @Test("TTL / hop limit 1 and 0 expire in the kernel", arguments: [UInt8(0), 1])
    func ttlExpired(ttl: UInt8) {
        #expect(decideIPv4(to: ip(8, 8, 8, 8), ttl: ttl) == .toKernel(.ttlExpired))
        #expect(decide(TestFrames.ipv6(hopLimit: ttl)) == .toKernel(.ttlExpired))
    }

    @Test("no route")
    func noRoute() {
        var noDefault = forwarder
        noDefault.ipv4Routes.remove(prefix: 0, length: 0)
        noDefault.ipv6Routes.remove(prefix: .unspecified, length: 0)
        let frame = TestFrames.ipv4(destination: ip(8, 8, 8, 8))
        #expect(noDefault.decide(frame: frame.span.bytes) == .toKernel(.noRoute))
        let frame6 = TestFrames.ipv6(destination: v6(0x2600_0000_0000_0000, 5))
        #expect(noDefault.decide(frame: frame6.span.bytes) == .toKernel(.noRoute))
    }

    @Test("no usable neighbor: missing, incomplete, failed")
    func noNeighbor() {
        for last: UInt8 in [6, 8, 9] {
            #expect(decideIPv4(to: ip(10, 0, 2, last)) == .toKernel(.noNeighbor), "10.0.2.\(last)")
        }
        #expect(decide(TestFrames.ipv6(destination: v6(0x2001_0db8_0001_0000, 0x78))) == .toKernel(.noNeighbor))
        var gatewayUnresolved = forwarder
        gatewayUnresolved.neighbors.remove(.v4(ip(10, 0, 1, 254)), interface: 1)
        let frame = TestFrames.ipv4(destination: ip(8, 8, 8, 8))
        #expect(gatewayUnresolved.decide(frame: frame.span.bytes) == .toKernel(.noNeighbor))
    }

    @Test("a route out of an interface the fast path does not own")
    func outputNotHandled() {
        #expect(decideIPv4(to: ip(192, 0, 2, 5)) == .toKernel(.outputInterfaceNotHandled))
    }

    @Test("packets over the output MTU go to the kernel")
    func mtu() {
        let fits = TestFrames.ipv4(destination: ip(10, 0, 2, 7), payload: TestFrames.udp(1, 2, extra: 1000 - 28))
        #expect(fits.count == 14 + 1000)
        if case .forward = decide(fits) {} else { Issue.record("1000-byte packet should forward") }
        let tooBig = TestFrames.ipv4(destination: ip(10, 0, 2, 7), payload: TestFrames.udp(1, 2, extra: 1001 - 28))
        #expect(decide(tooBig) == .toKernel(.exceedsMTU))
    }

    @Test("ARP, IPv6 extension headers, other EtherTypes, VLAN tags")
    func notForFastPath() {
        #expect(decide(TestFrames.arp()) == .toKernel(.arp))
        #expect(decide(TestFrames.ipv6(nextHeader: 0)) == .toKernel(.ipv6ExtensionHeaders))
        #expect(decide(TestFrames.ipv6(nextHeader: 44)) == .toKernel(.ipv6ExtensionHeaders))
        #expect(decide(TestFrames.ethernet(etherType: 0x88cc) + [UInt8](repeating: 0, count: 46))
                == .toKernel(.unsupportedEtherType))
        #expect(decide(TestFrames.ipv4(destination: ip(8, 8, 8, 8), tags: [0x8100])) == .toKernel(.vlanTagged))
        #expect(decide(TestFrames.ipv4(tags: [0x8100, 0x8100, 0x8100])) == .toKernel(.vlanTagged))
    }

    @Test("IPv4 options go to the kernel")
    func ipv4Options() {
        let frame = TestFrames.ipv4(destination: ip(8, 8, 8, 8), options: [0x94, 0x04, 0, 0])  // router alert
        #expect(decide(frame) == .toKernel(.ipv4Options))
    }

    @Test("multicast and broadcast, at layer 2 and layer 3")
    func multicast() {
        #expect(decideIPv4(to: ip(224, 0, 0, 5)) == .toKernel(.multicast))
        #expect(decideIPv4(to: ip(239, 1, 1, 1)) == .toKernel(.multicast))
        #expect(decideIPv4(to: UInt32.max) == .toKernel(.multicast))
        #expect(decide(TestFrames.ipv4(destination: ip(8, 8, 8, 8), destinationMAC: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
                == .toKernel(.multicast))
        #expect(decide(TestFrames.ipv6(destination: v6(0xff02_0000_0000_0000, 1))) == .toKernel(.multicast))
        #expect(decideIPv4(to: ip(10, 0, 2, 255)) == .toKernel(.multicast), "directed broadcast (group neighbor MAC)")
    }

    @Test("link-local and special addresses are not forwarded")
    func specialAddresses() {
        #expect(decideIPv4(to: ip(169, 254, 1, 1)) == .toKernel(.linkLocal))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: ip(169, 254, 1, 1)) == .toKernel(.linkLocal))
        #expect(decide(TestFrames.ipv6(destination: v6(0xfe80_0000_0000_0000, 9))) == .toKernel(.linkLocal))
        #expect(decide(TestFrames.ipv6(source: v6(0xfebf_0000_0000_0000, 9))) == .toKernel(.linkLocal))
        #expect(decideIPv4(to: ip(127, 0, 0, 1)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(0, 1, 2, 3)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(240, 0, 0, 1)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: ip(127, 0, 0, 1)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: ip(224, 0, 0, 1)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: 0) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: ip(240, 0, 0, 1)) == .toKernel(.specialAddress))
        #expect(decideIPv4(to: ip(8, 8, 8, 8), from: UInt32.max) == .toKernel(.specialAddress))
        #expect(decide(TestFrames.ipv6(destination: .loopback)) == .toKernel(.specialAddress))
        #expect(decide(TestFrames.ipv6(destination: .unspecified)) == .toKernel(.specialAddress))
        #expect(decide(TestFrames.ipv6(source: .unspecified)) == .toKernel(.specialAddress))
        #expect(decide(TestFrames.ipv6(source: v6(0xff02_0000_0000_0000, 1))) == .toKernel(.specialAddress))
    }

    // MARK: Drop

    @Test("malformed frames are dropped with their ParseError")
    func malformed() {
        var badIHL = TestFrames.ipv4()
        badIHL[14] = 0x44
        #expect(decide(badIHL) == .drop(.malformed(.badIHL)))
        #expect(decide(Array(TestFrames.ipv6().prefix(40))) == .drop(.malformed(.truncatedIPv6)))
        #expect(decide([]) == .drop(.malformed(.truncatedEthernet)))
    }

    @Test("a bad IPv4 header checksum is dropped unless verification is off")
    func badChecksum() {
        var frame = TestFrames.ipv4(destination: ip(8, 8, 8, 8))
        frame[24] ^= 0x01
        #expect(decide(frame) == .drop(.badIPv4Checksum))
        var lenient = forwarder
        lenient.verifiesIPv4Checksum = false
        if case .forward = lenient.decide(frame: frame.span.bytes) {} else {
            Issue.record("should forward without verification")
        }
    }

    @Test("every ParseError maps to a decision")
    func errorMapping() {
        let kernel: [ParseError: KernelReason] = [.arp: .arp, .ipv6ExtensionHeaders: .ipv6ExtensionHeaders,
                                                  .unsupportedEtherType: .unsupportedEtherType,
                                                  .tooManyVLANTags: .vlanTagged]
        let all: [ParseError] = [.truncatedEthernet, .truncatedVLAN, .tooManyVLANTags, .truncatedIPv4, .badIPv4Version,
                                 .badIHL, .ipv4TotalLengthBeyondFrame, .ipv4TotalLengthTooShort, .truncatedIPv6,
                                 .badIPv6Version, .ipv6PayloadLengthBeyondFrame, .ipv6ExtensionHeaders,
                                 .unsupportedEtherType, .arp]
        for error in all {
            let expected: L3Decision = kernel[error].map { .toKernel($0) } ?? .drop(.malformed(error))
            #expect(L3Forwarder.decision(for: error) == expected)
            #expect(error.isMalformed == (kernel[error] == nil))
        }
    }

    // MARK: Applying

    @Test("process rewrites MACs and TTL; the checksum still verifies")
    func applyIPv4() {
        let original = TestFrames.ipv4(source: ip(10, 0, 1, 50), destination: ip(203, 0, 113, 9), ttl: 64,
                                       payload: TestFrames.udp(1, 2, extra: 20))
        var frame = original
        var forwarder = self.forwarder
        forwarder.neighbors.set(Neighbor(mac: Self.hostMAC, state: .delay), for: .v4(ip(10, 0, 2, 99)), interface: 2)
        let decision = frame.withMutableBytes { forwarder.process(&$0) }
        guard case .forward(let action) = decision else {
            Issue.record("expected forward, got \(decision)")
            return
        }
        #expect(action.outputInterface == 2 && action.nextHop == .v4(ip(10, 0, 2, 99)))
        #expect(Array(frame[0..<6]) == Self.hostMAC.bytes && Array(frame[6..<12]) == Self.wanMAC.bytes)
        #expect(frame[22] == 63 && TestFrames.ipv4HeaderVerifies(frame))
        #expect(Array(frame[12..<22]) == Array(original[12..<22]) && Array(frame[26...]) == Array(original[26...]))
    }

    @Test("process on IPv6 decrements the hop limit")
    func applyIPv6() {
        var frame = TestFrames.ipv6(source: Self.host6, destination: v6(0x2600_0000_0000_0000, 5), hopLimit: 2)
        let original = frame
        let decision = frame.withMutableBytes { forwarder.process(&$0) }
        guard case .forward = decision else {
            Issue.record("expected forward, got \(decision)")
            return
        }
        #expect(frame[21] == 1)
        #expect(Array(frame[0..<6]) == Self.gateway6MAC.bytes && Array(frame[6..<12]) == Self.wanMAC.bytes)
        #expect(Array(frame[22...]) == Array(original[22...]))
    }

    @Test("process leaves frames it does not forward untouched")
    func processUntouched() {
        for original in [TestFrames.ipv4(destination: ip(10, 0, 2, 1)), TestFrames.arp(),
                         TestFrames.ipv4(destination: ip(8, 8, 8, 8), ttl: 1)] {
            var frame = original
            let decision = frame.withMutableBytes { forwarder.process(&$0) }
            if case .forward = decision { Issue.record("should not forward") }
            #expect(frame == original)
        }
    }

    @Test("apply refuses TTL ≤ 1 and changes nothing")
    func applyExpired() {
        let action = ForwardAction(outputInterface: 1, destinationMAC: Self.gatewayMAC, sourceMAC: Self.lanMAC,
                                   nextHop: .v4(ip(10, 0, 1, 254)), l3Offset: 14, ipVersion: 4)
        let original = TestFrames.ipv4(ttl: 1)
        var frame = original
        #expect(!frame.withMutableBytes { L3Forwarder.apply(action, to: &$0) })
        #expect(frame == original)
    }

    @Test("decide on a parsed packet is the same decision")
    func decideParsed() throws {
        let frame = TestFrames.ipv4(destination: ip(8, 8, 8, 8))
        let packet = try ParsedPacket.parse(frame.span.bytes)
        #expect(forwarder.decide(packet) == decide(frame))
    }
}
