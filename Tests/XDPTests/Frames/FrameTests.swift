import CXDP
import Testing
@_spi(Testing) @testable import XDP

/// Frames, the frame pool, and the typed rings over fake ring memory.
@Suite("Frames and pool")
struct FrameTests {
    /// A fake UMEM: plain memory standing in for the mapping.
    final class Region {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 8 * 2048, alignment: 4096)
        deinit { base.deallocate() }
    }

    @Test("a fresh pool hands out frames in address order and takes them back")
    func pool() {
        let region = Region()
        var pool = FramePool(base: region.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        #expect(pool.count == 8 && pool.capacity == 8)
        guard let first = pool.allocate(), let second = pool.allocate() else { Issue.record("empty"); return }
        #expect(first.chunkAddress == 0 && second.chunkAddress == 2048)
        #expect(first.address == 256 && first.headroom == 256 && first.length == 0 && first.capacity == 2048 - 256)
        #expect(pool.count == 6)
        pool.release(first)
        pool.release(second)
        #expect(pool.count == 8)
    }

    @Test("length and head adjustments stay inside the chunk")
    func bounds() {
        let region = Region()
        var pool = FramePool(base: region.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        guard var frame = pool.allocate() else { Issue.record("empty"); return }
        frame.length = 100
        frame.withUnsafeMutableBytes { buffer in for i in buffer.indices { buffer[i] = UInt8(i) } }
        var view = frame.mutableBytes
        view.storeBytes(of: 0xAB, toByteOffset: 1, as: UInt8.self)
        #expect(frame.bytes.byteCount == 100)
        #expect(frame.bytes.unsafeLoad(fromByteOffset: 1, as: UInt8.self) == 0xAB)
        let grew = frame.adjustHead(by: -256)
        #expect(grew && frame.headroom == 0 && frame.length == 356)
        let tooFar = frame.adjustHead(by: -1)
        #expect(!tooFar)
        let shrank = frame.adjustHead(by: 356)
        #expect(shrank && frame.length == 0)
        let beyond = frame.adjustHead(by: 1)
        #expect(!beyond)
        #expect(frame.capacity == 2048 - 356)
        pool.release(frame)
    }

    @Test("fill ring: push, submit, and refill from the pool up to its room")
    func fillRing() {
        let region = Region()
        let memory = FakeRingMemory<UInt64>(size: 4)
        var fill = FillRing(memory.producerHeader, umemBase: region.base)
        var pool = FramePool(base: region.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        #expect(fill.refill(from: &pool) == 4, "bounded by the ring's room")
        #expect(memory.producer.pointee == 4)
        #expect(pool.count == 4)
        #expect(fill.refill(from: &pool) == 0)
        memory.consumer.pointee = 2                    // the kernel took two
        #expect(fill.freeCount(wanting: 1) == 2)
        guard let frame = pool.allocate() else { Issue.record("empty"); return }
        fill.push(frame)
        fill.submit()
        #expect(memory.producer.pointee == 5)
        #expect(fill.produced == 5)
    }

    @Test("RX ring: received frames carry the kernel's address and length")
    func rxRing() {
        let region = Region()
        let memory = FakeRingMemory<xdp_desc>(size: 4)
        var rx = RXRing(memory.consumerHeader, base: region.base, frameSize: 2048)
        memory.entries[0] = xdp_desc(addr: 2048 * 3 + 256, len: 60, options: 0)
        memory.entries[1] = xdp_desc(addr: 2048 * 5 + 512, len: 1500, options: 0)
        memory.producer.pointee = 2
        #expect(rx.peek(upTo: 64) == 2)
        let first = rx.receive()
        let second = rx.receive()
        #expect(first.chunkAddress == 2048 * 3 && first.headroom == 256 && first.length == 60)
        #expect(second.chunkAddress == 2048 * 5 && second.headroom == 512 && second.length == 1500)
        rx.release()
        #expect(memory.consumer.pointee == 2)
        // Give both back through a fill ring.
        let fillMemory = FakeRingMemory<UInt64>(size: 4)
        var fill = FillRing(fillMemory.producerHeader, umemBase: region.base)
        fill.push(first)
        fill.push(second)
        fill.submit()
        #expect(fillMemory.entries[0] == 2048 * 3 && fillMemory.entries[1] == 2048 * 5)
    }

    @Test("TX and completion rings: frames go out as descriptors and come back to the pool")
    func txAndCompletion() {
        let region = Region()
        let txMemory = FakeRingMemory<xdp_desc>(size: 4)
        let completionMemory = FakeRingMemory<UInt64>(size: 4)
        var tx = TXRing(txMemory.producerHeader, umemBase: region.base, umemSize: 8 * 2048, frameSize: 2048)
        var completion = CompletionRing(completionMemory.consumerHeader, base: region.base, umemSize: 8 * 2048, frameSize: 2048)
        var pool = FramePool(base: region.base, frameCount: 8, frameSize: 2048, dataOffset: 256)
        guard var frame = pool.allocate() else { Issue.record("empty"); return }
        frame.length = 64
        tx.push(frame)
        tx.pushDescriptor(address: 8 * 2048 + 100, length: 64)  // frameless, past the UMEM
        tx.submit()
        #expect(txMemory.entries[0].addr == 256 && txMemory.entries[0].len == 64)
        #expect(tx.produced == 1, "frameless descriptors are not frames in flight")
        // The kernel completes both.
        completionMemory.entries[0] = 256
        completionMemory.entries[1] = 8 * 2048 + 100
        completionMemory.producer.pointee = 2
        #expect(completion.drainSkippingFrameless(into: &pool) == 2)
        #expect(pool.count == 8, "the frame came back, the frameless address did not enter the pool")
        #expect(completion.consumed == 1)
    }

    @Test("accounting: a sum over the places frames can be")
    func accountingDescription() {
        var account = FrameAccountingFixture.make(total: 10, free: 4)
        account.receiveSide = 4
        account.transmitSide = 1
        #expect(account.held == 1 && !account.isConserved)
        account.transmitSide = 2
        #expect(account.isConserved)
        #expect(account.description.contains("total 10"))
    }

    @Test("statistics subtract and add field by field")
    func statisticsArithmetic() {
        let a = SocketStatistics(rxDropped: 5, rxInvalidDescriptors: 1, txInvalidDescriptors: 2, rxRingFull: 3, rxFillRingEmpty: 4, txRingEmpty: 6)
        let b = SocketStatistics(rxDropped: 1, rxInvalidDescriptors: 1, txInvalidDescriptors: 1, rxRingFull: 1, rxFillRingEmpty: 1, txRingEmpty: 1)
        #expect(a - b == SocketStatistics(rxDropped: 4, rxInvalidDescriptors: 0, txInvalidDescriptors: 1, rxRingFull: 2, rxFillRingEmpty: 3, txRingEmpty: 5))
        #expect((a - b) + b == a)
    }

    @Test("errors carry errno, operation and hint")
    func errors() {
        let error = XDPError.fromErrno(16, operation: "bind AF_XDP socket to xd0 queue 0")
        #expect(error.kind == .busy && error.errno == 16)
        #expect(error.description.hasPrefix("bind AF_XDP socket to xd0 queue 0: EBUSY"))
        #expect(XDPError.fromErrno(1, operation: "x").kind == .permissionDenied)
        #expect(XDPError.fromErrno(19, operation: "x").kind == .interfaceNotFound)
        #expect(XDPError.fromErrno(105, operation: "x").kind == .outOfMemory)
    }
}

enum FrameAccountingFixture {
    static func make(total: Int, free: Int) -> FrameAccounting {
        FrameAccounting(total: total, free: free, receiveSide: 0, transmitSide: 0)
    }
}
