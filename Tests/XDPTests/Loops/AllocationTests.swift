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
    /// Fake ring memory for one socket and a fake UMEM, with the kernel's side of the rings.
    final class FakeKernel {
        let region = UnsafeMutableRawPointer.allocate(byteCount: 4096 * 2048, alignment: 4096)
        let fillMemory = FakeRingMemory<UInt64>(size: 256), rxMemory = FakeRingMemory<xdp_desc>(size: 256)
        let txMemory = FakeRingMemory<xdp_desc>(size: 256), completionMemory = FakeRingMemory<UInt64>(size: 256)
        deinit { region.deallocate() }

        func queue() -> FakeQueue {
            FakeQueue(fill: FillRing(fillMemory.producerHeader, umemBase: region),
                      rx: RXRing(rxMemory.consumerHeader, base: region, frameSize: 2048),
                      tx: TXRing(txMemory.producerHeader, umemBase: region, umemSize: 4096 * 2048, frameSize: 2048),
                      completion: CompletionRing(completionMemory.consumerHeader, base: region, umemSize: 4096 * 2048, frameSize: 2048),
                      pool: FramePool(base: region, frameCount: 4096, frameSize: 2048, dataOffset: 256))
        }

        /// Fill entries become received packets of `chain` descriptors
        /// (`length` bytes each, at most `limit` descriptors); every TX entry completes.
        func step(chain: UInt32, length: UInt32, limit: UInt32) {
            let filled = (fillMemory.producer.pointee &- fillMemory.consumer.pointee) / chain * chain
            let taken = min(filled, limit)
            for i in 0..<taken {
                let address = fillMemory.entries[Int((fillMemory.consumer.pointee &+ i) & 255)]
                rxMemory.entries[Int((rxMemory.producer.pointee &+ i) & 255)] =
                    xdp_desc(addr: address + 256, len: length, options: i % chain == chain - 1 ? 0 : FramePacket.continuesFlag)
            }
            fillMemory.consumer.pointee &+= taken
            rxMemory.producer.pointee &+= taken
            let sent = txMemory.producer.pointee &- txMemory.consumer.pointee
            for i in 0..<sent {
                completionMemory.entries[Int((completionMemory.producer.pointee &+ i) & 255)] = txMemory.entries[Int((txMemory.consumer.pointee &+ i) & 255)].addr
            }
            txMemory.consumer.pointee &+= sent
            completionMemory.producer.pointee &+= sent
        }
    }

    /// The application's side: one socket's rings and its UMEM's pool.
    struct FakeQueue: ~Copyable {
        var fill: FillRing
        var rx: RXRing
        var tx: TXRing
        var completion: CompletionRing
        var pool: FramePool

        var accounting: FrameAccounting {
            FrameAccounting(total: pool.capacity, free: pool.count, receiveSide: Int(fill.produced &- rx.consumed),
                            transmitSide: Int(tx.produced &- completion.consumed))
        }
    }

    /// Allocations of the calling thread during 100 000 calls of `batch`, after a warm-up.
    static func allocations(of batch: () -> Void) -> Int {
        for _ in 0..<1000 { batch() }   // warm up (lazy runtime metadata)
        let before = allocation_counter_thread_total()
        for _ in 0..<100_000 { batch() }
        let allocations = Int(allocation_counter_thread_total() - before)
        #expect(before > 0, "the counter counts (setup allocated)")
        return allocations
    }

    static func expectNone(_ allocations: Int) {
        #if DEBUG
        // -Onone keeps some temporaries on the heap (2 per packet here); the
        // claim is about optimized code, which `make test` checks in its
        // release pass (swift test -c release --filter AllocationTests).
        #expect(allocations <= 3 * 64 * 100_000)
        #else
        #expect(allocations == 0, "\(allocations) allocations in 100 000 batches")
        #endif
    }

    @Test("100 000 batches of fill, RX, TX, completion and pool operations allocate no memory",
          .enabled(if: allocation_counter_is_active() != 0, "a sanitizer owns the allocator in this build"))
    func noAllocationPerBatch() {
        let kernel = FakeKernel()
        var queue = kernel.queue()
        var handler = MACSwapHandler()
        let allocations = AllocationTests.allocations {
            kernel.step(chain: 1, length: 64, limit: 64)
            // The application: Socket.receiveBatch's own code (less its syscalls) with a MAC-swapping handler.
            _ = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                               pool: &queue.pool, handler: &handler)
        }
        AllocationTests.expectNone(allocations)
        #expect(kernel.fillMemory.producer.pointee > 100_000, "the loop really ran")
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }

    @Test("100 000 batches of multi-buffer packets (three-frame chains received, sent back, completed) allocate no memory",
          .enabled(if: allocation_counter_is_active() != 0, "a sanitizer owns the allocator in this build"))
    func noAllocationPerMultiBufferBatch() {
        let kernel = FakeKernel()
        var queue = kernel.queue()
        var handler = FirstFrameHandler(MACSwapHandler())
        let allocations = AllocationTests.allocations {
            kernel.step(chain: 3, length: 1792, limit: 63)
            // The application: Socket.receiveBatch's own code (less its syscalls) over chains, MACs swapped in the first frame.
            _ = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                               pool: &queue.pool, handler: &handler)
        }
        AllocationTests.expectNone(allocations)
        #expect(kernel.txMemory.producer.pointee > 100_000, "the loop really sent chains")
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }
}
