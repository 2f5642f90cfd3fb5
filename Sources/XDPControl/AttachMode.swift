import CXDP

/// Where an XDP program runs in the receive path.
public enum AttachMode: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// In the driver, before an skb exists (XDP_FLAGS_DRV_MODE): the fast path.
    case native
    /// After the skb is built, for any driver (XDP_FLAGS_SKB_MODE): slower,
    /// and the only AF_XDP mode on drivers with basic XDP only (e.g. fbnic).
    case generic
    /// Native when the driver supports it, else generic with a warning.
    case auto

    var flags: UInt32 {
        switch self {
        case .native: UInt32(XDP_FLAGS_DRV_MODE)
        case .generic: UInt32(XDP_FLAGS_SKB_MODE)
        case .auto: 0
        }
    }

    public var description: String {
        switch self {
        case .native: "native (driver)"
        case .generic: "generic (skb)"
        case .auto: "auto"
        }
    }
}
