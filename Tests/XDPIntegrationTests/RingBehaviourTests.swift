import Glibc
import Packet
import Testing
@_spi(Testing) import XDP
import XDPControl

/// xskxceiver's poll, invalid-descriptor, headroom and bidirectional cases.
@Suite("Ring behaviour", .serialized)
struct RingBehaviourTests {
    @Test("poll(): an empty RX ring times out, a filled one wakes", arguments: [AttachMode.generic, .native])
    func pollReceive(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)

        let idleReady = receiver.socket.poll(timeoutMilliseconds: 50)
        #expect(idleReady == false)
        let canSend = sender.socket.poll(forTransmit: true, timeoutMilliseconds: 0)
        #expect(canSend, "an idle TX ring has room: POLLOUT")

        let packets = sequencedPackets(300, link: link)
        #expect(transmit(packets, from: &sender) == packets.count)
        let woke = receiver.socket.poll(timeoutMilliseconds: 1000)
        #expect(woke)
        // Receive driven by poll() alone: wait, then drain.
        var received: [[UInt8]] = []
        let deadline = Deadline(seconds: 5)
        while received.count < packets.count && !deadline.passed {
            guard receiver.socket.poll(timeoutMilliseconds: 100) else { continue }
            received += receive(receiver.socket.rx.peek(), on: &receiver, timeout: 0.1)
        }
        expectSame(received, packets)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
        _ = program
    }

    @Test("invalid TX descriptors are discarded and counted, valid ones pass", arguments: [AttachMode.generic, .native])
    func invalidDescriptors(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 32, frameSize: 2048, fillRingSize: 32, completionRingSize: 64)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config,
                                      socket: SocketConfiguration(txRingSize: 64), fill: false)

        // Frames come out of a fresh pool in address order: frame i is chunk i.
        // Some carry descriptors the kernel must reject (xskxceiver's cases).
        let frameBacked: [Int: (offset: Int, length: UInt32)] = [
            5: (0, 2049),                 // longer than a frame
            10: (2048 - 32, 64),          // straddles a frame boundary (aligned mode)
            31: (2048 - 32, 64),          // last frame: straddles the end of the UMEM
        ]
        let packets = sequencedPackets(config.frameCount - frameBacked.count, link: link)
        var sent = 0
        for index in 0..<config.frameCount {
            guard var frame = sender.umem.pool.allocate() else { Issue.record("pool empty"); return }
            #expect(frame.chunkAddress == UInt64(index * 2048))
            if let bad = frameBacked[index] {
                sender.socket.tx.pushDescriptor(frame, offset: bad.offset, length: bad.length)
            } else {
                write(packets[sent], into: &frame)
                sender.socket.tx.push(frame)
                sent += 1
            }
            if index == 3 { sender.socket.tx.pushDescriptor(address: UInt64(config.byteCount), length: 64) } // past the end
            if index == 20 { sender.socket.tx.pushDescriptor(address: UInt64.max - 1, length: 64) }          // straddles the start
        }
        sender.socket.tx.submit()
        drainCompletions(&sender, expecting: config.frameCount + 2)
        try expectInvalidDescriptorOutcome(invalid: frameBacked.count + 2, packets: packets, sender: &sender, receiver: &receiver)
        _ = program
    }

    @Test("UMEM headroom: packets start past it, and the head moves within it", arguments: [AttachMode.generic, .native])
    func headroom(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 4096, frameSize: 4096, headroom: 512)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config, fill: false)
        let packets = sequencedPackets(10, link: link, frameLength: 1000)
        #expect(transmit(packets, from: &sender) == packets.count)

        var checked = 0
        let deadline = Deadline(seconds: 5)
        while checked < packets.count && !deadline.passed {
            let ready = receiver.socket.rx.peek()
            if ready == 0 { receiver.socket.poll(timeoutMilliseconds: 10); continue }
            for _ in 0..<ready {
                var frame = receiver.socket.rx.receive()
                let headroom = frame.headroom
                #expect(headroom == 512 + UMEMConfiguration.kernelHeadroom)
                #expect(copyBytes(of: frame) == packets[checked])
                let stripped = frame.adjustHead(by: 14)     // strip Ethernet
                #expect(stripped)
                let strippedLength = frame.length
                #expect(strippedLength == packets[checked].count - 14)
                let versionByte = copyBytes(of: frame)[0]
                #expect(versionByte == 0x45)
                let restored = frame.adjustHead(by: -14)    // and put it back
                #expect(restored)
                let pastStart = frame.adjustHead(by: -(frame.headroom + 1))
                #expect(!pastStart, "cannot grow past the chunk start")
                let pastEnd = frame.adjustHead(by: frame.length + 1)
                #expect(!pastEnd, "cannot shrink below empty")
                #expect(copyBytes(of: frame) == packets[checked])
                receiver.socket.fill.push(frame)
                checked += 1
            }
            receiver.socket.rx.release()
            receiver.socket.fill.submit()
        }
        #expect(checked == packets.count)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
        _ = program
    }

    @Test("bidirectional: both ends send and receive at once", arguments: [AttachMode.generic, .native])
    func bidirectional(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 4096, fillRingSize: 1024)
        var device = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config)
        var peer = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config)
        let deviceProgram = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: device.socket)
        let peerProgram = try attachProgram(namespace: lab.peerNamespace, interface: link.peerInterface, mode: mode, registering: peer.socket)

        let forward = sequencedPackets(500, link: link)
        let reverse = forward.map { packet in
            // Same packets with the Ethernet addresses swapped.
            Array(packet[6..<12]) + Array(packet[0..<6]) + Array(packet[12...])
        }
        #expect(transmit(forward, from: &peer) == forward.count)
        #expect(transmit(reverse, from: &device) == reverse.count)
        expectSame(receive(forward.count, on: &device), forward)
        expectSame(receive(reverse.count, on: &peer), reverse)
        let conserved = device.accounting.isConserved && peer.accounting.isConserved
        #expect(conserved)
        #expect(try deviceProgram.counters().redirected == 500)
        #expect(try peerProgram.counters().redirected == 500)
    }
}
