import CXDP
import Glibc
import XDP

/// The privileged half of an unprivileged data path: a setup step attaches
/// the redirect program, pins its maps on bpffs for one user, and exits with
/// the program left attached; a process holding only CAP_NET_RAW then steers
/// its queues to its own sockets through the pinned XSKMAP
/// (``PinnedSocketMap``), as DPDK's `use_pinned_map` and the Kubernetes
/// AF_XDP device plugin do.
extension XDPProgram {
    /// The files a pin directory holds, one per map.
    public static let pinnedMapNames = ["xsks", "match_config", "counters"]

    /// Pins the program's XSKMAP, match and counter maps as
    /// `directory/xsks`, `directory/match_config`, `directory/counters`,
    /// owned by `owner` (uid, gid) with mode 0600, the directory 0755.
    /// - Parameters:
    ///   - directory: A directory on bpffs (created if missing), e.g.
    ///     `/sys/fs/bpf/swift-xdp/eth0`.
    ///   - owner: Who may open the maps; nil keeps root.
    /// - Throws: `XDPError` when bpffs is not mounted there, a pin exists
    ///   already, or the kernel refuses.
    public func pinMaps(in directory: String, owner: (uid: UInt32, gid: UInt32)? = nil) throws(XDPError) {
        // The nearest existing ancestor must be bpffs; create the rest.
        let components = directory.split(separator: "/").map(String.init)
        var existing = components.count
        while existing > 0 && access("/" + components.prefix(existing).joined(separator: "/"), F_OK) != 0 { existing -= 1 }
        guard cxdp_is_bpffs("/" + components.prefix(existing).joined(separator: "/")) else {
            throw XDPError(.invalidConfiguration, operation: "pin maps in \(directory)", errno: ENOTSUP,
                           hint: "no bpffs there: mount -t bpf bpf /sys/fs/bpf (inside `ip netns exec` it is not mounted: mount it there, or pin from outside with --netns)")
        }
        for depth in max(existing, 1)...max(components.count, 1) where depth > existing {
            let path = "/" + components.prefix(depth).joined(separator: "/")
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw XDPError.fromErrno(errno, operation: "create the pin directory \(path)") }
        }
        // A user's own program has only its XSKMAP to pin (as xsks, where PinnedSocketMap looks).
        for (name, fd) in zip(XDPProgram.pinnedMapNames, [socketMapFD, matchMapFD, countersMapFD]) where fd >= 0 {
            let path = directory + "/" + name
            let rc = bpf_obj_pin(fd, path)
            if rc != 0 {
                let error = -rc
                throw XDPError.fromErrno(error, operation: "pin map \(name) at \(path)",
                                         hint: error == EEXIST ? "already pinned: unpin with xdpctl detach --pin \(directory), or rm \(path)" : "")
            }
            if let owner {
                guard chown(path, owner.uid, owner.gid) == 0 else { throw XDPError.fromErrno(errno, operation: "chown \(path)") }
            }
            guard chmod(path, 0o600) == 0 else { throw XDPError.fromErrno(errno, operation: "chmod \(path)") }
        }
        if matchMapFD < 0 {
            // A user's own program: pinned too, as the record that
            // detachLeftAttached(interface:pinDirectory:) recognises it by.
            let path = directory + "/" + XDPProgram.pinnedProgramName
            let rc = bpf_obj_pin(programFD, path)
            if rc != 0 { throw XDPError.fromErrno(-rc, operation: "pin program \(programName) at \(path)") }
            guard chmod(path, 0o600) == 0 else { throw XDPError.fromErrno(errno, operation: "chmod \(path)") }
        }
    }

    /// The file a user's own program is pinned as, beside its XSKMAP.
    static let pinnedProgramName = "program"

    /// Removes what ``pinMaps(in:owner:)`` created; missing files are fine.
    public static func unpinMaps(in directory: String) {
        for name in pinnedMapNames + [pinnedProgramName] { _ = unlink(directory + "/" + name) }
        _ = rmdir(directory)
    }

    /// Ends this value without detaching: the program stays attached, its
    /// maps live on through their pins (``pinMaps(in:owner:)``), and it is
    /// marked as nobody's (owner 0) so that no later instance mistakes it for
    /// a crashed process's leftover. ``detachLeftAttached(interface:pinDirectory:)`` removes it.
    public consuming func leaveAttached() {
        var key: UInt32 = 0
        var nobody: UInt32 = 0
        _ = bpf_map_update_elem(ownerMapFD, &key, &nobody, UInt64(BPF_ANY))
        detachOnDrop = false
    }

    /// Detaches our redirect program from `interface` when it was left
    /// attached (``leaveAttached()``) or its owner process is gone; never
    /// anyone else's program, nor one a live process is using. A user's own
    /// program left attached is recognised by the pin ``pinMaps(in:owner:)``
    /// made of it in `pinDirectory`.
    /// - Parameters:
    ///   - interface: The interface, in the calling thread's network namespace.
    ///   - pinDirectory: Where the program's maps were pinned, if anywhere.
    /// - Returns: The id of the program detached, or nil when none was attached.
    /// - Throws: `XDPError` `.busy` for a foreign or live program.
    @discardableResult
    public static func detachLeftAttached(interface: String, pinDirectory: String? = nil) throws(XDPError) -> UInt32? {
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw XDPError(.interfaceNotFound, operation: "detach from \(interface)", errno: ENODEV, hint: "interface \(interface) not found in this network namespace")
        }
        guard let id = attachedProgramID(interface: interface) else { return nil }
        let owner = cxdp_program_owner(id)
        let ownerGone = owner == 0 || (owner > 0 && kill(pid_t(owner), 0) != 0 && Glibc.errno == ESRCH)
        var pinnedHere = false
        if let pinDirectory {
            let fd = bpf_obj_get(pinDirectory + "/" + pinnedProgramName)
            if fd >= 0 {
                pinnedHere = cxdp_program_id(fd) == id
                close(fd)
            }
        }
        guard pinnedHere || (cxdp_program_is_named(id, "xdp_redirect_qu") && ownerGone) else {
            throw XDPError(.busy, operation: "detach XDP program \(id) from \(interface)", errno: EBUSY,
                           hint: owner > 0 ? "process \(owner) is using it: stop that process instead" : "it is not swift-xdp's redirect program: \(removalCommand(interface: interface)) removes it")
        }
        let rc = cxdp_xdp_detach_id(Int32(index), id)
        if rc != 0 && rc != -ENOENT { throw XDPError.fromErrno(-rc, operation: "detach XDP program \(id) from \(interface)") }
        return id
    }
}
