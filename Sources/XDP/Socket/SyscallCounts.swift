/// The syscalls a socket's loops made: what xdpsock's application statistics
/// (`-a`) show, and what need-wakeup and busy polling exist to save.
@frozen
public struct SyscallCounts: Sendable, Equatable {
    /// recvfrom() to let the kernel see new fill-ring frames (need-wakeup) or run a busy-poll round.
    public var receiveWakeups: UInt64 = 0
    /// sendto() to start transmission (need-wakeup, or every batch without it).
    public var transmitKicks: UInt64 = 0
    /// poll() calls.
    public var polls: UInt64 = 0
    /// poll() calls that timed out with nothing ready.
    public var emptyPolls: UInt64 = 0
    /// sendto() kicks the kernel refused with an error that retrying does not
    /// cure (anything but EAGAIN, EBUSY, ENOBUFS, ENETDOWN, EINTR): while this
    /// grows, what the TX ring holds is not sent. ``Socket/checkTransmitKicks()``
    /// turns it into an ``XDPError`` that names the fix.
    public var refusedTransmitKicks: UInt64 = 0
    /// The errno of the last refused kick (0: none was refused).
    public var lastTransmitKickError: Int32 = 0

    /// Creates zero counts.
    public init() {}

    /// Counts one poll() that returned `result`.
    @inlinable
    mutating func count(poll result: Int32) {
        polls &+= 1
        if result == 0 { emptyPolls &+= 1 }
    }

    /// The sum of two sockets' counts.
    public static func + (a: SyscallCounts, b: SyscallCounts) -> SyscallCounts {
        var sum = SyscallCounts()
        sum.receiveWakeups = a.receiveWakeups &+ b.receiveWakeups
        sum.transmitKicks = a.transmitKicks &+ b.transmitKicks
        sum.polls = a.polls &+ b.polls
        sum.emptyPolls = a.emptyPolls &+ b.emptyPolls
        sum.refusedTransmitKicks = a.refusedTransmitKicks &+ b.refusedTransmitKicks
        sum.lastTransmitKickError = b.lastTransmitKickError != 0 ? b.lastTransmitKickError : a.lastTransmitKickError
        return sum
    }
}
