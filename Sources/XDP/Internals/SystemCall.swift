import CXDP
import Glibc

/// Thin wrappers over the socket options the queue API reads and sets:
/// the errno is captured right after the call and failures become typed
/// errors naming the operation.
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

    /// setsockopt with an `Int32` value.
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32, operation: @autoclosure () -> String, hint: String = "") throws(XDPError) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw XDPError.fromErrno(Glibc.errno, operation: operation(), hint: hint)
        }
    }
}
