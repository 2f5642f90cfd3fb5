import CUnixSocket
import CXDP
import Glibc
import XDP

/// The Unix-socket handshake of the Kubernetes AF_XDP device plugin
/// (intel/afxdp-plugins-for-kubernetes, "UDS mode"), as DPDK's af_xdp driver
/// speaks it with `use_cni=1`: the plugin loads the XDP program on the node
/// and hands the pod the program's XSKMAP over a SOCK_SEQPACKET socket
/// mounted into the pod (``DevicePluginConnection/defaultPath(interface:)``). The pod's process
/// needs only CAP_NET_RAW for its AF_XDP sockets.
///
/// The exchange, one request and one answer per message, exactly these bytes
/// (no terminator):
///
/// | request | answers |
/// |---|---|
/// | `/connect,<hostname>` | `/host_ok`, `/host_nak`, `/error` |
/// | `/version` | the protocol version (`0.1`) |
/// | `/xsk_map_fd,<interface>` | `/fd_ack` with the XSKMAP in SCM_RIGHTS, `/fd_nak` |
/// | `/config_busy_poll,<timeout µs>,<budget>` with the AF_XDP socket in SCM_RIGHTS | `/config_busy_poll_ack`, `/config_busy_poll_nak` |
/// | `/fin` | `/fin_ack` |
/// | anything else | `/nak` |
///
/// The plugin serves one connection per pod and closes it after its idle
/// timeout (30 s by default): connect, take every map, register the sockets,
/// ask for busy polling, then ``finish()``.
///
/// Safety: owns the connection's descriptor, closed exactly once in deinit.
public struct DevicePluginConnection: ~Copyable {
    /// Where the device plugin mounts its socket in the pod:
    /// `/tmp/afxdp_dp/<interface>/afxdp.sock` (the plugin today, and DPDK's
    /// fallback), or `/tmp/afxdp.sock` where only that exists (plugin
    /// versions up to commit 38317c2).
    /// - Parameter interface: The pod's AF_XDP device (from `$AFXDP_DEVICES`).
    /// - Returns: The path to connect to.
    public static func defaultPath(interface: String) -> String {
        let current = "/tmp/afxdp_dp/\(interface)/afxdp.sock"
        return access(current, F_OK) != 0 && access("/tmp/afxdp.sock", F_OK) == 0 ? "/tmp/afxdp.sock" : current
    }

    /// The socket's path.
    public let path: String
    /// The hostname the plugin accepted (the pod's name).
    public let hostname: String
    let fileDescriptor: Int32
    private let timeoutMilliseconds: Int

    /// Connects to the device plugin's socket and introduces the pod
    /// (`/connect,<hostname>`, answered `/host_ok`).
    /// - Parameters:
    ///   - path: The socket (``defaultPath(interface:)`` in a pod).
    ///   - hostname: The pod's name; `nil` takes the host name, as DPDK does
    ///     (a pod's host name is its name unless `spec.hostname` is set).
    ///   - timeout: How long to wait for each answer.
    /// - Throws: `XDPError` naming the fix: no socket, nobody listening, no
    ///   answer in time, the pod not recognised.
    public init(path: String, hostname: String? = nil, timeout: Duration = .seconds(5)) throws(XDPError) {
        let name = hostname ?? DevicePluginConnection.systemHostname()
        let milliseconds = max(1, Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000))
        let fd = try DevicePluginConnection.connect(path: path, hostname: name, timeoutMilliseconds: milliseconds)
        self.path = path
        self.hostname = name
        timeoutMilliseconds = milliseconds
        fileDescriptor = fd
    }

    /// Connects and sends `/connect,<hostname>`; the descriptor once `/host_ok` came back.
    private static func connect(path: String, hostname name: String, timeoutMilliseconds milliseconds: Int) throws(XDPError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw XDPError(.invalidConfiguration, operation: "connect to the AF_XDP device plugin at \(path)",
                           hint: "a Unix socket path of 1 to 107 bytes (the plugin mounts it at /tmp/afxdp_dp/IFACE/afxdp.sock)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { for (index, byte) in bytes.enumerated() { $0[index] = byte } }
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw XDPError.fromErrno(errno, operation: "create a Unix socket for the AF_XDP device plugin") }
        var interval = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let error = errno
            close(fd)
            let hint: String
            switch error {
            case ENOENT: hint = "no device plugin socket at \(path): request the plugin's resource in the pod spec (resources.limits afxdp/POOL: 1) and keep its mount, or give the path the plugin mounted"
            case ECONNREFUSED: hint = "nobody listens on \(path): the plugin serves one connection per pod and stops listening after it, or after its idle timeout (udsTimeout); restart the pod"
            case EACCES, EPERM: hint = "\(path) is not accessible to uid \(getuid()): the plugin gives the socket to the pod's user (its config's uid); run as that user"
            case EPROTOTYPE: hint = "\(path) is not a SOCK_SEQPACKET socket: is it the AF_XDP device plugin's?"
            default: hint = ""
            }
            throw XDPError.fromErrno(error, operation: "connect to the AF_XDP device plugin at \(path)", hint: hint)
        }
        let answer: String
        do {
            let (text, extra) = try exchange(fd, "/connect,\(name)", path: path, timeoutMilliseconds: milliseconds)
            if extra >= 0 { close(extra) }
            answer = text
        } catch {
            close(fd)
            throw error
        }
        if answer == "/host_ok" { return fd }
        close(fd)
        switch answer {
        case "/host_nak":
            throw XDPError(.permissionDenied, operation: "introduce pod \(name) to the AF_XDP device plugin (/connect)",
                           hint: "/host_nak: the plugin found no pod named \(name) on this node holding its devices; the pod's host name must be its name (do not set spec.hostname or hostNetwork), or pass the pod's name")
        case "/error":
            throw XDPError(.systemCall, operation: "introduce pod \(name) to the AF_XDP device plugin (/connect)",
                           hint: "/error: the plugin could not check the pod (its kubelet pod-resources query failed): see the device plugin's log")
        default:
            throw DevicePluginConnection.unexpected(answer, to: "/connect,\(name)", path: path)
        }
    }

    deinit { close(fileDescriptor) }

    /// The plugin's handshake version (`/version`).
    /// - Throws: `XDPError` when the plugin does not answer in time or closes.
    public func version() throws(XDPError) -> String {
        let (answer, extra) = try exchange("/version")
        if extra >= 0 { close(extra) }
        guard !answer.isEmpty, answer != "/nak" else {
            throw DevicePluginConnection.unexpected(answer, to: "/version", path: path)
        }
        return answer
    }

    /// The XSKMAP of the program the plugin attached to `interface`
    /// (`/xsk_map_fd,<interface>`, answered `/fd_ack` with the map).
    /// - Throws: `XDPError` for `/fd_nak` (the device is not this pod's),
    ///   an answer without a descriptor, or one that is not an XSKMAP.
    public func socketMap(interface: String) throws(XDPError) -> DevicePluginSocketMap {
        let request = "/xsk_map_fd,\(interface)"
        let (answer, fd) = try exchange(request)
        switch answer {
        case "/fd_ack":
            guard fd >= 0 else {
                throw XDPError(.systemCall, operation: "\(request) to the AF_XDP device plugin",
                               hint: "/fd_ack arrived without a descriptor (SCM_RIGHTS): is the process out of descriptors (ulimit -n)?")
            }
            return try DevicePluginSocketMap(adopting: fd, interface: interface, source: path)
        case "/fd_nak":
            if fd >= 0 { close(fd) }
            throw XDPError(.interfaceNotFound, operation: "\(request) to the AF_XDP device plugin",
                           hint: "/fd_nak: \(interface) is not one of this pod's devices (the plugin lists them in $AFXDP_DEVICES)")
        default:
            if fd >= 0 { close(fd) }
            throw DevicePluginConnection.unexpected(answer, to: request, path: path)
        }
    }

    /// Asks the plugin to turn on preferred busy polling on `socket`
    /// (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET need
    /// CAP_NET_ADMIN, which the pod lacks): `/config_busy_poll,<timeout>,<budget>`
    /// with the socket's descriptor.
    /// - Parameters:
    ///   - socket: The AF_XDP socket.
    ///   - timeoutMicroseconds: SO_BUSY_POLL.
    ///   - budget: SO_BUSY_POLL_BUDGET (packets per busy-poll call).
    /// - Throws: `XDPError` for `/config_busy_poll_nak` or any other answer.
    public func configureBusyPoll(_ socket: borrowing Socket, timeoutMicroseconds: Int, budget: Int) throws(XDPError) {
        let request = "/config_busy_poll,\(timeoutMicroseconds),\(budget)"
        let (answer, extra) = try exchange(request, sending: socket.fileDescriptor)
        if extra >= 0 { close(extra) }
        switch answer {
        case "/config_busy_poll_ack": return
        case "/config_busy_poll_nak":
            throw XDPError(.unsupported, operation: "\(request) for \(socket.interface) queue \(socket.queue)",
                           hint: "/config_busy_poll_nak: the plugin could not set busy polling on the socket (kernel before 5.11, or the plugin's busy-poll setting is off): run without busy polling")
        default:
            throw DevicePluginConnection.unexpected(answer, to: request, path: path)
        }
    }

    /// Ends the session (`/fin`, answered `/fin_ack`) and closes the connection.
    /// The maps taken stay valid.
    /// - Throws: `XDPError` for any other answer.
    public consuming func finish() throws(XDPError) {
        let (answer, extra) = try exchange("/fin")
        if extra >= 0 { close(extra) }
        guard answer == "/fin_ack" else { throw DevicePluginConnection.unexpected(answer, to: "/fin", path: path) }
    }

    /// Sends `request` (with `fd` attached if not -1) and returns the answer
    /// and the descriptor it carried (-1 if none).
    private func exchange(_ request: String, sending fd: Int32 = -1) throws(XDPError) -> (String, Int32) {
        try DevicePluginConnection.exchange(fileDescriptor, request, sending: fd, path: path, timeoutMilliseconds: timeoutMilliseconds)
    }

    private static func exchange(_ connection: Int32, _ request: String, sending fd: Int32 = -1, path: String,
                                 timeoutMilliseconds: Int) throws(XDPError) -> (String, Int32) {
        let bytes = Array(request.utf8)
        let sent = bytes.withUnsafeBytes { cxdp_uds_send(connection, $0.baseAddress, $0.count, fd) }
        if sent < 0 {
            throw XDPError.fromErrno(Int32(-sent), operation: "send \(request) to the AF_XDP device plugin at \(path)",
                                     hint: -sent == EPIPE ? "the plugin closed the connection (its idle timeout, or it serves one session per pod)" : "")
        }
        var buffer = [UInt8](repeating: 0, count: 128)
        var received: Int32 = -1
        let count = buffer.withUnsafeMutableBytes { cxdp_uds_receive(connection, $0.baseAddress, $0.count, &received) }
        if count == 0 {
            throw XDPError(.systemCall, operation: "\(request) to the AF_XDP device plugin at \(path)",
                           hint: "the plugin closed the connection without answering (its idle timeout passed, or it refused the session): see its log")
        }
        if count < 0 {
            let error = Int32(-count)
            throw XDPError.fromErrno(error, operation: "\(request) to the AF_XDP device plugin at \(path)",
                                     hint: error == EAGAIN || error == EWOULDBLOCK ? "no answer within \(timeoutMilliseconds) ms: is the process on \(path) the AF_XDP device plugin?" : "")
        }
        // The plugin's messages are C-string friendly; DPDK compares up to the first NUL.
        let answer = String(decoding: buffer[..<Int(count)].prefix { $0 != 0 }, as: UTF8.self)
        return (answer, received)
    }

    private static func unexpected(_ answer: String, to request: String, path: String) -> XDPError {
        let hint = answer == "/nak" ? "/nak: the plugin did not understand the request (an older or newer handshake than 0.1?)"
                                    : "answered \"\(answer)\": is \(path) the AF_XDP device plugin's socket?"
        return XDPError(.systemCall, operation: "\(request) to the AF_XDP device plugin", hint: hint)
    }

    private static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An XSKMAP handed over by the Kubernetes AF_XDP device plugin
/// (``DevicePluginConnection/socketMap(interface:)``): the Unix-socket twin
/// of ``PinnedSocketMap``. A process with only CAP_NET_RAW registers its
/// sockets in it; the plugin's program sends their queues to them.
///
/// Safety: owns one map file descriptor, closed exactly once in deinit.
public struct DevicePluginSocketMap: ~Copyable {
    /// The interface the map serves.
    public let interface: String
    /// Where it came from (the plugin's socket path).
    public let source: String
    let fileDescriptor: Int32

    init(adopting fd: Int32, interface: String, source: String) throws(XDPError) {
        var info = bpf_map_info()
        var length = UInt32(MemoryLayout<bpf_map_info>.size)
        guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0, info.type == BPF_MAP_TYPE_XSKMAP.rawValue else {
            close(fd)
            throw XDPError(.invalidConfiguration, operation: "take the XSKMAP of \(interface) from the AF_XDP device plugin at \(source)",
                           hint: "the descriptor it sent is not an XSKMAP")
        }
        self.interface = interface
        self.source = source
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Sends `socket`'s queue to it from now on.
    /// - Throws: `XDPError` if the map update fails (queue beyond the map's size).
    public func register(_ socket: borrowing Socket) throws(XDPError) {
        var queue = socket.queue
        var fd = socket.fileDescriptor
        let rc = bpf_map_update_elem(fileDescriptor, &queue, &fd, UInt64(BPF_ANY))
        if rc != 0 {
            throw XDPError.fromErrno(-rc, operation: "register \(socket.interface) queue \(queue) in the XSKMAP from the AF_XDP device plugin",
                                     hint: -rc == E2BIG ? "queue \(queue) is beyond the map's size: the plugin's program serves fewer queues" : "")
        }
    }
}
