import Packet
import XDP

/// Wraps a handler so that every packet it transmits carries a TCP/UDP
/// checksum its receiver accepts.
///
/// A host with checksum offload (a container's veth with the
/// distribution's defaults) sends TCP/UDP packets whose checksum is partial
/// (``Packet/TransportChecksum``). Sent on as they are, the receiver drops
/// them. This handler looks at each transmitted packet after the inner
/// handler: a partial checksum is either carried on as an offload request in
/// TX metadata (copy mode turns it into a CHECKSUM_PARTIAL skb, which the
/// egress device or the stack finishes, exactly as the kernel would have
/// done for the sender), or, where the socket cannot take the request
/// (zero-copy without the driver's tx-checksum, a UMEM without TX metadata,
/// a padded frame), finished in software. Full checksums are left alone.
@frozen
public struct TransportChecksumHandler<Inner: PacketHandler>: PacketHandler {
    /// The handler whose transmitted packets are looked at.
    public var inner: Inner
    /// The UMEM's TX metadata length when the egress sockets honour
    /// checksum requests (``XDPControl/WorkerQueues/checksumOffloadMetadataLength``), else 0.
    public let offloadMetadataLength: Int
    /// Partial checksums handed on as offload requests.
    public var offloaded: UInt64 = 0
    /// Partial checksums finished in software.
    public var finishedInSoftware: UInt64 = 0

    /// Wraps `inner`.
    /// - Parameters:
    ///   - inner: The handler.
    ///   - offloadMetadataLength: TX metadata length for offload requests; 0 finishes in software.
    @inlinable
    public init(_ inner: Inner, offloadMetadataLength: Int) {
        self.inner = inner
        self.offloadMetadataLength = offloadMetadataLength
    }

    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        let verdict = inner.handle(&frame)
        guard verdict == .transmit else { return verdict }
        switch PartialChecksum.carry(&frame, offloadMetadataLength: offloadMetadataLength) {
        case .full: break
        case .offloaded: offloaded &+= 1
        case .finished: finishedInSoftware &+= 1
        }
        return verdict
    }
}

/// The step ``TransportChecksumHandler`` adds after its inner handler, for
/// handlers of other shapes (the l3 ``L3Handler``) to call themselves.
public enum PartialChecksum {
    /// What ``carry(_:offloadMetadataLength:)`` did with a packet.
    public enum Outcome: Sendable, Equatable {
        /// No partial TCP/UDP checksum: left alone.
        case full
        /// Handed on as a TX metadata offload request.
        case offloaded
        /// Finished in software.
        case finished
    }

    /// Makes a packet about to be sent carry a checksum its receiver
    /// accepts: a partial TCP/UDP checksum becomes an offload request in TX
    /// metadata when `offloadMetadataLength` allows one, else it is finished
    /// in software. Full checksums are left alone.
    /// - Parameters:
    ///   - frame: The packet, as it will be sent.
    ///   - offloadMetadataLength: TX metadata length for offload requests; 0 finishes in software.
    /// - Returns: What was done.
    @inlinable @inline(__always)
    public static func carry(_ frame: inout Frame, offloadMetadataLength: Int) -> Outcome {
        guard let location = partialChecksum(frame.bytes) else { return .full }
        // The offload sums to the end of the frame: only when nothing pads it.
        if offloadMetadataLength > 0, location.end == frame.length,
           frame.requestChecksumOffload(start: location.start, offset: location.fieldOffset, metadataLength: offloadMetadataLength) {
            return .offloaded
        }
        var bytes = frame.mutableBytes
        TransportChecksum.finish(&bytes, at: location)
        return .finished
    }

    /// Where the frame's TCP/UDP checksum is, if it is partial.
    @inlinable @inline(__always)
    static func partialChecksum(_ bytes: RawSpan) -> TransportChecksum.Location? {
        guard let location = TransportChecksum.locate(bytes), TransportChecksum.isPartial(bytes, at: location) else { return nil }
        return location
    }
}

extension TransportChecksumHandler: CountingHandler where Inner: CountingHandler {
    /// The inner handler's drops.
    public var drops: DropCounts { inner.drops }
    /// What this handler did with partial checksums.
    public var partialChecksums: (offloaded: UInt64, finished: UInt64) { (offloaded, finishedInSoftware) }
}
