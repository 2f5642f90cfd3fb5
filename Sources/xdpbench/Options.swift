import ArgumentParser
import XDP
import XDPControl

extension AttachMode: ExpressibleByArgument {
    /// native (driver, drv), generic (skb) or auto.
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["native", "generic", "skb", "auto"] }
}
extension ZeroCopyMode: ExpressibleByArgument {}

/// How workers are scheduled.
enum SchedulingPolicy: String, ExpressibleByArgument, CaseIterable, Sendable {
    case other, fifo
}

/// Options every benchmark mode shares.
struct CommonOptions: ParsableArguments {
    @Option(name: [.short, .customLong("interface")], help: "The interface to bind (in --netns if given); or give it as the argument, as xdp-bench does.")
    var interfaceOption: String?

    @Argument(help: "The interface (instead of -i).")
    var interfaceArgument: String?

    /// The interface, from -i or the argument (``validate()`` checks one is given).
    var interface: String { interfaceOption ?? interfaceArgument ?? "" }

    @Option(name: [.short, .customLong("queues")], help: "Queues to serve: a list like 0,1 or 0-3.")
    var queues: String = "0"

    @Option(help: "Run setup in this network namespace (ip netns), e.g. the lab's.")
    var netns: String?

    @Option(name: [.short, .customLong("duration")], help: "Seconds to run (default 5; with --count, a time limit of 60).")
    var duration: Double?

    @Option(name: [.short, .customLong("count")], help: "Stop after exactly this many packets (received, sent, or forwarded).")
    var count: Int?

    @Option(name: [.short, .customLong("batch")], help: "Packets per batch (1-2048).")
    var batch: Int = 64

    @Option(name: [.short, .customLong("frame-size")], help: "UMEM frame size: 2048 or 4096; with --unaligned any size from 2048 to 4096 (e.g. 4001).")
    var frameSize: Int = 4096

    @Flag(help: "Unaligned chunk mode (XDP_UMEM_UNALIGNED_CHUNK_FLAG): frames of any size from 2048 to 4096.")
    var unaligned = false

    @Flag(name: .customLong("multi-buffer"), help: "Multi-buffer packets (XDP_USE_SG, frags-aware program): packets longer than a frame travel as chains.")
    var multiBuffer = false

    @Flag(name: .customLong("rx-metadata"), help: "Attach the device-bound program that writes RX hash/timestamp/VLAN in front of each packet, and read it per packet (native mode only).")
    var rxMetadata = false

    @Option(help: "Set the interface's MTU for the run (restored afterwards), e.g. 9000 with --multi-buffer.")
    var mtu: Int?

    @Option(help: "UMEM frames per queue.")
    var frames: Int = 4096

    @Option(help: "XDP attach mode: native, generic or auto (native, else generic).")
    var attach: AttachMode = .auto

    @Option(name: .customLong("zero-copy"), help: "Zero-copy: required, preferred or off.")
    var zeroCopy: ZeroCopyMode = .preferred

    @Flag(name: .customLong("no-need-wakeup"), help: "Do not use need_wakeup (kick on every batch).")
    var noNeedWakeup = false

    @Flag(name: [.short, .customLong("poll")], help: "Call poll() before every batch (xdpsock -p).")
    var poll = false

    @Flag(help: "Never sleep: spin on the ring. Only on a CPU the app has to itself (see --cpus).")
    var spin = false

    @Flag(name: .customLong("busy-poll"), help: "Busy polling (SO_PREFER_BUSY_POLL): the app's syscalls run the queue's NAPI.")
    var busyPoll = false

    @Option(name: .customLong("busy-budget"), help: "Packets per busy-poll call.")
    var busyBudget: Int = 64

    @Option(help: "CPUs to pin workers to, one per queue: a list like 1 or 0,1.")
    var cpus: String?

    @Flag(help: "Print one JSON object at the end (and no live lines).")
    var json = false

    @Flag(help: "No live lines.")
    var quiet = false

    @Flag(name: [.short, .customLong("app-stats")], help: "Show the application's syscalls: rx wakeups, tx kicks, polls, empty polls (xdpsock -a; always in --json).")
    var appStats = false

    @Option(help: "Seconds between live lines (xdpsock -n, xdp-bench -i).")
    var interval: Double = 1

    @Option(help: "Scheduling policy of the workers: other (default) or fifo (SCHED_FIFO, for --spin on a CPU of their own; xdpsock --policy).")
    var policy: SchedulingPolicy = .other

    @Option(help: "SCHED_FIFO priority with --policy fifo, 1-99 (xdpsock --schpri).")
    var schpri: Int32 = 50

    @Option(name: .customLong("pinned-map"), help: "Attach no program: register the sockets in the XSKMAP that `xdpctl attach --pin DIR` pinned (DIR or DIR/xsks). Needs only CAP_NET_RAW.")
    var pinnedMap: String?

    @Option(name: .customLong("xsk-map-socket"), help: "Attach no program: take the XSKMAP from the Kubernetes AF_XDP device plugin's Unix socket (in a pod: /tmp/afxdp_dp/IFACE/afxdp.sock) and register the sockets in it; --busy-poll is then asked of the plugin. Needs only CAP_NET_RAW.")
    var xskMapSocket: String?

    @Option(help: "Attach your own XDP program instead of swift-xdp's: a compiled object, optionally with the entry point's function or section name (FILE[:SECTION]). It must redirect into an XSKMAP (--program-map).")
    var program: String?

    @Option(name: .customLong("program-map"), help: "The XSKMAP of --program the sockets are registered in.")
    var programMap = "xsks"

    func validate() throws {
        switch (interfaceOption, interfaceArgument) {
        case (nil, nil): throw ValidationError("give the interface: -i IFACE, or as the argument")
        case (let option?, let argument?) where option != argument:
            throw ValidationError("two interfaces given (-i \(option) and \(argument)): give one")
        default: break
        }
        guard interval >= 0.1 && interval <= 3600 else { throw ValidationError("--interval \(interval) out of range: use 0.1 to 3600 seconds") }
        guard (1...99).contains(schpri) else { throw ValidationError("--schpri \(schpri) out of range: use 1 to 99") }
        _ = try queueList()
        _ = try cpuList()
        guard (1...2048).contains(batch) else { throw ValidationError("--batch \(batch) out of range: use 1 to 2048") }
        if unaligned {
            guard (UMEMConfiguration.minimumFrameSize...UMEMConfiguration.maximumFrameSize).contains(frameSize) else {
                throw ValidationError("--frame-size \(frameSize) out of range with --unaligned: use 2048 to 4096")
            }
        } else {
            guard frameSize == 2048 || frameSize == 4096 else {
                throw ValidationError("--frame-size \(frameSize) not a power of two in aligned mode: use 2048 or 4096, or add --unaligned")
            }
        }
        if let mtu {
            guard (68...9000).contains(mtu) else { throw ValidationError("--mtu \(mtu) out of range: use 68 to 9000") }
            let room = frameSize - UMEMConfiguration.kernelHeadroom
            if mtu + 14 > room && !multiBuffer {
                throw ValidationError("--mtu \(mtu): a \(mtu + 14)-byte frame does not fit one \(frameSize)-byte UMEM frame (\(room) bytes of packet): add --multi-buffer, or use a smaller --mtu")
            }
        }
        if rxMetadata && attach == .generic {
            throw ValidationError("--rx-metadata needs native mode (the kernel runs device-bound programs in the driver only): drop --attach generic")
        }
        guard frames >= 64, frames <= 1 << 20 else { throw ValidationError("--frames \(frames) out of range: use 64 to 1048576") }
        if let duration, !(duration > 0 && duration <= 3600) { throw ValidationError("--duration \(duration) out of range: use a number of seconds above 0, at most 3600") }
        if let count, count <= 0 { throw ValidationError("--count \(count) must be positive") }
        guard busyBudget > 0 else { throw ValidationError("--busy-budget must be positive") }
        if spin && poll { throw ValidationError("--spin and --poll exclude each other") }
        if let cpus = try cpuList(), cpus.count != (try queueList()).count {
            throw ValidationError("--cpus lists \(cpus.count) CPU(s) for \(try queueList().count) queue(s): give one CPU per queue")
        }
    }

    func queueList() throws -> [UInt32] {
        do { return try CPUList.parse(queues).map(UInt32.init) } catch { throw ValidationError("--queues \(queues): \(error)") }
    }

    func cpuList() throws -> [Int]? {
        guard let cpus else { return nil }
        let list: [Int]
        do { list = try CPUList.parse(cpus) } catch { throw ValidationError("--cpus \(cpus): \(error)") }
        let allowed = Set(Worker.allowedCPUs)
        if let bad = list.first(where: { !allowed.contains($0) }) {
            throw ValidationError("--cpus: CPU \(bad) is not available to this process (allowed: \(allowed.sorted().map(String.init).joined(separator: ",")))")
        }
        return list
    }

    /// The time limit: --duration, or 5 s, or 60 s when only --count is given.
    var timeLimit: Double { duration ?? (count != nil ? 60 : 5) }

    /// A fill ring that holds every frame (xdpsock: 4096 frames, a 4096-entry
    /// fill ring), so a slow loop runs out of RX ring room, not of frames.
    var umemConfiguration: UMEMConfiguration {
        UMEMConfiguration(frameCount: frames, frameSize: frameSize,
                          fillRingSize: frames.nextPowerOfTwoAtLeast, completionRingSize: min(2048, frames.nextPowerOfTwoAtMost),
                          unalignedChunks: unaligned)
    }

    var socketConfiguration: SocketConfiguration {
        SocketConfiguration(zeroCopy: zeroCopy, needWakeup: !noNeedWakeup,
                            busyPoll: busyPoll ? BusyPollConfiguration(timeoutMicroseconds: 20, budget: busyBudget) : nil,
                            multiBuffer: multiBuffer)
    }

    var waitPolicy: WaitPolicy { spin ? .spin : (poll ? .pollEveryBatch : .pollWhenIdle) }
}

/// Options of the modes that generate packets.
struct PacketOptions: ParsableArguments {
    @Option(name: [.customShort("s"), .customLong("packet-size")], help: "Frame size in bytes without FCS (60 or more).")
    var packetSize: Int = 64

    @Option(name: .customLong("src-mac"), help: "Source MAC (default: the interface's).")
    var sourceMAC: String?

    @Option(name: .customLong("dst-mac"), help: "Destination MAC (default 02:00:00:00:00:02, a unicast address nobody owns: receivers see it in XDP, the kernel stack drops it early).")
    var destinationMAC: String?

    @Option(name: .customLong("src-ip"), help: "Source IPv4 address.")
    var sourceIP: String = "198.18.0.1"

    @Option(name: .customLong("dst-ip"), help: "Destination IPv4 address.")
    var destinationIP: String = "198.18.0.2"

    @Option(help: "Distinct flows (UDP source ports) across the frames.")
    var flows: Int = 1

    func validate() throws {
        guard (60...9014).contains(packetSize) else { throw ValidationError("--packet-size \(packetSize) out of range: use 60 to the frame size less 256, or up to 9014 with --multi-buffer") }
        guard (1...65535).contains(flows) else { throw ValidationError("--flows \(flows) out of range: use 1 to 65535") }
        if let sourceMAC { _ = try parseMAC(sourceMAC, option: "--src-mac") }
        if let destinationMAC { _ = try parseMAC(destinationMAC, option: "--dst-mac") }
        _ = try parseIPv4(sourceIP, option: "--src-ip")
        _ = try parseIPv4(destinationIP, option: "--dst-ip")
    }
}

/// How a worker waits when its ring has nothing for it.
enum WaitPolicy: String {
    /// poll() with a short timeout after a batch that was not full (at once
    /// when more packets are ready): safe on a CPU shared with the queue's
    /// softirq or NAPI work, and batches grow instead of the loop spinning
    /// on one or two packets.
    case pollWhenIdle = "poll after a partial batch"
    /// poll() before every batch (xdpsock -p).
    case pollEveryBatch = "poll every batch"
    /// Never sleep.
    case spin
}

func parseMAC(_ text: String, option: String) throws -> [UInt8] {
    let parts = text.split(separator: ":")
    let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
    guard parts.count == 6, bytes.count == 6 else { throw ValidationError("\(option) \(text) is not a MAC address like 02:00:00:00:00:01") }
    return bytes
}

func parseIPv4(_ text: String, option: String) throws -> [UInt8] {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    let bytes = parts.compactMap { UInt8($0) }
    guard parts.count == 4, bytes.count == 4 else { throw ValidationError("\(option) \(text) is not an IPv4 address like 198.18.0.1") }
    return bytes
}

extension Int {
    /// The largest power of two not above self (self > 0).
    var nextPowerOfTwoAtMost: Int { 1 << (Int.bitWidth - 1 - leadingZeroBitCount) }
    /// The smallest power of two not below this positive value.
    var nextPowerOfTwoAtLeast: Int { self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount) }
}
