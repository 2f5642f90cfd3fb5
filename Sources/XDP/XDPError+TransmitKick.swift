import Glibc

extension XDPError {
    /// Whether a TX kick's (sendto()) errno only means "not now": the ring
    /// is busy, the device is down for a moment, the call was interrupted.
    /// The next kick retries; nothing needs fixing.
    /// - Parameter errno: The errno sendto() set.
    /// - Returns: Whether the error is transient.
    public static func isTransientTransmitKickError(_ errno: Int32) -> Bool {
        switch errno {
        case EAGAIN, EBUSY, ENOBUFS, ENETDOWN, EINTR: return true
        default: return false
        }
    }

    /// The error for a TX kick the kernel refused, with the fix; `nil` when
    /// the errno is transient (``isTransientTransmitKickError(_:)``).
    /// - Parameters:
    ///   - errno: The errno sendto() set.
    ///   - interface: The socket's interface.
    ///   - queue: The socket's queue.
    ///   - zeroCopy: Whether the socket is bound in zero-copy mode.
    ///   - refusals: How many kicks were refused (shown when more than one).
    /// - Returns: The error, or `nil`.
    public static func refusedTransmitKick(errno: Int32, interface: String, queue: UInt32, zeroCopy: Bool,
                                           refusals: UInt64 = 1) -> XDPError? {
        guard !isTransientTransmitKickError(errno) else { return nil }
        let operation = "kick TX on \(interface) queue \(queue)" + (refusals > 1 ? " (\(refusals) kicks refused)" : "")
        switch errno {
        case EINVAL where zeroCopy, EOPNOTSUPP where zeroCopy:
            return XDPError(.unsupported, operation: operation, errno: errno,
                            hint: "the driver refuses zero-copy TX wakeups, so nothing on the TX ring is sent; igb and ixgbe need an XDP "
                                + "program attached to the interface (xdpctl attach -i \(interface)), or bind in copy mode (--zero-copy off)")
        case ENXIO, ENODEV:
            return XDPError(.interfaceNotFound, operation: operation, errno: errno,
                            hint: "the socket is no longer bound: \(interface) was removed or unregistered under it; "
                                + "create the socket again once the interface is back")
        default:
            return XDPError.fromErrno(errno, operation: operation,
                                      hint: "the kernel refused to send what the TX ring holds; nothing queued is sent until this is fixed")
        }
    }
}
