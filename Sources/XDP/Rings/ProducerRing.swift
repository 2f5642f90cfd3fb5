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

    /// Up to `wanted` free slots as a value of its own (the reserve of
    /// xdpsock's `xsk_ring_prod__reserve`): a loop that writes through it keeps
    /// the producer index in a register, since stores into the ring cannot
    /// alias a local. Give it back with ``commit(_:)``.
    @inlinable @inline(__always)
    mutating func reserve(upTo wanted: UInt32) -> ProducerSlots<Entry> {
        ProducerSlots(entries: entries, mask: mask, next: cachedProducer, room: min(freeCount(wanting: wanted), wanted))
    }

    /// Takes back the slots of ``reserve(upTo:)``: what was appended through
    /// them counts as written (not yet published).
    @inlinable @inline(__always)
    mutating func commit(_ slots: ProducerSlots<Entry>) {
        cachedProducer = slots.next
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

/// Free slots of a ``ProducerRing`` reserved for one batch: the entries
/// pointer, mask and producer index as locals of the loop.
///
/// Safety: made only by ``ProducerRing/reserve(upTo:)`` with `room` no more
/// than the ring's free count, so every slot written is one the kernel has
/// consumed; the ring is not touched until ``ProducerRing/commit(_:)``.
@usableFromInline @frozen
struct ProducerSlots<Entry: BitwiseCopyable> {
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    @usableFromInline let mask: UInt32
    /// The producer index after the entries written so far.
    @usableFromInline var next: UInt32
    /// Slots still free.
    @usableFromInline var room: UInt32

    @inlinable @inline(__always)
    init(entries: UnsafeMutablePointer<Entry>, mask: UInt32, next: UInt32, room: UInt32) {
        self.entries = entries
        self.mask = mask
        self.next = next
        self.room = room
    }

    /// Writes one entry into a reserved slot; the caller checked `room > 0`.
    @inlinable @inline(__always)
    mutating func append(_ entry: Entry) {
        entries[Int(truncatingIfNeeded: next & mask)] = entry
        next &+= 1
        room &-= 1
    }
}
