import CXDP
import Glibc
import XDP

/// Named network namespaces (`ip netns`), entered by the calling thread only.
public enum NetworkNamespace {
    /// Runs `body` with the calling thread inside namespace `name`, then
    /// returns the thread to the namespace it was in. Sockets and programs
    /// set up inside keep working outside: an AF_XDP socket stays bound to
    /// the namespace it was made in.
    ///
    /// `body` must not suspend (it is synchronous): the thread stays the same.
    /// - Parameters:
    ///   - name: A namespace under /run/netns.
    ///   - body: The work to do inside.
    /// - Returns: What `body` returns.
    /// - Throws: `XDPError` if the namespace cannot be entered, or what `body` throws.
    public static func withEntered<R: ~Copyable>(
        _ name: String, _ body: () throws(XDPError) -> R
    ) throws(XDPError) -> R {
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            throw XDPError.fromErrno(Glibc.errno, operation: "open network namespace \(name)",
                                     hint: "no namespace \(name) under /run/netns (ip netns list)")
        }
        defer { close(target) }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            throw XDPError.fromErrno(Glibc.errno, operation: "open this thread's network namespace")
        }
        defer { close(original) }
        let rc = cxdp_enter_network_namespace(target)
        guard rc == 0 else {
            throw XDPError.fromErrno(-rc, operation: "enter network namespace \(name)", hint: "needs CAP_SYS_ADMIN")
        }
        defer {
            let back = cxdp_enter_network_namespace(original)
            precondition(back == 0, "could not return the thread to its network namespace")
        }
        return try body()
    }

    /// Runs `body` inside namespace `name` when one is given (see
    /// the overload that takes a `String`), else where the calling thread is:
    /// the shape every runtime's setup takes for an optional `netns`.
    /// - Parameters:
    ///   - name: A namespace under /run/netns, or nil for the current one.
    ///   - body: The work to do.
    /// - Returns: What `body` returns.
    /// - Throws: `XDPError` if the namespace cannot be entered, or what `body` throws.
    public static func withEntered<R: ~Copyable>(
        _ name: String?, _ body: () throws(XDPError) -> R
    ) throws(XDPError) -> R {
        guard let name else { return try body() }
        return try withEntered(name, body)
    }

    /// Moves the calling thread into namespace `name` for good (for a worker
    /// or setup thread that lives there).
    /// - Throws: `XDPError` if the namespace cannot be entered.
    public static func enter(_ name: String) throws(XDPError) {
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            throw XDPError.fromErrno(Glibc.errno, operation: "open network namespace \(name)",
                                     hint: "no namespace \(name) under /run/netns (ip netns list)")
        }
        defer { close(target) }
        let rc = cxdp_enter_network_namespace(target)
        guard rc == 0 else {
            throw XDPError.fromErrno(-rc, operation: "enter network namespace \(name)", hint: "needs CAP_SYS_ADMIN")
        }
    }
}
