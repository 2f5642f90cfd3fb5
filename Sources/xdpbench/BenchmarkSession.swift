import CNetdevProbe
import CXDP
import Glibc
import Forwarding
import Foundation
import Packet
import XDP
import XDPControl
import XDPLab

/// The three throughput loops.
enum BenchmarkMode: String, Codable {
    case rxdrop, txonly, l2fwd
}

/// Everything one queue's worker owns: the UMEM and its socket(s).
struct QueueState: ~Copyable {
    var umem: UMEM
    var socket: Socket
    /// The second port's socket on the same UMEM (l2fwd --to).
    var output: Socket?
}

/// How a run is set up: the parsed options, in one value.
struct SessionPlan: Sendable {
    var mode: BenchmarkMode
    var interface: String
    var secondInterface: String?
    var namespace: String?
    var queues: [UInt32]
    var cpus: [Int]?
    var batch: Int
    var umem: UMEMConfiguration
    var socket: SocketConfiguration
    var attach: AttachMode
    var wait: WaitPolicy
    var count: Int?
    var timeLimit: Double
    var packet: PacketTemplate?
    /// txonly: packets per second over all queues, or unlimited.
    var rate: Double? = nil
    /// Register in this pinned XSKMAP (`xdpctl attach --pin`) instead of
    /// attaching a program: the unprivileged data path.
    var pinnedMap: String? = nil
    /// Register in the XSKMAP the Kubernetes AF_XDP device plugin hands
    /// over on this Unix socket (its handshake; busy polling asked of it).
    var xskMapSocket: String? = nil
    /// Attach the RX metadata program and read the metadata per packet.
    var rxMetadata = false
    /// The MTU to set on the interface for the run.
    var mtu: Int? = nil
    /// SCHED_FIFO priority of the workers (`--policy fifo`), or nil.
    var realtimePriority: Int32? = nil
    /// The user's own XDP program (`--program FILE[:SECTION]`), and its XSKMAP.
    var program: CustomProgramArgument? = nil
    var programMap = "xsks"
}

/// `FILE[:SECTION]`: a compiled BPF object and, optionally, the entry
/// point's function or section name (a colon followed by a path is part of FILE).
struct CustomProgramArgument: Sendable {
    var path: String
    var entryPoint: String?

    init(_ text: String) {
        (path, entryPoint) = XDPProgram.parseObjectArgument(text)
    }
}

/// The packet txonly sends.
struct PacketTemplate: Sendable {
    var length: Int
    var sourceMAC: [UInt8]?
    var destinationMAC: [UInt8]
    var sourceIPv4: [UInt8]
    var destinationIPv4: [UInt8]
    var flows: Int
}

/// One run of a throughput loop on a `DataPlane`: one worker
/// per queue (pinned to `--cpus`, or left to the scheduler), its UMEM
/// serving the queue of the interface and, with `--to`, the same queue of the
/// second port; a reporter on the calling thread. What is xdpbench's own
/// stays here: the MTU change, the txonly priming and wakeup probe, the loops.
final class BenchmarkSession {
    let plan: SessionPlan
    private var dataPlane: DataPlane?
    /// Each queue's counters (its worker's first queue in the data plane).
    private(set) var counters: [QueueCounters] = []
    private let budget: PacketBudget
    private(set) var attachMode: AttachMode?
    private(set) var fallbackReason: String?
    private(set) var zeroCopy = false
    private var started = ContinuousClock.now
    private(set) var elapsed: Duration = .zero
    /// The interface's MTU before --mtu changed it, to restore.
    private var originalMTU: Int?

    /// Sets everything up; nothing runs yet.
    init(plan: SessionPlan) throws(XDPError) {
        self.plan = plan
        budget = PacketBudget(limit: plan.count)
        try setUp()
    }

    deinit { restoreMTU() }

    private func setUp() throws(XDPError) {
        let plan = plan
        var sourceMAC: [UInt8] = []
        try NetworkNamespace.withEntered(plan.namespace) { () throws(XDPError) in
            if let mtu = plan.mtu { try setMTU(mtu) }
            if let packet = plan.packet {
                if let configured = packet.sourceMAC {
                    sourceMAC = configured
                } else {
                    sourceMAC = try InterfaceAddress.mac(of: plan.interface)
                }
            }
        }
        let needsProgram = plan.mode != .txonly
        let interfaces = [plan.interface] + (plan.secondInterface.map { [$0] } ?? [])
        let socketMap: DataPlane.SocketMapSource
        if !needsProgram {
            socketMap = .none
        } else if let path = plan.pinnedMap {
            socketMap = .pinned(path: path)
        } else if let path = plan.xskMapSocket {
            socketMap = .devicePlugin(socketPaths: interfaces.map { _ in path })
        } else if let custom = plan.program {
            socketMap = .program(.file(custom.path), programName: custom.entryPoint, socketMapName: plan.programMap)
        } else {
            socketMap = .redirect(.everything, multiBuffer: plan.socket.multiBuffer, rxMetadata: plan.rxMetadata)
        }
        // The fill rings as xdpsock primes them: every frame on the queue's
        // socket, none idle in the pool; with --to a quarter waits on the
        // second port's (the return direction), the rest on the first's.
        let frames = plan.umem.frameCount
        let fill = !needsProgram ? interfaces.map { _ in 0 }
            : plan.secondInterface == nil ? [frames] : [frames - frames / 4, frames / 4]
        var configuration = DataPlane.Configuration(
            ports: interfaces.map { DataPlane.Port(interface: $0, queues: plan.queues) }, namespace: plan.namespace,
            socketMap: socketMap, attach: plan.attach, socket: plan.socket)
        configuration.umem = plan.umem
        configuration.fillFrames = fill
        configuration.workers = plan.queues.enumerated().map { index, queue in
            (cpu: plan.cpus?[index], assignments: interfaces.map { QueuePlan.Assignment(port: $0, queue: queue) })
        }
        configuration.sameAttachModeOnEveryPort = true
        let dataPlane = try DataPlane(configuration: configuration, prepareWorker: { (_: Int, queues: inout WorkerQueues) throws(XDPError) in
            if plan.mode == .txonly {
                var refused: XDPError?
                queues.sockets.withSocket(at: 0) { (socket: borrowing Socket) in
                    do throws(XDPError) { try TransmitWakeupProbe.check(socket) } catch { refused = error }
                }
                if let refused { throw refused }
            }
            if let packet = plan.packet {
                BenchmarkSession.prime(&queues.umem.pool, with: packet, sourceMAC: sourceMAC)
            }
        })
        zeroCopy = dataPlane.isZeroCopy
        switch socketMap {
        case .redirect, .program:
            attachMode = dataPlane.attachModes[plan.interface]
            fallbackReason = dataPlane.fallbackReasons[plan.interface]
        default:
            break
        }
        counters = dataPlane.workerCounters.map { QueueCounters(shared: $0[0], transmitOnly: plan.mode == .txonly) }
        self.dataPlane = dataPlane
    }

    /// Writes the txonly packet into every free frame once, so the loop never
    /// touches packet bytes. A packet longer than a frame (multi-buffer) gets
    /// its first frame's worth in every frame: whichever frame starts a
    /// chain carries the right headers, the others are payload.
    static func prime(_ pool: inout FramePool, with packet: PacketTemplate, sourceMAC: [UInt8]) {
        var index = 0
        pool.forEachFree { frame in
            let builder = UDPPacketBuilder(sourceMAC: sourceMAC, destinationMAC: packet.destinationMAC,
                                           sourceIPv4: packet.sourceIPv4, destinationIPv4: packet.destinationIPv4,
                                           sourcePort: UInt16(1024 + index % packet.flows), destinationPort: 9)
            var bytes = frame.mutableBytes
            if packet.length <= bytes.byteCount {
                builder.write(into: &bytes, frameLength: packet.length)
            } else {
                let whole = builder.make(frameLength: packet.length)
                for offset in 0..<bytes.byteCount { bytes.storeBytes(of: whole[offset], toByteOffset: offset, as: UInt8.self) }
            }
            index += 1
        }
    }

    /// Sets the interface's MTU for the run (`ip link`), remembering the old one.
    private func setMTU(_ mtu: Int) throws(XDPError) {
        var link = cxdp_link()
        guard cxdp_probe_link(plan.interface, &link) == 0 else {
            throw XDPError(.interfaceNotFound, operation: "set the MTU of \(plan.interface)", errno: ENODEV)
        }
        guard Int(link.mtu) != mtu else { return }
        try Command.run(ipCommand(["link", "set", "dev", plan.interface, "mtu", "\(mtu)"]))
        originalMTU = Int(link.mtu)
    }

    private func restoreMTU() {
        guard let mtu = originalMTU else { return }
        originalMTU = nil
        _ = try? Command.run(ipCommand(["link", "set", "dev", plan.interface, "mtu", "\(mtu)"]), allowFailure: true)
    }

    private func ipCommand(_ arguments: [String]) -> [String] {
        ["ip"] + (plan.namespace.map { ["-n", $0] } ?? []) + arguments
    }

    /// Starts one worker per queue.
    func start() throws(XDPError) {
        started = .now
        let plan = plan, counters = counters, budget = budget
        try dataPlane!.start(name: "xdpbench", threadNames: plan.queues.map { "xdpbench-q\($0)" }) { index, queues, stop in
            BenchmarkSession.withQueueState(&queues) { state in
                BenchmarkSession.run(plan: plan, state: &state, counters: counters[index], stop: stop, budget: budget)
            }
        }
        if let priority = plan.realtimePriority { try dataPlane!.setRealtimePriority(priority) }
    }

    /// Takes a worker's queues apart into the fields the loops use (the
    /// queue's socket, the second port's, the UMEM), runs `body`, and puts
    /// them back together.
    static func withQueueState(_ queues: inout WorkerQueues, _ body: (inout QueueState) -> Void) {
        let assignments = queues.assignments, offload = queues.checksumOffloadMetadataLength
        queues = (consume queues).takeApart { umem, sockets in
            var sockets = sockets
            let second: Socket? = sockets.count > 1 ? sockets.removeLast() : nil
            var state = QueueState(umem: umem, socket: sockets.removeLast(), output: second)
            body(&state)
            let output = state.output.take()
            sockets.append(state.socket)
            switch consume output {
            case .some(let socket): sockets.append(socket)
            case .none: break
            }
            return WorkerQueues(umem: state.umem, sockets: sockets, assignments: assignments, checksumOffloadMetadataLength: offload)
        }
    }

    /// The worker loop. Generic over the handler so each mode's loop is
    /// specialised: no existential or closure call per packet.
    static func run(plan: SessionPlan, state: inout QueueState, counters: QueueCounters, stop: StopFlag, budget: PacketBudget) {
        switch plan.mode {
        case .rxdrop where plan.rxMetadata:
            var handler = MetadataReadingHandler()
            if plan.socket.multiBuffer {
                receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                    $0.socket.receivePacketBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
                }
            } else {
                receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                    $0.socket.receiveBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
                }
            }
            counters.storeMetadataPackets(handler.withHash)
        case .rxdrop where plan.socket.multiBuffer:
            var handler = DropHandler()
            receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                $0.socket.receivePacketBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
            }
        case .rxdrop:
            var handler = DropHandler()
            receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                $0.socket.receiveBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
            }
        case .l2fwd where state.output != nil && plan.socket.multiBuffer:
            var handler = ForwardHandler()
            forwardLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                Socket.forwardPacketBatch(from: &$0, to: &$1, limit: $2, pool: &$3, handler: &$4)
            }
        case .l2fwd where state.output != nil:
            // Packets go on to another port: finish partial checksums (hosts with checksum offload).
            var handler = TransportChecksumHandler(ForwardHandler(), offloadMetadataLength: 0)
            forwardLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                Socket.forwardBatch(from: &$0, to: &$1, limit: $2, pool: &$3, handler: &$4)
            }
        case .l2fwd where plan.socket.multiBuffer:
            var handler = MACSwapHandler()
            receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                $0.socket.receivePacketBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
            }
        case .l2fwd:
            var handler = MACSwapHandler()
            receiveLoop(plan: plan, state: &state, handler: &handler, counters: counters, stop: stop, budget: budget) {
                $0.socket.receiveBatch(limit: $1, pool: &$0.umem.pool, handler: &$2)
            }
        case .txonly:
            transmitLoop(plan: plan, state: &state, counters: counters, stop: stop, budget: budget)
        }
    }

    /// The receive loop around one batch function (single-frame or
    /// multi-buffer), specialised per handler.
    static func receiveLoop<Handler>(plan: SessionPlan, state: inout QueueState, handler: inout Handler,
                                     counters: QueueCounters, stop: StopFlag, budget: PacketBudget,
                                     batch: (inout QueueState, Int, inout Handler) -> BatchResult) {
        var packets: UInt64 = 0, bytes: UInt64 = 0, dropped: UInt64 = 0
        while !stop.isRaised {
            let wanted = budget.claim(plan.batch)
            if wanted == 0 { break }
            if plan.wait == .pollEveryBatch { state.socket.poll(timeoutMilliseconds: 1) }
            let result = batch(&state, wanted, &handler)
            budget.refund(wanted - result.packets)
            if result.packets > 0 {
                packets &+= UInt64(result.packets)
                bytes &+= UInt64(result.bytes)
                dropped &+= UInt64(result.transmitDropped)
                counters.publish(packets: packets, bytes: bytes, transmitDropped: dropped)
            }
            // A partial batch: wait in poll() (at once when more are ready) so
            // packets gather and a core shared with NAPI gives it the CPU.
            if result.packets < wanted, plan.wait == .pollWhenIdle { state.socket.poll(timeoutMilliseconds: 1) }
        }
        settleTransmit(&state.socket, pool: &state.umem.pool)
    }

    /// The two-port loop around one forwarding batch function (single-frame
    /// or multi-buffer), both directions through the one UMEM.
    static func forwardLoop<Handler>(plan: SessionPlan, state: inout QueueState, handler: inout Handler,
                                     counters: QueueCounters, stop: StopFlag, budget: PacketBudget,
                                     batch: (inout Socket, inout Socket, Int, inout FramePool, inout Handler) -> BatchResult) {
        guard var output = state.output.take() else { return }
        var packets: UInt64 = 0, bytes: UInt64 = 0, dropped: UInt64 = 0
        while !stop.isRaised {
            let wanted = budget.claim(plan.batch)
            if wanted == 0 { break }
            // Both directions through the one UMEM: in → out, and out → in.
            let forward = batch(&state.socket, &output, wanted, &state.umem.pool, &handler)
            let backWanted = max(0, wanted - forward.packets)
            let back = backWanted > 0
                ? batch(&output, &state.socket, backWanted, &state.umem.pool, &handler)
                : BatchResult()
            let handled = forward.packets + back.packets
            budget.refund(wanted - handled)
            if handled < wanted, plan.wait == .pollWhenIdle {
                // poll() drives TX only on the socket it waits on (copy mode).
                output.kickPendingTransmit()
                state.socket.poll(timeoutMilliseconds: 1)
            }
            if handled == 0 { continue }
            packets &+= UInt64(handled)
            bytes &+= UInt64(forward.bytes + back.bytes)
            dropped &+= UInt64(forward.transmitDropped + back.transmitDropped)
            counters.publish(packets: packets, bytes: bytes, transmitDropped: dropped)
        }
        settleTransmit(&output, pool: &state.umem.pool)
        settleTransmit(&state.socket, pool: &state.umem.pool)
        state.output = consume output
    }

    static func transmitLoop(plan: SessionPlan, state: inout QueueState, counters: QueueCounters, stop: StopFlag, budget: PacketBudget) {
        let length = plan.packet?.length ?? 64
        var packets: UInt64 = 0
        let perQueueRate = plan.rate.map { $0 / Double(plan.queues.count) }
        // Pace with a token bucket: credit grows at the rate and is capped at
        // `burst` (a millisecond's worth, at least 64), so a sender that was
        // descheduled (a loaded machine) resumes at the rate instead of
        // catching up in one burst of rate x stall that overruns the
        // receiver's rings. Never ahead of rate x elapsed time.
        let step = min(plan.batch, 16)
        let burst = max(Double(4 * step), (perQueueRate ?? 0) / 1000)
        var credit = 0.0
        var last = ContinuousClock.now
        while !stop.isRaised {
            if let perQueueRate {
                let now = ContinuousClock.now
                let elapsed = now - last
                last = now
                credit = min(burst, credit + (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * perQueueRate)
                if credit < Double(step) {
                    state.socket.completion.drain(into: &state.umem.pool)
                    usleep(50)
                    continue
                }
            }
            let wanted = budget.claim(perQueueRate == nil ? plan.batch : step)
            if wanted == 0 { break }
            let result = plan.socket.multiBuffer
                ? state.socket.transmitPacketBatch(limit: wanted, pool: &state.umem.pool, length: length)
                : state.socket.transmitBatch(limit: wanted, pool: &state.umem.pool, length: length)
            budget.refund(wanted - result.packets)
            credit -= Double(result.packets)
            if result.packets == 0 {
                if plan.wait != .spin { state.socket.poll(forTransmit: true, timeoutMilliseconds: 1) }
                continue
            }
            packets &+= UInt64(result.packets)
            counters.publish(packets: packets, bytes: packets &* UInt64(length), transmitDropped: 0)
        }
        settleTransmit(&state.socket, pool: &state.umem.pool)
    }

    /// Kicks until every queued frame has completed (at most a second), so
    /// "sent" means sent.
    static func settleTransmit(_ socket: inout Socket, pool: inout FramePool) {
        let deadline = ContinuousClock.now + .seconds(1)
        while socket.tx.produced != socket.completion.consumed && ContinuousClock.now < deadline {
            socket.kickTransmit()
            socket.completion.drain(into: &pool)
            if socket.tx.produced != socket.completion.consumed { socket.poll(forTransmit: true, timeoutMilliseconds: 1) }
        }
    }

    /// Says on standard error when the kernel refused TX kicks of `socket`
    /// (what it held was not sent), with the fix; the JSON counts them too.
    static func reportRefusedKicks(_ socket: borrowing Socket) {
        do { try socket.checkTransmitKicks() } catch { note("warning: \(error)") }
    }

    /// Whether every worker has returned.
    var allFinished: Bool { dataPlane?.allWorkersFinished ?? true }

    /// Statistics of every queue's socket now (sum; the second port's left out), read by file descriptor.
    func currentStatistics() -> SocketStatistics {
        (dataPlane?.socketStatistics() ?? []).filter { $0.port == plan.interface }.reduce(SocketStatistics()) { $0 + $1.statistics }
    }

    /// Waits for the workers, closes everything, and says what happened.
    func finish() -> SessionResult {
        dataPlane?.join()
        elapsed = ContinuousClock.now - started
        var perQueue: [SessionResult.Queue] = []
        var statistics = SocketStatistics()
        var conserved = true
        for (index, queue) in plan.queues.enumerated() {
            let left = dataPlane?.withWorkerQueues(at: index) { (queues: borrowing WorkerQueues) -> (SocketStatistics, FrameAccounting, SyscallCounts) in
                let queueStats = queues.sockets.withSocket(at: 0) { (socket: borrowing Socket) in (try? socket.statistics()) ?? SocketStatistics() }
                var syscalls = SyscallCounts()
                for socket in 0..<queues.sockets.count {
                    syscalls = syscalls + queues.sockets.withSocket(at: socket) { (socket: borrowing Socket) in
                        BenchmarkSession.reportRefusedKicks(socket)
                        return socket.syscalls
                    }
                }
                return (queueStats, queues.accounting, syscalls)
            }
            let (queueStats, account, syscalls) = left ?? (SocketStatistics(), FrameAccounting(total: 0, free: 0, receiveSide: 0, transmitSide: 0), SyscallCounts())
            statistics = statistics + queueStats
            conserved = conserved && account.isConserved
            perQueue.append(SessionResult.Queue(
                queue: queue, cpu: plan.cpus?[index],
                packets: counters[index].packets, bytes: counters[index].bytes,
                transmitDropped: counters[index].transmitDropped, observedCPU: counters[index].observedCPU,
                frames: account, syscalls: syscalls))
        }
        let programCounters = dataPlane?.programCounters().first { $0.port == plan.interface }?.counters
        dataPlane?.stop()
        restoreMTU()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var result = SessionResult(mode: plan.mode, interface: plan.interface, attach: attachMode, zeroCopy: zeroCopy,
                                   needWakeup: plan.socket.needWakeup, seconds: seconds, perQueue: perQueue,
                                   statistics: statistics, program: programCounters, framesConserved: conserved,
                                   fallbackReason: fallbackReason)
        result.frames = .init(frameSize: plan.umem.frameSize, unaligned: plan.umem.unalignedChunks, multiBuffer: plan.socket.multiBuffer,
                              rxMetadata: plan.rxMetadata, mtu: plan.mtu,
                              rxMetadataPackets: plan.rxMetadata ? counters.reduce(0) { $0 + $1.metadataPackets } : nil)
        return result
    }
}

/// Drops every packet after reading its RX metadata (rxdrop --rx-metadata),
/// counting the packets that carried a hash: the cost of the metadata path.
struct MetadataReadingHandler: PacketHandler, MultiBufferHandler {
    var withHash: UInt64 = 0

    @inline(__always)
    mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        if frame.metadata?.hash != nil { withHash &+= 1 }
        return .drop
    }

    @inline(__always)
    mutating func handle(_ packet: inout FramePacket) -> PacketVerdict {
        if packet.metadata?.hash != nil { withHash &+= 1 }
        return .drop
    }
}

/// Sends every packet on unchanged (l2fwd --to: the other port).
struct ForwardHandler: PacketHandler, MultiBufferHandler {
    @inline(__always)
    mutating func handle(_ frame: inout Frame) -> PacketVerdict { .transmit }

    @inline(__always)
    mutating func handle(_ packet: inout FramePacket) -> PacketVerdict { .transmit }
}
