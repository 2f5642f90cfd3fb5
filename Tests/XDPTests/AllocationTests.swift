import AllocationCounter
import CXDP
import Glibc
import Testing
@testable import XDP

/// The per-batch ring and frame-pool operations allocate nothing: every
/// allocator call of the test's thread is counted (AllocationCounter
/// interposes malloc and friends) around 100 000 batches over fake ring
/// memory, running the same ring, frame and pool code the socket loops run.
@Suite("Allocation")
struct AllocationTests {
    @Test("100 000 batches of fill, RX, TX, completion and pool operations allocate no memory",
          .enabled(if: allocation_counter_is_active() != 0, "a sanitizer owns the allocator in this build"))
    func noAllocationPerBatch() {
        final class Region { let base = UnsafeMutableRawPointer.allocate(byteCount: 4096 * 2048, alignment: 4096); deinit { base.deallocate() } }
        let region = Region()
        let fillMemory = FakeRingMemory<UInt64>(size: 256), rxMemory = FakeRingMemory<xdp_desc>(size: 256)
        let txMemory = FakeRingMemory<xdp_desc>(size: 256), completionMemory = FakeRingMemory<UInt64>(size: 256)
        var fill = FillRing(fillMemory.producerHeader)
        var rx = RXRing(rxMemory.consumerHeader, base: region.base, frameSize: 2048)
        var tx = TXRing(txMemory.producerHeader, umemSize: 4096 * 2048, frameSize: 2048)
        var completion = CompletionRing(completionMemory.consumerHeader, base: region.base, umemSize: 4096 * 2048, frameSize: 2048)
        var pool = FramePool(base: region.base, frameCount: 4096, frameSize: 2048, dataOffset: 256)
        var handler = MACSwapHandler()

        func batch() {
            // The "kernel": fill entries become received packets, TX entries complete.
            let filled = fillMemory.producer.pointee &- fillMemory.consumer.pointee
            for i in 0..<min(filled, 64) {
                let address = fillMemory.entries[Int((fillMemory.consumer.pointee &+ i) & 255)]
                rxMemory.entries[Int((rxMemory.producer.pointee &+ i) & 255)] = xdp_desc(addr: address + 256, len: 64, options: 0)
            }
            fillMemory.consumer.pointee &+= min(filled, 64)
            rxMemory.producer.pointee &+= min(filled, 64)
            let sent = txMemory.producer.pointee &- txMemory.consumer.pointee
            for i in 0..<sent {
                completionMemory.entries[Int((completionMemory.producer.pointee &+ i) & 255)] = txMemory.entries[Int((txMemory.consumer.pointee &+ i) & 255)].addr
            }
            txMemory.consumer.pointee &+= sent
            completionMemory.producer.pointee &+= sent
            // The application: the shape of Socket.receiveBatch with a MAC-swapping handler.
            completion.drain(into: &pool)
            let ready = rx.peek(upTo: 64)
            let room = tx.freeCount(wanting: ready)
            for index in 0..<ready {
                var frame = rx.receive()
                if index < room, handler.handle(&frame) == .transmit {
                    tx.push(frame)
                } else {
                    pool.release(frame)
                }
            }
            rx.release()
            tx.submit()
            fill.refill(from: &pool, upTo: 64)
        }

        for _ in 0..<1000 { batch() }   // warm up (lazy runtime metadata)
        let before = allocation_counter_thread_total()
        for _ in 0..<100_000 { batch() }
        let allocations = allocation_counter_thread_total() - before
        #if DEBUG
        // -Onone keeps some temporaries on the heap (2 per packet here); the
        // claim is about optimized code, which `make test` checks in its
        // release pass (swift test -c release --filter AllocationTests).
        #expect(allocations <= 3 * 64 * 100_000)
        #else
        #expect(allocations == 0, "\(allocations) allocations in 100 000 batches")
        #endif
        #expect(before > 0, "the counter counts (setup allocated)")
        #expect(fillMemory.producer.pointee > 100_000, "the loop really ran")
        var account = FrameAccounting(total: pool.capacity, free: pool.count, receiveSide: Int(fill.produced &- rx.consumed),
                                      transmitSide: Int(tx.produced &- completion.consumed))
        account.free = pool.count
        #expect(account.isConserved, "\(account)")
    }

    @Test("100 000 batches of multi-buffer packets (three-frame chains received, sent back, completed) allocate no memory",
          .enabled(if: allocation_counter_is_active() != 0, "a sanitizer owns the allocator in this build"))
    func noAllocationPerMultiBufferBatch() {
        final class Region { let base = UnsafeMutableRawPointer.allocate(byteCount: 4096 * 2048, alignment: 4096); deinit { base.deallocate() } }
        let region = Region()
        let fillMemory = FakeRingMemory<UInt64>(size: 256), rxMemory = FakeRingMemory<xdp_desc>(size: 256)
        let txMemory = FakeRingMemory<xdp_desc>(size: 256), completionMemory = FakeRingMemory<UInt64>(size: 256)
        var fill = FillRing(fillMemory.producerHeader)
        var rx = RXRing(rxMemory.consumerHeader, base: region.base, frameSize: 2048)
        var tx = TXRing(txMemory.producerHeader, umemSize: 4096 * 2048, frameSize: 2048)
        var completion = CompletionRing(completionMemory.consumerHeader, base: region.base, umemSize: 4096 * 2048, frameSize: 2048)
        var pool = FramePool(base: region.base, frameCount: 4096, frameSize: 2048, dataOffset: 256)
        var handler = MACSwapHandler()

        func batch() {
            // The "kernel": fill entries become received three-frame chains, TX entries complete.
            let filled = (fillMemory.producer.pointee &- fillMemory.consumer.pointee) / 3 * 3
            let taken = min(filled, 63)
            for i in 0..<taken {
                let address = fillMemory.entries[Int((fillMemory.consumer.pointee &+ i) & 255)]
                rxMemory.entries[Int((rxMemory.producer.pointee &+ i) & 255)] =
                    xdp_desc(addr: address + 256, len: 1792, options: i % 3 == 2 ? 0 : FramePacket.continuesFlag)
            }
            fillMemory.consumer.pointee &+= taken
            rxMemory.producer.pointee &+= taken
            let sent = txMemory.producer.pointee &- txMemory.consumer.pointee
            for i in 0..<sent {
                completionMemory.entries[Int((completionMemory.producer.pointee &+ i) & 255)] = txMemory.entries[Int((txMemory.consumer.pointee &+ i) & 255)].addr
            }
            txMemory.consumer.pointee &+= sent
            completionMemory.producer.pointee &+= sent
            // The application: the shape of Socket.receivePacketBatch with a MAC-swapping handler.
            completion.drain(into: &pool)
            while var packet = rx.receivePacket(droppingOversizedInto: &pool) {
                if tx.freeCount(wanting: packet.count) >= packet.count, handler.handle(&packet) == .transmit {
                    tx.push(packet)
                } else {
                    pool.release(packet)
                }
            }
            rx.release()
            tx.submit()
            fill.refill(from: &pool, upTo: 63)
        }

        for _ in 0..<1000 { batch() }   // warm up (lazy runtime metadata)
        let before = allocation_counter_thread_total()
        for _ in 0..<100_000 { batch() }
        let allocations = allocation_counter_thread_total() - before
        #if DEBUG
        #expect(allocations <= 3 * 64 * 100_000)
        #else
        #expect(allocations == 0, "\(allocations) allocations in 100 000 batches")
        #endif
        #expect(txMemory.producer.pointee > 100_000, "the loop really sent chains")
        let account = FrameAccounting(total: pool.capacity, free: pool.count, receiveSide: Int(fill.produced &- rx.consumed),
                                      transmitSide: Int(tx.produced &- completion.consumed))
        #expect(account.isConserved, "\(account)")
    }
}
