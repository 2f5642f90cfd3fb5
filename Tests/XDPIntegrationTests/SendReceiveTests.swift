import Packet
import Testing
import XDP
import XDPControl

/// xskxceiver's send/receive cases: packets from an AF_XDP socket on the
/// peer end arrive at an AF_XDP socket on the device end, in order, intact.
@Suite("Send and receive", .serialized)
struct SendReceiveTests {
    @Test("N packets arrive in order with their payload", arguments: [AttachMode.generic, .native], [2048, 4096])
    func inOrder(mode: AttachMode, frameSize: Int) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let config = UMEMConfiguration(frameCount: 4096, frameSize: frameSize)
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, umem: config)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        #expect(program.mode == mode)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, umem: config, fill: false)

        let packets = sequencedPackets(1000, link: link, frameLength: frameSize == 4096 ? 1400 : 200)
        #expect(transmit(packets, from: &sender) == packets.count)
        let received = receive(packets.count, on: &receiver)
        #expect(received.count == packets.count)
        #expect(received.map(sequenceNumber) == Array(0..<packets.count))
        expectSame(received, packets)

        let senderAccount = sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved, "\(receiverAccount)")
        #expect(receiverAccount.receiveSide == config.fillRingSize)
        #expect(try program.counters().redirected == UInt64(packets.count))
        let receiverStats = try receiver.socket.statistics()
        #expect(receiverStats == SocketStatistics())
    }

    @Test("a single packet", arguments: [AttachMode.generic, .native])
    func singlePacket(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(1, link: link)
        #expect(transmit(packets, from: &sender) == 1)
        expectSame(receive(1, on: &receiver), packets)
        #expect(try program.counters().redirected == 1)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
    }
}
