import CXDP
import Glibc
import Synchronization
import XDP

/// The redirect program (`bpf/xdp_redirect.bpf.c`) loaded and attached to one
/// interface: its XSKMAP sends each RX queue to the socket registered for it.
///
/// Attaching never replaces a program someone else put on the interface
/// unless asked to; dropping the value detaches the program, and only if it
/// is still ours. One value per interface (the XSKMAP is keyed by queue id).
public struct XDPProgram: ~Copyable {
    /// The interface the program is attached to.
    public let interface: String
    /// Its index.
    public let interfaceIndex: UInt32
    /// The mode the kernel accepted (never `.auto`).
    public let mode: AttachMode
    /// Why `.auto` fell back to generic mode, when it did.
    public let fallbackReason: String?
    /// The kernel's id of the loaded program.
    public let programID: UInt32
    /// Whether the attached program takes multi-buffer packets (`xdp.frags`).
    public let isMultiBuffer: Bool
    /// Whether the attached program writes `RXMetadata` in front of every
    /// packet it redirects (device-bound, native mode).
    public let writesRXMetadata: Bool
    /// The entry point's function name (one of the embedded program's, or
    /// the user's, ``init(interface:object:programName:socketMapName:mode:replaceExisting:)``).
    public let programName: String

    let object: OpaquePointer
    let programFD: Int32
    /// The network namespace the program was attached in: detaching happens
    /// there, whichever thread (and namespace) drops the value.
    let namespaceFD: Int32
    let socketMapFD: Int32
    /// The XSKMAP's number of entries: queue ids below it can be registered.
    let socketMapCapacity: UInt32
    let matchMapFD: Int32
    let countersMapFD: Int32
    let servedPortsMapFD: Int32
    let ownerMapFD: Int32
    /// False once ``leaveAttached()`` hands the program over to the kernel.
    var detachOnDrop = true

    /// Loads the embedded redirect program and attaches it to `interface`.
    /// - Parameters:
    ///   - interface: The interface, in the calling thread's network namespace.
    ///   - mode: `.native`, `.generic`, or `.auto`: native when the driver
    ///     reports XDP_REDIRECT in its xdp-features, generic otherwise (a
    ///     driver with basic XDP only drops redirected packets); when the
    ///     kernel reports no features, native if it attaches, else generic.
    ///   - match: What goes to the sockets; everything else to the kernel.
    ///   - replaceExisting: Replace a program already attached by someone else.
    ///   - multiBuffer: Attach the frags-aware program (`xdp.frags`), which
    ///     takes packets longer than a page in native mode (jumbo MTUs) and
    ///     hands them to multi-buffer sockets
    ///     (`SocketConfiguration.multiBuffer`). Native mode needs a driver
    ///     reporting rx-sg; `.auto` falls back to generic mode without it.
    ///   - rxMetadata: Attach the device-bound program that asks the driver
    ///     for the RX hash, timestamp and VLAN tag and writes them in front
    ///     of each packet (`Frame.metadata`). Native mode only (the kernel
    ///     refuses device-bound programs in generic mode); frags-aware too.
    /// - Throws: `XDPError`: interface not found, a foreign program present,
    ///   mode unsupported (with what the kernel's probe reports), no
    ///   permission, the object rejected by the verifier.
    public init(interface: String, mode: AttachMode = .auto, match: RedirectMatch = .everything,
                replaceExisting: Bool = false, multiBuffer: Bool = false, rxMetadata: Bool = false) throws(XDPError) {
        cxdp_set_library_logging(true)
        if rxMetadata && match.router {
            // Both write in front of the packet (32 + 20 bytes > the kernel's 32).
            throw XDPError(.invalidConfiguration, operation: "attach XDP program to \(interface)",
                           hint: "router mode writes its FIB answer (FIBMetadata) in front of each packet: it cannot also carry RX metadata")
        }
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw XDPError(.interfaceNotFound, operation: "attach XDP program", errno: ENODEV,
                           hint: "interface \(interface) not found: check the name and that this process is in its network namespace")
        }
        let decision = try AttachDecision.decide(requested: mode, features: XDPFeatures.probe(index: Int(index)), interface: interface,
                                                 multiBuffer: multiBuffer, rxMetadata: rxMetadata)
        let programName = rxMetadata ? XDPProgram.metadataProgram : multiBuffer ? XDPProgram.fragsProgram : XDPProgram.plainProgram
        let (object, programFD) = try XDPProgram.load(.xdpRedirect, program: programName) { object in
            guard let metadata = bpf_object__find_program_by_name(object, XDPProgram.metadataProgram) else { return }
            if rxMetadata {
                // Device-bound: the kernel resolves the metadata kfuncs to this device's driver.
                bpf_program__set_ifindex(metadata, index)
                _ = bpf_program__set_flags(metadata, bpf_program__flags(metadata) | cxdp_bpf_f_xdp_dev_bound_only)
            } else {
                _ = bpf_program__set_autoload(metadata, false)
            }
        }
        var mapFDs: [Int32] = []
        for name in ["xsks", "match_config", "counters", "served_ports", "owner"] {
            let fd = bpf_object__find_map_fd_by_name(object, name)
            guard fd >= 0 else {
                bpf_object__close(object)
                throw XDPError(.program, operation: "find map \(name) in the redirect program", errno: -fd)
            }
            mapFDs.append(fd)
        }
        let id = cxdp_program_id(programFD)
        let attached: (AttachMode, String?)
        var ownerKey: UInt32 = 0
        var ownerPID = UInt32(getpid())
        _ = bpf_map_update_elem(mapFDs[4], &ownerKey, &ownerPID, UInt64(BPF_ANY))
        do throws(XDPError) {
            try XDPProgram.writeMatch(match, mapFD: mapFDs[1])
            attached = try XDPProgram.attach(programFD: programFD, interface: interface, index: index,
                                             decision: decision, replaceExisting: replaceExisting)
        } catch {
            bpf_object__close(object)
            throw error
        }
        self.object = object
        self.programFD = programFD
        namespaceFD = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        socketMapFD = mapFDs[0]
        matchMapFD = mapFDs[1]
        countersMapFD = mapFDs[2]
        servedPortsMapFD = mapFDs[3]
        ownerMapFD = mapFDs[4]
        socketMapCapacity = bpf_object__find_map_by_name(object, "xsks").map { bpf_map__max_entries($0) } ?? 0
        self.interface = interface
        self.programName = programName
        interfaceIndex = index
        programID = id
        (self.mode, fallbackReason) = attached
        isMultiBuffer = multiBuffer || rxMetadata
        writesRXMetadata = rxMetadata
        _ = XDPProgram.loadedHere.withLock { $0.insert(id) }
    }

    /// The three entry points of `bpf/xdp_redirect.bpf.c`; the kernel keeps
    /// 15 bytes of a name, "xdp_redirect_qu" for all three.
    static let plainProgram = "xdp_redirect_queues"
    static let fragsProgram = "xdp_redirect_queues_frags"
    static let metadataProgram = "xdp_redirect_queues_meta"

    deinit {
        let id = programID
        _ = XDPProgram.loadedHere.withLock { $0.remove(id) }
        if detachOnDrop { _ = withOwnNamespace { XDPProgram.detach(programFD: programFD, index: interfaceIndex, mode: mode) } }
        if namespaceFD >= 0 { close(namespaceFD) }
        bpf_object__close(object)
    }

    /// Whether this program is the one attached to its interface now (it may
    /// have been removed or replaced behind our back). Checked in the
    /// program's own network namespace.
    public func isAttached() -> Bool {
        withOwnNamespace { cxdp_xdp_attached_id(Int32(interfaceIndex)) == Int64(programID) } ?? false
    }

    /// Attaches this (already loaded) program again after someone removed
    /// it, in the mode it had. Only onto an interface with no program (or
    /// ours, when nothing is to be done): a program someone else attached in
    /// the meantime is never overwritten.
    /// - Throws: `XDPError` `.busy` naming the foreign program and how to
    ///   remove it, or the kernel's refusal.
    public func reattach() throws(XDPError) {
        let result: XDPError? = withOwnNamespace { () -> XDPError? in
            if let existing = XDPProgram.attachedProgramID(interface: interface) {
                if existing == programID { return nil }
                return XDPError(.busy, operation: "reattach the XDP program to \(interface)", errno: EEXIST,
                                hint: "\(XDPProgram.describeAttached(id: existing, interfaceIndex: interfaceIndex)) replaced ours; it is left in place. Remove it (\(XDPProgram.removalCommand(interface: interface))) to let this process reattach")
            }
            let rc = -bpf_xdp_attach(Int32(interfaceIndex), programFD, mode.flags | UInt32(XDP_FLAGS_UPDATE_IF_NOEXIST), nil)
            return rc == 0 ? nil : XDPProgram.attachError(rc, interface: interface, mode: mode)
        } ?? XDPError(.program, operation: "reattach the XDP program to \(interface)", errno: EINVAL, hint: "could not enter the program's network namespace")
        if let result { throw result }
    }

    /// The program on the interface now when it is someone else's (not
    /// ours, not absent): a description for a log line, and the iproute2
    /// command that removes it (run in the program's network namespace).
    public func foreignProgram() -> (description: String, removalCommand: String)? {
        withOwnNamespace { () -> (description: String, removalCommand: String)? in
            guard let existing = XDPProgram.attachedProgramID(interface: interface), existing != programID else { return nil }
            return (XDPProgram.describeAttached(id: existing, interfaceIndex: interfaceIndex), XDPProgram.removalCommand(interface: interface))
        } ?? nil
    }

    /// What is attached to an interface: id, name, mode, whether it is
    /// swift-xdp's redirect program, and the pid in its owner map (0: left
    /// attached on purpose; nil: it has none).
    public struct AttachedProgram: Sendable, Equatable {
        /// The kernel's id.
        public var id: UInt32
        /// The name (the kernel keeps 15 bytes).
        public var name: String
        /// "native", "generic", "offloaded" or "several".
        public var mode: String
        /// swift-xdp's redirect program.
        public var isOurs: Bool
        /// A user's own program loaded by swift-xdp
        /// (``init(interface:object:programName:socketMapName:mode:replaceExisting:)``):
        /// by this process, or by one that recorded itself in the program's
        /// `owner` map. A user's program without an `owner` map that another
        /// process loaded cannot be told from a foreign one.
        public var isCustom: Bool = false
        /// The process that loaded it, 0 when left attached on purpose, nil when unknown.
        public var ownerPID: UInt32?
        /// What swift-xdp's redirect program sends to sockets (nil for other programs).
        public var match: RedirectMatch?
    }

    /// The program attached to `interface` in the calling thread's network
    /// namespace, or nil when there is none (or no such interface).
    public static func attachedProgramInfo(interface: String) -> AttachedProgram? {
        let index = if_nametoindex(interface)
        guard index != 0, let id = attachedProgramID(interface: interface) else { return nil }
        let mode = switch cxdp_xdp_attached_mode(Int32(index)) {
        case Int32(XDP_ATTACHED_DRV): "native"
        case Int32(XDP_ATTACHED_SKB): "generic"
        case Int32(XDP_ATTACHED_HW): "offloaded"
        default: "several"
        }
        var buffer = [CChar](repeating: 0, count: 16)
        cxdp_program_name(id, &buffer, buffer.count)
        let owner = cxdp_program_owner(id)
        let ours = cxdp_program_is_named(id, "xdp_redirect_qu")
        var match: RedirectMatch?
        if ours {
            var value = [UInt8](repeating: 0, count: 16)
            if cxdp_program_map_value(id, "match_config", 0, &value, 16) == 0 { match = RedirectMatch(mapValue: value) }
        }
        return AttachedProgram(id: id, name: String(cString: buffer), mode: mode, isOurs: ours,
                               isCustom: !ours && (loadedHere.withLock { $0.contains(id) } || owner >= 0),
                               ownerPID: owner >= 0 ? UInt32(owner) : nil, match: match)
    }

    /// The ids of the programs this process loaded and still holds (ours and
    /// users' own), so that a user's program without an `owner` map is
    /// still described as swift-xdp's while this process holds it.
    static let loadedHere = Mutex<Set<UInt32>>([])

    /// "XDP program id 42 (name xdp_pass, generic mode)".
    static func describeAttached(id: UInt32, interfaceIndex: UInt32) -> String {
        let mode = switch cxdp_xdp_attached_mode(Int32(interfaceIndex)) {
        case Int32(XDP_ATTACHED_DRV): "native mode"
        case Int32(XDP_ATTACHED_SKB): "generic mode"
        case Int32(XDP_ATTACHED_HW): "offloaded"
        case Int32(XDP_ATTACHED_MULTI): "several modes"
        default: "unknown mode"
        }
        return "XDP program id \(id) (\(whose(id: id)), \(mode))"
    }

    /// Whose program `id` is, in words: swift-xdp's redirect program, a
    /// user's own program that swift-xdp loaded (by this process, or by the
    /// process in its `owner` map), or a foreign program (loaded by anything
    /// else: ip, xdp-loader, another library).
    static func whose(id: UInt32) -> String {
        if cxdp_program_is_named(id, "xdp_redirect_qu") { return "a swift-xdp redirect program" }
        var buffer = [CChar](repeating: 0, count: 16)
        cxdp_program_name(id, &buffer, buffer.count)
        let name = String(cString: buffer)
        if loadedHere.withLock({ $0.contains(id) }) {
            return "\(name), a custom program loaded by swift-xdp in this process (pid \(getpid()))"
        }
        let owner = cxdp_program_owner(id)
        if owner > 0 { return "\(name), a custom program loaded by swift-xdp (owner pid \(owner))" }
        if owner == 0 { return "\(name), a custom program loaded by swift-xdp, left attached on purpose" }
        return "\(name), a foreign program"
    }

    /// The iproute2 command that removes the program attached to
    /// `interface` in the mode it is attached in (`xdp off` only reaches
    /// the driver-mode program on a driver with native XDP: a generic one
    /// needs `xdpgeneric off`).
    public static func removalCommand(interface: String) -> String {
        let index = if_nametoindex(interface)
        let keyword = switch index == 0 ? -1 : cxdp_xdp_attached_mode(Int32(index)) {
        case Int32(XDP_ATTACHED_SKB): "xdpgeneric"
        case Int32(XDP_ATTACHED_DRV): "xdpdrv"
        case Int32(XDP_ATTACHED_HW): "xdpoffload"
        default: "xdp"
        }
        return "ip link set dev \(interface) \(keyword) off"
    }

    /// Runs `body` with the thread in the namespace the program was attached
    /// in. No setns (which needs CAP_SYS_ADMIN) when the thread is already
    /// there, so a process that gave up its capabilities but runs inside the
    /// namespace can still watch and detach its programs.
    private func withOwnNamespace<R>(_ body: () -> R) -> R? {
        guard namespaceFD >= 0 else { return body() }
        let current = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard current >= 0 else { return nil }
        defer { close(current) }
        var here = stat(), there = stat()
        if fstat(current, &here) == 0, fstat(namespaceFD, &there) == 0, here.st_ino == there.st_ino, here.st_dev == there.st_dev {
            return body()
        }
        guard cxdp_enter_network_namespace(namespaceFD) == 0 else { return nil }
        defer { precondition(cxdp_enter_network_namespace(current) == 0, "could not return the thread to its network namespace") }
        return body()
    }

    /// Sends `socket`'s queue to it from now on.
    /// - Throws: `XDPError` if the map update fails.
    public func register(_ socket: borrowing Socket) throws(XDPError) {
        guard socket.interfaceIndex == interfaceIndex else {
            throw XDPError(.invalidConfiguration, operation: "register socket of \(socket.interface) with the program of \(interface)",
                           hint: "a socket is registered with the program on its own interface")
        }
        var queue = socket.queue
        guard queue < socketMapCapacity else {
            throw XDPError(.queueOutOfRange, operation: "register \(interface) queue \(queue) in the XSKMAP", errno: E2BIG,
                           hint: "the XSKMAP of \(programName) has \(socketMapCapacity) entries (queues 0...\(Int(socketMapCapacity) - 1)): raise its max_entries")
        }
        var fd = socket.fileDescriptor
        let rc = bpf_map_update_elem(socketMapFD, &queue, &fd, UInt64(BPF_ANY))
        if rc != 0 {
            throw XDPError.fromErrno(-rc, operation: "register \(interface) queue \(queue) in the XSKMAP")
        }
    }

    /// Changes what goes to the sockets, atomically for the next packet.
    /// - Throws: `XDPError` if the map update fails.
    public func setMatch(_ match: RedirectMatch) throws(XDPError) {
        try requireEmbeddedMap(matchMapFD, for: "set the redirect match of \(interface)'s program")
        try XDPProgram.writeMatch(match, mapFD: matchMapFD)
    }

    /// Router mode: the interfaces (by index) the caller serves with
    /// sockets. The program redirects a packet only when the FIB sends it
    /// out of one of these; the kernel forwards the rest. Replaces the set.
    /// - Throws: `XDPError` if the map update fails (at most 64 interfaces).
    public func setServedInterfaces(_ indexes: [UInt32]) throws(XDPError) {
        try requireEmbeddedMap(servedPortsMapFD, for: "set the served interfaces of \(interface)'s program")
        var key: UInt32 = 0, next: UInt32 = 0
        var present: [UInt32] = []
        var rc = bpf_map_get_next_key(servedPortsMapFD, nil, &next)
        while rc == 0 {
            present.append(next)
            key = next
            rc = bpf_map_get_next_key(servedPortsMapFD, &key, &next)
        }
        var one: UInt32 = 1
        for index in indexes {
            var index = index
            let rc = bpf_map_update_elem(servedPortsMapFD, &index, &one, UInt64(BPF_ANY))
            if rc != 0 { throw XDPError.fromErrno(-rc, operation: "add interface \(index) to the served ports of \(interface)'s program") }
        }
        for var stale in present where !indexes.contains(stale) {
            _ = bpf_map_delete_elem(servedPortsMapFD, &stale)
        }
    }

    /// The program's counters, summed over CPUs.
    /// - Throws: `XDPError` if the map cannot be read.
    public func counters() throws(XDPError) -> RedirectCounters {
        try requireEmbeddedMap(countersMapFD, for: "read the redirect counters of \(interface)'s program")
        let cpus = Int(libbpf_num_possible_cpus())
        var values = [UInt64](repeating: 0, count: max(cpus, 1))
        var sums = [UInt64](repeating: 0, count: RedirectCounters.programCounterCount)
        for key in sums.indices {
            var k = UInt32(key)
            let rc = values.withUnsafeMutableBytes { bpf_map_lookup_elem(countersMapFD, &k, $0.baseAddress) }
            if rc != 0 { throw XDPError.fromErrno(-rc, operation: "read the redirect program's counters") }
            sums[key] = values.reduce(0, &+)
        }
        var counters = RedirectCounters(redirected: sums[0], passed: sums[1], droppedNoSocket: sums[2], passedNoSocket: sums[3])
        counters.routerPassed = sums[4]
        for reason in RedirectCounters.RouterReason.allCases { counters.routerReasons[reason.label] = sums[reason.rawValue] }
        return counters
    }

    /// The id of the program attached to `interface` now, in any mode, or nil.
    public static func attachedProgramID(interface: String) -> UInt32? {
        let index = if_nametoindex(interface)
        guard index != 0 else { return nil }
        let id = cxdp_xdp_attached_id(Int32(index))
        return id > 0 ? UInt32(id) : nil
    }

    // MARK: - Loading and attaching

    package static func load(_ embedded: BPFObject, program name: String,
                     configure: (OpaquePointer) -> Void = { _ in }) throws(XDPError) -> (OpaquePointer, Int32) {
        let opened: OpaquePointer? = embedded.bytes.withUnsafeBytes { bytes in
            cxdp_open_object(bytes.baseAddress, bytes.count, embedded.name)
        }
        guard let object = opened else {
            throw XDPError(.program, operation: "open the embedded BPF object \(embedded.name)", errno: Glibc.errno,
                           hint: String(cString: cxdp_last_library_message()))
        }
        configure(object)
        let rc = bpf_object__load(object)
        if rc != 0 {
            let message = String(cString: cxdp_last_library_message())
            bpf_object__close(object)
            let error = -rc
            if error == EPERM || error == EACCES {
                throw XDPError(.permissionDenied, operation: "load BPF program \(embedded.name)", errno: error,
                               hint: "EPERM: needs CAP_BPF and CAP_NET_ADMIN (run as root); \(message)")
            }
            throw XDPError(.program, operation: "load BPF program \(embedded.name)", errno: error, hint: message)
        }
        guard let program = bpf_object__find_program_by_name(object, name) else {
            bpf_object__close(object)
            throw XDPError(.program, operation: "find program \(name) in \(embedded.name)")
        }
        return (object, bpf_program__fd(program))
    }

    static func writeMatch(_ match: RedirectMatch, mapFD: Int32) throws(XDPError) {
        var key: UInt32 = 0
        let rc = match.mapValue.withUnsafeBytes { bpf_map_update_elem(mapFD, &key, $0.baseAddress, UInt64(BPF_ANY)) }
        if rc != 0 { throw XDPError.fromErrno(-rc, operation: "configure the redirect match") }
    }

    static func attach(programFD: Int32, interface: String, index: UInt32, decision: AttachDecision,
                       replaceExisting: Bool, ownName: String? = "xdp_redirect_qu") throws(XDPError) -> (AttachMode, String?) {
        var replaceStale = false
        if !replaceExisting, let existing = attachedProgramID(interface: interface) {
            // Our own program, left by a process that was killed (SIGKILL skips
            // every cleanup): replace it. Anyone else's, or ours in use by a
            // live process, stays untouched.
            let owner = cxdp_program_owner(existing)
            let ownerGone = owner > 0 && kill(pid_t(owner), 0) != 0 && Glibc.errno == ESRCH
            // A user's program is recognised by its name and an owner map (ownName nil: none, so never ours).
            let ours = ownName.map { cxdp_program_is_named(existing, $0) } ?? false
            if ours && owner == 0 {
                throw XDPError(.busy, operation: "attach XDP program to \(interface)", errno: EBUSY,
                               hint: "\(interface) has our redirect program id \(existing) left attached on purpose (xdpctl attach, pinned maps): run xdpctl detach -i \(interface) first")
            }
            guard ours, ownerGone else {
                throw XDPError(.busy, operation: "attach XDP program to \(interface)", errno: EBUSY,
                               hint: "\(interface) already has \(describeAttached(id: existing, interfaceIndex: index)) attached: remove it (\(removalCommand(interface: interface))) first (a library user can also pass replaceExisting: true)")
            }
            replaceStale = true
        }
        let replaceExisting = replaceExisting || replaceStale
        func tryAttach(_ mode: AttachMode) -> Int32 {
            var flags = mode.flags
            if !replaceExisting { flags |= UInt32(XDP_FLAGS_UPDATE_IF_NOEXIST) }
            return -bpf_xdp_attach(Int32(index), programFD, flags, nil)
        }
        switch decision.mode {
        case .native, .generic:
            let error = tryAttach(decision.mode)
            if error != 0 { throw attachError(error, interface: interface, mode: decision.mode) }
            return (decision.mode, decision.reason)
        case .auto:
            // The kernel reported no xdp-features (older kernels): try native.
            let nativeError = tryAttach(.native)
            if nativeError == 0 { return (.native, nil) }
            guard nativeError == EOPNOTSUPP || nativeError == EINVAL || nativeError == ENOTSUP else {
                throw attachError(nativeError, interface: interface, mode: .native)
            }
            let genericError = tryAttach(.generic)
            if genericError != 0 { throw attachError(genericError, interface: interface, mode: .generic) }
            let reason = "\(interface): native XDP not supported by the driver (\(XDPError.fromErrno(nativeError, operation: "").description.dropFirst(2))); running in generic (skb) mode, which is slower"
            return (.generic, reason)
        }
    }

    static func attachError(_ error: Int32, interface: String, mode: AttachMode) -> XDPError {
        let operation = "attach XDP program to \(interface) in \(mode) mode"
        switch error {
        case EBUSY, EEXIST:
            return XDPError(.busy, operation: operation, errno: error,
                            hint: "another XDP program is attached (possibly in the other mode): remove it (\(removalCommand(interface: interface))) first (a library user can also pass replaceExisting: true)")
        case EOPNOTSUPP, ENOTSUP:
            return XDPError(.unsupported, operation: operation, errno: error,
                            hint: "the driver of \(interface) has no native XDP: use generic (skb) mode")
        case EPERM, EACCES:
            return XDPError(.permissionDenied, operation: operation, errno: error, hint: "EPERM: needs CAP_NET_ADMIN and CAP_BPF (run as root)")
        case ERANGE:
            return XDPError(.invalidConfiguration, operation: operation, errno: error,
                            hint: "the MTU of \(interface) (or its veth peer) is too large for a single-buffer program in native mode: attach the multi-buffer (xdp.frags) program, or use generic mode or a smaller MTU")
        default:
            return XDPError.fromErrno(error, operation: operation, hint: String(cString: cxdp_last_library_message()))
        }
    }

    /// Detaches our program, only if it is still the one attached.
    static func detach(programFD: Int32, index: UInt32, mode: AttachMode) -> Int32 {
        cxdp_xdp_detach(Int32(index), mode.flags, programFD)
    }
}
