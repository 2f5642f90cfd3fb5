import CXDP
import Glibc
import XDP

/// A pinned XSKMAP of a redirect program attached by a privileged step
/// (`xdpctl attach --pin DIR --owner USER`, ``XDPProgram/pinMaps(in:owner:)``):
/// a process with only CAP_NET_RAW (for its AF_XDP sockets) and access to the
/// pin sends its queues to its sockets through it; no CAP_BPF, CAP_NET_ADMIN
/// or CAP_SYS_ADMIN needed. The kernel allows BPF_OBJ_GET and map updates on
/// a pin the caller may open, even with kernel.unprivileged_bpf_disabled set.
///
/// Safety: owns one map file descriptor, closed exactly once in deinit.
public struct PinnedSocketMap: ~Copyable {
    /// The pin's path.
    public let path: String
    let fileDescriptor: Int32

    /// Opens the pinned XSKMAP at `path` (e.g. `/sys/fs/bpf/swift-xdp/eth0/xsks`),
    /// or the `xsks` pin inside a pin directory.
    /// - Throws: `XDPError` naming the fix: no pin (run the privileged
    ///   step), no access (pin it for this user), not an XSKMAP.
    public init(path: String) throws(XDPError) {
        var isDirectory = stat()
        let file = stat(path, &isDirectory) == 0 && (isDirectory.st_mode & S_IFMT) == S_IFDIR ? path + "/xsks" : path
        let fd = bpf_obj_get(file)
        guard fd >= 0 else {
            let error = -fd
            let hint: String
            switch error {
            case ENOENT: hint = "no pinned XSKMAP at \(file): run the privileged step first (xdpctl attach -i IFACE --pin DIR --owner USER)"
            case EACCES, EPERM: hint = "\(file) is not accessible to uid \(getuid()): pin it for this user (xdpctl attach ... --owner \(getuid()))"
            default: hint = "is bpffs mounted (mount -t bpf bpf /sys/fs/bpf)? `ip netns exec` hides it: use nsenter --net=/run/netns/NAME"
            }
            throw XDPError.fromErrno(error, operation: "open the pinned XSKMAP \(file)", hint: hint)
        }
        var info = bpf_map_info()
        var length = UInt32(MemoryLayout<bpf_map_info>.size)
        guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0, info.type == BPF_MAP_TYPE_XSKMAP.rawValue else {
            close(fd)
            throw XDPError(.invalidConfiguration, operation: "open the pinned XSKMAP \(file)", hint: "\(file) is not an XSKMAP: give the xsks pin of a redirect program")
        }
        self.path = file
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Sends `socket`'s queue to it from now on.
    /// - Throws: `XDPError` if the map update fails (queue beyond the map's size, no write access).
    public func register(_ socket: borrowing Socket) throws(XDPError) {
        var queue = socket.queue
        var fd = socket.fileDescriptor
        let rc = bpf_map_update_elem(fileDescriptor, &queue, &fd, UInt64(BPF_ANY))
        if rc != 0 { throw XDPError.fromErrno(-rc, operation: "register \(socket.interface) queue \(queue) in the pinned XSKMAP \(path)") }
    }
}
