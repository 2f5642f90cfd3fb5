/// Whether a socket moves packets by zero-copy (the NIC DMAs into the UMEM)
/// or by copy (the kernel copies between its buffers and the UMEM).
public enum ZeroCopyMode: String, Sendable, CaseIterable, Codable {
    /// Zero-copy or fail (XDP_ZEROCOPY).
    case required
    /// Zero-copy when the driver can, else copy (the kernel decides).
    case preferred
    /// Copy mode always (XDP_COPY).
    case off
}

/// Busy polling: the application's own calls run the queue's NAPI work
/// (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET).
public struct BusyPollConfiguration: Sendable, Equatable {
    /// How long one busy-poll call may spin, in microseconds.
    public var timeoutMicroseconds: Int
    /// Packets one busy-poll call may process.
    public var budget: Int

    /// Creates a busy-poll configuration.
    public init(timeoutMicroseconds: Int = 20, budget: Int = 64) {
        self.timeoutMicroseconds = timeoutMicroseconds
        self.budget = budget
    }
}

/// How a ``Socket`` is bound.
public struct SocketConfiguration: Sendable, Equatable {
    /// Entries in the RX ring (a power of two).
    public var rxRingSize: Int
    /// Entries in the TX ring (a power of two).
    public var txRingSize: Int
    /// Zero-copy policy.
    public var zeroCopy: ZeroCopyMode
    /// Ask the kernel to flag when it needs a syscall (XDP_USE_NEED_WAKEUP),
    /// so the application makes syscalls only then.
    public var needWakeup: Bool
    /// Busy polling, or `nil` for interrupt-driven NAPI.
    public var busyPoll: BusyPollConfiguration?
    /// Bind attempts when the queue is still held by a socket closed moments ago.
    public var busyRetries: Int
    /// Multi-buffer packets (XDP_USE_SG): a packet longer than a frame
    /// arrives as a chain of frames (receive it with
    /// ``RXRing/receivePacket(droppingOversizedInto:)`` or
    /// ``Socket/receivePacketBatch(limit:pool:handler:)``) and chains can be
    /// sent (``TXRing/push(_:)-(FramePacket)``). Without it the kernel drops
    /// longer packets (counted in ``SocketStatistics/rxDropped``). Needs a
    /// frags-aware program (`XDPProgram(..., multiBuffer: true)`) for jumbo
    /// MTUs in native mode.
    public var multiBuffer: Bool
    /// The most frames one copy-mode TX syscall may send
    /// (XDP_MAX_TX_SKB_BUDGET, Linux 6.17+; the kernel's default is 32, so
    /// a batch of 64 needed two kicks). Capped at ``txRingSize``; 0 leaves
    /// the kernel's default. Best effort: a kernel without the option keeps
    /// 32, and the socket says why (``Socket/transmitBudgetRefusal``).
    public var transmitBudget: Int

    /// The default ``transmitBudget``: 0, the kernel's 32. A socket that
    /// receives too should keep it: on a core shared with the queue's NAPI
    /// work, a 256-frame sendto holds the core while the RX ring overflows
    /// (l2fwd on veth delivered 0.50-0.60 of its NAPI input with 32, 0.37-0.43
    /// with 256; Benchmarks/README).
    public static let defaultTransmitBudget = 0

    /// A ``transmitBudget`` for a socket that only sends (a generator): four
    /// batches of 64 per kick, half the sendto calls (xdpbench txonly: 1.13x
    /// the packet rate of the kernel's 32).
    public static let senderTransmitBudget = 256

    /// Creates a configuration; the defaults are right for most uses.
    public init(rxRingSize: Int = 2048, txRingSize: Int = 2048, zeroCopy: ZeroCopyMode = .preferred,
                needWakeup: Bool = true, busyPoll: BusyPollConfiguration? = nil, busyRetries: Int = 10,
                multiBuffer: Bool = false, transmitBudget: Int = SocketConfiguration.defaultTransmitBudget) {
        self.rxRingSize = rxRingSize
        self.txRingSize = txRingSize
        self.zeroCopy = zeroCopy
        self.needWakeup = needWakeup
        self.busyPoll = busyPoll
        self.busyRetries = busyRetries
        self.multiBuffer = multiBuffer
        self.transmitBudget = transmitBudget
    }

    /// Checks the values the kernel would reject.
    /// - Throws: ``XDPError`` of kind `.invalidConfiguration`.
    public func validate() throws(XDPError) {
        for (name, size) in [("RX ring size", rxRingSize), ("TX ring size", txRingSize)] {
            guard size > 0, size & (size - 1) == 0 else {
                throw XDPError(.invalidConfiguration, operation: "socket configuration", hint: "\(name) \(size) must be a power of two")
            }
        }
        if let busyPoll, busyPoll.timeoutMicroseconds <= 0 || busyPoll.budget <= 0 {
            throw XDPError(.invalidConfiguration, operation: "socket configuration", hint: "busy-poll timeout and budget must be positive")
        }
        guard transmitBudget == 0 || transmitBudget >= 32 else {
            throw XDPError(.invalidConfiguration, operation: "socket configuration",
                           hint: "transmit budget \(transmitBudget): use 0 (the kernel's default) or 32 and up (XDP_MAX_TX_SKB_BUDGET takes 32 to the TX ring's size)")
        }
        guard busyRetries >= 0 else {
            throw XDPError(.invalidConfiguration, operation: "socket configuration", hint: "busy retries must not be negative")
        }
    }
}
