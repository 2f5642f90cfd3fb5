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
        let location = frame.withUnsafeMutableBytes { bytes -> TransportChecksum.Location? in
            guard let location = TransportChecksum.locate(UnsafeRawBufferPointer(bytes)),
                  TransportChecksum.isPartial(UnsafeRawBufferPointer(bytes), at: location) else { return nil }
            return location
        }
        guard let location else { return verdict }
        // The offload sums to the end of the frame: only when nothing pads it.
        if offloadMetadataLength > 0, location.end == frame.length,
           frame.requestChecksumOffload(start: location.start, offset: location.fieldOffset, metadataLength: offloadMetadataLength) {
            offloaded &+= 1
        } else {
            frame.withUnsafeMutableBytes { TransportChecksum.finish($0, at: location) }
            finishedInSoftware &+= 1
        }
        return verdict
    }
}

extension TransportChecksumHandler: CountingHandler where Inner: CountingHandler {
    /// The inner handler's drops.
    public var drops: DropCounts { inner.drops }
    /// Passes the new tables to the inner handler.
    public mutating func refresh(from tables: TableStore) { inner.refresh(from: tables) }
    /// What this handler did with partial checksums.
    public var partialChecksums: (offloaded: UInt64, finished: UInt64) { (offloaded, finishedInSoftware) }
}
