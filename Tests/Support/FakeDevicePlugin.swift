import CUnixSocket
import CXDP
import Foundation
import Glibc
import Testing
import XDP
import XDPControl

/// The Kubernetes AF_XDP device plugin's Unix-socket server, answering byte
/// for byte as intel/afxdp-plugins-for-kubernetes' internal/udsserver does
/// (constants.go: handshake 0.1, SOCK_SEQPACKET): one connection; the first
/// request must be `/connect,<pod>`; then `/xsk_map_fd,<dev>`, `/version`,
/// `/config_busy_poll,<timeout>,<budget>` (with a descriptor), `/fin`;
/// anything else `/nak`. Runs on a thread of the test (root), as the plugin
/// runs on the node.
public final class FakeDevicePlugin: @unchecked Sendable {
    /// How it answers: as the plugin, never (the client times out), or by hanging up.
    public enum Behaviour: Sendable { case plugin, silent, hangUp }

    /// The socket's path, for the client.
    public let path: String
    private let directory: String
    private let listener: Int32
    private let pod: String
    private let devices: [String: Int32]
    private let behaviour: Behaviour
    private let silence: Double
    private let lock = NSLock()
    private var received: [String] = []
    private var busyPoll: [(timeout: Int32, budget: Int32)] = []
    private let done = DispatchSemaphore(value: 0)

    /// Listens on a fresh socket anyone may connect to (the plugin chowns it to the pod's uid).
    /// - Parameter silence: With `.silent`, the seconds it keeps the connection open without answering.
    public init(pod: String, devices: [String: Int32], behaviour: Behaviour = .plugin, silence: Double = 3) throws {
        self.silence = silence
        self.pod = pod
        self.devices = devices
        self.behaviour = behaviour
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("afxdp-dp-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        path = directory + "/afxdp.sock"
        listener = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { for (index, byte) in bytes.enumerated() { $0[index] = byte } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard listener >= 0, bound == 0, listen(listener, 1) == 0 else {
            throw XDPError.fromErrno(errno, operation: "listen on \(path) as the fake device plugin")
        }
        chmod(path, 0o777)
        Thread.detachNewThread { [self] in serve(); done.signal() }
    }

    /// Waits (bounded) for the session to end; stops listening and removes the socket.
    public func finish(timeout: Double = 10) {
        if done.wait(timeout: .now() + timeout) == .timedOut { Issue.record("the fake device plugin's session did not end in \(timeout) s") }
        close(listener)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The requests, in order, as received.
    public var requests: [String] { lock.withLock { received } }
    /// The busy-poll settings applied to the sockets the client sent.
    public var busyPollSettings: [(timeout: Int32, budget: Int32)] { lock.withLock { busyPoll } }

    private func serve() {
        // Serves a single connection, as the plugin does; gives up after 20 s.
        var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 20_000) == 1 else { return }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        switch behaviour {
        case .silent: _ = read(connection); usleep(UInt32(silence * 1_000_000)); return
        case .hangUp: _ = read(connection); return
        case .plugin: break
        }
        guard let (request, _) = read(connection) else { return }
        var connected = false
        if request.contains("/connect") {
            let words = request.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if words.count == 2 && words[0] == "/connect" {
                connected = words[1].replacingOccurrences(of: " ", with: "") == pod
            }
            write(connection, connected ? "/host_ok" : "/host_nak")
        }
        while connected {
            guard let (request, fd) = read(connection) else { return }
            if request.contains("/xsk_map_fd") {
                let words = request.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if words.count != 2 || words[0] != "/xsk_map_fd" {
                    write(connection, "/nak")
                } else if let map = devices[words[1].replacingOccurrences(of: " ", with: "")] {
                    write(connection, "/fd_ack", fd: map)
                } else {
                    write(connection, "/fd_nak")
                }
            } else if request == "/version" {
                write(connection, "0.1")
            } else if request.contains("/config_busy_poll") {
                if fd <= 0 { write(connection, "/config_busy_poll_nak") }
                let words = request.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard words.count == 3, words[0] == "/config_busy_poll" else { write(connection, "/nak"); continue }
                guard let timeout = Int32(words[1].replacingOccurrences(of: " ", with: "")),
                      let budget = Int32(words[2].replacingOccurrences(of: " ", with: "")) else { return }
                // The plugin's bpf.ConfigureBusyPoll: prefer busy poll, its timeout and budget on the pod's socket.
                var one: Int32 = 1, usec = timeout, packets = budget
                let ok = setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, 4) == 0
                    && setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usec, 4) == 0
                    && setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &packets, 4) == 0
                if ok {
                    // Read back from the socket itself: it is the pod's AF_XDP socket, not a copy.
                    var readBack: Int32 = 0, length = socklen_t(4)
                    getsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &readBack, &length)
                    var domain: Int32 = 0, domainLength = socklen_t(4)
                    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domainLength)
                    lock.withLock { busyPoll.append((readBack, domain == AF_XDP ? packets : -1)) }
                }
                close(fd)
                write(connection, ok ? "/config_busy_poll_ack" : "/config_busy_poll_nak")
                if !ok { return }
            } else if request == "/fin" {
                write(connection, "/fin_ack")
                connected = false
            } else {
                if fd >= 0 { close(fd) }
                write(connection, "/nak")
            }
        }
    }

    private func read(_ connection: Int32) -> (String, Int32)? {
        var buffer = [UInt8](repeating: 0, count: 64)  // the plugin's udsMsgBufSize
        var fd: Int32 = -1
        let count = buffer.withUnsafeMutableBytes { cxdp_uds_receive(connection, $0.baseAddress, $0.count, &fd) }
        guard count > 0 else { return nil }
        let request = String(decoding: buffer[..<count], as: UTF8.self)
        lock.withLock { received.append(request) }
        return (request, fd)
    }

    private func write(_ connection: Int32, _ response: String, fd: Int32 = -1) {
        let bytes = Array(response.utf8)
        _ = bytes.withUnsafeBytes { cxdp_uds_send(connection, $0.baseAddress, $0.count, fd) }
    }
}
