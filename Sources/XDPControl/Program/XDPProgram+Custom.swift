import CNetdevProbe
import CXDP
import Glibc
import XDP

/// Bring your own program: a user's compiled XDP object (its own filter,
/// counters, actions) loaded and attached like the embedded redirect program,
/// with sockets registered in the user's own XSKMAP.
extension XDPProgram {
    /// Where a user's compiled BPF object (ELF, as `clang -target bpf` writes
    /// it) comes from.
    public enum ObjectSource: Sendable, Equatable {
        /// A file, read once when the program is created.
        case file(String)
        /// The object's bytes, e.g. embedded in the binary.
        case bytes([UInt8], name: String = "custom")
    }

    /// Loads the user's XDP program from `object` and attaches it to
    /// `interface`, under the same rules as the embedded program: a program
    /// someone else attached is never replaced unless `replaceExisting`;
    /// dropping the value detaches the program, and only if it is still ours.
    ///
    /// The object must hold an XDP program (any `SEC("xdp…")`; `xdp.frags`
    /// makes it multi-buffer) that redirects into a map of type
    /// `BPF_MAP_TYPE_XSKMAP` keyed by queue id, with an entry for every RX
    /// queue of the interface; ``register(_:)`` writes a socket there.
    /// Only the chosen program is loaded: the object's others are skipped.
    ///
    /// Ownership: when the object has a map named `owner` (an
    /// `BPF_MAP_TYPE_ARRAY` of one `__u32` key and `__u32` value), the
    /// process id is written there, so that a later attach may replace the
    /// program left by a process that was killed (as for the embedded
    /// program). Without it the process holds the program by its file
    /// descriptor only: detaching on drop still removes only this program,
    /// but a copy left by a killed process looks foreign and is replaced
    /// only with `replaceExisting`.
    ///
    /// ``setMatch(_:)``, ``counters()`` and ``setServedInterfaces(_:)``
    /// belong to the embedded program and throw `.unsupported` here: read
    /// your own maps with libbpf (``mapFileDescriptor(named:)``).
    /// - Parameters:
    ///   - interface: The interface, in the calling thread's network namespace.
    ///   - object: The compiled object.
    ///   - programName: The entry point: its function name, or its section
    ///     (e.g. `xdp/mine`). nil: the object's only XDP program.
    ///   - socketMapName: The name of the XSKMAP sockets are registered in.
    ///   - mode: As for the embedded program (``AttachMode``); native needs
    ///     a driver that redirects (and receives multi-buffer packets, for an
    ///     `xdp.frags` program), `.auto` falls back to generic with the reason.
    ///   - replaceExisting: Replace a program already attached by someone else.
    /// - Throws: `XDPError` `.program` when the object cannot be read or
    ///   opened, holds no such XDP program, has no map of that name, the map
    ///   is not an XSKMAP or has fewer entries than the interface has RX
    ///   queues, or the kernel rejects the program (with the verifier's log,
    ///   trimmed to the lines that say why); and the errors of attaching.
    public init(interface: String, object: ObjectSource, programName: String? = nil, socketMapName: String = "xsks",
                mode: AttachMode = .auto, replaceExisting: Bool = false) throws(XDPError) {
        cxdp_set_library_logging(true)
        let (bytes, objectName) = try XDPProgram.read(object)
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw XDPError(.interfaceNotFound, operation: "attach XDP program to \(interface)", errno: ENODEV,
                           hint: "interface \(interface) not found: check the name and that this process is in its network namespace")
        }
        let opened: OpaquePointer? = bytes.withUnsafeBytes { cxdp_open_object($0.baseAddress, $0.count, objectName) }
        guard let handle = opened else {
            throw XDPError(.program, operation: "open BPF object \(objectName)", errno: Glibc.errno,
                           hint: "not a BPF ELF object (compile with clang -O2 -g -target bpf -c): \(String(cString: cxdp_last_library_message()))")
        }
        var loaded: OpaquePointer? = nil
        defer { if loaded == nil { bpf_object__close(handle) } }
        let program = try XDPProgram.choose(programName, in: handle, objectName: objectName)
        let chosenName = String(cString: bpf_program__name(program))
        let capacity = try XDPProgram.checkSocketMap(socketMapName, in: handle, objectName: objectName, interface: interface)
        let ownerMap = try XDPProgram.checkOwnerMap(in: handle, objectName: objectName)
        // libbpf adds BPF_F_XDP_HAS_FRAGS for SEC("xdp.frags…") only when it
        // loads the program, so read the section (or a flag set by hand).
        let section = String(cString: bpf_program__section_name(program))
        let isFrags = section == "xdp.frags" || section.hasPrefix("xdp.frags/")
            || bpf_program__flags(program) & cxdp_bpf_f_xdp_has_frags != 0
        let decision = try AttachDecision.decide(requested: mode, features: XDPFeatures.probe(index: Int(index)), interface: interface,
                                                 multiBuffer: isFrags)
        // Custom programs get the verifier's log in our buffer, on failure only
        // (libbpf retries with log level 1 when the first load fails).
        var log = [CChar](repeating: 0, count: 1 << 20)
        let rc = log.withUnsafeMutableBufferPointer { buffer -> Int32 in
            _ = bpf_program__set_log_buf(program, buffer.baseAddress, buffer.count)
            let rc = bpf_object__load(handle)
            _ = bpf_program__set_log_buf(program, nil, 0)
            return rc
        }
        if rc != 0 {
            let error = -rc
            let verifier = XDPProgram.trimVerifierLog(log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            let detail = verifier.isEmpty ? String(cString: cxdp_last_library_message()) : "the verifier says:\n" + verifier
            if error == EPERM && verifier.isEmpty {
                throw XDPError(.permissionDenied, operation: "load BPF program \(chosenName) from \(objectName)", errno: error,
                               hint: "needs CAP_BPF and CAP_NET_ADMIN (run as root); \(detail)")
            }
            throw XDPError(.program, operation: "load BPF program \(chosenName) from \(objectName)", errno: error,
                           hint: "the kernel rejected it; \(detail)")
        }
        let programFD = bpf_program__fd(program)
        let socketMapFD = bpf_object__find_map_fd_by_name(handle, socketMapName)
        var ownerMapFD: Int32 = -1
        if ownerMap {
            ownerMapFD = bpf_object__find_map_fd_by_name(handle, "owner")
            // The kernel lists only the maps a program's code uses: bind the
            // owner map to it (BPF_PROG_BIND_MAP), so that it can be found from
            // the attached program's id even when the code never touches it.
            let bound = bpf_prog_bind_map(bpf_program__fd(program), ownerMapFD, nil)
            if bound != 0 {
                throw XDPError.fromErrno(-bound, operation: "bind the owner map to \(chosenName)")
            }
            var key: UInt32 = 0
            var pid = UInt32(getpid())
            _ = bpf_map_update_elem(ownerMapFD, &key, &pid, UInt64(BPF_ANY))
        }
        let id = cxdp_program_id(programFD)
        let attached = try XDPProgram.attach(programFD: programFD, interface: interface, index: index, decision: decision,
                                             replaceExisting: replaceExisting, ownName: ownerMap ? String(chosenName.prefix(15)) : nil)
        loaded = handle
        self.object = handle
        self.programFD = programFD
        namespaceFD = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        self.socketMapFD = socketMapFD
        socketMapCapacity = capacity
        matchMapFD = -1
        countersMapFD = -1
        servedPortsMapFD = -1
        self.ownerMapFD = ownerMapFD
        self.interface = interface
        self.programName = chosenName
        interfaceIndex = index
        programID = id
        (self.mode, fallbackReason) = attached
        isMultiBuffer = isFrags
        writesRXMetadata = false
        _ = XDPProgram.loadedHere.withLock { $0.insert(id) }
    }

    /// The file descriptor of one of the loaded object's maps, to read or
    /// write it with libbpf (`bpf_map_lookup_elem`); valid as long as this
    /// value lives. nil when the object has no map of that name.
    /// - Parameter name: The map's name in the object's source.
    /// - Returns: The descriptor, owned by this value (do not close it).
    public func mapFileDescriptor(named name: String) -> Int32? {
        let fd = bpf_object__find_map_fd_by_name(object, name)
        return fd >= 0 ? fd : nil
    }

    /// Reads one entry of one of the program's maps (not per-CPU maps).
    /// - Parameters:
    ///   - name: The map's name in the object's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - type: The value's type, laid out as the program declares it.
    /// - Returns: The value, or nil when the map has no such key.
    /// - Throws: `XDPError` `.program` when there is no such map or the
    ///   sizes differ from the map's; the kernel's refusal otherwise.
    public func readMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, as type: Value.Type) throws(XDPError) -> Value? {
        let fd = try mapForAccess(name, keySize: MemoryLayout<Key>.size, valueSize: MemoryLayout<Value>.size)
        var key = key
        return try withUnsafeTemporaryAllocation(of: Value.self, capacity: 1) { (buffer) throws(XDPError) -> Value? in
            let rc = bpf_map_lookup_elem(fd, &key, buffer.baseAddress)
            if rc == -ENOENT { return nil }
            if rc != 0 { throw XDPError.fromErrno(-rc, operation: "read map \(name) of \(programName)") }
            return buffer[0]
        }
    }

    /// Writes one entry of one of the program's maps (not per-CPU maps).
    /// - Parameters:
    ///   - name: The map's name in the object's source.
    ///   - key: The key, laid out as the program declares it.
    ///   - value: The value, laid out as the program declares it.
    /// - Throws: `XDPError` `.program` when there is no such map or the
    ///   sizes differ from the map's; the kernel's refusal otherwise.
    public func writeMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ name: String, key: Key, value: Value) throws(XDPError) {
        let fd = try mapForAccess(name, keySize: MemoryLayout<Key>.size, valueSize: MemoryLayout<Value>.size)
        var key = key
        var value = value
        let rc = bpf_map_update_elem(fd, &key, &value, UInt64(BPF_ANY))
        if rc != 0 { throw XDPError.fromErrno(-rc, operation: "write map \(name) of \(programName)") }
    }

    private func mapForAccess(_ name: String, keySize: Int, valueSize: Int) throws(XDPError) -> Int32 {
        guard let map = bpf_object__find_map_by_name(object, name), bpf_map__fd(map) >= 0 else {
            throw XDPError(.program, operation: "find map \(name) of \(programName)", errno: ENOENT, hint: "no map of that name in the loaded object")
        }
        let type = bpf_map__type(map)
        guard type != BPF_MAP_TYPE_PERCPU_ARRAY, type != BPF_MAP_TYPE_PERCPU_HASH, type != BPF_MAP_TYPE_LRU_PERCPU_HASH else {
            throw XDPError(.program, operation: "access map \(name) of \(programName)", errno: EINVAL,
                           hint: "a per-CPU map holds one value per possible CPU: read it through mapFileDescriptor(named:)")
        }
        guard bpf_map__key_size(map) == keySize, bpf_map__value_size(map) == valueSize else {
            throw XDPError(.program, operation: "access map \(name) of \(programName)", errno: EINVAL,
                           hint: "its keys are \(bpf_map__key_size(map)) bytes and values \(bpf_map__value_size(map)); the types given are \(keySize) and \(valueSize)")
        }
        return bpf_map__fd(map)
    }

    /// Splits a tool's `FILE[:SECTION]` argument: the object's path and the
    /// entry point (function or section name), if given. A colon belongs to
    /// the path when the whole text names an existing file, or when what
    /// follows it holds a slash and what precedes it is no file.
    /// - Parameter text: e.g. `prog.o`, `prog.o:xdp_mine`, `prog.o:xdp/mine`.
    /// - Returns: The path and the entry point (nil: the object's only XDP program).
    public static func parseObjectArgument(_ text: String) -> (path: String, entryPoint: String?) {
        guard access(text, F_OK) != 0, let colon = text.lastIndex(of: ":"), colon != text.startIndex else { return (text, nil) }
        let path = String(text[..<colon])
        let entry = String(text[text.index(after: colon)...])
        if entry.contains("/") && access(path, F_OK) != 0 { return (text, nil) }
        return (path, entry.isEmpty ? nil : entry)
    }

    // MARK: - Checks

    static func read(_ source: ObjectSource) throws(XDPError) -> ([UInt8], String) {
        switch source {
        case .bytes(let bytes, let name):
            return (bytes, name)
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw XDPError.fromErrno(Glibc.errno, operation: "read BPF object \(path)", hint: "check the path of the compiled object (.o)")
            }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw XDPError.fromErrno(Glibc.errno, operation: "read BPF object \(path)")
                }
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
            let base = path.split(separator: "/").last.map(String.init) ?? path
            return (bytes, base)
        }
    }

    /// The program named `name` (function or section), with autoload turned
    /// off for every other program in the object.
    static func choose(_ name: String?, in object: OpaquePointer, objectName: String) throws(XDPError) -> OpaquePointer {
        var all: [(program: OpaquePointer, name: String, section: String, isXDP: Bool)] = []
        var cursor = bpf_object__next_program(object, nil)
        while let program = cursor {
            all.append((program, String(cString: bpf_program__name(program)), String(cString: bpf_program__section_name(program)),
                        bpf_program__type(program) == BPF_PROG_TYPE_XDP))
            cursor = bpf_object__next_program(object, program)
        }
        let listing = all.map { "\($0.name) (SEC \"\($0.section)\")" }.joined(separator: ", ")
        let chosen: (program: OpaquePointer, name: String, section: String, isXDP: Bool)
        if let name {
            guard let match = all.first(where: { $0.name == name }) ?? all.first(where: { $0.section == name }) else {
                throw XDPError(.program, operation: "find program \(name) in \(objectName)", errno: ENOENT,
                               hint: all.isEmpty ? "the object holds no program" : "the object holds \(listing): name one of them by function or section")
            }
            chosen = match
        } else {
            let xdp = all.filter(\.isXDP)
            guard xdp.count == 1 else {
                throw XDPError(.program, operation: "find the XDP program in \(objectName)", errno: xdp.isEmpty ? ENOENT : EINVAL,
                               hint: xdp.isEmpty ? "no XDP program in the object (\(all.isEmpty ? "no program at all" : listing)): put the entry point in SEC(\"xdp\")"
                                                 : "several XDP programs (\(listing)): name the entry point (programName:, or FILE:SECTION)")
            }
            chosen = xdp[0]
        }
        guard chosen.isXDP else {
            throw XDPError(.program, operation: "use program \(chosen.name) of \(objectName)", errno: EINVAL,
                           hint: "SEC \"\(chosen.section)\" is not an XDP program (libbpf type \(String(cString: libbpf_bpf_prog_type_str(bpf_program__type(chosen.program))))): put the entry point in SEC(\"xdp\")")
        }
        for other in all where other.program != chosen.program { _ = bpf_program__set_autoload(other.program, false) }
        return chosen.program
    }

    /// Checks the XSKMAP: present, of the right type, one entry per RX
    /// queue. - Returns: Its number of entries.
    static func checkSocketMap(_ name: String, in object: OpaquePointer, objectName: String, interface: String) throws(XDPError) -> UInt32 {
        let operation = "use map \(name) of \(objectName) as the XSKMAP"
        guard let map = bpf_object__find_map_by_name(object, name) else {
            var names: [String] = []
            var cursor = bpf_object__next_map(object, nil)
            while let map = cursor {
                let mapName = String(cString: bpf_map__name(map))
                if !mapName.hasPrefix(".") { names.append("\(mapName) (\(String(cString: libbpf_bpf_map_type_str(bpf_map__type(map)))))") }
                cursor = bpf_object__next_map(object, map)
            }
            throw XDPError(.program, operation: operation, errno: ENOENT,
                           hint: "no map named \(name) (the object has \(names.isEmpty ? "no maps" : names.joined(separator: ", "))): a program for AF_XDP sockets redirects into a BPF_MAP_TYPE_XSKMAP; name it (socketMapName:)")
        }
        let type = bpf_map__type(map)
        guard type == BPF_MAP_TYPE_XSKMAP else {
            throw XDPError(.program, operation: operation, errno: EINVAL,
                           hint: "\(name) is a \(String(cString: libbpf_bpf_map_type_str(type))) map, not an xskmap: declare it __uint(type, BPF_MAP_TYPE_XSKMAP)")
        }
        let entries = bpf_map__max_entries(map)
        var channels = cxdp_channels()
        if cxdp_probe_channels(interface, &channels) == 0 {
            let queues = channels.rx + channels.combined
            if entries < queues {
                throw XDPError(.program, operation: operation, errno: E2BIG,
                               hint: "\(name) has \(entries) entries but \(interface) has \(queues) RX queues (keys 0...\(queues - 1)): raise its max_entries to at least \(queues)")
            }
        }
        return entries
    }

    /// Whether the object has an `owner` map of the shape swift-xdp records
    /// the process id in; one of another shape is refused.
    static func checkOwnerMap(in object: OpaquePointer, objectName: String) throws(XDPError) -> Bool {
        guard let map = bpf_object__find_map_by_name(object, "owner") else { return false }
        guard bpf_map__type(map) == BPF_MAP_TYPE_ARRAY, bpf_map__key_size(map) == 4, bpf_map__value_size(map) == 4,
              bpf_map__max_entries(map) >= 1 else {
            throw XDPError(.program, operation: "use map owner of \(objectName)", errno: EINVAL,
                           hint: "swift-xdp records the owning process id in a map named owner: it must be a BPF_MAP_TYPE_ARRAY of one __u32 key and __u32 value; rename your map otherwise")
        }
        return true
    }

    /// The verifier's log cut to what says why: the last source line it
    /// annotated and what follows, at most 12 lines, without the statistics.
    static func trimVerifierLog(_ log: String) -> String {
        var lines = log.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        lines.removeAll { $0.hasPrefix("processed ") || $0.hasPrefix("verification time") || $0.hasPrefix("stack depth") }
        let start = lines.lastIndex { $0.hasPrefix("; ") } ?? 0
        return lines[start...].suffix(12).joined(separator: "\n")
    }

    /// Throws `.unsupported` when this is a user's program without the
    /// embedded program's maps.
    func requireEmbeddedMap(_ fd: Int32, for operation: String) throws(XDPError) {
        if fd < 0 {
            throw XDPError(.unsupported, operation: operation, errno: EOPNOTSUPP,
                           hint: "\(programName) is your own program: it has no swift-xdp match or counter maps; read or write its own maps (mapFileDescriptor(named:))")
        }
    }
}
