import CXDP
import Synchronization

/// The user-space producer side of a ring the kernel consumes (fill, TX).
///
/// Safety: the four pointers come from the kernel's mmap of this socket's
/// ring (via libxdp) and stay valid until the owning ``Socket`` deletes the
/// socket; `Socket` owns this value, so the ring cannot outlive the mapping.
/// We are the ring's only producer: `cachedProducer` is the truth, the shared
/// producer index is written only by ``publish()`` with release ordering, and
/// entries are written only in `[consumer, consumer + size)`, which the free
/// count guarantees.
@usableFromInline
struct ProducerRing<Entry: BitwiseCopyable>: ~Copyable {
    @usableFromInline let producer: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let consumer: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let flags: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    @usableFromInline let mask: UInt32
    @usableFromInline let size: UInt32
    /// Our producer index: entries written, published or not.
    @usableFromInline var cachedProducer: UInt32
    /// The kernel's consumer index as last read.
    @usableFromInline var cachedConsumer: UInt32

    init(_ ring: xsk_ring_prod) {
        producer = UnsafeMutableRawPointer(ring.producer).assumingMemoryBound(to: Atomic<UInt32>.self)
        consumer = UnsafeMutableRawPointer(ring.consumer).assumingMemoryBound(to: Atomic<UInt32>.self)
        flags = UnsafeMutableRawPointer(ring.flags).assumingMemoryBound(to: Atomic<UInt32>.self)
        entries = ring.ring.assumingMemoryBound(to: Entry.self)
        mask = ring.mask
        size = ring.size
        cachedProducer = producer.pointee.load(ordering: .relaxed)
        cachedConsumer = consumer.pointee.load(ordering: .acquiring)
    }

    /// Entries we may write without reading the consumer index again.
    @inlinable @inline(__always)
    var cachedFreeCount: UInt32 { size &- (cachedProducer &- cachedConsumer) }

    /// Free entries, re-reading the kernel's consumer index only when the
    /// cached view has fewer than `wanted`.
    @inlinable @inline(__always)
    mutating func freeCount(wanting wanted: UInt32) -> UInt32 {
        let free = cachedFreeCount
        if free >= wanted { return free }
        cachedConsumer = consumer.pointee.load(ordering: .acquiring)
        return cachedFreeCount
    }

    /// Writes one entry. The caller has checked ``freeCount(wanting:)``.
    @inlinable @inline(__always)
    mutating func append(_ entry: Entry) {
        entries[Int(truncatingIfNeeded: cachedProducer & mask)] = entry
        cachedProducer &+= 1
    }

    /// Entries written since the last ``publish()``.
    @inlinable @inline(__always)
    var unpublished: UInt32 { cachedProducer &- producer.pointee.load(ordering: .relaxed) }

    /// Makes every written entry visible to the kernel (store-release).
    @inlinable @inline(__always)
    func publish() {
        producer.pointee.store(cachedProducer, ordering: .releasing)
    }

    /// Whether the kernel asks for a syscall to notice new entries.
    @inlinable @inline(__always)
    var needsWakeup: Bool {
        flags.pointee.load(ordering: .relaxed) & cxdp_ring_need_wakeup != 0
    }

    /// Entries published and not yet consumed by the kernel, as last seen.
    var outstanding: UInt32 {
        producer.pointee.load(ordering: .relaxed) &- consumer.pointee.load(ordering: .acquiring)
    }
}
