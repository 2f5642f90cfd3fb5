import CXDP
import Synchronization

/// The user-space consumer side of a ring the kernel produces (RX, completion).
///
/// Safety: as for ``ProducerRing``, the pointers are the kernel's mapping of
/// this socket's ring and the owning ``Socket`` keeps it mapped. We are the
/// only consumer: entries in `[cachedConsumer, cachedProducer)` were published
/// by the kernel (acquire load of its producer) and are read before the
/// consumer index moves past them (store-release in ``release()``).
@usableFromInline
struct ConsumerRing<Entry: BitwiseCopyable>: ~Copyable {
    @usableFromInline let producer: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let consumer: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let flags: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let entries: UnsafePointer<Entry>
    @usableFromInline let mask: UInt32
    @usableFromInline let size: UInt32
    /// The kernel's producer index as last read.
    @usableFromInline var cachedProducer: UInt32
    /// Our consumer index: entries read, released or not.
    @usableFromInline var cachedConsumer: UInt32

    init(_ ring: xsk_ring_cons) {
        producer = UnsafeMutableRawPointer(ring.producer).assumingMemoryBound(to: Atomic<UInt32>.self)
        consumer = UnsafeMutableRawPointer(ring.consumer).assumingMemoryBound(to: Atomic<UInt32>.self)
        flags = UnsafeMutableRawPointer(ring.flags).assumingMemoryBound(to: Atomic<UInt32>.self)
        entries = UnsafePointer(ring.ring.assumingMemoryBound(to: Entry.self))
        mask = ring.mask
        size = ring.size
        cachedConsumer = consumer.pointee.load(ordering: .relaxed)
        cachedProducer = producer.pointee.load(ordering: .acquiring)
    }

    /// Entries available without reading the producer index again.
    @inlinable @inline(__always)
    var cachedAvailable: UInt32 { cachedProducer &- cachedConsumer }

    /// Entries available, capped at `limit`; re-reads the kernel's producer
    /// index (acquire) only when the cached view is empty.
    @inlinable @inline(__always)
    mutating func available(upTo limit: UInt32) -> UInt32 {
        var count = cachedAvailable
        if count == 0 {
            cachedProducer = producer.pointee.load(ordering: .acquiring)
            count = cachedAvailable
        }
        return min(count, limit)
    }

    /// Reads the kernel's producer index again (acquire).
    @inlinable @inline(__always)
    mutating func refreshProducer() {
        cachedProducer = producer.pointee.load(ordering: .acquiring)
    }

    /// Reads the entry `ahead` places past the next one without consuming
    /// it. The caller has checked that it is below ``cachedAvailable``.
    @inlinable @inline(__always)
    func entry(ahead: UInt32) -> Entry {
        entries[Int(truncatingIfNeeded: (cachedConsumer &+ ahead) & mask)]
    }

    /// Reads the next entry. The caller has checked ``available(upTo:)``.
    @inlinable @inline(__always)
    mutating func next() -> Entry {
        let entry = entries[Int(truncatingIfNeeded: cachedConsumer & mask)]
        cachedConsumer &+= 1
        return entry
    }

    /// Hands every read entry's slot back to the kernel (store-release).
    @inlinable @inline(__always)
    func release() {
        consumer.pointee.store(cachedConsumer, ordering: .releasing)
    }

    /// Whether the kernel asks for a syscall (only meaningful on some rings).
    @inlinable @inline(__always)
    var needsWakeup: Bool {
        flags.pointee.load(ordering: .relaxed) & cxdp_ring_need_wakeup != 0
    }
}
