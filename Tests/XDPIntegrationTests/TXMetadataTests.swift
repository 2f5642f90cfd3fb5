import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// AF_XDP TX metadata (tx_metadata_len, XDP_TX_METADATA) in copy mode on veth.
@Suite("TX metadata", .serialized)
struct TXMetadataTests {
    /// A UDP/IPv4 frame whose checksum field holds the pseudo-header sum, as
    /// checksum offload expects it.
    static func offloadReady(_ packet: [UInt8]) -> [UInt8] {
        var packet = packet
        let udpLength = packet.count - 34
        let pseudo: [UInt8] = Array(packet[26..<34]) + [0, 17, UInt8(udpLength >> 8), UInt8(udpLength & 0xff)]
        let sum = ~InternetChecksum.compute(pseudo.span.bytes)
        packet[40] = UInt8(sum >> 8)
        packet[41] = UInt8(sum & 0xff)
        return packet
    }

    /// What checksum offload stores when it sums `packet[34..<end]` (the
    /// field holding the pseudo-header sum, as `offloadReady` leaves it).
    static func offloadChecksum(_ packet: [UInt8], summingUpTo end: Int) -> UInt16 {
        InternetChecksum.compute(offloadReady(packet)[34..<end].span.bytes)
    }

    /// Whether a UDP/IPv4 frame's checksum verifies.
    static func udpChecksumValid(_ packet: [UInt8]) -> Bool {
        let udpLength = packet.count - 34
        let covered: [UInt8] = Array(packet[26..<34]) + [0, 17, UInt8(udpLength >> 8), UInt8(udpLength & 0xff)] + Array(packet[34...])
        return InternetChecksum.compute(covered.span.bytes) == 0
    }

    @Test("checksum offload requested per packet is filled in (XDP_UMEM_TX_SW_CSUM), others left alone",
          arguments: [AttachMode.generic, .native])
    func checksum(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var config = UMEMConfiguration(frameCount: 256, fillRingSize: 256, completionRingSize: 256)
        config.txMetadataLength = TXMetadata.byteCount
        config.softwareTXChecksum = true
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config, fill: false)
        try sender.socket.checkTXMetadata(TXMetadata(checksum: .udpOverIPv4))

        let packets = sequencedPackets(20, link: link, frameLength: 200).map(TXMetadataTests.offloadReady)
        for (index, packet) in packets.enumerated() {
            var frame = sender.umem.pool.allocate()!
            write(packet, into: &frame)
            // Even packets ask for the checksum; odd ones go as they are.
            if index % 2 == 0 {
                sender.socket.tx.push(frame, metadata: TXMetadata(checksum: .udpOverIPv4))
            } else {
                sender.socket.tx.push(frame)
            }
        }
        sender.socket.tx.submit()
        #expect(drainCompletions(&sender, expecting: packets.count) == packets.count)
        let received = receive(packets.count, on: &receiver)
        #expect(received.count == packets.count)
        #expect(received.map(sequenceNumber) == Array(0..<packets.count))
        let valid = received.map(TXMetadataTests.udpChecksumValid)
        #expect(valid == (0..<packets.count).map { $0 % 2 == 0 }, "requested checksums filled in, the rest untouched")
        #expect(try sender.socket.statistics().txInvalidDescriptors == 0)
        let senderAccount = sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        _ = program
    }

    @Test("a checksum requested for a jumbo chain: Linux 6.18's software checksum sums only the first frame", arguments: [AttachMode.generic, .native])
    func checksumOverChain(mode: AttachMode) throws {
        var config = UMEMConfiguration(frameCount: 1024, frameSize: 4096, fillRingSize: 512, completionRingSize: 512)
        config.txMetadataLength = TXMetadata.byteCount
        config.softwareTXChecksum = true
        var pair = try JumboLab(mode: mode, umem: config)
        let packets = sequencedPackets(10, link: pair.link, frameLength: MultiBufferTests.jumbo).map(TXMetadataTests.offloadReady)
        for (index, packet) in packets.enumerated() {
            let room = 4096 - UMEMConfiguration.kernelHeadroom
            var chain = FramePacket()
            for start in stride(from: 0, to: packet.count, by: room) {
                var frame = pair.sender.umem.pool.allocate()!
                write(packet[start..<min(packet.count, start + room)], into: &frame)
                chain.append(frame)
            }
            // Even packets ask for the checksum; odd ones go as they are.
            if index % 2 == 0 {
                pair.sender.socket.tx.push(chain, metadata: TXMetadata(checksum: .udpOverIPv4))
            } else {
                pair.sender.socket.tx.push(chain)
            }
        }
        pair.sender.socket.tx.submit()
        #expect(drainCompletions(&pair.sender, expecting: packets.count * 3) == packets.count * 3)
        let received = receivePackets(packets.count, on: &pair.receiver)
        #expect(received.map { sequenceNumber(of: $0.bytes) } == Array(0..<packets.count))
        // Linux 6.18, copy mode, XDP_UMEM_TX_SW_CSUM: the kernel computes the
        // checksum as it takes the first descriptor, so it sums the first
        // frame's bytes only. Asserted as found, so a kernel that sums the
        // whole chain shows up here.
        let firstFrame = 4096 - UMEMConfiguration.kernelHeadroom
        for (index, packet) in received.enumerated() where index < packets.count {
            let field = UInt16(packet.bytes[40]) << 8 | UInt16(packet.bytes[41])
            if index % 2 == 0 {
                #expect(field == TXMetadataTests.offloadChecksum(packets[index], summingUpTo: firstFrame), "packet \(index)")
                #expect(!TXMetadataTests.udpChecksumValid(packet.bytes), "packet \(index): the whole-packet checksum is not right")
                #expect(Array(packet.bytes[42...]) == Array(packets[index][42...]), "packet \(index): only the checksum changed")
            } else {
                #expect(packet.bytes == packets[index], "packet \(index): untouched")
            }
        }
        #expect(try pair.sender.socket.statistics().txInvalidDescriptors == 0)
    }

    @Test("a requested TX timestamp comes back in the completion: copy mode gives the software transmit time")
    func timestamp() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native, registering: receiver.socket)
        var config = UMEMConfiguration(frameCount: 256, fillRingSize: 256, completionRingSize: 256)
        config.txMetadataLength = TXMetadata.byteCount
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config, fill: false)
        try sender.socket.checkTXMetadata(TXMetadata(requestTimestamp: true))
        func now() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }
        let packets = sequencedPackets(8, link: link)
        let before = now()
        for (index, packet) in packets.enumerated() {
            var frame = sender.umem.pool.allocate()!
            write(packet, into: &frame)
            // Half ask for a timestamp, half do not.
            sender.socket.tx.push(frame, metadata: TXMetadata(requestTimestamp: index % 2 == 0))
        }
        sender.socket.tx.submit()
        var stamps: [UInt64?] = []
        let deadline = Deadline(seconds: 5)
        while stamps.count < packets.count && !deadline.passed {
            sender.socket.kickTransmit()
            let ready = sender.socket.completion.peek()
            for _ in 0..<ready {
                let frame = sender.socket.completion.take()
                stamps.append(sender.socket.completion.transmitTimestamp(of: frame))
                sender.umem.pool.release(frame)
            }
            sender.socket.completion.release()
            if ready == 0 { sender.socket.poll(forTransmit: true, timeoutMilliseconds: 10) }
        }
        let after = now()
        #expect(stamps.count == packets.count)
        #expect(stamps.enumerated().allSatisfy { ($0.offset % 2 == 0) == ($0.element != nil) }, "a timestamp exactly where asked: \(stamps)")
        #expect(stamps.compactMap { $0 }.allSatisfy { (before...after).contains($0) }, "between send and completion: \(stamps), \(before)...\(after)")
        expectSame(receive(packets.count, on: &receiver), packets)
        _ = program
    }

    @Test("TX metadata needs a UMEM with a metadata area; the kernel's limits are checked up front")
    func refusals() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let plain = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let error = { () -> XDPError? in
            do throws(XDPError) { try plain.socket.checkTXMetadata(TXMetadata(checksum: .udpOverIPv4)); return nil } catch { return error }
        }()
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.hint.contains("txMetadataLength") == true)
        for length in [8, 20, 256] {
            var config = UMEMConfiguration()
            config.txMetadataLength = length
            #expect(throws: XDPError.self) { try config.validate() }
        }
    }
}
