import ArgumentParser
import Foundation
import XDP
import XDPControl

/// The shared body of rxdrop, txonly and l2fwd.
func runThroughput(mode: BenchmarkMode, options: CommonOptions, packet: PacketOptions?, secondInterface: String? = nil,
                   rate: Double? = nil) throws {
    installSignalHandlers()
    if options.xskMapSocket != nil {
        if options.pinnedMap != nil { throw ValidationError("--xsk-map-socket and --pinned-map are two sources of the same map: give one") }
        if options.program != nil { throw ValidationError("--xsk-map-socket takes the device plugin's program: it cannot be combined with --program") }
        if secondInterface != nil { throw ValidationError("--xsk-map-socket serves one interface: it cannot be combined with --to") }
        if mode == .txonly { throw ValidationError("--xsk-map-socket is for receiving modes (rxdrop, l2fwd): txonly attaches no program") }
    }
    if options.pinnedMap != nil {
        if secondInterface != nil { throw ValidationError("--pinned-map serves one interface: it cannot be combined with --to") }
        if mode == .txonly { throw ValidationError("--pinned-map is for receiving modes (rxdrop, l2fwd): txonly attaches no program") }
    }
    if options.program != nil {
        if options.pinnedMap != nil { throw ValidationError("--program attaches a program, --pinned-map uses one attached by xdpctl: choose one") }
        if options.rxMetadata { throw ValidationError("--rx-metadata uses swift-xdp's metadata program: it cannot be combined with --program") }
        if mode == .txonly { throw ValidationError("--program is for receiving modes (rxdrop, l2fwd): txonly attaches no program") }
    }
    var template: PacketTemplate?
    if options.rxMetadata && mode == .txonly {
        throw ValidationError("--rx-metadata is for the receiving modes (rxdrop, l2fwd)")
    }
    if let packet {
        let room = options.frameSize - UMEMConfiguration.kernelHeadroom
        if options.multiBuffer {
            guard packet.packetSize <= room * FramePacket.capacity else {
                throw ValidationError("--packet-size \(packet.packetSize) needs more than \(FramePacket.capacity) frames of \(room) bytes")
            }
            if let mtu = options.mtu, packet.packetSize > mtu + 14 {
                throw ValidationError("--packet-size \(packet.packetSize) exceeds --mtu \(mtu) plus the 14-byte Ethernet header")
            }
        } else {
            guard packet.packetSize <= room else {
                throw ValidationError("--packet-size \(packet.packetSize) does not fit a \(options.frameSize)-byte frame (at most \(room)): add --multi-buffer to send it over several frames")
            }
        }
        template = PacketTemplate(
            length: packet.packetSize,
            sourceMAC: try packet.sourceMAC.map { try parseMAC($0, option: "--src-mac") },
            destinationMAC: try packet.destinationMAC.map { try parseMAC($0, option: "--dst-mac") } ?? [0x02, 0, 0, 0, 0, 0x02],
            sourceIPv4: try parseIPv4(packet.sourceIP, option: "--src-ip"),
            destinationIPv4: try parseIPv4(packet.destinationIP, option: "--dst-ip"),
            flows: packet.flows)
    }
    let plan = SessionPlan(
        mode: mode, interface: options.interface, secondInterface: secondInterface, namespace: options.netns,
        queues: try options.queueList(), cpus: try options.cpuList(), batch: options.batch,
        umem: options.umemConfiguration, socket: socketConfiguration(options, mode: mode), attach: options.attach,
        wait: options.waitPolicy, count: options.count, timeLimit: options.timeLimit, packet: template, rate: rate,
        pinnedMap: options.pinnedMap, xskMapSocket: options.xskMapSocket, rxMetadata: options.rxMetadata, mtu: options.mtu,
        realtimePriority: options.policy == .fifo ? options.schpri : nil,
        program: options.program.map(CustomProgramArgument.init), programMap: options.programMap)
    let session = try BenchmarkSession(plan: plan)
    if !options.json { describeSetup(session) } else if let reason = session.fallbackReason { note("warning: \(reason)") }
    // Every socket is bound, its fill ring stocked and registered in the
    // XSKMAP: a sender started after this line loses nothing to setup (the
    // lab scripts and tests wait for it rather than sleep).
    note("\(plan.mode.rawValue) \(plan.interface): ready")
    var result = try runSessions([session], timeLimit: plan.timeLimit, live: !options.json && !options.quiet, every: options.interval)[0]
    result.showApplicationStatistics = options.appStats
    if options.json { printJSON(result) } else { print(result.table) }
    if let count = options.count, result.packets != UInt64(count) {
        note("stopped after \(format(result.seconds)) s with \(result.packets) of \(count) packets")
        throw ExitCode(3)
    }
}

struct RxDrop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rxdrop", abstract: "Receive packets, count them, give the frames straight back.")
    @OptionGroup var options: CommonOptions
    func run() throws { try runThroughput(mode: .rxdrop, options: options, packet: nil) }
}

struct TxOnly: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "txonly", abstract: "Send UDP packets as fast as the queue takes them.")
    @OptionGroup var options: CommonOptions
    @OptionGroup var packet: PacketOptions
    @Option(help: "Packets per second over all queues, paced: a sender held up catches up by at most a millisecond's worth (64 packets or more) at once (default: as fast as the queue takes them).")
    var rate: Double?
    func validate() throws {
        if let rate, !(rate > 0) { throw ValidationError("--rate \(rate) must be positive") }
    }
    func run() throws { try runThroughput(mode: .txonly, options: options, packet: packet, rate: rate) }
}

struct L2Fwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2fwd",
        abstract: "Swap MACs and send back out (or forward to a second port over a shared UMEM, with --to).")
    @OptionGroup var options: CommonOptions
    @Option(help: "Forward to this interface (same namespace) instead of reflecting; both directions, one UMEM.")
    var to: String?
    func validate() throws {
        if let to, to == options.interface {
            throw ValidationError("--to \(to) is the interface itself (-i): give another port to forward to, or leave --to out to reflect")
        }
    }
    func run() throws { try runThroughput(mode: .l2fwd, options: options, packet: nil, secondInterface: to) }
}

/// The sockets' configuration: txonly's only send, so they take
/// ``SocketConfiguration/senderTransmitBudget`` frames per copy-mode sendto.
func socketConfiguration(_ options: CommonOptions, mode: BenchmarkMode) -> SocketConfiguration {
    var socket = options.socketConfiguration
    if mode == .txonly { socket.transmitBudget = SocketConfiguration.senderTransmitBudget }
    return socket
}
