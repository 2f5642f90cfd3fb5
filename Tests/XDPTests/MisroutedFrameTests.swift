import CXDP
import Testing
@testable import XDP

/// A frame pushed onto a ring (or released to a pool) of another UMEM: its
/// address would name a chunk of the wrong UMEM (a stranger's packet sent,
/// a chunk in use handed to the kernel). Debug builds trap at the spot
/// (driven in a child process, an exit test); release builds drop the frame
/// and count it in `Frame.misroutedCount`.
@Suite("Frames of another UMEM")
struct MisroutedFrameTests {
#if DEBUG
    @Test("debug: a frame of UMEM A pushed onto UMEM B's fill ring traps, naming the mistake",
          arguments: ["fill", "tx", "txPacket", "pool"])
    func misrouteTrapsInDebug(target: String) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [target] in
            let a = UnsafeMutableRawPointer.allocate(byteCount: 8 * 2048, alignment: 4096)
            let b = UnsafeMutableRawPointer.allocate(byteCount: 8 * 2048, alignment: 4096)
            var poolA = FramePool(base: a, frameCount: 8, frameSize: 2048, dataOffset: 256)
            var poolB = FramePool(base: b, frameCount: 8, frameSize: 2048, dataOffset: 256)
            let memory = FakeRingMemory<xdp_desc>(size: 8), fillMemory = FakeRingMemory<UInt64>(size: 8)
            var tx = TXRing(memory.producerHeader, umemBase: b, umemSize: 8 * 2048, frameSize: 2048)
            var fill = FillRing(fillMemory.producerHeader, umemBase: b)
            var frame = poolA.allocate()!
            frame.length = 64
            switch target {
            case "fill": fill.push(frame)
            case "tx": tx.push(frame)
            case "txPacket":
                var packet = FramePacket()
                packet.append(frame)
                tx.push(packet)
            default: poolB.release(frame)
            }
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("a Frame of another UMEM was pushed onto this ring or pool"), "\(message)")
    }
#else
    @Test("release: a frame of another UMEM is dropped, not queued, and counted in Frame.misroutedCount")
    func misrouteCountedInRelease() {
        let a = FakeRegion(frames: 8), b = FakeRegion(frames: 8)
        var poolA = FramePool(base: a.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        var poolB = FramePool(base: b.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        let memory = FakeRingMemory<xdp_desc>(size: 8), fillMemory = FakeRingMemory<UInt64>(size: 8)
        var tx = TXRing(memory.producerHeader, umemBase: b.base, umemSize: 8 * 2048, frameSize: 2048)
        var fill = FillRing(fillMemory.producerHeader, umemBase: b.base)
        let before = Frame.misroutedCount
        for target in ["fill", "tx", "pool"] {
            var frame = poolA.allocate()!
            frame.length = 64
            switch target {
            case "fill": fill.push(frame)
            case "tx": tx.push(frame)
            default: poolB.release(frame)
            }
        }
        fill.submit()
        tx.submit()
        #expect(Frame.misroutedCount == before + 3)
        #expect(fillMemory.producer.pointee == 0 && memory.producer.pointee == 0, "nothing reached the rings")
        #expect(poolB.count == 8, "nothing entered the other pool")
        #expect(poolA.count == 5, "the three are lost to their own UMEM, as leaked frames are")
    }
#endif

    @Test("frames of the ring's own UMEM pass the check and are queued")
    func ownFramesQueued() {
        let region = FakeRegion(frames: 8)
        var pool = FramePool(base: region.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        let memory = FakeRingMemory<xdp_desc>(size: 8), fillMemory = FakeRingMemory<UInt64>(size: 8)
        var tx = TXRing(memory.producerHeader, umemBase: region.base, umemSize: 8 * 2048, frameSize: 2048)
        var fill = FillRing(fillMemory.producerHeader, umemBase: region.base)
        let before = Frame.misroutedCount
        var frame = pool.allocate()!
        frame.length = 64
        tx.push(frame)
        fill.push(pool.allocate()!)
        pool.release(pool.allocate()!)
        tx.submit()
        fill.submit()
        #expect(memory.producer.pointee == 1 && fillMemory.producer.pointee == 1)
        #expect(pool.count == 6)
        #expect(Frame.misroutedCount == before)
    }
}
