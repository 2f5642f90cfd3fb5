import Packet
import Testing
import XDP
import XDPControl

/// Two sockets on two interfaces share one UMEM (XDP_SHARED_UMEM): a frame
/// received on one port is transmitted on the other without a copy.
@Suite("Shared UMEM", .serialized)
struct SharedUMEMTests {
    /// A TX metadata length makes the UMEM registered directly (not by
    /// libxdp), so both ways of making UMEMs and sockets are covered.
    @Test("forward from one interface to another through one UMEM (libxdp or direct registration)",
          arguments: [AttachMode.generic, .native], [0, TXMetadata.byteCount])
    func forwardAcrossInterfaces(mode: AttachMode, txMetadataLength: Int) throws {
        let lab = try makeLab(linkCount: 2)
        let (inbound, outbound) = (lab.links[0], lab.links[1])
        var config = UMEMConfiguration(frameCount: 4096, fillRingSize: 1024)
        config.txMetadataLength = txMetadataLength

        // The forwarder: one UMEM, a socket on each device-side veth.
        var umem = try NetworkNamespace.withEntered(lab.deviceNamespace) { () throws(XDPError) -> UMEM in try UMEM(configuration: config) }
        var first = try lab.inDevice { () throws(XDPError) -> Socket in try Socket(umem: umem, interface: inbound.deviceInterface, queue: 0) }
        var second = try lab.inDevice { () throws(XDPError) -> Socket in try Socket(umem: umem, interface: outbound.deviceInterface, queue: 0) }
        first.fill.refill(from: &umem.pool, upTo: 1024)
        second.fill.refill(from: &umem.pool, upTo: 1024)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: inbound.deviceInterface, mode: mode, registering: first)
        let secondProgram = try attachProgram(namespace: lab.deviceNamespace, interface: outbound.deviceInterface, mode: mode, registering: second)

        // The sink behind the outbound port, and the source in front of the inbound one.
        var sink = try openEndpoint(namespace: lab.peerNamespace, interface: outbound.peerInterface)
        let sinkProgram = try attachProgram(namespace: lab.peerNamespace, interface: outbound.peerInterface, mode: mode, registering: sink.socket)
        var source = try openEndpoint(namespace: lab.peerNamespace, interface: inbound.peerInterface, fill: false)

        let packets = sequencedPackets(1000, link: inbound)
        #expect(transmit(packets, from: &source) == packets.count)

        // Forward: RX on the first socket, TX of the same frame on the second;
        // the sink receives as we go (one thread drives all three).
        var forwarded = 0
        var received: [[UInt8]] = []
        var addressesSeen = Set<UInt64>()
        let deadline = Deadline(seconds: 10)
        while received.count < packets.count && !deadline.passed {
            second.completion.drain(into: &umem.pool)
            first.fill.refill(from: &umem.pool)
            let ready = first.rx.peek(upTo: 64)
            let batch = min(ready, second.tx.freeCount(wanting: ready))
            for _ in 0..<batch {
                let frame = first.rx.receive()
                addressesSeen.insert(frame.chunkAddress)
                second.tx.push(frame)
            }
            if batch > 0 {
                first.rx.release()
                second.tx.submit()
            }
            forwarded += batch
            second.kickTransmit()
            received += receive(64, on: &sink, timeout: 0.001)
            if batch == 0 && ready == 0 { first.poll(timeoutMilliseconds: 1) }
        }
        #expect(forwarded == packets.count)
        expectSame(received, packets)

        // Reap the last completions, then every frame is accounted for.
        let settle = Deadline(seconds: 2)
        while !settle.passed {
            second.completion.drain(into: &umem.pool)
            second.kickTransmit()
            var account = FrameAccounting(umem)
            account.add(first)
            account.add(second)
            if account.transmitSide == 0 { break }
        }
        var account = FrameAccounting(umem)
        account.add(first)
        account.add(second)
        #expect(account.isConserved, "\(account)")
        #expect(account.transmitSide == 0)
        #expect(!addressesSeen.isEmpty)
        let firstStats = try first.statistics(), secondStats = try second.statistics()
        #expect(firstStats.rxDropped == 0 && secondStats.txInvalidDescriptors == 0)
        _ = program
        _ = secondProgram
        _ = sinkProgram
    }

    @Test("a second socket on the same (interface, queue) of one UMEM is refused")
    func oneSocketPerQueue() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let umem = try lab.inDevice { () throws(XDPError) -> UMEM in try UMEM() }
        let socket = try lab.inDevice { () throws(XDPError) -> Socket in try Socket(umem: umem, interface: link.deviceInterface, queue: 0) }
        let error = #expect(throws: XDPError.self) {
            try lab.inDevice { () throws(XDPError) -> Void in _ = try Socket(umem: umem, interface: link.deviceInterface, queue: 0) }
        }
        #expect(error?.kind == .busy)
        _ = socket
    }
}
