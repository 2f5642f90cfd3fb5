import Glibc
import Synchronization
import XDP
import XDPControl

/// The running data plane of the daemon: one program per port, one pinned
/// worker per planned CPU, each owning one UMEM and the sockets of the
/// (port, queue) pairs it serves, forwarding until stopped.
public final class ForwardingEngine: @unchecked Sendable {
    public let configuration: EngineConfiguration
    /// The interfaces as discovered at start.
    public private(set) var interfaces: [Interface] = []
    /// The queue→CPU plan in use.
    public private(set) var plan: QueuePlan = .empty
    /// Per (port, queue) counters.
    public private(set) var portCounters: [PortCounters] = []
    /// Per worker frame accounting.
    public private(set) var frameCounters: [FrameCounters] = []
    /// The attach mode each port got, and why it fell back, if it did.
    public private(set) var attachModes: [String: AttachMode] = [:]
    public private(set) var fallbackReasons: [String: String] = [:]
    /// Whether sockets are zero-copy.
    public private(set) var zeroCopy = false

    /// One program per port (boxed: arrays hold copyable values only);
    /// none with ``EngineConfiguration/xskMapSocket``.
    private var programs: [ProgramBox] = []
    /// With ``EngineConfiguration/xskMapSocket``: the device plugin's XSKMAP
    /// of each port, and the id of the plugin's program found on it (0: none).
    private var pluginMaps: [PluginMapBox] = []
    private var pluginProgramIDs: [String: UInt32] = [:]
    private var socketDescriptors: [(port: String, queue: UInt32, fd: Int32)] = []
    private let workers = WorkerGroup<WorkerState>()

    /// Sets everything up (discovery, plan, programs, UMEMs, sockets); call ``start()`` to forward.
    /// - Throws: ``XDPError`` for any setup failure; everything made so far is undone.
    public init(configuration: EngineConfiguration) throws(XDPError) {
        try configuration.validate()
        self.configuration = configuration
        if let namespace = configuration.namespace {
            try NetworkNamespace.withEntered(namespace) { () throws(XDPError) in try setUp() }
        } else {
            try setUp()
        }
    }

    private func setUp() throws(XDPError) {
        let config = configuration
        for port in config.ports { interfaces.append(try Interface.discover(port.interface)) }
        if config.mode != .macswap {
            try ForwardingEngine.refuseLoop(interfaces[0], interfaces[1], mode: config.mode)
        }
        var planPorts: [QueuePlan.Port] = []
        for (port, interface) in zip(config.ports, interfaces) { planPorts.append(try QueuePlan.Port(interface, queues: port.queues)) }
        let pairs = config.mode == .macswap ? [] : [(config.ports[0].interface, config.ports[1].interface)]
        plan = QueuePlan.make(ports: planPorts, topology: CPUTopology.current(allowed: config.cpus), forwarding: pairs, irqPlacement: .none)
        guard !plan.workers.isEmpty else {
            throw XDPError(.invalidConfiguration, operation: "plan workers", hint: "no queues or no CPUs to run on")
        }
        let match: RedirectMatch = config.mode == .l3 ? .forwardable : .everything
        // One handshake session per distinct socket (one for every port, or one per device).
        var sessions: [(path: String, session: PluginSession)] = []
        if config.xskMapSocket != nil {
            // The Kubernetes AF_XDP device plugin attached its program to every
            // port: take each port's XSKMAP over its handshake, attach nothing.
            for port in config.ports {
                let path = config.xskMapSocketPath(port: port.interface)!
                let session: PluginSession
                if let open = sessions.first(where: { $0.path == path }) {
                    session = open.session
                } else {
                    session = PluginSession(try DevicePluginConnection(path: path))
                    sessions.append((path, session))
                }
                pluginMaps.append(PluginMapBox(try session.connection!.socketMap(interface: port.interface)))
                let attached = XDPProgram.attachedProgramInfo(interface: port.interface)
                attachModes[port.interface] = attached.flatMap { AttachMode(name: $0.mode) } ?? .generic
                pluginProgramIDs[port.interface] = attached?.id ?? 0
                if attached == nil {
                    fallbackReasons[port.interface] = "no XDP program found on \(port.interface): the device plugin's program is expected there, so nothing reaches the sockets"
                }
            }
        }
        for port in config.ports where config.xskMapSocket == nil {
            let program = if let custom = config.program {
                try XDPProgram(interface: port.interface, object: .file(custom.path), programName: custom.entryPoint,
                               socketMapName: custom.socketMapName, mode: config.attach)
            } else {
                try XDPProgram(interface: port.interface, mode: config.attach, match: match)
            }
            attachModes[port.interface] = program.mode
            if let reason = program.fallbackReason { fallbackReasons[port.interface] = reason }
            programs.append(ProgramBox(program))
        }
        if config.mode == .l3 {
            // The program redirects only what the FIB sends out of a port we serve.
            let served = interfaces.map { UInt32($0.index) }
            for box in programs { try box.program.setServedInterfaces(served) }
        }
        let socketConfig = SocketConfiguration(zeroCopy: config.zeroCopy, needWakeup: config.needWakeup)
        for worker in plan.workers {
            // One UMEM per worker, shared by all its sockets: forwarding between its ports needs no copy.
            let queues = try WorkerQueues(serving: worker.assignments, framesPerSocket: config.frameCount, frameSize: config.frameSize,
                                          socketConfiguration: socketConfig,
                                          txMetadataLength: TXMetadata.byteCount) { (socket: borrowing Socket) throws(XDPError) in
                let programIndex = config.ports.firstIndex { $0.interface == socket.interface }!
                if pluginMaps.isEmpty {
                    try programs[programIndex].program.register(socket)
                } else {
                    try pluginMaps[programIndex].map.register(socket)
                }
                zeroCopy = socket.isZeroCopy
                socketDescriptors.append((socket.interface, socket.queue, socket.fileDescriptor))
            }
            let counters = worker.assignments.map { PortCounters(port: $0.port, queue: $0.queue) }
            portCounters += counters
            let frames = FrameCounters()
            frameCounters.append(frames)
            workers.add(WorkerState(queues: queues, counters: counters, frames: frames,
                                    interfaceIndexes: worker.assignments.map { a in interfaces.first { $0.name == a.port }!.index }))
        }
        // Every socket is registered: end the plugin's sessions (/fin), the maps stay ours.
        for (_, session) in sessions { try session.connection.take()?.finish() }
    }

    /// Refuses two ports that are the two ends of one veth pair: every
    /// packet sent out of one comes back in on the other, to be forwarded
    /// again, forever.
    static func refuseLoop(_ a: Interface, _ b: Interface, mode: ForwardingMode) throws(XDPError) {
        guard Interface.vethPeerIndex(of: a.name) == b.index, Interface.vethPeerIndex(of: b.name) == a.index else { return }
        throw XDPError(.invalidConfiguration, operation: "\(mode.rawValue) between \(a.name) and \(b.name)", errno: EINVAL,
                       hint: "\(a.name) and \(b.name) are the two ends of one veth pair: what one port sends, the other receives and forwards back, forever. Use ports that lead to different hosts")
    }

    /// Starts the workers.
    public func start() throws(XDPError) {
        let mode = configuration.mode, batch = configuration.batch
        try workers.start(cpus: plan.workers.map(\.cpu), name: "xdpfwd") { _, state, stop in
            ForwardingLoops.run(mode: mode, batch: batch, state: &state, stop: stop)
        }
    }

    /// Stops the workers, detaches the programs, closes the sockets. Safe to call twice.
    public func stop() {
        workers.stop()
        socketDescriptors.removeAll()
        programs.removeAll()
        pluginMaps.removeAll()
    }

    deinit { stop() }

    /// XDP_STATISTICS per (port, queue), read now.
    public func socketStatistics() -> [(port: String, queue: UInt32, statistics: SocketStatistics)] {
        socketDescriptors.map { ($0.port, $0.queue, (try? SocketStatistics.read(fileDescriptor: $0.fd)) ?? SocketStatistics()) }
    }

    /// The redirect programs' counters, per port.
    public func programCounters() -> [(port: String, counters: RedirectCounters)] {
        zip(configuration.ports, programs.indices).compactMap { port, index in
            (try? programs[index].program.counters()).map { (port.interface, $0) }
        }
    }

    /// Ports whose interface no longer exists (deleted while running).
    public func missingPorts() -> [String] {
        let check = { () -> [String] in
            zip(self.configuration.ports, self.interfaces).filter { port, interface in
                Int(if_nametoindex(port.interface)) != interface.index
            }.map { port, _ in port.interface }
        }
        if let namespace = configuration.namespace {
            return (try? NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> [String] in check() }) ?? []
        }
        return check()
    }

    /// Ports whose program was removed or replaced behind our back.
    public func portsWithLostProgram() -> [String] {
        let missing = Set(missingPorts())
        return zip(configuration.ports, programs).filter { port, box in !missing.contains(port.interface) && !box.program.isAttached() }
            .map { port, _ in port.interface }
    }

    /// The program someone else attached to `port` in place of ours (a
    /// description and the command that removes it), or nil when ours is
    /// there or none is.
    public func foreignProgram(port: String) -> (description: String, removalCommand: String)? {
        guard let index = configuration.ports.firstIndex(where: { $0.interface == port }), index < programs.count else { return nil }
        return programs[index].program.foreignProgram()
    }

    /// Attaches the program of `port` again, only onto an interface with
    /// no program (a foreign one is never overwritten).
    public func reattachProgram(port: String) throws(XDPError) {
        guard let index = configuration.ports.firstIndex(where: { $0.interface == port }), index < programs.count else { return }
        try programs[index].program.reattach()
    }

    /// The ids of our attached programs, per port (nil when gone); with
    /// ``EngineConfiguration/xskMapSocket`` the device plugin's, as found at setup.
    public func attachedProgramIDs() -> [String: UInt32] {
        if configuration.xskMapSocket != nil { return pluginProgramIDs }
        return Dictionary(uniqueKeysWithValues: zip(configuration.ports, programs).map { ($0.interface, $1.program.programID) })
    }
}

/// Everything one worker owns.
struct WorkerState: ~Copyable {
    /// The worker's UMEM and its sockets (socket i serves plan assignment i).
    var queues: WorkerQueues
    let counters: [PortCounters]
    let frames: FrameCounters
    let interfaceIndexes: [Int]
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

/// Holds a program in a reference, so a list of them can be kept.
final class ProgramBox {
    let program: XDPProgram
    init(_ program: consuming XDPProgram) { self.program = program }
}
