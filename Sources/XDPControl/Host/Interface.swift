import CNetdevProbe
import CXDP
import Glibc
import Synchronization
import XDP

/// What the kernel says about a network interface: identity, link, queues,
/// placement and XDP capabilities. Read in the calling thread's network
/// namespace (sysfs facts, NUMA node and IRQs, only for the namespace sysfs
/// shows). Anything the kernel does not report is `nil`: unknown, never guessed.
public struct Interface: Sendable, Equatable, Codable {
    /// The name.
    public var name: String
    /// The index.
    public var index: Int
    /// The driver (ETHTOOL_GDRVINFO), e.g. "veth", "mlx5_core".
    public var driver: String?
    /// Driver version.
    public var driverVersion: String?
    /// Firmware version, when the driver reports one.
    public var firmware: String?
    /// Bus address, e.g. "0000:3b:00.0".
    public var bus: String?
    /// MTU.
    public var mtu: Int
    /// Administratively up.
    public var isUp: Bool
    /// Carrier present (running).
    public var isRunning: Bool
    /// Channel counts (ETHTOOL_GCHANNELS, else sysfs queues/).
    public var channels: Channels?
    /// NUMA node of the device.
    public var numaNode: Int?
    /// Interrupt numbers of the queues, by queue id (from /proc/interrupts).
    public var queueIRQs: [UInt32: Int]
    /// XDP capabilities (netdev generic netlink).
    public var xdp: XDPFeatures

    /// Channel counts, current and maximum.
    public struct Channels: Sendable, Equatable, Codable {
        /// RX-only channels now.
        public var rx: Int
        /// TX-only channels now.
        public var tx: Int
        /// Combined (RX and TX) channels now.
        public var combined: Int
        /// Other channels (link interrupts and the like) now.
        public var other: Int
        /// The most RX-only channels the driver allows.
        public var maxRX: Int
        /// The most TX-only channels the driver allows.
        public var maxTX: Int
        /// The most combined channels the driver allows.
        public var maxCombined: Int
        /// The most other channels the driver allows.
        public var maxOther: Int
        /// Where the counts came from: "ethtool" or "sysfs".
        public var source: String
        /// Queues usable for AF_XDP (max of rx+combined, tx+combined).
        public var queueCount: Int { max(rx + combined, tx + combined) }
    }

    /// Reads everything the kernel says about `name`.
    /// - Throws: `XDPError` of kind `.interfaceNotFound` when it does not exist.
    public static func discover(_ name: String) throws(XDPError) -> Interface {
        var link = cxdp_link()
        let rc = cxdp_probe_link(name, &link)
        guard rc == 0 else {
            if -rc == ENODEV {
                throw XDPError(.interfaceNotFound, operation: "inspect interface", errno: ENODEV,
                               hint: "interface \(name) not found: check the name and the network namespace (--netns)")
            }
            throw XDPError.fromErrno(-rc, operation: "inspect interface \(name)")
        }
        var info = cxdp_driver_info()
        let hasInfo = cxdp_probe_driver(name, &info) == 0
        func text<T>(_ tuple: T) -> String? {
            let value = withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return value.isEmpty ? nil : value
        }
        var channels = cxdp_channels()
        var channelInfo: Channels?
        if cxdp_probe_channels(name, &channels) == 0 {
            channelInfo = Channels(rx: Int(channels.rx), tx: Int(channels.tx), combined: Int(channels.combined), other: Int(channels.other),
                                   maxRX: Int(channels.max_rx), maxTX: Int(channels.max_tx),
                                   maxCombined: Int(channels.max_combined), maxOther: Int(channels.max_other), source: "ethtool")
        } else if let entries = SystemFiles.entries("/sys/class/net/\(name)/queues"),
                  Interface.sysfsShowsThisNamespace(name: name, index: Int(link.ifindex)) {
            let rx = entries.filter { $0.hasPrefix("rx-") }.count, tx = entries.filter { $0.hasPrefix("tx-") }.count
            channelInfo = Channels(rx: rx, tx: tx, combined: 0, other: 0, maxRX: rx, maxTX: tx, maxCombined: 0, maxOther: 0, source: "sysfs")
        }
        let inThisNamespace = Interface.sysfsShowsThisNamespace(name: name, index: Int(link.ifindex))
        return Interface(
            name: name, index: Int(link.ifindex),
            driver: hasInfo ? text(info.driver) : nil, driverVersion: hasInfo ? text(info.version) : nil,
            firmware: hasInfo ? text(info.firmware) : nil, bus: hasInfo ? text(info.bus) : nil,
            mtu: Int(link.mtu), isUp: link.up, isRunning: link.running, channels: channelInfo,
            numaNode: inThisNamespace ? Interface.numaNode(of: name) : nil,
            queueIRQs: Interface.queueIRQs(of: name, bus: hasInfo ? text(info.bus) : nil,
                                           virtioDevice: inThisNamespace ? Interface.virtioDevice(of: name) : nil),
            xdp: XDPFeatures.probe(index: Int(link.ifindex)))
    }

    /// The index of the other end of a veth (in that end's namespace), or
    /// nil for any other driver or when the kernel does not say.
    /// - Parameter name: The interface, in the calling thread's namespace.
    public static func vethPeerIndex(of name: String) -> Int? {
        let peer = cxdp_probe_veth_peer(name)
        return peer > 0 ? Int(peer) : nil
    }

    /// sysfs belongs to the mount's namespace: trust it only when its ifindex matches.
    static func sysfsShowsThisNamespace(name: String, index: Int) -> Bool {
        guard let text = SystemFiles.value("/sys/class/net/\(name)/ifindex") else { return false }
        return Int(text) == index
    }

    static func numaNode(of name: String) -> Int? {
        guard let text = SystemFiles.value("/sys/class/net/\(name)/device/numa_node"),
              let node = Int(text), node >= 0 else { return nil }
        return node
    }

    /// Queue interrupts of the interface from /proc/interrupts (see ``QueueInterrupts``
    /// for the names recognised), keyed by queue id.
    static func queueIRQs(of name: String, bus: String? = nil, virtioDevice: String? = nil,
                          interrupts: String? = nil) -> [UInt32: Int] {
        guard let text = interrupts ?? SystemFiles.contents("/proc/interrupts") else { return [:] }
        return QueueInterrupts(interface: name, bus: bus, virtioDevice: virtioDevice).parse(text)
    }

    /// The virtio device under a virtio_net interface ("virtio1"), whose name its queue interrupts carry.
    static func virtioDevice(of name: String) -> String? {
        guard let target = SystemFiles.linkTarget("/sys/class/net/\(name)/device"),
              let last = target.split(separator: "/").last else { return nil }
        let device = String(last)
        return device.hasPrefix("virtio") ? device : nil
    }
}

/// XDP capabilities as the kernel's netdev family reports them.
public struct XDPFeatures: Sendable, Equatable, Codable {
    /// Answers tests put in place of the kernel's, by (network namespace,
    /// interface index): indexes repeat across namespaces.
    private static let injected = Mutex<[InjectionKey: XDPFeatures]>([:])

    private struct InjectionKey: Hashable {
        var namespace: UInt64
        var index: Int

        /// The calling thread's network namespace (its inode).
        static func here(_ index: Int) -> InjectionKey {
            var info = stat()
            let namespace = stat("/proc/thread-self/ns/net", &info) == 0 ? UInt64(info.st_ino) : 0
            return InjectionKey(namespace: namespace, index: index)
        }
    }

    /// Makes ``probe(index:)`` answer `features` for `interfaceIndex` in the
    /// calling thread's network namespace (a driver this machine lacks, e.g.
    /// fbnic's basic + rx-sg on a veth); `nil` restores the kernel's answer.
    @_spi(Testing)
    public static func injectForTesting(_ features: XDPFeatures?, interfaceIndex: Int) {
        let key = InjectionKey.here(interfaceIndex)
        injected.withLock { $0[key] = features }
    }

    /// Creates a value (the kernel's answer is ``probe(index:)``).
    /// - Parameters:
    ///   - reported: Whether the kernel reported anything.
    ///   - flags: The xdp-features bits.
    ///   - zeroCopyMaxSegments: xdp-zc-max-segs.
    ///   - rxMetadata: xdp-rx-metadata-features.
    ///   - xskFeatures: xsk-features.
    public init(reported: Bool, flags: UInt64, zeroCopyMaxSegments: UInt32? = nil, rxMetadata: UInt64? = nil, xskFeatures: UInt64? = nil) {
        self.reported = reported
        self.flags = flags
        self.zeroCopyMaxSegments = zeroCopyMaxSegments
        self.rxMetadata = rxMetadata
        self.xskFeatures = xskFeatures
    }

    /// Whether the kernel reported anything (false: unknown, not "none").
    public var reported: Bool
    /// The xdp-features bits.
    public var flags: UInt64
    /// xdp-zc-max-segs, when reported (only for zero-copy capable devices).
    public var zeroCopyMaxSegments: UInt32?
    /// xdp-rx-metadata-features bits, when reported.
    public var rxMetadata: UInt64?
    /// xsk-features bits, when reported.
    public var xskFeatures: UInt64?

    enum CodingKeys: String, CodingKey {
        case reported, flags, zeroCopyMaxSegments, rxMetadata, xskFeatures
        case flagNames = "flag_names", rxMetadataNames = "rx_metadata_names", xskFeatureNames = "xsk_feature_names"
    }

    /// Decodes the numbers (the names are for people and are derived).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(reported: try container.decode(Bool.self, forKey: .reported), flags: try container.decode(UInt64.self, forKey: .flags),
                  zeroCopyMaxSegments: try container.decodeIfPresent(UInt32.self, forKey: .zeroCopyMaxSegments),
                  rxMetadata: try container.decodeIfPresent(UInt64.self, forKey: .rxMetadata),
                  xskFeatures: try container.decodeIfPresent(UInt64.self, forKey: .xskFeatures))
    }

    /// Encodes the numbers and, beside them, the features as names.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reported, forKey: .reported)
        try container.encode(flags, forKey: .flags)
        try container.encodeIfPresent(zeroCopyMaxSegments, forKey: .zeroCopyMaxSegments)
        try container.encodeIfPresent(rxMetadata, forKey: .rxMetadata)
        try container.encodeIfPresent(xskFeatures, forKey: .xskFeatures)
        if reported {
            try container.encode(XDPFeatures.names(flags, XDPFeatures.flagNames), forKey: .flagNames)
            try container.encode(XDPFeatures.names(rxMetadata, XDPFeatures.rxMetadataNames), forKey: .rxMetadataNames)
            try container.encode(XDPFeatures.names(xskFeatures, XDPFeatures.xskFeatureNames), forKey: .xskFeatureNames)
        }
    }

    /// The names of the xdp-features bits, in the kernel's order.
    public static let flagNames = ["basic", "redirect", "ndo-xmit", "xsk-zerocopy", "hw-offload", "rx-sg", "ndo-xmit-sg"]
    /// The names of the RX metadata bits.
    public static let rxMetadataNames = ["timestamp", "hash", "vlan-tag"]
    /// The names of the xsk-features bits.
    public static let xskFeatureNames = ["tx-timestamp", "tx-checksum", "tx-launch-time-fifo"]

    /// Native XDP in the driver (basic).
    public var hasNativeXDP: Bool { flags & 1 != 0 }
    /// XDP_REDIRECT from the driver (what AF_XDP needs in native mode).
    public var canRedirect: Bool { flags & 2 != 0 }
    /// AF_XDP zero-copy.
    public var hasZeroCopy: Bool { flags & 8 != 0 }
    /// Multi-buffer receive (rx-sg).
    public var hasRXScatterGather: Bool { flags & 32 != 0 }

    /// The set bits of `value` named from `names`.
    public static func names(_ value: UInt64?, _ names: [String]) -> [String] {
        guard let value else { return ["unknown"] }
        let set = names.enumerated().filter { value & (1 << UInt64($0.offset)) != 0 }.map(\.element)
        return set.isEmpty ? ["none"] : set
    }

    /// How AF_XDP will run here with `.auto`: native when the driver reports
    /// redirect (or the kernel reports no features at all, and native is
    /// tried first), generic (skb) otherwise.
    public var recommendedAttachMode: AttachMode {
        !reported || (hasNativeXDP && canRedirect) ? .native : .generic
    }

    /// Asks the kernel (or, in tests, returns the answer a test injected).
    public static func probe(index: Int) -> XDPFeatures {
        if let injected = injected.withLock({ $0.isEmpty ? nil : $0[InjectionKey.here(index)] }) { return injected }
        var raw = cxdp_xdp_features()
        guard cxdp_probe_xdp_features(Int32(index), &raw) == 0, raw.reported else {
            return XDPFeatures(reported: false, flags: 0, zeroCopyMaxSegments: nil, rxMetadata: nil, xskFeatures: nil)
        }
        return XDPFeatures(reported: true, flags: raw.xdp_features,
                           zeroCopyMaxSegments: raw.has_zc_max_segs ? raw.xdp_zc_max_segs : nil,
                           rxMetadata: raw.has_rx_metadata ? raw.xdp_rx_metadata_features : nil,
                           xskFeatures: raw.has_xsk_features ? raw.xsk_features : nil)
    }
}
