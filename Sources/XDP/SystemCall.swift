import CXDP
import Glibc

/// Thin wrappers over the system calls the queue API makes, in the shape of
/// swift-nio's `syscall(blocking:where:)`: EINTR is retried, the errno is
/// captured right after the call, and failures become typed errors.
@usableFromInline
enum SystemCall {
    /// Runs `body` until it does not fail with EINTR; returns its result or the errno.
    @inlinable
    static func retryingInterrupts(_ body: () -> Int32) -> Result<Int32, Errno> {
        while true {
            let result = body()
            if result >= 0 { return .success(result) }
            let error = Glibc.errno
            if error != EINTR { return .failure(Errno(rawValue: error)) }
        }
    }

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

    /// setsockopt with an `Int32` value.
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32, operation: @autoclosure () -> String, hint: String = "") throws(XDPError) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw XDPError.fromErrno(Glibc.errno, operation: operation(), hint: hint)
        }
    }
}

/// A raw errno value, as a typed error for `Result`.
@usableFromInline
struct Errno: Error {
    @usableFromInline let rawValue: Int32
    @inlinable init(rawValue: Int32) { self.rawValue = rawValue }
}
