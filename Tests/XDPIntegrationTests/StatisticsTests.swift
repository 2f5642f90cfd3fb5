import Packet
import Testing
import XDP
import XDPControl

/// XDP_STATISTICS counters move as the kernel defines them.
@Suite("Statistics", .serialized)
struct StatisticsTests {
    @Test("rx_dropped: a packet longer than the frame can hold", arguments: [AttachMode.generic, .native])
    func rxDropped(mode: AttachMode) throws {
        let lab = try makeLab(mtu: 3000)
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface,
                                      umem: UMEMConfiguration(frameSize: 4096), fill: false)
        // A 2048-byte frame holds 2048 - 256 = 1792 bytes of packet.
        let tooLong = sequencedPackets(10, link: link, frameLength: 2000)
        let fitting = sequencedPackets(5, link: link, frameLength: 1792)
        #expect(transmit(tooLong + fitting, from: &sender) == 15)
        expectSame(receive(5, on: &receiver), fitting)
        let stats = try receiver.socket.statistics()
        #expect(stats.rxDropped == 10)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
        _ = program
    }

    @Test("rx_ring_full: every packet is received or counted", arguments: [AttachMode.generic, .native])
    func rxRingFull(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface,
                                        socket: SocketConfiguration(rxRingSize: 64))
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(500, link: link)
        #expect(transmit(packets, from: &sender) == packets.count)
        let received = receive(500, on: &receiver, timeout: 0.5)
        let stats = try receiver.socket.statistics()
        #expect(received.count == 64)
        #expect(stats.rxRingFull == UInt64(500 - received.count))
        expectSame(received, Array(packets.prefix(64)))
        // The loop recovers once the ring drains.
        let more = sequencedPackets(20, link: link)
        #expect(transmit(more, from: &sender) == more.count)
        expectSame(receive(20, on: &receiver), more)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
        _ = program
    }

    @Test("fill ring empty: packets are dropped and counted, then flow once frames are given", arguments: [AttachMode.generic, .native])
    func fillRingEmpty(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, fill: false)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        #expect(transmit(sequencedPackets(50, link: link), from: &sender) == 50)
        #expect(receive(1, on: &receiver, timeout: 0.3).isEmpty)
        let starved = try receiver.socket.statistics()
        #expect(starved.rxFillRingEmpty > 0)
        #expect(starved.rxDropped == 50)

        receiver.socket.fill.refill(from: &receiver.umem.pool, upTo: 1024)
        let packets = sequencedPackets(30, link: link)
        #expect(transmit(packets, from: &sender) == packets.count)
        expectSame(receive(30, on: &receiver), packets)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
        _ = program
    }

    @Test("tx_ring_empty_descs: a kick with nothing to send is counted")
    func txRingEmpty() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface,
                                      socket: SocketConfiguration(needWakeup: false), fill: false)
        let kicked = sender.socket.kickTransmit()
        #expect(kicked)
        let stats = try sender.socket.statistics()
        #expect(stats.txRingEmpty > 0)
    }
}
