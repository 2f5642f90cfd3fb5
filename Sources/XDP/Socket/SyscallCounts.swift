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
        return sum
    }
}
