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

extension AttachMode {
    /// Parses a mode as users write it, with the names iproute2, xdpsock and
    /// xdp-bench use: `native` (`driver`, `drv`), `generic` (`skb`), `auto`.
    /// - Parameter name: The name.
    public init?(name: String) {
        switch name.lowercased() {
        case "native", "driver", "drv": self = .native
        case "generic", "skb": self = .generic
        case "auto": self = .auto
        default: return nil
        }
    }

    /// Decodes any name ``init(name:)`` takes (`skb` in a config file, too).
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let mode = AttachMode(name: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an attach mode: use native (or drv), generic (or skb), or auto")
        }
        self = mode
    }
}
