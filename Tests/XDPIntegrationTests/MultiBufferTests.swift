import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// xskxceiver's multi-buffer cases on a veth pair with a 9000-byte MTU:
/// jumbo packets cross as chains of frames (XDP_USE_SG, XDP_PKT_CONTD).
@Suite("Multi-buffer", .serialized)
struct MultiBufferTests {
    static let jumbo = 9014   // MTU 9000 plus the Ethernet header

    @Test("9000-byte packets split over frames arrive whole and in order (4001: unaligned chunks)",
          arguments: [AttachMode.generic, .native], [2048, 4096, 4001])
    func jumboInOrder(mode: AttachMode, frameSize: Int) throws {
        let lab = try makeLab(mtu: 9000)
        let link = lab.links[0]
        let umem = UMEMConfiguration(frameCount: 4096, frameSize: frameSize, unalignedChunks: frameSize & (frameSize - 1) != 0)
        let sg = SocketConfiguration(multiBuffer: true)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: umem, socket: sg)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode,
                                        multiBuffer: true, registering: receiver.socket)
        let attached = (program.mode, program.isMultiBuffer)
        #expect(attached == (mode, true))
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: umem, socket: sg, fill: false)

        let packets = sequencedPackets(200, link: link, frameLength: MultiBufferTests.jumbo)
        #expect(transmitChains(packets, from: &sender) == packets.count)
        let received = receivePackets(packets.count, on: &receiver)
        #expect(received.map(\.bytes.count) == packets.map(\.count))
        expectSame(received.map(\.bytes), packets)
        let perFrame = frameSize - UMEMConfiguration.kernelHeadroom
        let expectedFrames = (MultiBufferTests.jumbo + perFrame - 1) / perFrame
        #expect(received.allSatisfy { $0.frames == expectedFrames }, "each packet in \(expectedFrames) frames")

        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
        let senderAccount = sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        #expect(try program.counters().redirected == UInt64(packets.count))
        #expect(try receiver.socket.statistics() == SocketStatistics())
        #expect(receiver.socket.rx.oversizedPackets == 0)
    }

    @Test("receivePacketBatch reflects jumbo chains whole (MAC swap in the first frame)", arguments: [AttachMode.generic, .native])
    func reflectChains(mode: AttachMode) throws {
        let lab = try makeLab(mtu: 9000)
        let link = lab.links[0]
        let sg = SocketConfiguration(multiBuffer: true)
        var device = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, socket: sg)
        let deviceProgram = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode,
                                              multiBuffer: true, registering: device.socket)
        var peer = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, socket: sg)
        let peerProgram = try attachProgram(namespace: lab.peerNamespace, interface: link.peerInterface, mode: mode,
                                            multiBuffer: true, registering: peer.socket)
        let packets = sequencedPackets(100, link: link, frameLength: MultiBufferTests.jumbo)
        #expect(transmitChains(packets, from: &peer) == packets.count)
        var handler = MACSwapHandler()
        var reflected = 0
        let deadline = Deadline(seconds: 5)
        while reflected < packets.count && !deadline.passed {
            let result = device.socket.receivePacketBatch(limit: 16, pool: &device.umem.pool, handler: &handler)
            #expect(result.transmitDropped == 0)
            reflected += result.transmitted
            if result.packets == 0 { device.socket.poll(timeoutMilliseconds: 10) }
        }
        #expect(reflected == packets.count)
        // Copy mode sends a bounded number per kick: kick until all completed.
        let settle = Deadline(seconds: 5)
        while device.socket.tx.produced != device.socket.completion.consumed && !settle.passed {
            device.socket.kickTransmit()
            device.socket.completion.drain(into: &device.umem.pool)
            device.socket.poll(forTransmit: true, timeoutMilliseconds: 1)
        }
        let back = receivePackets(packets.count, on: &peer)
        let expected = packets.map { Array($0[6..<12]) + Array($0[0..<6]) + Array($0[12...]) }
        expectSame(back.map(\.bytes), expected)
        let deviceAccount = device.accounting
        #expect(deviceAccount.isConserved, "\(deviceAccount)")
        _ = deviceProgram
        _ = peerProgram
    }

    @Test("without XDP_USE_SG a packet longer than a frame is dropped and counted", arguments: [AttachMode.generic, .native])
    func jumboWithoutMultiBuffer(mode: AttachMode) throws {
        let lab = try makeLab(mtu: 9000)
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode,
                                        multiBuffer: true, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface,
                                      socket: SocketConfiguration(multiBuffer: true), fill: false)
        let jumbo = sequencedPackets(10, link: link, frameLength: MultiBufferTests.jumbo)
        let small = sequencedPackets(5, link: link)
        #expect(transmitChains(jumbo + small, from: &sender) == 15)
        expectSame(receive(small.count, on: &receiver), small)
        let statistics = try receiver.socket.statistics()
        #expect(statistics.rxDropped == UInt64(jumbo.count))
        #expect(try program.counters().redirected == 15)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
    }

    @Test("native mode with a 9000-byte MTU needs the frags-aware program")
    func nativeJumboNeedsFrags() throws {
        let lab = try makeLab(mtu: 9000)
        let link = lab.links[0]
        let error = lab.inDeviceCatching { () throws(XDPError) in
            _ = try XDPProgram(interface: link.deviceInterface, mode: .native)
        }
        #expect(error?.errno == ERANGE, "\(String(describing: error))")
        #expect(error?.hint.contains("multi-buffer") == true, "\(String(describing: error))")
    }
}

extension VethLab {
    /// Runs `body` in the device namespace and returns the error it threw, if any.
    func inDeviceCatching(_ body: () throws(XDPError) -> Void) -> XDPError? {
        do throws(XDPError) {
            try inDevice { () throws(XDPError) in try body() }
            return nil
        } catch {
            return error
        }
    }
}

/// A received packet, copied out: its bytes and how many frames carried it.
struct ReceivedPacket: Equatable {
    var bytes: [UInt8]
    var frames: Int
}

/// Sends each packet as a chain of as many frames as it needs (multi-buffer
/// socket), waits until every frame completed.
/// - Returns: The number of packets whose frames all completed.
@discardableResult
func transmitChains(_ packets: [[UInt8]], from endpoint: inout Endpoint, timeout: Double = 5) -> Int {
    var next = 0
    var framesSent = 0, framesCompleted = 0
    var framesPerPacket: [Int] = []
    let deadline = Deadline(seconds: timeout)
    while (next < packets.count || framesCompleted < framesSent) && !deadline.passed {
        framesCompleted += endpoint.socket.completion.drain(into: &endpoint.umem.pool)
        var pushed = 0
        while next < packets.count {
            let packet = packets[next]
            guard let probe = endpoint.umem.pool.allocate() else { break }
            let room = probe.capacity
            endpoint.umem.pool.release(probe)
            let frames = (packet.count + room - 1) / room
            guard endpoint.umem.pool.count >= frames, endpoint.socket.tx.freeCount(wanting: frames) >= frames else { break }
            var chain = FramePacket()
            for index in 0..<frames {
                var frame = endpoint.umem.pool.allocate()!
                let part = packet[(index * room)..<min(packet.count, (index + 1) * room)]
                frame.length = part.count
                frame.withUnsafeMutableBytes { buffer in part.withUnsafeBytes { buffer.copyMemory(from: $0) } }
                chain.append(frame)
            }
            endpoint.socket.tx.push(chain)
            framesSent += frames
            framesPerPacket.append(frames)
            next += 1
            pushed += 1
        }
        if pushed > 0 { endpoint.socket.tx.submit() }
        endpoint.socket.kickTransmit()
        if pushed == 0 { endpoint.socket.poll(forTransmit: true, timeoutMilliseconds: 10) }
    }
    // Packets whose frames all completed (completions come in order).
    var remaining = framesCompleted
    return framesPerPacket.prefix { frames in
        defer { remaining -= frames }
        return remaining >= frames
    }.count
}

/// Receives up to `count` whole packets on a multi-buffer `endpoint`, copying
/// them out and recycling their frames to the fill ring.
func receivePackets(_ count: Int, on endpoint: inout Endpoint, timeout: Double = 5) -> [ReceivedPacket] {
    var packets: [ReceivedPacket] = []
    let deadline = Deadline(seconds: timeout)
    while packets.count < count && !deadline.passed {
        guard var packet = endpoint.socket.rx.receivePacket(droppingOversizedInto: &endpoint.umem.pool) else {
            endpoint.socket.rx.release()
            endpoint.socket.fill.refill(from: &endpoint.umem.pool)
            endpoint.socket.wakeReceive()
            endpoint.socket.poll(timeoutMilliseconds: 10)
            continue
        }
        var bytes: [UInt8] = []
        packet.forEachSegment { bytes.append(contentsOf: $0) }
        packets.append(ReceivedPacket(bytes: bytes, frames: packet.count))
        if endpoint.socket.fill.freeCount(wanting: packet.count) >= packet.count {
            endpoint.socket.fill.push(packet)
        } else {
            endpoint.umem.pool.release(packet)
        }
        endpoint.socket.fill.submit()
    }
    endpoint.socket.rx.release()
    return packets
}
