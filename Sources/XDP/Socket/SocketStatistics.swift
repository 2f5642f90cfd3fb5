import CXDP

/// The kernel's counters for one socket (getsockopt XDP_STATISTICS).
public struct SocketStatistics: Sendable, Equatable, Codable {
    /// Reads the counters of the AF_XDP socket `fileDescriptor` (from any thread).
    /// - Throws: ``XDPError`` if getsockopt fails.
    public static func read(fileDescriptor: Int32) throws(XDPError) -> SocketStatistics {
        let raw = try SystemCall.getOption(fileDescriptor, level: SOL_XDP, name: XDP_STATISTICS, as: xdp_statistics.self,
                                           operation: "read XDP_STATISTICS")
        return SocketStatistics(rxDropped: raw.rx_dropped, rxInvalidDescriptors: raw.rx_invalid_descs,
                                txInvalidDescriptors: raw.tx_invalid_descs, rxRingFull: raw.rx_ring_full,
                                rxFillRingEmpty: raw.rx_fill_ring_empty_descs, txRingEmpty: raw.tx_ring_empty_descs)
    }

    /// Packets dropped for reasons other than a full RX ring or empty fill ring.
    public var rxDropped: UInt64
    /// Invalid descriptors in the fill ring (bad addresses).
    public var rxInvalidDescriptors: UInt64
    /// Invalid descriptors in the TX ring (discarded, never completed).
    public var txInvalidDescriptors: UInt64
    /// Packets dropped because the RX ring was full.
    public var rxRingFull: UInt64
    /// Times the kernel found the fill ring empty.
    public var rxFillRingEmpty: UInt64
    /// Times the kernel found the TX ring empty when asked to send.
    public var txRingEmpty: UInt64

    /// Creates a value.
    public init(rxDropped: UInt64 = 0, rxInvalidDescriptors: UInt64 = 0, txInvalidDescriptors: UInt64 = 0,
                rxRingFull: UInt64 = 0, rxFillRingEmpty: UInt64 = 0, txRingEmpty: UInt64 = 0) {
        self.rxDropped = rxDropped
        self.rxInvalidDescriptors = rxInvalidDescriptors
        self.txInvalidDescriptors = txInvalidDescriptors
        self.rxRingFull = rxRingFull
        self.rxFillRingEmpty = rxFillRingEmpty
        self.txRingEmpty = txRingEmpty
    }

    /// Field-wise difference, for per-interval reporting.
    public static func - (lhs: SocketStatistics, rhs: SocketStatistics) -> SocketStatistics {
        SocketStatistics(
            rxDropped: lhs.rxDropped &- rhs.rxDropped,
            rxInvalidDescriptors: lhs.rxInvalidDescriptors &- rhs.rxInvalidDescriptors,
            txInvalidDescriptors: lhs.txInvalidDescriptors &- rhs.txInvalidDescriptors,
            rxRingFull: lhs.rxRingFull &- rhs.rxRingFull,
            rxFillRingEmpty: lhs.rxFillRingEmpty &- rhs.rxFillRingEmpty,
            txRingEmpty: lhs.txRingEmpty &- rhs.txRingEmpty)
    }

    /// Field-wise sum, for totals over sockets.
    public static func + (lhs: SocketStatistics, rhs: SocketStatistics) -> SocketStatistics {
        SocketStatistics(
            rxDropped: lhs.rxDropped &+ rhs.rxDropped,
            rxInvalidDescriptors: lhs.rxInvalidDescriptors &+ rhs.rxInvalidDescriptors,
            txInvalidDescriptors: lhs.txInvalidDescriptors &+ rhs.txInvalidDescriptors,
            rxRingFull: lhs.rxRingFull &+ rhs.rxRingFull,
            rxFillRingEmpty: lhs.rxFillRingEmpty &+ rhs.rxFillRingEmpty,
            txRingEmpty: lhs.txRingEmpty &+ rhs.txRingEmpty)
    }
}
