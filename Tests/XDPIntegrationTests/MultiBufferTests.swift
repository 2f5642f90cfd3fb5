import Glibc
import Packet
import Testing
import XDP
import XDPControl
import XDPLab

/// xskxceiver's multi-buffer cases on a veth pair with a 9000-byte MTU:
/// jumbo packets cross as chains of frames (XDP_USE_SG, XDP_PKT_CONTD).
@Suite("Multi-buffer", .serialized)
struct MultiBufferTests {
    static let jumbo = 9014   // MTU 9000 plus the Ethernet header

    @Test("9000-byte packets split over frames arrive whole and in order (4001: unaligned chunks)",
          arguments: [AttachMode.generic, .native], [2048, 4096, 4001])
    func jumboInOrder(mode: AttachMode, frameSize: Int) throws {
        let umem = UMEMConfiguration(frameCount: 4096, frameSize: frameSize, unalignedChunks: frameSize & (frameSize - 1) != 0)
        var jumbo = try JumboLab(mode: mode, umem: umem)
        let link = jumbo.link
        let attached = (jumbo.program.mode, jumbo.program.isMultiBuffer)
        #expect(attached == (mode, true))

        let packets = sequencedPackets(200, link: link, frameLength: MultiBufferTests.jumbo)
        #expect(transmitChains(packets, from: &jumbo.sender) == packets.count)
        let received = receivePackets(packets.count, on: &jumbo.receiver)
        #expect(received.map(\.bytes.count) == packets.map(\.count))
        expectSame(received.map(\.bytes), packets)
        let perFrame = frameSize - UMEMConfiguration.kernelHeadroom
        let expectedFrames = (MultiBufferTests.jumbo + perFrame - 1) / perFrame
        #expect(received.allSatisfy { $0.frames == expectedFrames }, "each packet in \(expectedFrames) frames")

        let receiverAccount = jumbo.receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
        let senderAccount = jumbo.sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        #expect(try jumbo.program.counters().redirected == UInt64(packets.count))
        #expect(try jumbo.receiver.socket.statistics() == SocketStatistics())
        #expect(jumbo.receiver.socket.rx.oversizedPackets == 0)
    }

    @Test("receiveBatch with a chain handler reflects jumbo chains whole (MAC swap in the first frame)", arguments: [AttachMode.generic, .native])
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
        var handler = FirstFrameHandler(MACSwapHandler())
        var reflected = 0
        let deadline = Deadline(seconds: 5)
        while reflected < packets.count && !deadline.passed {
            let result = device.socket.receiveBatch(limit: 16, pool: &device.umem.pool, handler: &handler)
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

    @Test("forwardBatch with a chain handler moves jumbo chains from one interface to another through one UMEM", arguments: [AttachMode.generic, .native])
    func forwardChains(mode: AttachMode) throws {
        let lab = try makeLab(linkCount: 2, mtu: 9000)
        let (inbound, outbound) = (lab.links[0], lab.links[1])
        let sg = SocketConfiguration(multiBuffer: true)
        var umem = try lab.inDevice { () throws(XDPError) -> UMEM in try UMEM(configuration: UMEMConfiguration(frameCount: 4096, frameSize: 4096)) }
        var first = try lab.inDevice { () throws(XDPError) -> Socket in
            try Socket(umem: umem, interface: inbound.deviceInterface, queue: 0, configuration: sg)
        }
        var second = try lab.inDevice { () throws(XDPError) -> Socket in
            try Socket(umem: umem, interface: outbound.deviceInterface, queue: 0, configuration: sg)
        }
        first.fill.refill(from: &umem.pool, upTo: 1024)
        second.fill.refill(from: &umem.pool, upTo: 1024)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: inbound.deviceInterface, mode: mode,
                                        multiBuffer: true, registering: first)
        var sink = try openEndpoint(namespace: lab.peerNamespace, interface: outbound.peerInterface, socket: sg)
        let sinkProgram = try attachProgram(namespace: lab.peerNamespace, interface: outbound.peerInterface, mode: mode,
                                            multiBuffer: true, registering: sink.socket)
        var source = try openEndpoint(namespace: lab.peerNamespace, interface: inbound.peerInterface, socket: sg, fill: false)

        let packets = sequencedPackets(100, link: inbound, frameLength: MultiBufferTests.jumbo)
        #expect(transmitChains(packets, from: &source) == packets.count)
        var handler = ForwardEverything()
        var forwarded = 0
        var received: [ReceivedPacket] = []
        let deadline = Deadline(seconds: 10)
        while received.count < packets.count && !deadline.passed {
            let result = Socket.forwardBatch(from: &first, to: &second, limit: 16, pool: &umem.pool, handler: &handler)
            forwarded += result.transmitted
            second.kickPendingTransmit()
            received += receivePackets(16, on: &sink, timeout: 0.001)
            if result.packets == 0 { first.poll(timeoutMilliseconds: 1) }
        }
        #expect(forwarded == packets.count)
        expectSame(received.map(\.bytes), packets)
        #expect(received.allSatisfy { $0.frames == 6 }, "9014 bytes in six of the sink's 2 KiB frames")
        let settle = Deadline(seconds: 2)
        while second.tx.produced != second.completion.consumed && !settle.passed {
            second.kickTransmit()
            second.completion.drain(into: &umem.pool)
        }
        var account = FrameAccounting(umem)
        account.add(first)
        account.add(second)
        #expect(account.isConserved, "\(account)")
        _ = program
        _ = sinkProgram
    }

    @Test("without XDP_USE_SG a packet longer than a frame is dropped and counted", arguments: [AttachMode.generic, .native])
    func jumboWithoutMultiBuffer(mode: AttachMode) throws {
        var pair = try JumboLab(mode: mode, receiverMultiBuffer: false)
        let jumbo = sequencedPackets(10, link: pair.link, frameLength: MultiBufferTests.jumbo)
        let small = sequencedPackets(5, link: pair.link)
        #expect(transmitChains(jumbo + small, from: &pair.sender) == 15)
        expectSame(receive(small.count, on: &pair.receiver), small)
        let statistics = try pair.receiver.socket.statistics()
        #expect(statistics.rxDropped == UInt64(jumbo.count))
        #expect(try pair.program.counters().redirected == 15)
        let receiverAccount = pair.receiver.accounting
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

/// A lab with a 9000-byte MTU: a multi-buffer receiver on the device end
/// behind the frags-aware (or RX metadata) program, and a multi-buffer
/// sender on the peer end.
struct JumboLab: ~Copyable {
    var receiver: Endpoint
    let program: XDPProgram
    var sender: Endpoint
    /// Last, so it is torn down after the sockets and program.
    let lab: VethLab
    var link: VethLab.Link { lab.links[0] }

    init(mode: AttachMode, umem: UMEMConfiguration = .init(), receiverMultiBuffer: Bool = true, rxMetadata: Bool = false) throws {
        let lab = try makeLab(mtu: 9000)
        let link = lab.links[0]
        let receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: umem,
                                        socket: SocketConfiguration(multiBuffer: receiverMultiBuffer))
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode,
                                        multiBuffer: true, rxMetadata: rxMetadata, registering: receiver.socket)
        let sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: umem,
                                      socket: SocketConfiguration(multiBuffer: true), fill: false)
        self.lab = lab
        self.receiver = receiver
        self.program = program
        self.sender = sender
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

/// Sends every packet on (to the other port of a forwarder).
struct ForwardEverything: MultiBufferHandler {
    mutating func handle(_ packet: inout FramePacket) -> PacketVerdict { .transmit }
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
                write(packet[(index * room)..<min(packet.count, (index + 1) * room)], into: &frame)
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
