import CXDP
import Glibc

/// An error from the data plane: what was being done, the errno the kernel or
/// library gave, and what to do about it.
///
/// Every throwing API in `XDP` and `XDPControl` throws this type
/// (`throws(XDPError)`), so callers can switch on ``kind`` and always have a
/// human-readable ``description`` that names the fix.
public struct XDPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broad class of failure, for programmatic handling.
    public enum Kind: Sendable, Equatable {
        /// A configuration value is out of range or inconsistent.
        case invalidConfiguration
        /// The named interface does not exist (in this network namespace).
        case interfaceNotFound
        /// The queue id is not below the interface's queue count.
        case queueOutOfRange
        /// The caller lacks a capability (CAP_NET_ADMIN, CAP_BPF, CAP_IPC_LOCK...).
        case permissionDenied
        /// The queue or interface is in use (another socket or program).
        case busy
        /// The driver or mode cannot do what was asked (zero-copy, huge pages...).
        case unsupported
        /// Memory could not be mapped, locked or registered.
        case outOfMemory
        /// A system call failed in a way not covered above.
        case systemCall
        /// The BPF object could not be opened, loaded or attached.
        case program
    }

    /// The class of failure.
    public var kind: Kind
    /// The operation that failed, e.g. `"bind AF_XDP socket to xd0 queue 0"`.
    public var operation: String
    /// The errno, when the failure came from the kernel or a library.
    public var errno: Int32?
    /// The action to take, e.g. `"run as root or grant CAP_NET_ADMIN and CAP_BPF"`.
    public var hint: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: The class of failure.
    ///   - operation: What was being done.
    ///   - errno: The errno, if any.
    ///   - hint: What the user should do.
    public init(_ kind: Kind, operation: String, errno: Int32? = nil, hint: String = "") {
        self.kind = kind
        self.operation = operation
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var text = operation
        if let errno {
            text += ": " + XDPError.name(of: errno) + " (" + String(cString: strerror(errno)) + ")"
        }
        if !hint.isEmpty { text += "; " + hint }
        return text
    }

    /// Builds an error from an errno, choosing the kind and a default hint
    /// from the errno when the caller has no better one.
    /// - Parameters:
    ///   - errno: The positive errno value.
    ///   - operation: What was being done.
    ///   - hint: A specific hint; when empty, a generic one for the errno is used.
    /// - Returns: The error.
    public static func fromErrno(_ errno: Int32, operation: String, hint: String = "") -> XDPError {
        let kind: Kind
        var defaultHint = ""
        switch errno {
        case EPERM, EACCES:
            kind = .permissionDenied
            defaultHint = "needs CAP_NET_ADMIN and CAP_BPF (and CAP_IPC_LOCK or a memlock limit covering the UMEM): run as root or grant them"
        case EBUSY:
            kind = .busy
            defaultHint = "the queue or interface is in use by another socket or program; a socket closed less than a second ago may still hold it"
        case ENODEV, ENXIO:
            kind = .interfaceNotFound
            defaultHint = "check the interface name and that this process is in its network namespace"
        case ENOMEM, ENOBUFS:
            kind = .outOfMemory
            defaultHint = "the memlock limit (ulimit -l) or available memory is too small for the UMEM; run with CAP_IPC_LOCK or lower the frame count"
        case EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT:
            kind = .unsupported
            defaultHint = "the kernel or driver does not support this; try copy mode (--zero-copy off) or generic attach"
        case EINVAL:
            kind = .invalidConfiguration
            defaultHint = "the kernel rejected the parameters (ring sizes powers of two, frame size, queue id, flags)"
        default:
            kind = .systemCall
        }
        return XDPError(kind, operation: operation, errno: errno, hint: hint.isEmpty ? defaultHint : hint)
    }

    /// The symbolic name of an errno (`EBUSY`, `EADDRINUSE`), from glibc's
    /// `strerrorname_np`, falling back to its number.
    static func name(of errno: Int32) -> String {
        guard let name = cxdp_errno_name(errno) else { return "errno \(errno)" }
        return String(cString: name)
    }
}
