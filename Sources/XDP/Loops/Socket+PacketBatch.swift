// The multi-buffer names of the batch functions, from before they became
// one generic API over the packet kind (RingPacket): thin wrappers.

extension Socket {
    /// ``receiveBatch(limit:pool:handler:)`` with a ``MultiBufferHandler``:
    /// the same function, under its old name.
    /// - Parameters:
    ///   - limit: The most packets to take.
    ///   - pool: The UMEM's frame pool.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets).
    @available(*, deprecated, renamed: "receiveBatch(limit:pool:handler:)")
    @inlinable
    public mutating func receivePacketBatch<Handler: MultiBufferHandler>(limit: Int, pool: inout FramePool, handler: inout Handler) -> BatchResult {
        receiveBatch(limit: limit, pool: &pool, handler: &handler)
    }

    /// ``forwardBatch(from:to:limit:pool:handler:)`` with a
    /// ``MultiBufferHandler``: the same function, under its old name.
    /// - Parameters:
    ///   - input: The receiving socket.
    ///   - output: The transmitting socket.
    ///   - limit: The batch size.
    ///   - pool: The shared UMEM's frame pool.
    ///   - handler: The per-packet logic.
    /// - Returns: What the batch did (``BatchResult/packets`` counts packets).
    @available(*, deprecated, renamed: "forwardBatch(from:to:limit:pool:handler:)")
    @inlinable
    public static func forwardPacketBatch<Handler: MultiBufferHandler>(
        from input: inout Socket, to output: inout Socket, limit: Int, pool: inout FramePool, handler: inout Handler
    ) -> BatchResult {
        forwardBatch(from: &input, to: &output, limit: limit, pool: &pool, handler: &handler)
    }

    /// ``transmitBatch(limit:pool:length:as:)`` with ``FramePacket``: the
    /// same function, under its old name.
    /// - Parameters:
    ///   - limit: The most packets to queue.
    ///   - pool: The UMEM's frame pool.
    ///   - length: Bytes per packet.
    /// - Returns: What was queued (``BatchResult/packets`` counts packets).
    @available(*, deprecated, message: "use transmitBatch(limit:pool:length:as: FramePacket.self)")
    @inlinable
    public mutating func transmitPacketBatch(limit: Int, pool: inout FramePool, length: Int) -> BatchResult {
        transmitBatch(limit: limit, pool: &pool, length: length, as: FramePacket.self)
    }
}
