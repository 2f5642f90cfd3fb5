import Synchronization
import XDP
import XDPControl

/// The setup both ``PacketService`` and ``PacketStream`` run on: the
/// interface discovered, its queues planned onto CPUs, the redirect program
/// attached with the configured match, one ``XDPControl/WorkerQueues`` per
/// planned worker, and the pinned ``XDPControl/WorkerGroup`` that runs them.
///
/// ``stop()`` joins the workers, closes the sockets (every frame goes with its
/// UMEM) and detaches the program; it is idempotent and safe from any thread.
@usableFromInline
final class QueueRuntime: @unchecked Sendable {
    let configuration: PacketServiceConfiguration
    let interface: Interface
    let plan: QueuePlan
    let attachMode: AttachMode
    let fallbackReason: String?
    let programID: UInt32
    private(set) var zeroCopy = false
    @usableFromInline let counters: [WorkerCounters]
    /// Socket descriptors, for XDP_STATISTICS.
    private(set) var socketDescriptors: [(queue: UInt32, fd: Int32)] = []
    private var program: XDPProgram?
    /// The device plugin's XSKMAP, with ``PacketServiceConfiguration/xskMapSocket``.
    private var pluginMap: DevicePluginSocketMap?
    private let workers = WorkerGroup<WorkerQueues>()
    /// Serializes start and stop (from run(), deinit, cancellation).
    private let state = Mutex<Phase>(.ready)

    enum Phase { case ready, running, stopped }

    @usableFromInline
    /// - Parameter transmitReserve: Frames per queue kept in the pool for
    ///   packets the application sends on its own (``PacketStream``).
    init(configuration: PacketServiceConfiguration, transmitReserve: Int = 0) throws(XDPError) {
        try configuration.validate()
        self.configuration = configuration
        let discover = { () throws(XDPError) -> (Interface, QueuePlan) in
            let interface = try Interface.discover(configuration.interface)
            let port = try QueuePlan.Port(interface, queues: configuration.queues)
            let plan = QueuePlan.make(ports: [port], topology: CPUTopology.current(allowed: configuration.cpus), irqPlacement: .none)
            guard !plan.workers.isEmpty else {
                throw XDPError(.invalidConfiguration, operation: "plan workers for \(configuration.interface)", hint: "no queues or no CPUs to run on")
            }
            return (interface, plan)
        }
        let (interface, plan) = try QueueRuntime.inNamespace(configuration.namespace, discover)
        var program: XDPProgram?
        var pluginMap: DevicePluginSocketMap?
        var plugin: DevicePluginConnection?
        if let path = configuration.xskMapSocket {
            // The Kubernetes AF_XDP device plugin attached its program: take its XSKMAP.
            let connection = try DevicePluginConnection(path: path)
            pluginMap = try connection.socketMap(interface: configuration.interface)
            plugin = consume connection
            let attached = try QueueRuntime.inNamespace(configuration.namespace) { () throws(XDPError) -> XDPProgram.AttachedProgram? in
                XDPProgram.attachedProgramInfo(interface: configuration.interface)
            }
            attachMode = attached.flatMap { AttachMode(name: $0.mode) } ?? .generic
            fallbackReason = attached == nil ? "no XDP program found on \(configuration.interface): the device plugin's program is expected there" : nil
            programID = attached?.id ?? 0
        } else {
            let attached = try QueueRuntime.inNamespace(configuration.namespace) { () throws(XDPError) -> XDPProgram in
                try XDPProgram(interface: configuration.interface, mode: configuration.attach, match: configuration.match,
                               replaceExisting: configuration.replaceExistingProgram)
            }
            attachMode = attached.mode
            fallbackReason = attached.fallbackReason
            programID = attached.programID
            program = consume attached
        }
        self.interface = interface
        self.plan = plan
        counters = plan.workers.map { _ in WorkerCounters() }
        let socketConfiguration = SocketConfiguration(zeroCopy: configuration.zeroCopy, needWakeup: configuration.needWakeup)
        var zeroCopy = false
        var descriptors: [(queue: UInt32, fd: Int32)] = []
        do throws(XDPError) {
            for worker in plan.workers {
                let queues = try QueueRuntime.inNamespace(configuration.namespace) { () throws(XDPError) -> WorkerQueues in
                    try WorkerQueues(serving: worker.assignments, framesPerSocket: configuration.framesPerQueue,
                                     frameSize: configuration.frameSize, socketConfiguration: socketConfiguration,
                                     transmitReserve: transmitReserve) { (socket: borrowing Socket) throws(XDPError) in
                        try program?.register(socket)
                        try pluginMap?.register(socket)
                        zeroCopy = socket.isZeroCopy
                        descriptors.append((socket.queue, socket.fileDescriptor))
                    }
                }
                workers.add(queues)
            }
        } catch {
            workers.stop()
            throw error
        }
        self.zeroCopy = zeroCopy
        socketDescriptors = descriptors
        self.program = consume program
        self.pluginMap = consume pluginMap
        do { try plugin.take()?.finish() } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    static func inNamespace<R: ~Copyable>(_ namespace: String?, _ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        if let namespace { return try NetworkNamespace.withEntered(namespace, body) }
        return try body()
    }

    /// Starts the pinned workers with `loop` (once).
    @usableFromInline
    func start(name: String, loop: @escaping @Sendable (_ index: Int, _ queues: inout WorkerQueues, _ stop: StopFlag) -> Void) throws(XDPError) {
        try state.withLock { (phase: inout Phase) throws(XDPError) in
            switch phase {
            case .running: return
            case .stopped:
                throw XDPError(.invalidConfiguration, operation: "start the packet service on \(configuration.interface)",
                               hint: "it was stopped: make a new one")
            case .ready:
                try workers.start(cpus: plan.workers.map(\.cpu), name: name, loop: loop)
                phase = .running
            }
        }
    }

    /// Joins the workers, closes the sockets, detaches the program. Idempotent.
    @usableFromInline
    func stop() {
        state.withLock { phase in
            guard phase != .stopped else { return }
            phase = .stopped
            workers.stop()
            socketDescriptors.removeAll()
            program = nil
            pluginMap = nil
        }
    }

    var isRunning: Bool { state.withLock { $0 == .running } }

    var setup: PacketServiceSetup {
        PacketServiceSetup(interface: interface, plan: plan, attachMode: attachMode, fallbackReason: fallbackReason,
                           programID: programID, isZeroCopy: zeroCopy)
    }

    var statistics: PacketServiceStatistics { PacketServiceStatistics(counters) }

    func programCounters() -> RedirectCounters? {
        state.withLock { _ in try? program?.counters() }
    }

    func socketStatistics() -> [(queue: UInt32, statistics: SocketStatistics)] {
        state.withLock { _ in
            socketDescriptors.map { ($0.queue, (try? SocketStatistics.read(fileDescriptor: $0.fd)) ?? SocketStatistics()) }
        }
    }

    /// Which worker serves `queue`, and the index of its socket there.
    func route(queue: UInt32) -> (worker: Int, socket: Int)? {
        for (index, worker) in plan.workers.enumerated() {
            if let socket = worker.assignments.firstIndex(of: QueuePlan.Assignment(port: configuration.interface, queue: queue)) {
                return (index, socket)
            }
        }
        return nil
    }
}
