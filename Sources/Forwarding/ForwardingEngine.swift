import Glibc
import Synchronization
import XDP
import XDPControl

/// The running data plane of the daemon: one program per port, one pinned
/// worker per planned CPU, each owning one UMEM and the sockets of the
/// (port, queue) pairs it serves, forwarding until stopped.
public final class ForwardingEngine: @unchecked Sendable {
    public let configuration: EngineConfiguration
    /// The runtime underneath: setup, workers, counters, program queries.
    public let dataPlane: DataPlane
    /// The interfaces as discovered at start.
    public var interfaces: [Interface] { dataPlane.interfaces }
    /// The queue→CPU plan in use.
    public var plan: QueuePlan { dataPlane.plan }
    /// Per (port, queue) counters, in plan order.
    public var portCounters: [PortCounters] { dataPlane.counters }
    /// Per worker: where its UMEM's frames are, as last published.
    public var workerFrames: [FrameAccounting] { dataPlane.workerCounters.map { $0[0].frames } }
    /// The attach mode each port got, and why it fell back, if it did.
    public var attachModes: [String: AttachMode] { dataPlane.attachModes }
    public var fallbackReasons: [String: String] { dataPlane.fallbackReasons }
    /// Whether sockets are zero-copy.
    public var zeroCopy: Bool { dataPlane.isZeroCopy }

    /// Sets everything up (discovery, plan, programs, UMEMs, sockets); call ``start()`` to forward.
    /// - Throws: ``XDPError`` for any setup failure; everything made so far is undone.
    public init(configuration: EngineConfiguration) throws(XDPError) {
        try configuration.validate()
        self.configuration = configuration
        let config = configuration
        let ports = config.ports.map { DataPlane.Port(interface: $0.interface, queues: $0.queues) }
        let socketMap: DataPlane.SocketMapSource
        if config.xskMapSocket != nil {
            // The Kubernetes AF_XDP device plugin attached its program to every port.
            socketMap = .devicePlugin(socketPaths: config.ports.map { config.xskMapSocketPath(port: $0.interface)! })
        } else if let custom = config.program {
            socketMap = .program(.file(custom.path), programName: custom.entryPoint, socketMapName: custom.socketMapName)
        } else {
            socketMap = .redirect(config.mode == .l3 ? .forwardable : .everything)
        }
        let mode = config.mode
        let pairs = mode == .macswap ? [] : [(config.ports[0].interface, config.ports[1].interface)]
        dataPlane = try DataPlane(configuration: DataPlane.Configuration(
            ports: ports, cpus: config.cpus, forwarding: pairs, namespace: config.namespace, socketMap: socketMap,
            attach: config.attach, socket: SocketConfiguration(zeroCopy: config.zeroCopy, needWakeup: config.needWakeup, busyPoll: config.busyPoll),
            framesPerSocket: config.frameCount, frameSize: config.frameSize, txMetadataLength: TXMetadata.byteCount
        )) { (interfaces: [Interface]) throws(XDPError) in
            if mode != .macswap { try ForwardingEngine.refuseLoop(interfaces[0], interfaces[1], mode: mode) }
        }
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
        let mode = configuration.mode, batch = configuration.batch, busyPoll = configuration.busyPoll != nil
        let interfaces = interfaces
        let interfaceIndexes = plan.workers.map { worker in
            worker.assignments.map { a in interfaces.first { $0.name == a.port }!.index }
        }
        let counters = dataPlane.workerCounters
        try dataPlane.start(name: "xdpfwd") { index, queues, stop in
            var state = WorkerState(queues: queues, counters: counters[index], interfaceIndexes: interfaceIndexes[index])
            ForwardingLoops.run(mode: mode, batch: batch, busyPoll: busyPoll, state: &state, stop: stop)
            queues = state.queues
        }
    }

    /// Stops the workers, detaches the programs, closes the sockets. Safe to call twice.
    public func stop() { dataPlane.stop() }

    deinit { stop() }

    /// XDP_STATISTICS per (port, queue), read now.
    public func socketStatistics() -> [(port: String, queue: UInt32, statistics: SocketStatistics)] {
        dataPlane.socketStatistics()
    }

    /// The redirect programs' counters, per port.
    public func programCounters() -> [(port: String, counters: RedirectCounters)] { dataPlane.programCounters() }

    /// Ports whose interface no longer exists (deleted while running).
    public func missingPorts() -> [String] { dataPlane.missingPorts() }

    /// Ports whose program was removed or replaced behind our back.
    public func portsWithLostProgram() -> [String] { dataPlane.portsWithLostProgram() }

    /// The program someone else attached to `port` in place of ours (a
    /// description and the command that removes it), or nil when ours is
    /// there or none is.
    public func foreignProgram(port: String) -> (description: String, removalCommand: String)? {
        dataPlane.foreignProgram(port: port)
    }

    /// Attaches the program of `port` again, only onto an interface with
    /// no program (a foreign one is never overwritten).
    public func reattachProgram(port: String) throws(XDPError) { try dataPlane.reattachProgram(port: port) }

    /// The ids of our attached programs, per port (nil when gone); with
    /// ``EngineConfiguration/xskMapSocket`` the device plugin's, as found at setup.
    public func attachedProgramIDs() -> [String: UInt32] { dataPlane.attachedProgramIDs() }
}

/// Everything one worker owns.
struct WorkerState: ~Copyable {
    /// The worker's UMEM and its sockets (socket i serves plan assignment i).
    var queues: WorkerQueues
    /// Its queues' counters (i: socket i); the first carries the frames.
    let counters: [PortCounters]
    let interfaceIndexes: [Int]
}
