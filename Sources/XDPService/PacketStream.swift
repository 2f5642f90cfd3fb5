import XDP
import XDPControl

/// The async bridge: the packets a `RedirectMatch` selects on an interface,
/// as an `AsyncSequence` of ``ReceivedBatch``es, and an async
/// ``send(_:queue:)``, for code off the hot path (control protocols,
/// tooling, tests).
///
/// The same pinned workers as a ``PacketService`` receive the packets; each
/// batch is copied out of the UMEM into a ``ReceivedBatch`` and its frames go
/// straight back to the kernel, so a consumer can keep packets as long as it
/// likes. Buffering is bounded (`bufferCapacity` packets): when the consumer
/// falls behind, packets that do not fit are not copied, their frames are
/// recycled at once and they are counted in
/// ``PacketServiceStatistics/droppedSlowConsumer``. Memory and frames stay
/// bounded whatever the consumer does.
///
/// One task iterates the stream. When that task is cancelled (or the
/// iteration ends), the workers are stopped, the sockets closed and the
/// program detached before `next()` returns `nil`.
///
/// ```swift
/// let stream = try PacketStream(configuration: .init(interface: "eth0", match: .udp(port: 5353)))
/// for await batch in stream {
///     for packet in batch { print(packet.bytes.count) }
/// }
/// ```
public final class PacketStream: AsyncSequence, @unchecked Sendable {
    /// A batch of received packets.
    public typealias Element = ReceivedBatch
    /// Iteration does not fail; it ends (nil) when the stream stops.
    public typealias Failure = Never

    let runtime: QueueRuntime
    let buffer: BatchBuffer
    let outboxes: [Outbox]
    /// The longest packet ``send(_:queue:)`` accepts (a frame, less its headroom).
    public let maximumPacketLength: Int

    /// Sets up (interface, plan, program, sockets) and starts the workers.
    ///
    /// Packets are received from now on: until a task iterates the stream,
    /// they are buffered up to `bufferCapacity`, then counted as dropped.
    /// - Parameters:
    ///   - configuration: What to receive, and how.
    ///   - bufferCapacity: Packets buffered for the consumer at most.
    ///   - sendCapacity: Packets per worker waiting to be sent at most; ``send(_:queue:)`` waits while full.
    /// - Throws: `XDPError` for any setup failure; what was set up is undone.
    public init(configuration: PacketServiceConfiguration, bufferCapacity: Int = 4096, sendCapacity: Int = 1024) throws(XDPError) {
        guard bufferCapacity > 0, sendCapacity > 0 else {
            throw XDPError(.invalidConfiguration, operation: "packet stream", hint: "buffer and send capacities must be positive")
        }
        // Half the frames stay in the pool for send(_:), as before; the
        // other half wait on the fill ring.
        runtime = try QueueRuntime(configuration: configuration, transmitReserve: configuration.framesPerQueue / 2)
        buffer = BatchBuffer(capacity: bufferCapacity)
        outboxes = runtime.plan.workers.map { _ in Outbox(capacity: sendCapacity) }
        maximumPacketLength = configuration.frameSize - UMEMConfiguration.kernelHeadroom
        let buffer = buffer, outboxes = outboxes, counters = runtime.counters, batch = configuration.batchSize
        let queueIDs = runtime.plan.workers.map { $0.assignments.map(\.queue) }
        try runtime.start(name: "xdpstream") { index, queues, stop in
            StreamLoop.run(queues: &queues, queueIDs: queueIDs[index], buffer: buffer, outbox: outboxes[index],
                           batch: batch, stop: stop, counters: counters[index])
        }
    }

    deinit { stop() }

    /// Iterates the received batches (from one task).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: PacketStream

        /// The next batch, waiting for one; `nil` once the stream stopped or
        /// the task was cancelled (the stream is stopped by then).
        public mutating func next() async -> ReceivedBatch? {
            let buffer = stream.buffer
            let batch = await withTaskCancellationHandler {
                await buffer.next()
            } onCancel: {
                buffer.finish()
            }
            if batch == nil { stream.stop() }
            return batch
        }
    }

    /// Makes the iterator; iterate from one task only.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    /// Sends a packet (from its Ethernet header on) out of `queue`, copying it
    /// into a frame of the worker serving that queue. Returns once the packet
    /// is queued for that worker (it waits while the worker's send queue is
    /// full); the worker puts it on the TX ring within a batch.
    /// - Parameters:
    ///   - packet: The frame's bytes, 1 to ``maximumPacketLength``.
    ///   - queue: The queue to send on (e.g. ``ReceivedPacket/queue`` to answer
    ///     on the request's queue); `nil` sends on the first served queue.
    /// - Throws: `XDPError`: a packet of bad length, a queue not served, or the stream stopped.
    public func send(_ packet: [UInt8], queue: UInt32? = nil) async throws(XDPError) {
        try await send(contentsOf: [packet], queue: queue)
    }

    /// Sends packets, in order, out of `queue`: like ``send(_:queue:)`` for
    /// each, but with one lock operation and at most one wake-up of the worker
    /// per group that fits, which is what a consumer answering a whole
    /// ``ReceivedBatch`` wants.
    /// - Parameters:
    ///   - packets: The frames' bytes, each 1 to ``maximumPacketLength``.
    ///   - queue: The queue to send on; `nil` sends on the first served queue.
    /// - Throws: `XDPError`: a packet of bad length (nothing is sent), a queue
    ///   not served, or the stream stopped.
    public func send(contentsOf packets: [[UInt8]], queue: UInt32? = nil) async throws(XDPError) {
        if let bad = packets.first(where: { !(1...maximumPacketLength).contains($0.count) }) {
            throw XDPError(.invalidConfiguration, operation: "send a packet of \(bad.count) bytes",
                           hint: "packets are 1 to \(maximumPacketLength) bytes (one frame)")
        }
        let queue = queue ?? runtime.plan.workers[0].assignments[0].queue
        guard let route = runtime.route(queue: queue) else {
            throw XDPError(.queueOutOfRange, operation: "send on queue \(queue) of \(runtime.configuration.interface)",
                           hint: "queue \(queue) is not served by this stream")
        }
        guard await outboxes[route.worker].put(packets.map { Outbox.Item(socket: route.socket, bytes: $0) }) else {
            throw XDPError(.invalidConfiguration, operation: "send on \(runtime.configuration.interface) queue \(queue)",
                           hint: "the stream was stopped (its task cancelled or stop() called)")
        }
    }

    /// Ends the stream: the consumer gets `nil`, waiting senders an error; the
    /// workers are joined, the sockets closed and the program detached.
    /// Safe to call more than once, from any thread.
    public func stop() {
        buffer.finish()
        for outbox in outboxes { outbox.close() }
        runtime.stop()
    }

    /// Whether the workers are running.
    public var isRunning: Bool { runtime.isRunning }
    /// What setup found and chose: plan, attach and bind modes, program id.
    public var setup: PacketServiceSetup { runtime.setup }
    /// Counters summed over the workers (delivered, dropped for a slow consumer, sent), and where the frames are.
    public var statistics: PacketServiceStatistics { runtime.statistics }
    /// The redirect program's counters, or nil once stopped.
    public var programCounters: RedirectCounters? { runtime.programCounters() }
    /// Packets buffered for the consumer now.
    public var bufferedPackets: Int { buffer.bufferedPackets }

    /// Reads one entry of a map of the service's XDP program (your own,
    /// ``PacketServiceConfiguration/program``, or swift-xdp's), e.g. a counter
    /// your program keeps. Not per-CPU maps.
    /// - Parameters:
    ///   - name: The map's name in the program's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - type: The value's type, laid out as the program declares it.
    /// - Returns: The value, or nil when the map has no such key.
    /// - Throws: `XDPError`: no such map or other sizes than the map's;
    ///   `.unsupported` with ``PacketServiceConfiguration/xskMapSocket`` (the
    ///   plugin's program) or after stop.
    public func readProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, as type: Value.Type) throws(XDPError) -> Value? {
        try runtime.readProgramMap(name, key: key, as: type)
    }

    /// Writes one entry of a map of the service's XDP program (your own,
    /// ``PacketServiceConfiguration/program``, or swift-xdp's), e.g. the port
    /// your program steers. Not per-CPU maps.
    /// - Parameters:
    ///   - name: The map's name in the program's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - value: The value, laid out as the program declares it.
    /// - Throws: As ``readProgramMap(_:key:as:)``.
    public func writeProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, value: Value) throws(XDPError) {
        try runtime.writeProgramMap(name, key: key, value: value)
    }
}
