import Glibc
import XDP
import XDPControl

/// The accept loop the daemon's two local servers share (metrics over TCP,
/// the control socket over a Unix socket): one request per connection,
/// bounded reads, 2-second timeouts, on a thread of its own (never a
/// worker's), until stopped.
final class RequestLoop: @unchecked Sendable {
    private let fd: Int32
    private let readLimit: Int
    private let answer: @Sendable (String) -> String
    private let stop = StopFlag()
    private var thread: Worker?

    /// Serves `fd` (bound and listening) with `answer`, reading at most `readLimit` bytes of each request.
    init(fd: Int32, readLimit: Int, answer: @escaping @Sendable (String) -> String) {
        self.fd = fd
        self.readLimit = readLimit
        self.answer = answer
    }

    /// Starts the thread.
    func start(name: String) throws(XDPError) {
        let loop = self
        thread = try Worker(name: name) { loop.serve() }
    }

    /// Stops the thread and waits for it (the caller closes the socket).
    func shutdown() {
        stop.raise()
        thread?.join()
        thread = nil
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
            var buffer = [UInt8](repeating: 0, count: readLimit)
            let count = recv(client, &buffer, buffer.count, 0)
            let request = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
            RequestLoop.sendAll(client, Array(answer(request).utf8))
            close(client)
        }
    }

    /// Writes all of `bytes` (until the peer stops taking them).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
    }
}
