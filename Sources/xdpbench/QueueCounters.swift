import Synchronization
import XDPControl

/// xdpbench's view of one queue's `QueueCounters` (the data
/// plane's one counter type): the loops publish what they handled (received,
/// forwarded, or for txonly sent, in the receive or the transmit fields) and
/// what a full TX ring refused; the reporter and the results read them.
struct QueueCounters: Sendable {
    /// The data plane's counters of the queue.
    let shared: XDPControl.QueueCounters
    /// txonly: what the loop handled is what it sent.
    let transmitOnly: Bool

    /// Stores a loop's running totals (relaxed), once per busy batch.
    @inline(__always)
    func publish(packets: UInt64, bytes: UInt64, transmitDropped: UInt64) {
        if transmitOnly {
            shared.txPackets.store(packets, ordering: .relaxed)
            shared.txBytes.store(bytes, ordering: .relaxed)
        } else {
            shared.rxPackets.store(packets, ordering: .relaxed)
            shared.rxBytes.store(bytes, ordering: .relaxed)
        }
        shared.store(.txRingFull, transmitDropped)
    }

    /// Packets handled, as last published.
    var packets: UInt64 { transmitOnly ? shared.txPackets.load(ordering: .relaxed) : shared.rxPackets.load(ordering: .relaxed) }
    /// Their bytes.
    var bytes: UInt64 { transmitOnly ? shared.txBytes.load(ordering: .relaxed) : shared.rxBytes.load(ordering: .relaxed) }
    /// Packets a full TX ring refused.
    var transmitDropped: UInt64 { shared.drops(.txRingFull) }
    /// The CPU the worker found itself on (sched_getcpu), -1 before it ran.
    var observedCPU: Int { shared.observedCPU.load(ordering: .relaxed) }
    /// rxdrop --rx-metadata: packets whose metadata carried a hash.
    var metadataPackets: UInt64 { shared.metadataPackets.load(ordering: .relaxed) }

    /// Stores the packets whose metadata carried a hash (when the worker ends).
    func storeMetadataPackets(_ count: UInt64) { shared.metadataPackets.store(count, ordering: .relaxed) }
}
