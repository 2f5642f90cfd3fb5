import CNetdevProbe
import CXDP
import Glibc

extension Socket {
    /// Whether this socket can honour `request` as TX metadata, checked
    /// against its UMEM and mode and the kernel's netdev probe (xsk-features).
    ///
    /// Copy mode builds an skb from each descriptor, whatever the driver: a
    /// checksum request becomes the skb's checksum offload (filled in by the
    /// kernel with ``UMEMConfiguration/softwareTXChecksum``, else by the
    /// device or the stack), a launch time its departure time (honoured by
    /// an fq/etf qdisc), and a timestamp request a software transmit time
    /// (CLOCK_REALTIME) in the completion on Linux 6.18 (older kernels may
    /// leave it out: ``CompletionRing/transmitTimestamp(of:)`` is then
    /// `nil`). Zero-copy needs the driver's xsk-features bit for each.
    /// - Throws: ``XDPError`` of kind `.unsupported` or
    ///   `.invalidConfiguration`, naming what is missing and what the probe said.
    public func checkTXMetadata(_ request: TXMetadata) throws(XDPError) {
        let operation = "TX metadata on \(interface) queue \(queue)"
        guard storage.txMetadataLength >= TXMetadata.byteCount else {
            throw XDPError(.invalidConfiguration, operation: operation,
                           hint: "the UMEM has no TX metadata area: set UMEMConfiguration.txMetadataLength to \(TXMetadata.byteCount) or more")
        }
        var features = cxdp_xdp_features()
        let reported = cxdp_probe_xdp_features(Int32(interfaceIndex), &features) == 0 && features.reported && features.has_xsk_features
        let bits = reported ? features.xsk_features : 0
        let names = ["tx-timestamp", "tx-checksum", "tx-launch-time-fifo"].enumerated()
            .filter { bits & (1 << UInt64($0.offset)) != 0 }.map(\.element)
        let answer = reported ? "the kernel reports xsk-features \(names.isEmpty ? "none" : names.joined(separator: ",")) for \(interface)"
                              : "the kernel reports no xsk-features for \(interface)"
        let mode = isZeroCopy ? "zero-copy" : "copy mode"
        func missing(_ what: String, bit: UInt64, copyModeDoes: Bool) throws(XDPError) {
            if !isZeroCopy && copyModeDoes { return }
            if isZeroCopy && bits & bit != 0 { return }
            throw XDPError(.unsupported, operation: operation, errno: EOPNOTSUPP,
                           hint: "\(what) is not supported here (\(mode)): \(answer)")
        }
        if request.checksum != nil { try missing("checksum offload", bit: 2, copyModeDoes: true) }
        if request.launchTime != nil { try missing("launch time", bit: 4, copyModeDoes: true) }
        if request.requestTimestamp { try missing("a TX completion timestamp", bit: 1, copyModeDoes: true) }
    }
}
