import XDP
import XDPControl

/// What a ``PacketService`` or ``PacketStream`` serves: which packets of which
/// interface, on which queues and cores, and how the sockets are set up.
///
/// Only packets that ``match`` selects leave the kernel's path; everything
/// else on the interface (ARP, ping, TCP, other UDP ports) reaches the kernel
/// stack as before.
public struct PacketServiceConfiguration: Sendable, Equatable {
    /// The interface, in ``namespace`` (or the caller's namespace).
    public var interface: String
    /// The packets to take, e.g. `.udp(port: 7000)`; the rest go to the kernel.
    public var match: RedirectMatch
    /// Queue ids to serve; `nil` serves every queue the interface has.
    public var queues: [UInt32]?
    /// CPUs for the pinned workers (one worker per CPU at most, queues spread
    /// evenly); `nil` uses the process's affinity mask.
    public var cpus: [Int]?
    /// Native, generic, or native-else-generic program attachment.
    public var attach: AttachMode
    /// Zero-copy when the driver can (`.preferred`), always (`.required`), or never (`.off`).
    public var zeroCopy: ZeroCopyMode
    /// Make syscalls only when the kernel asks (need_wakeup).
    public var needWakeup: Bool
    /// Bytes per UMEM frame: 2048 or 4096.
    public var frameSize: Int
    /// UMEM frames per served queue.
    public var framesPerQueue: Int
    /// Packets taken per batch.
    public var batchSize: Int
    /// Set up inside this network namespace (`ip netns` name); workers and
    /// sockets keep working from any thread afterwards.
    public var namespace: String?
    /// Replace an XDP program someone else attached to the interface.
    public var replaceExistingProgram: Bool
    /// Attach no program: take the XSKMAP from the Kubernetes AF_XDP device
    /// plugin's Unix socket at this path (`DevicePluginConnection` in XDPControl,
    /// e.g. `/tmp/afxdp_dp/IFACE/afxdp.sock` in a pod) and register the
    /// sockets in it. The process then needs only CAP_NET_RAW; which packets
    /// arrive is the plugin's program's choice (`match`, `attach` and
    /// `replaceExistingProgram` are not used).
    public var xskMapSocket: String? = nil
    /// Your own XDP program instead of swift-xdp's redirect program: loaded,
    /// attached (``attach``, ``replaceExistingProgram``) and detached at stop
    /// like ours, with the sockets registered in its XSKMAP. Which packets
    /// arrive is its choice (``match`` is not used); reach its maps with
    /// ``PacketService/readProgramMap(_:key:as:)`` and
    /// ``PacketService/writeProgramMap(_:key:value:)``.
    public var program: Program? = nil

    /// A user's compiled XDP program and the names the service needs in it.
    public struct Program: Sendable, Equatable {
        /// The compiled BPF object (`clang -O2 -g -target bpf`), a file or its bytes.
        public var object: XDPProgram.ObjectSource
        /// The entry point: its function or section name; nil takes the
        /// object's only XDP program.
        public var programName: String?
        /// The `BPF_MAP_TYPE_XSKMAP` the program redirects into, keyed by queue id.
        public var socketMapName: String

        /// Creates the description of a user's program.
        /// - Parameters:
        ///   - object: The compiled object.
        ///   - programName: The entry point (nil: the only XDP program).
        ///   - socketMapName: The XSKMAP's name.
        public init(object: XDPProgram.ObjectSource, programName: String? = nil, socketMapName: String = "xsks") {
            self.object = object
            self.programName = programName
            self.socketMapName = socketMapName
        }
    }

    /// Creates a configuration.
    /// - Parameters:
    ///   - interface: The interface name.
    ///   - match: The packets to take; the rest go to the kernel.
    ///   - queues: Queue ids to serve (`nil`: all).
    ///   - cpus: CPUs for workers (`nil`: the affinity mask).
    ///   - attach: Program attach mode.
    ///   - zeroCopy: Socket bind mode.
    ///   - needWakeup: Use need_wakeup.
    ///   - frameSize: Bytes per frame.
    ///   - framesPerQueue: UMEM frames per queue.
    ///   - batchSize: Packets per batch.
    ///   - namespace: A network namespace to set up in.
    ///   - replaceExistingProgram: Replace a foreign XDP program.
    public init(interface: String, match: RedirectMatch, queues: [UInt32]? = nil, cpus: [Int]? = nil,
                attach: AttachMode = .auto, zeroCopy: ZeroCopyMode = .preferred, needWakeup: Bool = true,
                frameSize: Int = 2048, framesPerQueue: Int = 4096, batchSize: Int = 64,
                namespace: String? = nil, replaceExistingProgram: Bool = false) {
        self.interface = interface
        self.match = match
        self.queues = queues
        self.cpus = cpus
        self.attach = attach
        self.zeroCopy = zeroCopy
        self.needWakeup = needWakeup
        self.frameSize = frameSize
        self.framesPerQueue = framesPerQueue
        self.batchSize = batchSize
        self.namespace = namespace
        self.replaceExistingProgram = replaceExistingProgram
    }

    /// Checks what can be checked without the system.
    /// - Throws: `XDPError` of kind `.invalidConfiguration` naming the field.
    public func validate() throws(XDPError) {
        func fail(_ hint: String) -> XDPError { XDPError(.invalidConfiguration, operation: "packet service configuration", hint: hint) }
        guard !interface.isEmpty else { throw fail("no interface given") }
        guard (1...2048).contains(batchSize) else { throw fail("batch size \(batchSize) out of range: use 1 to 2048") }
        if let queues, queues.isEmpty || Set(queues).count != queues.count { throw fail("queues \(queues): give each queue once, at least one") }
        if let cpus, cpus.isEmpty { throw fail("no CPUs given") }
        if program != nil && xskMapSocket != nil {
            throw fail("program and xskMapSocket: the device plugin attaches its own program; give one of them")
        }
        if let program, program.socketMapName.isEmpty { throw fail("program: no XSKMAP name given (socketMapName)") }
        try UMEMConfiguration(frameCount: framesPerQueue, frameSize: frameSize).validate()
    }
}
