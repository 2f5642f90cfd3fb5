import Glibc
import Synchronization
import XDP

/// The data-plane runtime every tool runs on: the daemon's
/// `ForwardingEngine`, XDPService's `PacketService` and `PacketStream`, and
/// xdpbench are each a configuration and a worker body on top of it.
///
/// Creating one does the whole setup, inside the configured network
/// namespace: it discovers the ports, plans their queues onto CPUs
/// (``QueuePlan``), takes the XSKMAP the sockets go into from one of four
/// sources (``SocketMapSource``), builds one ``WorkerQueues`` per planned
/// worker (one UMEM shared by the sockets of all the (port, queue) pairs it
/// serves), registers every socket, and makes one ``QueueCounters`` per
/// (port, queue). When any step fails, everything made so far is undone
/// before the error is thrown.
///
/// ``start(name:threadNames:loop:)`` runs one pinned thread per worker with your body
/// `(index, inout WorkerQueues, StopFlag) -> Void`; ``stop()`` joins them,
/// closes the sockets and detaches the programs. It is idempotent and safe
/// from any thread, as are the queries (socket statistics, program counters,
/// foreign programs, reattach).
public final class DataPlane: @unchecked Sendable {
    /// A port and the queues of it to serve.
    public struct Port: Sendable, Equatable {
        /// The interface's name.
        public var interface: String
        /// The queues to serve (nil: all the interface has).
        public var queues: [UInt32]?

        /// Creates a port.
        /// - Parameters:
        ///   - interface: The interface's name.
        ///   - queues: The queues to serve (nil: all).
        public init(interface: String, queues: [UInt32]? = nil) {
            self.interface = interface
            self.queues = queues
        }
    }

    /// Where the XSKMAP that sockets are registered in comes from: what
    /// steers each queue's packets to its socket.
    public enum SocketMapSource: Sendable, Equatable {
        /// swift-xdp's redirect program, attached to every port with this
        /// match (a router match also learns the ports served, so it redirects
        /// only what the FIB sends out of one of them).
        case redirect(RedirectMatch, multiBuffer: Bool = false, rxMetadata: Bool = false)
        /// The user's own program, attached to every port: its object, entry
        /// point (nil: the only XDP program) and XSKMAP.
        case program(XDPProgram.ObjectSource, programName: String? = nil, socketMapName: String = "xsks")
        /// An XSKMAP pinned in bpffs (`xdpctl attach --pin`): nothing is
        /// attached, the program already there redirects.
        case pinned(path: String)
        /// The Kubernetes AF_XDP device plugin's program and XSKMAP, taken
        /// over the plugin's Unix socket: one path per port, in port order
        /// (ports with the same path share one handshake session, ended with
        /// `/fin` once every socket is registered). Busy polling, when the
        /// socket configuration asks for it, is asked of the plugin.
        case devicePlugin(socketPaths: [String])
        /// No XSKMAP: nothing is redirected to the sockets (transmit only).
        case none
    }

    /// What to set up.
    public struct Configuration: Sendable {
        /// The ports, in order.
        public var ports: [Port]
        /// CPUs for workers (nil: the process's affinity mask).
        public var cpus: [Int]?
        /// Pairs of ports that forward to each other: queue q of both is
        /// served by one worker, on one UMEM.
        public var forwarding: [(String, String)]
        /// Set up inside this network namespace (nil: the thread's own).
        public var namespace: String?
        /// Where the XSKMAP comes from.
        public var socketMap: SocketMapSource
        /// How programs are attached (with ``SocketMapSource/redirect(_:multiBuffer:rxMetadata:)``
        /// and ``SocketMapSource/program(_:programName:socketMapName:)``).
        public var attach: AttachMode
        /// Replace a program someone else attached.
        public var replaceExistingProgram: Bool
        /// Ring sizes and bind modes of every socket.
        public var socket: SocketConfiguration
        /// UMEM frames per socket.
        public var framesPerSocket: Int
        /// Bytes per frame.
        public var frameSize: Int
        /// TX metadata bytes in front of each packet (checksum offload requests).
        public var txMetadataLength: Int
        /// Frames per socket kept in the pool, off the fill ring, for packets
        /// the application sends on its own (the rest wait on the fill ring).
        public var transmitReserve = 0
        /// Each worker's UMEM exactly as given (frames, ring sizes, huge
        /// pages, unaligned chunks) instead of ``framesPerSocket`` frames per
        /// socket of ``frameSize``; with ``fillFrames``.
        public var umem: UMEMConfiguration? = nil
        /// With ``umem``: frames put on the fill ring of each worker's socket
        /// `i` (one entry per socket of a worker; 0: none, e.g. transmit only).
        public var fillFrames: [Int]? = nil
        /// Workers given by hand instead of planned from ``cpus``: each one's
        /// CPU (nil: left unpinned, to the scheduler) and the (port, queue)
        /// pairs it serves on its one UMEM.
        public var workers: [(cpu: Int?, assignments: [QueuePlan.Assignment])]? = nil
        /// Attach the programs of the ports after the first in the mode the
        /// first one got (so `.auto` cannot pick two modes for one run).
        public var sameAttachModeOnEveryPort = false

        /// Creates a configuration.
        /// - Parameters:
        ///   - ports: The ports, in order.
        ///   - cpus: CPUs for workers (nil: the process's affinity mask).
        ///   - forwarding: Pairs of ports that forward to each other.
        ///   - namespace: The network namespace to set up in.
        ///   - socketMap: Where the XSKMAP comes from.
        ///   - attach: How programs are attached.
        ///   - replaceExistingProgram: Replace a program someone else attached.
        ///   - socket: Ring sizes and bind modes of every socket.
        ///   - framesPerSocket: UMEM frames per socket.
        ///   - frameSize: Bytes per frame.
        ///   - txMetadataLength: TX metadata bytes in front of each packet.
        public init(ports: [Port], cpus: [Int]? = nil, forwarding: [(String, String)] = [], namespace: String? = nil,
                    socketMap: SocketMapSource = .redirect(.everything), attach: AttachMode = .auto,
                    replaceExistingProgram: Bool = false, socket: SocketConfiguration = SocketConfiguration(),
                    framesPerSocket: Int = 4096, frameSize: Int = 2048, txMetadataLength: Int = 0) {
            self.ports = ports
            self.cpus = cpus
            self.forwarding = forwarding
            self.namespace = namespace
            self.socketMap = socketMap
            self.attach = attach
            self.replaceExistingProgram = replaceExistingProgram
            self.socket = socket
            self.framesPerSocket = framesPerSocket
            self.frameSize = frameSize
            self.txMetadataLength = txMetadataLength
        }
    }

    /// What was asked for.
    public let configuration: Configuration
    /// The ports' interfaces as discovered at setup, in port order.
    public private(set) var interfaces: [Interface] = []
    /// The queue→CPU plan in use: one pinned worker per planned CPU.
    public private(set) var plan: QueuePlan = .empty
    /// The attach mode of each port's program (the device plugin's as found;
    /// none with a pinned map or no map).
    public private(set) var attachModes: [String: AttachMode] = [:]
    /// Why a port's program fell back to generic mode, or why nothing may reach its sockets.
    public private(set) var fallbackReasons: [String: String] = [:]
    /// Whether the sockets are bound in zero-copy mode.
    public private(set) var isZeroCopy = false
    /// One counter set per (port, queue), in plan order (worker 0's queues first).
    public private(set) var counters: [QueueCounters] = []
    /// The counters of each worker's queues (index: the worker).
    public private(set) var workerCounters: [[QueueCounters]] = []

    private var programs: [ProgramBox] = []
    private var pluginMaps: [PluginMapBox] = []
    private var pinnedMap: PinnedMapBox?
    /// The ids of the device plugin's programs found at setup.
    private var pluginProgramIDs: [String: UInt32] = [:]
    private var socketDescriptors: [(port: String, queue: UInt32, fd: Int32)] = []
    private let workers = WorkerGroup<WorkerQueues>()
    /// Each worker's CPU, or nil: unpinned.
    private var workerCPUs: [Int?] = []
    /// Serializes start, stop and the queries that touch programs and sockets.
    private let phase = Mutex<Phase>(.ready)

    private enum Phase { case ready, running, stopped }

    /// Sets everything up; nothing runs until ``start(name:threadNames:loop:)``.
    /// - Parameters:
    ///   - configuration: What to set up.
    ///   - checkInterfaces: Called with the discovered interfaces, before
    ///     anything is attached: throw to refuse them (e.g. two ends of one veth pair).
    ///   - prepareWorker: Called with each worker's index and its freshly
    ///     built, registered ``WorkerQueues``, before the next is built (e.g.
    ///     to write packets into its free frames, or probe its sockets).
    /// - Throws: `XDPError` for any setup failure; everything made so far is undone.
    public init(configuration: Configuration,
                checkInterfaces: ([Interface]) throws(XDPError) -> Void = { (_: [Interface]) throws(XDPError) in },
                prepareWorker: (Int, inout WorkerQueues) throws(XDPError) -> Void = { (_: Int, _: inout WorkerQueues) throws(XDPError) in }) throws(XDPError) {
        self.configuration = configuration
        do {
            try NetworkNamespace.withEntered(configuration.namespace) { () throws(XDPError) in try setUp(checkInterfaces, prepareWorker) }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { stop() }

    private func setUp(_ checkInterfaces: ([Interface]) throws(XDPError) -> Void,
                       _ prepareWorker: (Int, inout WorkerQueues) throws(XDPError) -> Void) throws(XDPError) {
        let config = configuration
        guard !config.ports.isEmpty else {
            throw XDPError(.invalidConfiguration, operation: "set up the data plane", hint: "give at least one port")
        }
        for port in config.ports { interfaces.append(try Interface.discover(port.interface)) }
        try checkInterfaces(interfaces)
        var planPorts: [QueuePlan.Port] = []
        for (port, interface) in zip(config.ports, interfaces) { planPorts.append(try QueuePlan.Port(interface, queues: port.queues)) }
        if let given = config.workers {
            plan = QueuePlan(workers: given.map { QueuePlan.WorkerPlan(cpu: $0.cpu ?? -1, numaNode: nil, assignments: $0.assignments) },
                             irqAffinity: [], crossNUMA: [])
            workerCPUs = given.map(\.cpu)
        } else {
            plan = QueuePlan.make(ports: planPorts, topology: CPUTopology.current(allowed: config.cpus), forwarding: config.forwarding,
                                  irqPlacement: .none)
            workerCPUs = plan.workers.map { Optional($0.cpu) }
        }
        let names = config.ports.map(\.interface).joined(separator: ", ")
        guard !plan.workers.isEmpty else {
            throw XDPError(.invalidConfiguration, operation: "plan workers for \(names)", hint: "no queues or no CPUs to run on")
        }
        // One handshake session per distinct plugin socket; the port's session index.
        var sessions: [(path: String, session: PluginSession)] = []
        var sessionOfPort: [Int] = []
        switch config.socketMap {
        case .devicePlugin(let paths):
            guard paths.count == config.ports.count else {
                throw XDPError(.invalidConfiguration, operation: "take the device plugin's XSKMAPs of \(names)",
                               hint: "give one plugin socket path per port")
            }
            // The plugin attached its program to every port: take each port's XSKMAP, attach nothing.
            for (port, path) in zip(config.ports, paths) {
                let index: Int
                if let open = sessions.firstIndex(where: { $0.path == path }) {
                    index = open
                } else {
                    sessions.append((path, PluginSession(try DevicePluginConnection(path: path))))
                    index = sessions.count - 1
                }
                sessionOfPort.append(index)
                pluginMaps.append(PluginMapBox(try sessions[index].session.connection!.socketMap(interface: port.interface)))
                let attached = XDPProgram.attachedProgramInfo(interface: port.interface)
                attachModes[port.interface] = attached.flatMap { AttachMode(name: $0.mode) } ?? .generic
                pluginProgramIDs[port.interface] = attached?.id ?? 0
                if attached == nil {
                    fallbackReasons[port.interface] = "no XDP program found on \(port.interface): the device plugin's program is expected there, so nothing reaches the sockets"
                }
            }
        case .pinned(let path):
            guard config.ports.count == 1 else {
                throw XDPError(.invalidConfiguration, operation: "register in the pinned XSKMAP \(path)",
                               hint: "one pinned map serves one port (its keys are queue ids): give one port")
            }
            pinnedMap = PinnedMapBox(try PinnedSocketMap(path: path))
        case .redirect(let match, let multiBuffer, let rxMetadata):
            for port in config.ports {
                let mode = config.sameAttachModeOnEveryPort ? programs.first?.program.mode ?? config.attach : config.attach
                programs.append(ProgramBox(try XDPProgram(interface: port.interface, mode: mode, match: match,
                                                          replaceExisting: config.replaceExistingProgram,
                                                          multiBuffer: multiBuffer, rxMetadata: rxMetadata)))
            }
            if match.router {
                // The program redirects only what the FIB sends out of a port we serve.
                let served = interfaces.map { UInt32($0.index) }
                for box in programs { try box.program.setServedInterfaces(served) }
            }
        case .program(let object, let programName, let socketMapName):
            for port in config.ports {
                let mode = config.sameAttachModeOnEveryPort ? programs.first?.program.mode ?? config.attach : config.attach
                programs.append(ProgramBox(try XDPProgram(interface: port.interface, object: object, programName: programName,
                                                          socketMapName: socketMapName, mode: mode,
                                                          replaceExisting: config.replaceExistingProgram)))
            }
        case .none:
            break
        }
        for box in programs {
            attachModes[box.program.interface] = box.program.mode
            if let reason = box.program.fallbackReason { fallbackReasons[box.program.interface] = reason }
        }
        // Busy polling needs CAP_NET_ADMIN: with the plugin, asked of the plugin, not set by the socket itself.
        var socketConfiguration = config.socket
        let busyPoll = socketConfiguration.busyPoll
        if !sessions.isEmpty { socketConfiguration.busyPoll = nil }
        for (workerIndex, worker) in plan.workers.enumerated() {
            // One UMEM per worker, shared by all its sockets: forwarding between its ports needs no copy.
            func register(_ socket: borrowing Socket) throws(XDPError) {
                let portIndex = config.ports.firstIndex { $0.interface == socket.interface }!
                if !programs.isEmpty { try programs[portIndex].program.register(socket) }
                if !pluginMaps.isEmpty {
                    try pluginMaps[portIndex].map.register(socket)
                    if let busyPoll {
                        try sessions[sessionOfPort[portIndex]].session.connection!.configureBusyPoll(
                            socket, timeoutMicroseconds: busyPoll.timeoutMicroseconds, budget: busyPoll.budget)
                    }
                }
                try pinnedMap?.map.register(socket)
                isZeroCopy = socket.isZeroCopy
                socketDescriptors.append((socket.interface, socket.queue, socket.fileDescriptor))
            }
            var queues: WorkerQueues
            if let umem = config.umem {
                queues = try WorkerQueues(serving: worker.assignments, umem: umem,
                                          fillFrames: config.fillFrames ?? worker.assignments.map { _ in umem.frameCount / 2 },
                                          socketConfiguration: socketConfiguration, register: register)
            } else {
                queues = try WorkerQueues(serving: worker.assignments, framesPerSocket: config.framesPerSocket, frameSize: config.frameSize,
                                          socketConfiguration: socketConfiguration,
                                          txMetadataLength: config.txMetadataLength, transmitReserve: config.transmitReserve,
                                          register: register)
            }
            try prepareWorker(workerIndex, &queues)
            let workerQueues = worker.assignments.enumerated().map { index, assignment in
                QueueCounters(port: assignment.port, queue: assignment.queue, worker: workerIndex, isWorkerFirst: index == 0)
            }
            workerCounters.append(workerQueues)
            counters += workerQueues
            workers.add(queues)
        }
        // Every socket is registered: end the plugin's sessions (/fin), the maps stay ours.
        for (_, session) in sessions { try session.connection.take()?.finish() }
    }

    /// Undoes a setup that failed part way: sockets closed, programs detached.
    private func tearDown() {
        workers.stop()
        socketDescriptors.removeAll()
        programs.removeAll()
        pluginMaps.removeAll()
        pinnedMap = nil
    }

    /// Starts one pinned thread per planned worker running `loop` with the
    /// worker's index and its ``WorkerQueues`` (once; a second call does nothing).
    ///
    /// Around your loop the runtime stores the CPU the thread found itself on
    /// (``QueueCounters/observedCPU``) and, when it returns, the worker's
    /// frames and ``QueueCounters/finished``.
    /// - Parameters:
    ///   - name: The threads' name prefix (the CPU, or `w` and the worker's
    ///     index for an unpinned one, is appended).
    ///   - threadNames: One name per worker instead (at most 15 bytes are kept).
    ///   - loop: The worker body; it must poll the ``StopFlag`` once per batch
    ///     and return when it is raised.
    /// - Throws: `XDPError` if a thread cannot be started or pinned, or the data plane was stopped.
    public func start(name: String, threadNames: [String]? = nil,
                      loop: @escaping @Sendable (_ index: Int, _ queues: inout WorkerQueues, _ stop: StopFlag) -> Void) throws(XDPError) {
        let workerCounters = workerCounters
        try phase.withLock { (phase: inout Phase) throws(XDPError) in
            switch phase {
            case .running: return
            case .stopped:
                throw XDPError(.invalidConfiguration, operation: "start the data plane on \(configuration.ports.map(\.interface).joined(separator: ", "))",
                               hint: "it was stopped: make a new one")
            case .ready:
                let names = threadNames ?? workerCPUs.enumerated().map { index, cpu in "\(name)-\(cpu.map(String.init) ?? "w\(index)")" }
                try workers.start(workerCPUs: workerCPUs, names: names) { index, queues, stop in
                    let counters = workerCounters[index]
                    let cpu = Worker.currentCPU
                    for queue in counters { queue.observedCPU.store(cpu, ordering: .relaxed) }
                    loop(index, &queues, stop)
                    counters[0].publish(queues.accounting)
                    for queue in counters { queue.finished.store(true, ordering: .releasing) }
                }
                phase = .running
            }
        }
    }

    /// Joins the workers, closes the sockets, detaches the programs. Idempotent, from any thread.
    public func stop() {
        phase.withLock { phase in
            guard phase != .stopped else { return }
            phase = .stopped
            tearDown()
        }
    }

    /// The flag ``stop()`` raises; every worker body polls it once per batch
    /// (raise it to end the loops early, e.g. when a packet budget is spent).
    public var stopFlag: StopFlag { workers.stopFlag }

    /// Runs every worker under SCHED_FIFO at `priority` (after ``start(name:threadNames:loop:)``).
    /// - Parameter priority: 1 to 99.
    /// - Throws: `XDPError` when the kernel refuses (EPERM: needs CAP_SYS_NICE).
    public func setRealtimePriority(_ priority: Int32) throws(XDPError) {
        try workers.setRealtimePriority(priority)
    }

    /// Stops and joins the workers but keeps their queues, sockets and
    /// programs, so ``withWorkerQueues(at:_:)`` can read what they left
    /// (final socket statistics, frames, syscalls); ``stop()`` then closes everything.
    public func join() {
        phase.withLock { _ in workers.join() }
    }

    /// Reads worker `index`'s queues while no thread runs them (before
    /// ``start(name:threadNames:loop:)`` or after ``join()``).
    /// - Parameters:
    ///   - index: The worker.
    ///   - body: Reads the queues.
    /// - Returns: What `body` returns, or nil when they are gone (stopped).
    public func withWorkerQueues<R: Sendable>(at index: Int, _ body: (borrowing WorkerQueues) -> R) -> R? {
        phase.withLock { _ in workers.withState(at: index, body) }
    }

    /// Whether the workers are running.
    public var isRunning: Bool { phase.withLock { $0 == .running } }

    /// Whether every started worker's loop has returned.
    public var allWorkersFinished: Bool {
        workerCounters.allSatisfy { $0[0].finished.load(ordering: .acquiring) }
    }

    /// The kernel's XDP_STATISTICS per (port, queue), read now (none once stopped).
    /// - Returns: One entry per socket, in plan order.
    public func socketStatistics() -> [(port: String, queue: UInt32, statistics: SocketStatistics)] {
        phase.withLock { _ in
            socketDescriptors.map { ($0.port, $0.queue, (try? SocketStatistics.read(fileDescriptor: $0.fd)) ?? SocketStatistics()) }
        }
    }

    /// The attached programs' counters, per port (swift-xdp's program; none
    /// once stopped, or with a map from elsewhere).
    /// - Returns: One entry per port whose program keeps counters.
    public func programCounters() -> [(port: String, counters: RedirectCounters)] {
        phase.withLock { _ in
            programs.compactMap { box in (try? box.program.counters()).map { (box.program.interface, $0) } }
        }
    }

    /// Ports whose interface no longer exists (deleted while running).
    /// - Returns: Their names.
    public func missingPorts() -> [String] {
        let check = { () throws(XDPError) -> [String] in
            zip(self.configuration.ports, self.interfaces).filter { port, interface in
                Int(if_nametoindex(port.interface)) != interface.index
            }.map { port, _ in port.interface }
        }
        return (try? NetworkNamespace.withEntered(configuration.namespace, check)) ?? []
    }

    /// Ports whose program was removed or replaced behind our back (ports
    /// that still exist, with a program we attached).
    /// - Returns: Their names.
    public func portsWithLostProgram() -> [String] {
        let missing = Set(missingPorts())
        return phase.withLock { _ in
            programs.filter { !missing.contains($0.program.interface) && !$0.program.isAttached() }.map { $0.program.interface }
        }
    }

    /// The program someone else attached to `port` in place of ours (a
    /// description and the command that removes it), or nil when ours is
    /// there, none is, or we attached none.
    /// - Parameter port: The port's interface name.
    public func foreignProgram(port: String) -> (description: String, removalCommand: String)? {
        phase.withLock { _ in programs.first { $0.program.interface == port }?.program.foreignProgram() }
    }

    /// Attaches the program of `port` again, only onto an interface with
    /// no program (a foreign one is never overwritten). Does nothing for a
    /// port without a program of ours.
    /// - Parameter port: The port's interface name.
    /// - Throws: `XDPError` from attaching.
    public func reattachProgram(port: String) throws(XDPError) {
        try phase.withLock { (_) throws(XDPError) in try programs.first { $0.program.interface == port }?.program.reattach() }
    }

    /// The ids of the programs on the ports, per port: ours (nil once gone),
    /// or with the device plugin the plugin's as found at setup (0: none).
    public func attachedProgramIDs() -> [String: UInt32] {
        if case .devicePlugin = configuration.socketMap { return pluginProgramIDs }
        return phase.withLock { _ in
            Dictionary(uniqueKeysWithValues: programs.map { ($0.program.interface, $0.program.programID) })
        }
    }

    /// Reads one entry of a map of the program attached to `port` (ours or
    /// the user's), under the runtime's lock. Not per-CPU maps.
    /// - Parameters:
    ///   - port: The port's interface name.
    ///   - name: The map's name in the program's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - type: The value's type.
    /// - Returns: The value, or nil when the map has no such key.
    /// - Throws: `XDPError`: no such map or other sizes than the map's;
    ///   `.unsupported` when no program of ours is attached there (a map
    ///   from elsewhere, or stopped).
    public func readProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(port: String, _ name: String, key: Key, as type: Value.Type) throws(XDPError) -> Value? {
        nonisolated(unsafe) var value: Value? = nil
        nonisolated(unsafe) let key = key
        let found: Bool = try phase.withLock { (_) throws(XDPError) -> Bool in
            guard let box = programs.first(where: { $0.program.interface == port }) else { return false }
            value = try box.program.readMap(name, key: key, as: type)
            return true
        }
        guard found else { throw noProgram("read map \(name)", port: port) }
        return value
    }

    /// Writes one entry of a map of the program attached to `port`. Not per-CPU maps.
    /// - Parameters:
    ///   - port: The port's interface name.
    ///   - name: The map's name in the program's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - value: The value, laid out as the program declares it.
    /// - Throws: As ``readProgramMap(port:_:key:as:)``.
    public func writeProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(port: String, _ name: String, key: Key, value: Value) throws(XDPError) {
        nonisolated(unsafe) let key = key, value = value
        let written: Bool = try phase.withLock { (_) throws(XDPError) -> Bool in
            guard let box = programs.first(where: { $0.program.interface == port }) else { return false }
            try box.program.writeMap(name, key: key, value: value)
            return true
        }
        if !written { throw noProgram("write map \(name)", port: port) }
    }

    private func noProgram(_ operation: String, port: String) -> XDPError {
        let hint: String
        switch configuration.socketMap {
        case .devicePlugin: hint = "the device plugin's program is the plugin's: this process loaded none"
        case .pinned, .none: hint = "the sockets use a map from elsewhere: this process loaded no program"
        default: hint = "stopped: the program was detached"
        }
        return XDPError(.unsupported, operation: "\(operation) of the XDP program on \(port)", errno: ENOENT, hint: hint)
    }

    /// Which worker serves `queue` of `port`, and the index of its socket there.
    /// - Parameters:
    ///   - port: The port's interface name.
    ///   - queue: The queue id.
    /// - Returns: The worker's index and the socket's index in its ``WorkerQueues``, or nil when not served.
    public func route(port: String, queue: UInt32) -> (worker: Int, socket: Int)? {
        for (index, worker) in plan.workers.enumerated() {
            if let socket = worker.assignments.firstIndex(of: QueuePlan.Assignment(port: port, queue: queue)) {
                return (index, socket)
            }
        }
        return nil
    }
}

/// Holds a device plugin session in a reference, so several ports can share it.
final class PluginSession {
    var connection: DevicePluginConnection?
    init(_ connection: consuming DevicePluginConnection) { self.connection = .some(connection) }
}

/// Holds the device plugin's XSKMAP of a port in a reference, so a list of them can be kept.
final class PluginMapBox {
    let map: DevicePluginSocketMap
    init(_ map: consuming DevicePluginSocketMap) { self.map = map }
}

/// Holds a pinned XSKMAP in a reference.
final class PinnedMapBox {
    let map: PinnedSocketMap
    init(_ map: consuming PinnedSocketMap) { self.map = map }
}

/// Holds a program in a reference, so a list of them can be kept.
final class ProgramBox {
    let program: XDPProgram
    init(_ program: consuming XDPProgram) { self.program = program }
}
