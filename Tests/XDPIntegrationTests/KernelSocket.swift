import Glibc
import XDP
import XDPControl

/// A kernel UDP socket made inside a lab namespace, for traffic that must
/// travel through the kernel stack (what the redirect program passes).
struct KernelUDPSocket: ~Copyable {
    let fd: Int32

    /// Opens a UDP socket in `namespace`, bound to `port` on any address.
    init(namespace: String, port: UInt16) throws(XDPError) {
        fd = try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw XDPError.fromErrno(errno, operation: "open UDP socket") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(fd); throw XDPError.fromErrno(errno, operation: "bind UDP port \(port)") }
            return fd
        }
    }

    deinit { close(fd) }

    /// Sends `count` datagrams of `length` bytes to `address`:`port`.
    func send(_ count: Int, to address: [UInt8], port: UInt16, length: Int = 32) {
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_port = port.bigEndian
        destination.sin_addr.s_addr = UInt32(address[0]) | UInt32(address[1]) << 8 | UInt32(address[2]) << 16 | UInt32(address[3]) << 24
        let payload = [UInt8](repeating: 0x5a, count: length)
        for _ in 0..<count {
            _ = withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            usleep(1000)
        }
    }

    /// Datagrams received until none arrives for `quietMilliseconds`.
    func drain(quietMilliseconds: Int32 = 300) -> Int {
        var count = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, quietMilliseconds) > 0 else { return count }
            if recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 { count += 1 }
        }
    }
}
