import CXDP
@testable import XDP

/// Ring memory laid out as the kernel maps it (producer, consumer, flags,
/// entries), owned by the test, so ring index math can be checked without a
/// socket. The test plays the kernel's side by writing the indices directly.
final class FakeRingMemory<Entry> {
    let producer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let consumer = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let entries: UnsafeMutablePointer<Entry>
    let size: UInt32

    init(size: UInt32, start: UInt32 = 0) {
        self.size = size
        entries = .allocate(capacity: Int(size))
        producer.pointee = start
        consumer.pointee = start
        flags.pointee = 0
    }

    deinit {
        producer.deallocate(); consumer.deallocate(); flags.deallocate(); entries.deallocate()
    }

    var producerHeader: xsk_ring_prod {
        var ring = xsk_ring_prod()
        ring.cached_prod = producer.pointee
        ring.cached_cons = consumer.pointee &+ size
        ring.mask = size - 1
        ring.size = size
        ring.producer = producer
        ring.consumer = consumer
        ring.flags = flags
        ring.ring = UnsafeMutableRawPointer(entries)
        return ring
    }

    var consumerHeader: xsk_ring_cons {
        var ring = xsk_ring_cons()
        ring.cached_prod = producer.pointee
        ring.cached_cons = consumer.pointee
        ring.mask = size - 1
        ring.size = size
        ring.producer = producer
        ring.consumer = consumer
        ring.flags = flags
        ring.ring = UnsafeMutableRawPointer(entries)
        return ring
    }
}

/// A fake UMEM: plain page-aligned memory standing in for the mapping.
final class FakeRegion {
    let base: UnsafeMutableRawPointer
    init(frames: Int = 64, frameSize: Int = 2048) {
        base = .allocate(byteCount: frames * frameSize, alignment: 4096)
    }
    deinit { base.deallocate() }
}
