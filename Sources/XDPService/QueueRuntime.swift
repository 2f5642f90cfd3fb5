import Glibc
import XDP
import XDPControl

/// What both ``PacketService`` and ``PacketStream`` run on: the service's
/// configuration turned into an `DataPlane` of one port (the
/// interface discovered, its queues planned onto CPUs, the redirect
/// program, the user's or the device plugin's XSKMAP, one
/// `WorkerQueues` per planned worker), and the setup facts the
/// service reports.
///
/// ``stop()`` joins the workers, closes the sockets (every frame goes with its
/// UMEM) and detaches the program; it is idempotent and safe from any thread.
@usableFromInline
final class QueueRuntime: @unchecked Sendable {
    let configuration: PacketServiceConfiguration
    let dataPlane: DataPlane
    /// The program's id at setup (the device plugin's with ``PacketServiceConfiguration/xskMapSocket``; 0: none).
    let programID: UInt32

    @usableFromInline
    /// - Parameter transmitReserve: Frames per queue kept in the pool for
    ///   packets the application sends on its own (``PacketStream``).
    init(configuration: PacketServiceConfiguration, transmitReserve: Int = 0) throws(XDPError) {
        try configuration.validate()
        self.configuration = configuration
        let socketMap: DataPlane.SocketMapSource
        if let path = configuration.xskMapSocket {
            // The Kubernetes AF_XDP device plugin attached its program: take its XSKMAP.
            socketMap = .devicePlugin(socketPaths: [path])
        } else if let custom = configuration.program {
            // The user's own program, its own XSKMAP; the same ownership rules as ours.
            socketMap = .program(custom.object, programName: custom.programName, socketMapName: custom.socketMapName)
        } else {
            socketMap = .redirect(configuration.match)
        }
        var planeConfiguration = DataPlane.Configuration(
            ports: [DataPlane.Port(interface: configuration.interface, queues: configuration.queues)], cpus: configuration.cpus,
            namespace: configuration.namespace, socketMap: socketMap, attach: configuration.attach,
            replaceExistingProgram: configuration.replaceExistingProgram,
            socket: SocketConfiguration(zeroCopy: configuration.zeroCopy, needWakeup: configuration.needWakeup),
            framesPerSocket: configuration.framesPerQueue, frameSize: configuration.frameSize)
        planeConfiguration.transmitReserve = transmitReserve
        dataPlane = try DataPlane(configuration: planeConfiguration)
        programID = dataPlane.attachedProgramIDs()[configuration.interface] ?? 0
    }

    deinit { stop() }

    var interface: Interface { dataPlane.interfaces[0] }
    var plan: QueuePlan { dataPlane.plan }
    /// Each worker's queue counters (index: the worker).
    @usableFromInline var counters: [[QueueCounters]] { dataPlane.workerCounters }

    /// Starts the pinned workers with `loop` (once).
    @usableFromInline
    func start(name: String, loop: @escaping @Sendable (_ index: Int, _ queues: inout WorkerQueues, _ stop: StopFlag) -> Void) throws(XDPError) {
        try dataPlane.start(name: name, loop: loop)
    }

    /// Joins the workers, closes the sockets, detaches the program. Idempotent.
    @usableFromInline
    func stop() { dataPlane.stop() }

    var isRunning: Bool { dataPlane.isRunning }

    var setup: PacketServiceSetup {
        PacketServiceSetup(interface: interface, plan: plan, attachMode: dataPlane.attachModes[configuration.interface] ?? .generic,
                           fallbackReason: dataPlane.fallbackReasons[configuration.interface],
                           programID: programID, isZeroCopy: dataPlane.isZeroCopy)
    }

    var statistics: PacketServiceStatistics { PacketServiceStatistics(dataPlane.counters) }

    func programCounters() -> RedirectCounters? { dataPlane.programCounters().first?.counters }

    func readProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, as type: Value.Type) throws(XDPError) -> Value? {
        try dataPlane.readProgramMap(port: configuration.interface, name, key: key, as: type)
    }

    func writeProgramMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, value: Value) throws(XDPError) {
        try dataPlane.writeProgramMap(port: configuration.interface, name, key: key, value: value)
    }

    func socketStatistics() -> [(queue: UInt32, statistics: SocketStatistics)] {
        dataPlane.socketStatistics().map { ($0.queue, $0.statistics) }
    }

    /// Which worker serves `queue`, and the index of its socket there.
    func route(queue: UInt32) -> (worker: Int, socket: Int)? {
        dataPlane.route(port: configuration.interface, queue: queue)
    }
}
