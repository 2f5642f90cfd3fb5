import XDP
import XDPControl

/// What a ``ForwardingEngine`` runs: the effective configuration, after the
/// daemon's config file and flags are merged and checked.
public struct EngineConfiguration: Sendable, Equatable {
    /// A port and the queues of it to serve (nil: all the interface has).
    public struct Port: Sendable, Equatable {
        public var interface: String
        public var queues: [UInt32]?
        public init(interface: String, queues: [UInt32]? = nil) {
            self.interface = interface
            self.queues = queues
        }
    }

    /// A user's own XDP program attached instead of swift-xdp's (xconnect
    /// and macswap): a compiled object, its entry point and its XSKMAP.
    public struct Program: Sendable, Equatable {
        /// The compiled object's path.
        public var path: String
        /// The entry point's function or section name (nil: the only XDP program).
        public var entryPoint: String?
        /// The XSKMAP the sockets are registered in.
        public var socketMapName: String
        /// Parses `FILE[:SECTION]` (a colon followed by a path is part of FILE).
        /// - Parameters:
        ///   - argument: The text, as `--program` and `program:` take it.
        ///   - socketMapName: The XSKMAP's name.
        public init(argument: String, socketMapName: String = "xsks") {
            (path, entryPoint) = XDPProgram.parseObjectArgument(argument)
            self.socketMapName = socketMapName
        }
    }

    public var mode: ForwardingMode
    public var ports: [Port]
    /// CPUs for workers (nil: the process's affinity mask).
    public var cpus: [Int]?
    public var attach: AttachMode
    public var zeroCopy: ZeroCopyMode
    public var needWakeup: Bool
    public var frameSize: Int
    public var frameCount: Int
    public var batch: Int
    /// Set up inside this network namespace.
    public var namespace: String?
    /// A user's own XDP program instead of swift-xdp's (nil: ours).
    public var program: Program? = nil
    /// Attach no program: take each port's XSKMAP from the Kubernetes AF_XDP
    /// device plugin's Unix socket at this path (`DevicePluginConnection`,
    /// `/connect`, one `/xsk_map_fd,<port>` per port, `/fin`) and register the
    /// sockets in it. The plugin's program decides what arrives; `attach` is
    /// not used and the process needs only CAP_NET_RAW. `{port}` in the path
    /// stands for each port's name (the plugin mounts one socket per device,
    /// `/tmp/afxdp_dp/{port}/afxdp.sock`); `auto` is that path, or
    /// `/tmp/afxdp.sock` where only that exists (older plugins).
    public var xskMapSocket: String? = nil
    /// Preferred busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL,
    /// SO_BUSY_POLL_BUDGET on every socket), or `nil` (the default) for
    /// interrupt-driven NAPI. With it the workers' own syscalls run the
    /// queues' NAPI work and wait in poll() only when a whole round found
    /// nothing; pair it with the ports' `napi_defer_hard_irqs` and
    /// `gro_flush_timeout` (the daemon sets both, see docs/operations.md).
    public var busyPoll: BusyPollConfiguration? = nil

    /// The device plugin's socket that serves `port`'s XSKMAP (``xskMapSocket``
    /// with `{port}` or `auto` resolved), or nil without one.
    /// - Parameter port: The port's interface name.
    /// - Returns: The socket's path.
    public func xskMapSocketPath(port: String) -> String? {
        guard let xskMapSocket else { return nil }
        if xskMapSocket == "auto" { return DevicePluginConnection.defaultPath(interface: port) }
        return xskMapSocket.replacing("{port}", with: port)
    }

    public init(mode: ForwardingMode, ports: [Port], cpus: [Int]? = nil, attach: AttachMode = .auto,
                zeroCopy: ZeroCopyMode = .preferred, needWakeup: Bool = true, frameSize: Int = 2048,
                frameCount: Int = 4096, batch: Int = 64, namespace: String? = nil) {
        self.mode = mode
        self.ports = ports
        self.cpus = cpus
        self.attach = attach
        self.zeroCopy = zeroCopy
        self.needWakeup = needWakeup
        self.frameSize = frameSize
        self.frameCount = frameCount
        self.batch = batch
        self.namespace = namespace
    }

    /// Checks what can be checked without the system.
    /// - Throws: ``XDPError`` of kind `.invalidConfiguration` naming the problem.
    public func validate() throws(XDPError) {
        func fail(_ hint: String) -> XDPError { XDPError(.invalidConfiguration, operation: "forwarding configuration", hint: hint) }
        switch mode {
        case .xconnect, .l3:
            guard ports.count == 2 else { throw fail("\(mode.rawValue) needs exactly 2 ports, got \(ports.count)") }
        case .macswap:
            guard !ports.isEmpty else { throw fail("macswap needs at least 1 port") }
        }
        let names = ports.map(\.interface)
        guard Set(names).count == names.count else { throw fail("a port is listed twice: \(names.joined(separator: ", "))") }
        guard (1...2048).contains(batch) else { throw fail("batch \(batch) out of range: use 1 to 2048") }
        if mode == .l3, program != nil {
            throw fail("l3 needs swift-xdp's program (it asks the kernel's FIB and hands its answer to the workers): use program only with xconnect or macswap")
        }
        if xskMapSocket != nil {
            if program != nil {
                throw fail("xsk_map_socket takes the device plugin's program and its XSKMAP: it cannot be combined with program")
            }
            if mode == .l3 {
                throw fail("l3 needs swift-xdp's program (it asks the kernel's FIB); the device plugin's program redirects whole queues: use xsk_map_socket with xconnect or macswap")
            }
        }
        try UMEMConfiguration(frameCount: frameCount, frameSize: frameSize).validate()
        if mode != .macswap, let a = ports[0].queues, let b = ports[1].queues, a != b {
            throw fail("\(mode.rawValue) pairs queue q of one port with queue q of the other: give both ports the same queues (now \(a) and \(b))")
        }
    }
}
