import Glibc
import Packet
import Testing
@_spi(Testing) import XDP
import XDPControl

/// xskxceiver's unaligned-mode cases (XDP_UMEM_UNALIGNED_CHUNK_FLAG): a
/// 4001-byte frame size, descriptors at any offset, the kernel's checks.
@Suite("Unaligned chunks", .serialized)
struct UnalignedChunkTests {
    static let configuration = UMEMConfiguration(frameCount: 4096, frameSize: 4001, unalignedChunks: true)

    @Test("4001-byte frames: packets arrive in order with their payload", arguments: [AttachMode.generic, .native])
    func sendReceive(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UnalignedChunkTests.configuration
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config, fill: false)
        let packets = sequencedPackets(1000, link: link, frameLength: 1400)
        #expect(transmit(packets, from: &sender) == packets.count)

        // Receive by hand to look at where the kernel put each packet.
        var received: [[UInt8]] = []
        var misplaced = 0
        let deadline = Deadline(seconds: 5)
        while received.count < packets.count && !deadline.passed {
            let ready = receiver.socket.rx.peek(upTo: 64)
            if ready == 0 { receiver.socket.poll(timeoutMilliseconds: 10); continue }
            _ = receiver.socket.fill.freeCount(wanting: ready)
            for _ in 0..<ready {
                let frame = receiver.socket.rx.receive()
                // Chunks are 4001 bytes apart; the packet starts past the XDP headroom.
                if frame.chunkAddress % 4001 != 0 || frame.headroom != UMEMConfiguration.kernelHeadroom { misplaced += 1 }
                received.append(copyBytes(of: frame))
                receiver.socket.fill.push(frame)
            }
            receiver.socket.rx.release()
            receiver.socket.fill.submit()
        }
        #expect(misplaced == 0)
        expectSame(received, packets)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
        let senderAccount = sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        #expect(try receiver.socket.statistics() == SocketStatistics())
        _ = program
    }

    @Test("4001-byte frames on 2 MiB huge pages: the mapping is huge pages and packets arrive", arguments: [AttachMode.generic, .native])
    func hugePages(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let reservation = try HugePageReservation(pages: 4)
        let config = UMEMConfiguration(frameCount: 1024, frameSize: 4001, fillRingSize: 512, completionRingSize: 512,
                                       hugePages: true, unalignedChunks: true)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config)
        #expect(kernelPageSize(of: receiver.umem.baseAddress) == 2048, "the UMEM is backed by 2 MiB pages")
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(500, link: link, frameLength: 1400)
        #expect(transmit(packets, from: &sender) == packets.count)
        expectSame(receive(packets.count, on: &receiver), packets)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
        _ = program
        _ = reservation
    }

    @Test("descriptors anywhere in the UMEM: crossing frames and pages is valid, leaving the UMEM or a frame's length is not",
          arguments: [AttachMode.generic, .native])
    func invalidDescriptors(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 32, frameSize: 4001, fillRingSize: 32, completionRingSize: 64, unalignedChunks: true)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config,
                                      socket: SocketConfiguration(txRingSize: 64), fill: false)
        let base = sender.umem.baseAddress
        // Frame i is chunk i * 4001. Descriptors at unusual places in some of them.
        let special: [Int: (offset: Int, length: Int, valid: Bool)] = [
            1: (4096 - 4001 - 32, 64, true),     // crosses the 4 KiB page boundary inside frame 1
            5: (0, 4002, false),                  // longer than a frame
            10: (4001 - 32, 64, true),           // runs into frame 11: fine without chunk alignment
            20: (17, 64, true),                  // an odd offset
            31: (4001 - 32, 64, false),          // the last frame: runs past the end of the UMEM
        ]
        let validCount = config.frameCount - special.values.filter { !$0.valid }.count
        let packets = sequencedPackets(validCount, link: link)
        var sent = 0
        for index in 0..<config.frameCount {
            guard var frame = sender.umem.pool.allocate() else { Issue.record("pool empty"); return }
            #expect(frame.chunkAddress == UInt64(index * 4001))
            if let descriptor = special[index] {
                if descriptor.valid {
                    let packet = packets[sent]
                    packet.withUnsafeBytes { (base + index * 4001 + descriptor.offset).copyMemory(from: $0.baseAddress!, byteCount: packet.count) }
                    sent += 1
                }
                sender.socket.tx.pushDescriptor(frame, offset: descriptor.offset, length: UInt32(descriptor.length))
            } else {
                write(packets[sent], into: &frame)
                sender.socket.tx.push(frame)
                sent += 1
            }
            if index == 3 { sender.socket.tx.pushDescriptor(address: UInt64(config.byteCount), length: 64) } // past the end
        }
        sender.socket.tx.submit()
        drainCompletions(&sender, expecting: config.frameCount + 1)
        try expectInvalidDescriptorOutcome(invalid: special.values.filter { !$0.valid }.count + 1, packets: packets, sender: &sender, receiver: &receiver)
        _ = program
    }
}
