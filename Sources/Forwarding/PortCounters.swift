import XDPControl

/// Why a packet was not forwarded: the data plane's `DropReason`.
public typealias DropCounter = DropReason

/// One worker's totals for one (port, queue): the data plane's one counter
/// type, `QueueCounters`, which the daemon's metrics, JSON and
/// status read.
public typealias PortCounters = QueueCounters

/// A worker's local running totals for one port, stored into
/// ``PortCounters`` per batch: `LocalQueueCounters`.
public typealias LocalPortCounters = LocalQueueCounters

/// Drops a handler decided, by reason (the TX-ring-full ones are the
/// loop's): `DropCounts`.
public typealias DropCounts = XDPControl.DropCounts

extension DropCounts {
    /// Copies a handler's drops (every reason but the loop's TX ring full)
    /// into a worker's local counters.
    @inlinable
    func store(into local: inout LocalPortCounters) {
        local.drops.malformed = malformed
        local.drops.invalidMetadata = invalidMetadata
        local.drops.routeToUnservedPort = routeToUnservedPort
        local.drops.ttlExpired = ttlExpired
    }
}
