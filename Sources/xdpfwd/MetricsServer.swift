import Foundation
import Glibc
import XDP
import XDPControl

/// A minimal HTTP/1.0 server for Prometheus scrapes of `/metrics`, on its own
/// thread (never a worker's), loopback by default. One request per
/// connection, bounded reads, short timeouts.
final class MetricsServer: @unchecked Sendable {
    let host: String
    let port: UInt16
    private let fd: Int32
    private let stop = StopFlag()
    private var thread: Worker?
    private let render: @Sendable () -> String

    /// Parses "host:port": an IPv4 host (127.0.0.1:9109) or an IPv6 one in
    /// brackets ([::1]:9109).
    static func parseAddress(_ text: String) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            var address = in6_addr()
            return inet_pton(AF_INET6, host, &address) == 1 ? (host, port) : nil
        }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return nil }
        return (host, port)
    }

    /// Binds and listens; ``start()`` serves.
    /// - Throws: ``XDPError`` when the address cannot be bound.
    init(address: String, render: @escaping @Sendable () -> String) throws(XDPError) {
        guard let (host, port) = MetricsServer.parseAddress(address) else {
            throw XDPError(.invalidConfiguration, operation: "metrics address", hint: "'\(address)': use host:port, e.g. 127.0.0.1:9109 or [::1]:9109")
        }
        self.host = host
        self.port = port
        self.render = render
        let ipv6 = host.contains(":")
        fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw XDPError.fromErrno(errno, operation: "open the metrics socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if ipv6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &sin6.sin6_addr)
            bound = withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            inet_pton(AF_INET, host, &sin.sin_addr)
            bound = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = errno
            close(fd)
            throw XDPError.fromErrno(error, operation: "listen for metrics on \(address)", hint: "is another process using the port? choose another with metrics: host:port")
        }
    }

    /// The URL scrapers use.
    var url: String { host.contains(":") ? "http://[\(host)]:\(port)/metrics" : "http://\(host):\(port)/metrics" }

    /// Starts serving on a thread of its own.
    /// - Throws: ``XDPError`` when the thread cannot be created.
    func start() throws(XDPError) {
        let server = self
        thread = try Worker(name: "xdpfwd-metrics") { server.serve() }
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
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(client, &buffer, buffer.count, 0)
            let request = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
            let response: String
            if request.hasPrefix("GET /metrics ") || request.hasPrefix("GET /metrics?") {
                let body = render()
                response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            } else if !request.hasPrefix("GET ") && !request.hasPrefix("HEAD ") && !request.isEmpty {
                let body = "only GET /metrics\n"
                response = "HTTP/1.0 405 Method Not Allowed\r\nAllow: GET\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            } else {
                let body = "try /metrics\n"
                response = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            }
            let bytes = Array(response.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBufferPointer { send(client, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
            }
            close(client)
        }
    }

    /// Stops serving and closes the socket.
    func shutdown() {
        stop.raise()
        thread?.join()
        thread = nil
        close(fd)
    }
}
