/// The free frames of one UMEM: a stack of chunk addresses.
///
/// The pool is where frames live when neither the kernel nor the application
/// holds them. ``allocate()`` hands out a ``Frame`` for transmitting,
/// ``release(_:)-(Frame)`` takes one back; the rings move addresses in bulk with
/// ``FillRing/refill(from:upTo:)`` and ``CompletionRing/drain(into:upTo:)``.
/// One worker owns a pool: no locks, no atomics.
///
/// Safety: `slots` is a buffer of `capacity` addresses owned by this value and
/// freed in `deinit`; `count` never exceeds `capacity` (a release into a full
/// pool traps, as it would mean a frame was returned twice).
public struct FramePool: ~Copyable, @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<UInt64>
    @usableFromInline var available: Int
    /// The number of frames the UMEM has in all.
    public let capacity: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let chunkSize: UInt32
    /// Where packets of frames from ``allocate()`` start within their chunk.
    @usableFromInline let dataOffset: UInt32

    init(base: UnsafeMutableRawPointer, frameCount: Int, frameSize: Int, dataOffset: Int) {
        self.base = base
        self.capacity = frameCount
        self.chunkSize = UInt32(frameSize)
        self.dataOffset = UInt32(dataOffset)
        slots = .allocate(capacity: frameCount)
        // Lowest addresses on top, so a fresh pool hands out frames in order.
        for index in 0..<frameCount {
            slots[index] = UInt64(frameCount - 1 - index) * UInt64(frameSize)
        }
        available = frameCount
    }

    deinit { slots.deallocate() }

    /// Frames in the pool now.
    @inlinable
    public var count: Int { available }

    /// Takes a free frame, with an empty packet starting past the UMEM
    /// headroom and XDP headroom.
    /// - Returns: A frame, or `nil` when the pool is empty.
    @inlinable
    public mutating func allocate() -> Frame? {
        guard available > 0 else { return nil }
        return Frame(base: base, chunk: pop(), offset: dataOffset, length: 0, chunkSize: chunkSize)
    }

    /// Takes a free frame when the caller knows the pool is not empty.
    @inlinable @inline(__always)
    mutating func allocateKnownAvailable() -> Frame {
        Frame(base: base, chunk: pop(), offset: dataOffset, length: 0, chunkSize: chunkSize)
    }

    /// Calls `body` with each free frame in turn, its packet spanning the
    /// whole room past the headroom, so a generator can write its packets
    /// once up front; the frames stay in the pool (lengths are not kept).
    /// - Parameter body: Writes into one frame.
    public mutating func forEachFree(_ body: (inout Frame) -> Void) {
        for index in 0..<available {
            var frame = Frame(base: base, chunk: slots[index], offset: dataOffset, length: chunkSize - dataOffset, chunkSize: chunkSize)
            body(&frame)
            _ = frame.surrender()
        }
    }

    /// Returns a frame to the pool.
    /// - Parameter frame: The frame; its contents are forgotten.
    @inlinable
    public mutating func release(_ frame: consuming Frame) {
        let ours = frame.belongs(to: base)
        let chunk = frame.surrender().chunk
        if _fastPath(ours) { push(chunk) }
    }

    @inlinable @inline(__always)
    mutating func pop() -> UInt64 {
        available &-= 1
        return slots[available]
    }

    @inlinable @inline(__always)
    mutating func push(_ chunk: UInt64) {
        precondition(available < capacity, "frame pool overflow: a frame was returned twice")
        slots[available] = chunk
        available &+= 1
    }
}
