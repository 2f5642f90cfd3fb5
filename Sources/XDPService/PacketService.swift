import ServiceLifecycle
import XDP
import XDPControl

/// Serves the packets of one interface that a `RedirectMatch` selects,
/// on pinned worker threads that call your `PacketHandler` a batch at a
/// time; everything else on the interface keeps going to the kernel.
///
/// Creating the service discovers the interface, plans its queues onto the
/// CPUs, attaches the redirect program with the match, and binds one AF_XDP
/// socket per queue (one UMEM per worker). ``start()`` runs the workers;
/// ``stop()`` joins them, closes the sockets and detaches the program. As a
/// swift-service-lifecycle `Service`, ``run()`` does both around the service
/// group's graceful shutdown (or the task's cancellation).
///
/// Each worker gets its own handler, made on its thread by the factory you
/// pass, and the loop is specialised for your handler type: `handle(_:)` is
/// inlined into the batch loop, with no allocation, locks or reference
/// counting per packet. Return `.transmit` to send the (possibly rewritten)
/// frame back out of the queue it came in on, `.drop` to recycle it.
///
/// ```swift
/// let service = try PacketService(configuration: .init(interface: "eth0", match: .udp(port: 7000))) { _ in
///     EchoHandler()
/// }
/// try await ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class PacketService<Handler: PacketHandler & SendableMetatype>: Service, @unchecked Sendable {
    @usableFromInline let runtime: QueueRuntime
    @usableFromInline let loop: @Sendable (_ index: Int, _ queues: inout WorkerQueues, _ stop: StopFlag) -> Void

    /// Sets the service up: interface, plan, program, sockets. Nothing runs
    /// until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - configuration: What to serve, and how.
    ///   - makeHandler: Makes the handler of worker `index` (0-based), on that
    ///     worker's thread.
    /// - Throws: `XDPError` for any setup failure; what was set up is undone.
    @inlinable
    public convenience init(configuration: PacketServiceConfiguration,
                            handler makeHandler: @escaping @Sendable (_ worker: Int) -> Handler) throws(XDPError) {
        let batch = configuration.batchSize
        let runtime = try QueueRuntime(configuration: configuration)
        let counters = runtime.counters
        self.init(runtime: runtime) { index, queues, stop in
            var handler = makeHandler(index)
            PacketServiceLoop.run(queues: &queues, handler: &handler, batch: batch, stop: stop, counters: counters[index])
        }
    }

    @usableFromInline
    init(runtime: QueueRuntime, loop: @escaping @Sendable (_ index: Int, _ queues: inout WorkerQueues, _ stop: StopFlag) -> Void) {
        self.runtime = runtime
        self.loop = loop
    }

    deinit { runtime.stop() }

    /// Starts the pinned workers (once; a second call does nothing).
    /// - Throws: `XDPError` if a thread cannot be started, or the service was stopped.
    public func start() throws(XDPError) {
        try runtime.start(name: "xdpsvc", loop: loop)
    }

    /// Stops the workers, closes the sockets and detaches the program. Safe
    /// to call more than once, from any thread.
    public func stop() { runtime.stop() }

    /// Runs until the service group shuts down gracefully or the task is
    /// cancelled, then stops.
    /// - Throws: `XDPError` if the workers cannot be started.
    public func run() async throws {
        try start()
        defer { stop() }
        try? await gracefulShutdown()
    }

    /// Whether the workers are running.
    public var isRunning: Bool { runtime.isRunning }
    /// What setup found and chose: plan, attach and bind modes, program id.
    public var setup: PacketServiceSetup { runtime.setup }
    /// Counters summed over the workers, and where the frames are.
    public var statistics: PacketServiceStatistics { runtime.statistics }
    /// The redirect program's counters (matched, passed to the kernel, ...), or nil once stopped.
    public var programCounters: RedirectCounters? { runtime.programCounters() }
    /// The kernel's XDP_STATISTICS per queue.
    public var socketStatistics: [(queue: UInt32, statistics: SocketStatistics)] { runtime.socketStatistics() }

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

/// The pinned-worker loop of a ``PacketService``: a receive batch per socket,
/// the handler inlined, counters published per busy batch, `poll()` after a
/// round that took less than a full batch (the library's `WorkerLoop`).
@usableFromInline
enum PacketServiceLoop {
    /// Runs one worker until `stop` is raised.
    /// - Parameters:
    ///   - queues: The worker's UMEM and sockets.
    ///   - handler: The per-packet logic.
    ///   - batch: Packets per batch.
    ///   - stop: Polled once per round.
    ///   - counters: Where the worker publishes its totals: one per socket
    ///     (the first also carries the worker's frames).
    @inlinable
    static func run<Handler: PacketHandler>(queues: inout WorkerQueues, handler: inout Handler, batch: Int,
                                            stop: StopFlag, counters: [QueueCounters]) {
        var step = PacketServiceStep(queues: queues, handler: handler, counters: counters)
        WorkerLoop.run(&step, batch: batch, wait: .afterShortRound, stop: stop)
        queues = step.queues
        handler = step.handler
    }
}

/// One round of a ``PacketService`` worker: a receive batch on each socket.
@usableFromInline
struct PacketServiceStep<Handler: PacketHandler>: WorkerStep, ~Copyable {
    @usableFromInline var queues: WorkerQueues
    @usableFromInline var handler: Handler
    @usableFromInline let counters: [QueueCounters]
    @usableFromInline var local: [LocalQueueCounters]

    @inlinable
    init(queues: consuming WorkerQueues, handler: Handler, counters: [QueueCounters]) {
        local = [LocalQueueCounters](repeating: LocalQueueCounters(), count: queues.sockets.count)
        self.queues = queues
        self.handler = handler
        self.counters = counters
    }

    @inlinable
    mutating func round(limit: Int) -> Int {
        var handled = 0
        for index in 0..<queues.sockets.count {
            let result = queues.sockets.withSocket(at: index) { (socket: inout Socket) in
                socket.receiveBatch(limit: limit, pool: &queues.umem.pool, handler: &handler)
            }
            guard result.packets > 0 else { continue }
            handled &+= result.packets
            local[index].add(result)
            local[index].publish(to: counters[index])
        }
        return handled
    }

    /// poll() on every socket (`WorkerLoop.pollTimeoutMilliseconds`): at
    /// once when packets are ready, else they gather (bigger batches) and a
    /// core shared with the queue's NAPI work goes to NAPI.
    @inlinable
    mutating func wait() { queues.sockets.pollAny(timeoutMilliseconds: WorkerLoop.pollTimeoutMilliseconds) }

    /// Where the worker's frames are, on its first queue's counters.
    @inlinable
    mutating func publish() { counters[0].publish(queues.accounting) }
}
