import CXDP
import Testing
@testable import XDP

/// Multi-buffer packets over fake ring memory: the test plays the kernel.
@Suite("Frame packets")
struct FramePacketTests {
    /// Publishes descriptors on a fake RX ring: (chunk index, length, continues).
    static func publish(_ descriptors: [(Int, UInt32, Bool)], on memory: FakeRingMemory<xdp_desc>) {
        for (chunk, length, continues) in descriptors {
            memory.entries[Int(memory.producer.pointee & (memory.size - 1))] =
                xdp_desc(addr: UInt64(chunk * 2048 + 256), len: length, options: continues ? FramePacket.continuesFlag : 0)
            memory.producer.pointee &+= 1
        }
    }

    @Test("RX: a chain becomes one packet; an unfinished chain waits; an over-long one is dropped and counted")
    func receive() {
        let region = FakeRegion()
        let memory = FakeRingMemory<xdp_desc>(size: 64)
        var rx = RXRing(memory.consumerHeader, base: region.base, frameSize: 2048)
        var pool = FramePool(base: region.base, frameCount: 64, frameSize: 2048, dataOffset: 256)
        for _ in 0..<64 { _ = pool.pop() }   // every frame is "in the kernel"

        FramePacketTests.publish([(0, 1792, true), (1, 1792, true)], on: memory)
        let early = rx.receivePacket(droppingOversizedInto: &pool)
        let earlyIsNil = early == nil
        #expect(earlyIsNil, "the end is not published yet")
        FramePacketTests.publish([(2, 100, false)], on: memory)
        guard let packet = rx.receivePacket(droppingOversizedInto: &pool) else { Issue.record("no packet"); return }
        #expect(packet.count == 3 && packet.length == 1792 * 2 + 100)
        #expect(packet.segment(2) == FrameSegment(chunk: 2 * 2048, offset: 256, length: 100))
        let lastLength = packet.bytes(segment: 2).byteCount
        #expect(lastLength == 100)
        pool.release(packet)
        #expect(pool.count == 3)

        let tooLong = (0..<(FramePacket.capacity + 1)).map { (3 + $0, UInt32(64), $0 < FramePacket.capacity) }
        FramePacketTests.publish(tooLong + [(30, 64, false)], on: memory)
        guard let next = rx.receivePacket(droppingOversizedInto: &pool) else { Issue.record("no packet"); return }
        #expect(next.count == 1 && next.segment(0).chunk == 30 * 2048)
        #expect(rx.oversizedPackets == 1)
        #expect(pool.count == 3 + FramePacket.capacity + 1, "the over-long chain's frames went to the pool")
        pool.release(next)
        rx.release()
        #expect(memory.consumer.pointee == memory.producer.pointee)
    }

    @Test("TX: a packet goes out as a chain, XDP_PKT_CONTD on all but the last; fill takes all its frames")
    func transmit() {
        let region = FakeRegion()
        let txMemory = FakeRingMemory<xdp_desc>(size: 8), fillMemory = FakeRingMemory<UInt64>(size: 8)
        var tx = TXRing(txMemory.producerHeader, umemBase: region.base, umemSize: 64 * 2048, frameSize: 2048)
        var fill = FillRing(fillMemory.producerHeader, umemBase: region.base)
        var pool = FramePool(base: region.base, frameCount: 64, frameSize: 2048, dataOffset: 256)
        var packet = FramePacket()
        for length in [1000, 1000, 10] {
            var frame = pool.allocate()!
            frame.length = length
            packet.append(frame)
        }
        #expect(packet.length == 2010)
        tx.push(packet)
        tx.submit()
        #expect(txMemory.producer.pointee == 3)
        #expect((0..<3).map { txMemory.entries[$0].options } == [FramePacket.continuesFlag, FramePacket.continuesFlag, 0])
        #expect((0..<3).map { txMemory.entries[$0].addr } == [256, 2048 + 256, 4096 + 256])

        var second = FramePacket(pool.allocate()!)
        second.append(pool.allocate()!)
        fill.push(second)
        fill.submit()
        #expect(fillMemory.producer.pointee == 2)
        #expect(pool.count == 64 - 5)
    }

    @Test("metadata: read only where the program's magic number marks it")
    func metadata() {
        let region = FakeRegion()
        var pool = FramePool(base: region.base, frameCount: 64, frameSize: 2048, dataOffset: 256)
        var frame = pool.allocate()!
        #expect(frame.metadata == nil, "no magic: nothing read")
        let area = region.base + 256 - RXMetadata.byteCount
        area.storeBytes(of: 1234, toByteOffset: 0, as: UInt64.self)          // timestamp, not marked present
        area.storeBytes(of: 0xDEAD_BEEF, toByteOffset: 8, as: UInt32.self)   // hash
        area.storeBytes(of: 2, toByteOffset: 12, as: UInt32.self)            // hash type
        area.storeBytes(of: 100, toByteOffset: 16, as: UInt16.self)          // VLAN TCI
        area.storeBytes(of: UInt16(0x8100).bigEndian, toByteOffset: 18, as: UInt16.self)
        area.storeBytes(of: RXMetadata.hashPresent | RXMetadata.vlanPresent, toByteOffset: 20, as: UInt32.self)
        area.storeBytes(of: RXMetadata.magic, toByteOffset: 28, as: UInt32.self)
        let metadata = frame.metadata
        #expect(metadata == RXMetadata(hash: 0xDEAD_BEEF, hashType: 2, timestamp: nil,
                                       vlan: .init(protocolID: 0x8100, controlInformation: 100)))
        #expect(metadata?.vlan?.id == 100)
        // A packet whose head moved has no metadata right in front of it.
        frame.length = 64
        _ = frame.adjustHead(by: 14)
        #expect(frame.metadata == nil)
        let packet = FramePacket(frame)
        #expect(packet.metadata == nil)
        pool.release(packet)
    }
}
