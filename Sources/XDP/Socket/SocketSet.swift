import Glibc

/// The sockets one worker serves (all on one UMEM), kept together in one
/// move-only value with a fixed capacity, so a loop can reach any of them,
/// or two at once for forwarding, without copies or reference counting.
///
/// Safety: `storage` holds `count` initialized sockets followed by unused
/// slots, owned by this value and destroyed in `deinit`. Indices are checked.
/// ``forwardBatch(from:to:limit:pool:handler:)`` lends two distinct slots at
/// once (checked `from != to`), so the two `inout` accesses never alias.
public struct SocketSet: ~Copyable, @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutablePointer<Socket>
    /// The most sockets it can hold.
    public let capacity: Int
    /// The sockets it holds.
    public private(set) var count: Int = 0

    /// Creates an empty set for up to `capacity` sockets.
    public init(capacity: Int) {
        precondition(capacity > 0, "a socket set holds at least one socket")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// Adds a socket; traps when full.
    public mutating func append(_ socket: consuming Socket) {
        precondition(count < capacity, "socket set full (capacity \(capacity))")
        (storage + count).initialize(to: socket)
        count += 1
    }

    /// Takes the last socket out of the set (to be kept elsewhere, or
    /// appended again); traps when empty.
    /// - Returns: The socket.
    public mutating func removeLast() -> Socket {
        precondition(count > 0, "socket set empty")
        count -= 1
        return (storage + count).move()
    }

    /// Runs `body` with the socket at `index`, mutably.
    @inlinable
    public mutating func withSocket<R>(at index: Int, _ body: (inout Socket) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < count, "socket index \(index) out of range 0..<\(count)")
        return try body(&storage[index])
    }

    /// Reads the socket at `index`.
    @inlinable
    public func withSocket<R>(at index: Int, _ body: (borrowing Socket) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < count, "socket index \(index) out of range 0..<\(count)")
        return try body(storage[index])
    }

    /// Waits until any socket has received packets, up to `timeoutMilliseconds`.
    /// - Returns: Whether one has.
    /// The descriptors live on the stack (no allocation per wait: the
    /// forwarding loops call this after every partial round).
    @discardableResult
    public func pollAny(timeoutMilliseconds: Int32) -> Bool {
        let count = count
        let result = withUnsafeTemporaryAllocation(of: pollfd.self, capacity: count) { descriptors in
            for index in 0..<count {
                descriptors.initializeElement(at: index, to: pollfd(fd: storage[index].fileDescriptor, events: Int16(POLLIN), revents: 0))
            }
            return SystemCall.poll(descriptors.baseAddress!, count: count, timeoutMilliseconds: timeoutMilliseconds)
        }
        if count > 0 { storage[0].syscallCounts.pointee.count(poll: result) }  // one poll of the set, on its first socket
        return result > 0
    }

    /// ``Socket/forwardBatch(from:to:limit:pool:handler:)`` between two
    /// sockets of the set, for either packet kind (the handler's).
    @inlinable
    public mutating func forwardBatch<Handler: BatchHandler>(
        from input: Int, to output: Int, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        checkPair(input, output)
        return Socket.forwardBatch(from: &storage[input], to: &storage[output], limit: limit, pool: &pool, handler: &handler)
    }

    /// ``forwardBatch(from:to:limit:pool:handler:)`` with a
    /// ``MultiBufferHandler``: the same function, under its old name.
    @available(*, deprecated, renamed: "forwardBatch(from:to:limit:pool:handler:)")
    @inlinable
    public mutating func forwardPacketBatch<Handler: MultiBufferHandler>(
        from input: Int, to output: Int, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        forwardBatch(from: input, to: output, limit: limit, pool: &pool, handler: &handler)
    }

    /// Traps unless `input` and `output` are two distinct sockets of the set.
    @inlinable @inline(__always)
    func checkPair(_ input: Int, _ output: Int) {
        precondition(input != output && input >= 0 && output >= 0 && input < count && output < count,
                     "forward needs two distinct sockets of the set")
    }
}
