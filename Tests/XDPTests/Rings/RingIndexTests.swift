import CXDP
import Testing
@testable import XDP

/// Producer/consumer index math, including wrap-around of the 32-bit indices.
@Suite("Ring indices")
struct RingIndexTests {
    @Test("a producer sees its free space, publishes with release, and re-reads the consumer only when short", arguments: [UInt32(0), UInt32.max - 5])
    func producer(start: UInt32) {
        let memory = FakeRingMemory<UInt64>(size: 8, start: start)
        var ring = ProducerRing<UInt64>(memory.producerHeader)
        #expect(ring.freeCount(wanting: 1) == 8)
        for value in 0..<8 { ring.append(UInt64(value)) }
        #expect(ring.cachedFreeCount == 0)
        #expect(memory.producer.pointee == start, "nothing visible before publish")
        ring.publish()
        #expect(memory.producer.pointee == start &+ 8)
        #expect(ring.freeCount(wanting: 1) == 0)
        // The kernel consumes three; the producer notices only when it asks for more than it knows.
        memory.consumer.pointee = start &+ 3
        #expect(ring.freeCount(wanting: 1) == 3)
        for value in 8..<11 { ring.append(UInt64(value)) }
        ring.publish()
        // Entries landed at index & mask: the ring wrapped.
        for offset in 0..<11 {
            let index = Int((start &+ UInt32(offset)) & 7)
            if offset >= 3 { #expect(memory.entries[index] == UInt64(offset)) }
        }
        #expect(ring.outstanding == 8)
    }

    @Test("a consumer reads what was published, in order, across the wrap", arguments: [UInt32(0), UInt32.max - 2])
    func consumer(start: UInt32) {
        let memory = FakeRingMemory<UInt64>(size: 4, start: start)
        var ring = ConsumerRing<UInt64>(memory.consumerHeader)
        #expect(ring.available(upTo: 64) == 0)
        var produced: UInt32 = start
        var next: UInt64 = 0
        var expected: UInt64 = 0
        for round in 0..<5 {
            let count = UInt32(round % 4 + 1)
            for _ in 0..<count {
                memory.entries[Int(produced & 3)] = next
                next += 1
                produced &+= 1
            }
            memory.producer.pointee = produced
            let available = ring.available(upTo: 64)
            #expect(available == count)
            for _ in 0..<available {
                #expect(ring.next() == expected)
                expected += 1
            }
            #expect(memory.consumer.pointee != produced || count == 0, "consumer index moves only on release")
            ring.release()
            #expect(memory.consumer.pointee == produced)
        }
    }

    @Test("available(upTo:) caps the batch and keeps the rest cached")
    func batchCap() {
        let memory = FakeRingMemory<UInt64>(size: 16)
        memory.producer.pointee = 10
        var ring = ConsumerRing<UInt64>(memory.consumerHeader)
        #expect(ring.available(upTo: 4) == 4)
        for _ in 0..<4 { _ = ring.next() }
        memory.producer.pointee = 12   // not re-read while the cache is non-empty
        #expect(ring.available(upTo: 64) == 6)
        for _ in 0..<6 { _ = ring.next() }
        #expect(ring.available(upTo: 64) == 2)
    }

    @Test("need-wakeup reflects the kernel's flag")
    func needWakeup() {
        let memory = FakeRingMemory<UInt64>(size: 4)
        let ring = ProducerRing<UInt64>(memory.producerHeader)
        let before = ring.needsWakeup
        memory.flags.pointee = cxdp_ring_need_wakeup
        let after = ring.needsWakeup
        #expect(!before && after)
    }
}
