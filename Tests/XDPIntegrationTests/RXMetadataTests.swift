import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// RX metadata from the device-bound program (XDP metadata kfuncs on veth):
/// what veth really provides, read through `frame.metadata`.
@Suite("RX metadata", .serialized)
struct RXMetadataTests {
    /// Receives up to `count` packets, returning each one's bytes and metadata.
    static func receiveWithMetadata(_ count: Int, on endpoint: inout Endpoint, timeout: Double = 5) -> [(bytes: [UInt8], metadata: RXMetadata?)] {
        var packets: [(bytes: [UInt8], metadata: RXMetadata?)] = []
        let deadline = Deadline(seconds: timeout)
        while packets.count < count && !deadline.passed {
            let ready = endpoint.socket.rx.peek(upTo: 64)
            if ready == 0 { endpoint.socket.poll(timeoutMilliseconds: 10); continue }
            _ = endpoint.socket.fill.freeCount(wanting: ready)
            for _ in 0..<ready {
                let frame = endpoint.socket.rx.receive()
                packets.append((copyBytes(of: frame), frame.metadata))
                endpoint.socket.fill.push(frame)
            }
            endpoint.socket.rx.release()
            endpoint.socket.fill.submit()
        }
        return packets
    }

    @Test("the RX hash is there for every packet, stable per flow and different across flows; no timestamp on veth")
    func hashPerFlow() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native,
                                        rxMetadata: true, registering: receiver.socket)
        let attached = (program.mode, program.writesRXMetadata)
        #expect(attached == (.native, true))
        // Five flows from the peer's kernel stack (one UDP socket each), as hosts send them.
        try lab.runInPeer(["ip", "neigh", "add", link.deviceIPv4.map(String.init).joined(separator: "."),
                           "lladdr", macText(link.deviceMAC), "dev", link.peerInterface])
        let flows: [UInt16] = [1000, 2000, 3000, 4000, 5000]
        for port in flows {
            let udp = try KernelUDPSocket(namespace: lab.peerNamespace, port: port)
            udp.send(20, to: link.deviceIPv4, port: 9, length: 40)
        }
        let received = RXMetadataTests.receiveWithMetadata(flows.count * 20, on: &receiver)
        #expect(received.count == flows.count * 20)
        #expect(received.allSatisfy { $0.metadata != nil }, "every redirected packet carries metadata")
        #expect(received.allSatisfy { $0.metadata?.hash != nil && $0.metadata?.hashType != nil }, "veth provides the hash")
        #expect(received.allSatisfy { ($0.metadata?.hashType ?? 0) & RXMetadata.hashTypeL4 != 0 }, "an L4 (ports) hash")
        #expect(received.allSatisfy { $0.metadata?.timestamp == nil }, "veth has no hardware timestamp: reported absent")
        #expect(received.allSatisfy { $0.metadata?.vlan == nil }, "untagged packets have no VLAN tag")
        var hashes: [UInt16: Set<UInt32>] = [:]
        for packet in received {
            let port = UInt16(packet.bytes[34]) << 8 | UInt16(packet.bytes[35])
            if let hash = packet.metadata?.hash { hashes[port, default: []].insert(hash) }
        }
        #expect(hashes.count == flows.count)
        #expect(hashes.values.allSatisfy { $0.count == 1 }, "one hash per flow: \(hashes)")
        #expect(Set(hashes.values.compactMap(\.first)).count == flows.count, "a different hash for each flow: \(hashes)")
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
    }

    @Test("a VLAN tag sent out of band (as VLAN offload carries it) arrives as metadata, not in the bytes")
    func vlanTag() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native,
                                        rxMetadata: true, registering: receiver.socket)
        // The peer's frames leave its veth with the tag in the skb, not in the bytes
        // (VLAN offload); this kernel has no 8021q module, so a tc program tags them.
        try lab.tagEgress(of: link.peerInterface, in: lab.peerNamespace, vlan: 100)
        try lab.runInPeer(["ip", "neigh", "add", link.deviceIPv4.map(String.init).joined(separator: "."),
                           "lladdr", macText(link.deviceMAC), "dev", link.peerInterface])
        let udp = try KernelUDPSocket(namespace: lab.peerNamespace, port: 7000)
        udp.send(10, to: link.deviceIPv4, port: 9000, length: 40)
        let received = RXMetadataTests.receiveWithMetadata(10, on: &receiver)
        #expect(received.count == 10)
        let tags = received.map { $0.metadata?.vlan }
        #expect(tags.allSatisfy { $0 == RXMetadata.VLANTag(protocolID: 0x8100, controlInformation: 100) }, "\(tags)")
        #expect(received.allSatisfy { $0.bytes[12] == 0x08 && $0.bytes[13] == 0x00 }, "the tag is not in the bytes: IPv4 right after the MACs")
        _ = program
    }

    @Test("a VLAN tag inside the packet bytes is not metadata: the kfunc reports none")
    func vlanInBytes() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native,
                                        rxMetadata: true, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        // 802.1Q tag 100 written into the frame after the MACs.
        let tagged = sequencedPackets(5, link: link, frameLength: 100).map { Array($0[0..<12]) + [0x81, 0x00, 0x00, 100] + Array($0[12...]) }
        #expect(transmit(tagged, from: &sender) == tagged.count)
        let received = RXMetadataTests.receiveWithMetadata(tagged.count, on: &receiver)
        expectSame(received.map(\.bytes), tagged)
        #expect(received.allSatisfy { $0.metadata != nil && $0.metadata?.vlan == nil }, "\(received.map { $0.metadata })")
        _ = program
    }

    @Test("with a 9000-byte MTU the metadata program takes jumbo chains; the metadata sits in front of the first frame")
    func jumboWithMetadata() throws {
        var pair = try JumboLab(mode: .native, rxMetadata: true)
        let link = pair.link
        let packets = sequencedPackets(20, link: link, frameLength: MultiBufferTests.jumbo)
        #expect(transmitChains(packets, from: &pair.sender) == packets.count)
        var received: [[UInt8]] = []
        var withHash = 0
        let deadline = Deadline(seconds: 5)
        while received.count < packets.count && !deadline.passed {
            guard let packet = pair.receiver.socket.rx.receivePacket(droppingOversizedInto: &pair.receiver.umem.pool) else {
                pair.receiver.socket.poll(timeoutMilliseconds: 10)
                continue
            }
            var bytes: [UInt8] = []
            packet.forEachSegment { bytes.append(contentsOf: $0) }
            received.append(bytes)
            if packet.metadata?.hash != nil { withHash += 1 }
            pair.receiver.umem.pool.release(packet)
        }
        pair.receiver.socket.rx.release()
        expectSame(received, packets)
        #expect(withHash == packets.count)
    }

    @Test("RX metadata in generic mode is refused with the reason")
    func genericRefused() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let error = lab.inDeviceCatching { () throws(XDPError) in
            _ = try XDPProgram(interface: link.deviceInterface, mode: .generic, rxMetadata: true)
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.hint.contains("native") == true, "\(String(describing: error))")
    }
}

/// A MAC address as `ip` writes it.
func macText(_ mac: [UInt8]) -> String {
    mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
}
