import CXDP
import Glibc

/// The queue API's system calls, in one place (as swift-system's
/// `system_<call>` wrappers): socket options, the ring wakeups, poll, the
/// UMEM mapping, close. Failures that matter capture errno right after the
/// call and become typed errors naming the operation; EINTR is not retried
/// (the wakeups and poll are retried by their loops' next batch). libxdp and
/// the C shim (`cxdp_*`) make the rest (socket creation, bind, ring mmap).
@usableFromInline
enum SystemCall {
    /// getsockopt into a value of type `T`.
    static func getOption<T>(_ fd: Int32, level: Int32, name: Int32, as: T.Type, operation: @autoclosure () -> String) throws(XDPError) -> T {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { pointer.deallocate() }
        memset(pointer, 0, MemoryLayout<T>.size)
        var length = socklen_t(MemoryLayout<T>.size)
        if getsockopt(fd, level, name, pointer, &length) != 0 {
            throw XDPError.fromErrno(Glibc.errno, operation: operation())
        }
        return pointer.pointee
    }

    /// `sendto(fd, NULL, 0, MSG_DONTWAIT)`: tells the kernel to transmit
    /// what the TX ring holds. Returns 0, or the errno of a failure: the
    /// caller tells transient ones (EAGAIN, EBUSY, ENOBUFS, ENETDOWN: the
    /// next kick retries) from a refusal (counted, see `Socket.kickTransmit`).
    @inlinable @inline(__always)
    static func wakeTransmit(_ fd: Int32) -> Int32 {
        sendto(fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0 ? errno : 0
    }

    /// `recvfrom(fd, NULL, 0, MSG_DONTWAIT)`: lets the kernel see new
    /// fill-ring frames (need-wakeup) or run a busy-poll round; the result
    /// does not matter.
    @inlinable @inline(__always)
    static func wakeReceive(_ fd: Int32) {
        _ = recvfrom(fd, nil, 0, Int32(MSG_DONTWAIT), nil, nil)
    }

    /// `poll` over `count` descriptors at `descriptors`: the number ready, 0 on timeout, -1 on error.
    static func poll(_ descriptors: UnsafeMutablePointer<pollfd>, count: Int, timeoutMilliseconds: Int32) -> Int32 {
        Glibc.poll(descriptors, nfds_t(count), timeoutMilliseconds)
    }

    /// `poll` over one descriptor.
    @inlinable @inline(__always)
    static func poll(_ descriptor: inout pollfd, timeoutMilliseconds: Int32) -> Int32 {
        Glibc.poll(&descriptor, 1, timeoutMilliseconds)
    }

    /// An anonymous private mapping of `length` bytes with extra `flags`
    /// (MAP_POPULATE, MAP_HUGETLB), or the errno.
    static func mapAnonymous(length: Int, flags: Int32) -> Result<UnsafeMutableRawPointer, Errno> {
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { return .failure(Errno(Glibc.errno)) }
        return .success(mapped)
    }

    /// Unmaps what ``mapAnonymous(length:flags:)`` mapped.
    static func unmap(_ area: UnsafeMutableRawPointer, length: Int) {
        munmap(area, length)
    }

    /// Closes a descriptor this module opened (EINTR on close is not retried: Linux closes anyway).
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// An errno value, carried by ``mapAnonymous(length:flags:)``.
    struct Errno: Error { let code: Int32; init(_ code: Int32) { self.code = code } }

    /// setsockopt with an `Int32` value.
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32, operation: @autoclosure () -> String, hint: String = "") throws(XDPError) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw XDPError.fromErrno(Glibc.errno, operation: operation(), hint: hint)
        }
    }
}
