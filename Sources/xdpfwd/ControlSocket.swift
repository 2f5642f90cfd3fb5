import Foundation
import Glibc
import XDP
import XDPControl

/// The daemon's local control socket: a Unix stream socket (mode 0660) on
/// which `xdpfwd status` and `xdpfwd show ...` ask the running daemon. One
/// request line per connection ("status", "show ports", ... with " json"
/// appended for JSON), one answer, on a thread of its own (never a worker's).
final class ControlSocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let stop = StopFlag()
    private var thread: Worker?
    private let answer: @Sendable (_ request: String) -> String

    /// The directory default sockets live in.
    static let directory = "/run/xdpfwd"

    /// The default path for a daemon serving `firstPort` (in `namespace`).
    static func defaultPath(firstPort: String, namespace: String?) -> String {
        "\(directory)/\(namespace.map { "\($0)-" } ?? "")\(firstPort).sock"
    }

    /// Binds and listens at `path` (creating its directory; replacing a
    /// stale socket file, refusing one a live daemon serves).
    /// - Throws: ``XDPError`` when the socket cannot be made.
    init(path: String, answer: @escaping @Sendable (String) -> String) throws(XDPError) {
        guard path.utf8.count < 108 else {
            throw XDPError(.invalidConfiguration, operation: "control socket", hint: "'\(path)' is longer than a Unix socket path may be (107 bytes)")
        }
        self.path = path
        self.answer = answer
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if FileManager.default.fileExists(atPath: path) {
            if (try? ControlSocket.request("status", path: path)) != nil {
                throw XDPError(.busy, operation: "control socket \(path)", errno: EADDRINUSE,
                               hint: "another xdpfwd answers on \(path): stop it, or give this one another control_socket")
            }
            unlink(path)
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw XDPError.fromErrno(errno, operation: "open the control socket") }
        let bound = ControlSocket.withAddress(path) { bind(fd, $0, $1) }
        guard bound == 0, chmod(path, 0o660) == 0, listen(fd, 8) == 0 else {
            let error = errno
            close(fd)
            throw XDPError.fromErrno(error, operation: "listen on the control socket \(path)", hint: "choose a writable path with control_socket: (or --control-socket), or off")
        }
    }

    /// Starts answering on a thread of its own.
    func start() throws(XDPError) {
        let server = self
        thread = try Worker(name: "xdpfwd-control") { server.serve() }
    }

    private func serve() {
        while !stop.isRaised {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(client, &buffer, buffer.count, 0)
            let request = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            ControlSocket.sendAll(client, Array(answer(request).utf8))
            close(client)
        }
    }

    /// Stops answering, closes and removes the socket.
    func shutdown() {
        stop.raise()
        thread?.join()
        thread = nil
        close(fd)
        unlink(path)
    }

    // MARK: - Client

    /// Sends one request to the daemon at `path` and returns its answer.
    /// - Throws: `XDPError` when no daemon answers there.
    static func request(_ line: String, path: String) throws(XDPError) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw XDPError.fromErrno(errno, operation: "open a Unix socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard withAddress(path, { connect(fd, $0, $1) }) == 0 else {
            let error = errno
            throw XDPError.fromErrno(error, operation: "connect to xdpfwd at \(path)",
                                     hint: error == EACCES ? "the socket is mode 0660: run as root or as the daemon's user or group" : "is xdpfwd running with this control_socket?")
        }
        sendAll(fd, Array((line + "\n").utf8))
        Glibc.shutdown(fd, Int32(SHUT_WR))
        var answer = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            answer += buffer.prefix(count)
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// The sockets of running daemons in the default directory.
    static func defaultSockets() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".sock") }.sorted().map { "\(directory)/\($0)" }
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    }
}
