import ArgumentParser
import Forwarding
import Foundation
import XDP
import XDPControl
import Yams

/// The daemon's configuration file (YAML), decoded with Codable. Keys are
/// snake_case; unknown keys are errors (a typo must not silently do nothing).
struct DaemonConfiguration: Codable, Equatable {
    struct Port: Codable, Equatable {
        var interface: String
        /// "all" or a list like [0, 1] or "0-3".
        var queues: QueueSelection?
    }

    enum QueueSelection: Codable, Equatable {
        case all
        case list([UInt32])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let list = try? container.decode([UInt32].self) { self = .list(list); return }
            let text = try container.decode(String.self)
            if text == "all" { self = .all; return }
            do { self = .list(try CPUList.parse(text).map(UInt32.init)) } catch {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "queues: \(error) (use all, [0, 1] or \"0-3\")")
            }
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .all: try container.encode("all")
            case .list(let list): try container.encode(list)
            }
        }
    }

    /// Refused (see ``engineConfiguration()``): decoded only to say so.
    struct Route: Codable, Equatable {
        var prefix: String
        var via: String?
        var interface: String
    }

    /// Refused, like ``Route``.
    struct Neighbor: Codable, Equatable {
        var address: String
        var mac: String
        var interface: String
    }

    var mode: ForwardingMode
    var ports: [Port]
    /// "auto" or a CPU list like "0-3".
    var cpus: String?
    var attach: AttachMode?
    var zeroCopy: ZeroCopyMode?
    var needWakeup: Bool?
    var frameSize: Int?
    var frameCount: Int?
    var batch: Int?
    var netns: String?
    /// host:port for Prometheus metrics (default 127.0.0.1:9109); "off" disables.
    var metrics: String?
    /// No longer supported: l3 follows the kernel's FIB; refused with the `ip` command to use.
    var routes: [Route]?
    var neighbors: [Neighbor]?
    /// What to do when our XDP program is removed or replaced behind our back: reattach or exit.
    var programLossPolicy: String?
    /// Steer each served queue's interrupt: none (default), same-cpu, or sibling.
    var irqAffinity: QueuePlan.IRQPlacement?
    /// NAPI tunables set on every port while running (undone on exit).
    var napiDeferHardIRQs: Int?
    var groFlushTimeout: Int?
    /// Preferred busy polling on every socket (SO_PREFER_BUSY_POLL, budget =
    /// batch); napi_defer_hard_irqs and gro_flush_timeout then default to
    /// the kernel documentation's 2 and 200000 (docs/operations.md).
    var busyPoll: Bool?
    /// Set every port's channel (queue) count before binding (ETHTOOL_SCHANNELS; undone on exit).
    var channels: Int?
    /// l3: switch IP forwarding on where a port has it off (undone on exit),
    /// instead of refusing to start.
    var enableForwarding: Bool?
    /// A user's own XDP program (FILE[:SECTION]) and its XSKMAP's name (default xsks).
    var program: String?
    var programMap: String?
    /// The Kubernetes AF_XDP device plugin's Unix socket: take every port's
    /// XSKMAP from it instead of attaching a program.
    var xskMapSocket: String?

    /// Where `xdpfwd status` asks (a Unix socket path, mode 0660), or "off";
    /// default /run/xdpfwd/[NETNS-]FIRSTPORT.sock.
    var controlSocket: String?

    /// The line of each key in the file ("batch", "ports[0].queues"), for
    /// errors found after decoding; empty for a configuration from flags.
    var keyLines: [String: Int] = [:]

    /// SO_BUSY_POLL with busy_poll: how long one busy-poll call may spin (µs).
    static let busyPollMicroseconds = 20
    /// napi_defer_hard_irqs and gro_flush_timeout (ns) with busy_poll unless
    /// set: the values of the kernel's preferred busy-polling documentation
    /// (Documentation/networking/napi.rst; xdpsock -B).
    static let busyPollDeferHardIRQs = 2
    static let busyPollGROFlushTimeout = 200_000

    /// The NAPI tunables to set on every port: what the file says, else with
    /// busy_poll the kernel documentation's values; `nil` to leave them.
    var napiTunables: (deferHardIRQs: Int, groFlushTimeout: Int)? {
        if busyPoll == true {
            return (napiDeferHardIRQs ?? DaemonConfiguration.busyPollDeferHardIRQs, groFlushTimeout ?? DaemonConfiguration.busyPollGROFlushTimeout)
        }
        guard napiDeferHardIRQs != nil || groFlushTimeout != nil else { return nil }
        return (napiDeferHardIRQs ?? 0, groFlushTimeout ?? 0)
    }

    /// Keys allowed inside each list entry, by the list's key.
    static let nestedKeys: [String: Set<String>] = [
        "ports": ["interface", "queues"],
        "routes": ["prefix", "via", "interface"],
        "neighbors": ["address", "mac", "interface"],
    ]

    /// The valid values of keys that take one of a few words.
    static let choices: [String: [String]] = [
        "mode": ForwardingMode.allCases.map(\.rawValue),
        "attach": AttachMode.allCases.map(\.rawValue) + ["skb"],
        "zero_copy": ZeroCopyMode.allCases.map(\.rawValue),
        "irq_affinity": ["none", "same-cpu", "sibling"],
        "program_loss_policy": ["reattach", "exit"],
        "need_wakeup": ["true", "false"],
        "enable_forwarding": ["true", "false"],
        "busy_poll": ["true", "false"],
    ]

    /// An error about `key`, at its line in the file when known.
    func error(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(key: key, line: keyLines[key] ?? keyLines[String(key.prefix { $0 != "[" && $0 != "." })], message: message)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, ports, cpus, attach, zeroCopy = "zero_copy", needWakeup = "need_wakeup", frameSize = "frame_size"
        case frameCount = "frame_count", batch, netns, metrics, routes, neighbors, programLossPolicy = "program_loss_policy"
        case irqAffinity = "irq_affinity", napiDeferHardIRQs = "napi_defer_hard_irqs", groFlushTimeout = "gro_flush_timeout", channels
        case enableForwarding = "enable_forwarding", controlSocket = "control_socket", busyPoll = "busy_poll"
        case program, programMap = "program_map", xskMapSocket = "xsk_map_socket"
    }

    /// The engine configuration this file describes.
    func engineConfiguration() throws(ConfigurationError) -> EngineConfiguration {
        var cpuList: [Int]?
        if let cpus, cpus != "auto" {
            do { cpuList = try CPUList.parse(cpus) } catch { throw self.error("cpus", "'\(cpus)': \(error) (use auto, or a list like 0-3 or 1,3)") }
            let allowed = Set(Worker.allowedCPUs)
            if let bad = cpuList?.first(where: { !allowed.contains($0) }) {
                throw self.error("cpus", "CPU \(bad) is not available to this process (allowed: \(allowed.sorted().map(String.init).joined(separator: ",")))")
            }
        }
        try checkPorts()
        if let batch, !(1...2048).contains(batch) {
            throw self.error("batch", "\(batch) out of range: use 1 to 2048")
        }
        do {
            try UMEMConfiguration(frameCount: frameCount ?? 4096, frameSize: frameSize ?? 2048).validate()
        } catch {
            throw self.error(frameSize != nil && !(frameCount != nil && error.hint.contains("count")) ? "frame_size" : "frame_count", error.hint)
        }
        if let napiDeferHardIRQs, napiDeferHardIRQs < 0 {
            throw self.error("napi_defer_hard_irqs", "\(napiDeferHardIRQs): use 0 or more")
        }
        if let groFlushTimeout, groFlushTimeout < 0 {
            throw self.error("gro_flush_timeout", "\(groFlushTimeout): use 0 or more nanoseconds")
        }
        var engine = EngineConfiguration(
            mode: mode,
            ports: ports.map { port in
                switch port.queues {
                case .list(let list): EngineConfiguration.Port(interface: port.interface, queues: list)
                case .all, .none: EngineConfiguration.Port(interface: port.interface)
                }
            },
            cpus: cpuList, attach: attach ?? .auto, zeroCopy: zeroCopy ?? .preferred, needWakeup: needWakeup ?? true,
            frameSize: frameSize ?? 2048, frameCount: frameCount ?? 4096, batch: batch ?? 64, namespace: netns)
        if busyPoll == true {
            engine.busyPoll = BusyPollConfiguration(timeoutMicroseconds: DaemonConfiguration.busyPollMicroseconds, budget: engine.batch)
        }
        if let program { engine.program = EngineConfiguration.Program(argument: program, socketMapName: programMap ?? "xsks") }
        if programMap != nil && program == nil { throw ConfigurationError(key: "program_map", line: nil, message: "names the XSKMAP of program: give program too") }
        if let xskMapSocket {
            if xskMapSocket.isEmpty || xskMapSocket.utf8.count > 107 {
                throw self.error("xsk_map_socket", "'\(xskMapSocket)' is not a Unix socket path (1 to 107 bytes; in a pod /tmp/afxdp_dp/IFACE/afxdp.sock)")
            }
            if program != nil { throw self.error("xsk_map_socket", "the device plugin attaches its own program and hands over its XSKMAP: remove program (and program_map)") }
            if mode == .l3 { throw self.error("xsk_map_socket", "l3 needs swift-xdp's program (it asks the kernel's FIB); the device plugin's program redirects whole queues: use xconnect or macswap") }
            engine.xskMapSocket = xskMapSocket
        }
        do { try engine.validate() } catch { throw ConfigurationError(key: nil, line: nil, message: error.hint) }
        if let channels, !(1...1024).contains(channels) {
            throw self.error("channels", "\(channels) out of range: use 1 to 1024")
        }
        // l3 forwards exactly as the kernel's FIB says (the XDP program asks
        // it per packet): routes and neighbors belong in the kernel's tables.
        if let routes, let route = routes.first {
            let example = "ip route add \(route.prefix)\(route.via.map { " via \($0)" } ?? "") dev \(route.interface)"
            throw self.error("routes", "static routes are not supported: xdpfwd l3 follows the kernel's FIB, so add them to the kernel in the daemon's network namespace (\(example)) and remove routes: from the file")
        }
        if let neighbors, let neighbor = neighbors.first {
            let example = "ip neigh replace \(neighbor.address) lladdr \(neighbor.mac) dev \(neighbor.interface) nud permanent"
            throw self.error("neighbors", "static neighbors are not supported: xdpfwd l3 follows the kernel's FIB and neighbor table, so add them to the kernel in the daemon's network namespace (\(example)) and remove neighbors: from the file")
        }
        if let policy = programLossPolicy, policy != "reattach" && policy != "exit" {
            throw self.error("program_loss_policy", "'\(policy)' is not one of: reattach, exit")
        }
        if let metrics, metrics != "off", MetricsServer.parseAddress(metrics) == nil {
            throw self.error("metrics", "'\(metrics)': use host:port, e.g. 127.0.0.1:9109 or [::1]:9109, or off")
        }
        return engine
    }

    /// The ports: as many as the mode takes, each interface once, the same
    /// queues on both ports of a pair.
    func checkPorts() throws(ConfigurationError) {
        switch mode {
        case .xconnect, .l3:
            guard ports.count == 2 else { throw self.error("ports", "\(mode.rawValue) needs exactly 2 ports, got \(ports.count)") }
        case .macswap:
            guard !ports.isEmpty else { throw self.error("ports", "macswap needs at least 1 port") }
        }
        for (index, port) in ports.enumerated() {
            if port.interface.isEmpty || port.interface.utf8.count > 15 || port.interface.contains("/") || port.interface.contains(" ") {
                throw self.error("ports[\(index)].interface", "'\(port.interface)' is not an interface name (1 to 15 characters, no '/' or spaces)")
            }
            if ports[..<index].contains(where: { $0.interface == port.interface }) {
                throw self.error("ports[\(index)].interface", "\(port.interface) is listed twice")
            }
        }
        if mode != .macswap, case .list(let a) = ports[0].queues ?? .all, case .list(let b) = ports[1].queues ?? .all, a != b {
            throw self.error("ports[1].queues", "\(mode.rawValue) pairs queue q of one port with queue q of the other: give both ports the same queues (now \(a) and \(b))")
        }
    }

    /// This configuration with every default written out (what `check` prints).
    var effective: DaemonConfiguration {
        var copy = self
        copy.ports = ports.map { Port(interface: $0.interface, queues: $0.queues ?? .all) }
        copy.cpus = cpus ?? "auto"
        copy.attach = attach ?? .auto
        copy.zeroCopy = zeroCopy ?? .preferred
        copy.needWakeup = needWakeup ?? true
        copy.frameSize = frameSize ?? 2048
        copy.frameCount = frameCount ?? 4096
        copy.batch = batch ?? 64
        copy.metrics = metrics ?? "127.0.0.1:9109"
        copy.programLossPolicy = programLossPolicy ?? "reattach"
        copy.irqAffinity = irqAffinity ?? QueuePlan.IRQPlacement.none
        copy.enableForwarding = enableForwarding ?? false
        copy.busyPoll = busyPoll ?? false
        if busyPoll == true {
            copy.napiDeferHardIRQs = napiDeferHardIRQs ?? DaemonConfiguration.busyPollDeferHardIRQs
            copy.groFlushTimeout = groFlushTimeout ?? DaemonConfiguration.busyPollGROFlushTimeout
        }
        copy.controlSocket = controlSocket ?? ports.first.map { ControlSocket.defaultPath(firstPort: $0.interface, namespace: netns) }
        return copy
    }

    /// The top-level keys whose values differ, with both values as text.
    static func differences(from old: DaemonConfiguration, to new: DaemonConfiguration) -> [(key: String, old: String, new: String)] {
        func fields(_ configuration: DaemonConfiguration) -> [String: String] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            guard let data = try? encoder.encode(configuration),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            return object.mapValues { value in
                (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
        }
        let before = fields(old), after = fields(new)
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            before[key] == after[key] ? nil : (key, before[key] ?? "(unset)", after[key] ?? "(unset)")
        }
    }

    /// Reads and decodes a file, with errors that name the key and the line.
    static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(key: nil, line: nil, message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text)
    }

    static func parse(_ text: String) throws(ConfigurationError) -> DaemonConfiguration {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw ConfigurationError(yaml: error)
        } catch {
            throw ConfigurationError(key: nil, line: nil, message: "\(error)")
        }
        guard let node, case .mapping(let mapping) = node else {
            throw ConfigurationError(key: nil, line: 1, message: "the file must be a YAML mapping (mode:, ports:, ...)")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        var lines: [String: Int] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            if !known.contains(name) {
                throw ConfigurationError(key: name, line: key.mark.map { $0.line }, message: "unknown key (known: \(known.sorted().joined(separator: ", ")))")
            }
            lines[name] = key.mark?.line
            // Every level: a typo in a list entry (queus:) must not silently do nothing.
            guard let nested = nestedKeys[name], case .sequence(let entries) = value else { continue }
            for (index, entry) in entries.enumerated() {
                guard case .mapping(let fields) = entry else { continue }
                for (field, _) in fields {
                    guard let fieldName = field.string else { continue }
                    if !nested.contains(fieldName) {
                        throw ConfigurationError(key: "\(name)[\(index)].\(fieldName)", line: field.mark?.line,
                                                 message: "unknown key (known in \(name) entries: \(nested.sorted().joined(separator: ", ")))")
                    }
                    lines["\(name)[\(index)].\(fieldName)"] = field.mark?.line
                }
            }
        }
        do {
            var configuration = try YAMLDecoder().decode(DaemonConfiguration.self, from: node)
            configuration.keyLines = lines
            return configuration
        } catch let error as DecodingError {
            throw ConfigurationError(decoding: error, root: node)
        } catch {
            throw ConfigurationError(key: nil, line: nil, message: "\(error)")
        }
    }
}

/// A configuration problem: which key, which line, what is wrong.
struct ConfigurationError: Error, CustomStringConvertible {
    var key: String?
    var line: Int?
    var message: String

    init(key: String?, line: Int?, message: String) {
        self.key = key
        self.line = line
        self.message = message
    }

    init(yaml: YamlError) {
        self.init(key: nil, line: nil, message: "not valid YAML: \(yaml)")
        if case .parser(_, _, let mark, _) = yaml { line = mark.line }
        if case .scanner(_, _, let mark, _) = yaml { line = mark.line }
    }

    init(decoding error: DecodingError, root: Node) {
        let (path, message): ([CodingKey], String) = switch error {
        case .typeMismatch(let type, let context): (context.codingPath, "expected \(type): \(context.debugDescription)")
        case .valueNotFound(let type, let context): (context.codingPath, "missing \(type) value")
        case .keyNotFound(let key, let context): (context.codingPath + [key], "missing key")
        case .dataCorrupted(let context): (context.codingPath, context.debugDescription)
        @unknown default: ([], "\(error)")
        }
        let key = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        var text = message
        if let value = ConfigurationError.node(at: path, in: root), case .scalar(let scalar) = value {
            // Say what was found, not only what was expected.
            let expected: String = switch error {
            case .typeMismatch(let type, _): "\(type)" == "Int" ? "a whole number" : "\(type)" == "Bool" ? "true or false" : "\(type)"
            default: ""
            }
            text = expected.isEmpty ? "'\(scalar.string)': \(message)" : "'\(scalar.string)' is not \(expected)"
        }
        if let last = path.last?.stringValue, let choices = DaemonConfiguration.choices[last], case .dataCorrupted = error {
            text = "\(ConfigurationError.node(at: path, in: root)?.string.map { "'\($0)'" } ?? "the value") is not one of: \(choices.joined(separator: ", "))"
        }
        self.init(key: key.isEmpty ? nil : key, line: ConfigurationError.line(of: path, in: root), message: text)
    }

    /// The node a decoding path reaches, if it does.
    static func node(at path: [CodingKey], in root: Node) -> Node? {
        var node = root
        for key in path {
            if let index = key.intValue, case .sequence(let sequence) = node, index < sequence.count {
                node = sequence[index]
            } else if case .mapping(let mapping) = node, let (_, value) = mapping.first(where: { $0.key.string == key.stringValue }) {
                node = value
            } else {
                return nil
            }
        }
        return node
    }

    /// The line of the deepest node the path reaches.
    static func line(of path: [CodingKey], in root: Node) -> Int? {
        var node = root
        var line = root.mark?.line
        for key in path {
            if let index = key.intValue, case .sequence(let sequence) = node, index < sequence.count {
                node = sequence[index]
            } else if case .mapping(let mapping) = node, let (keyNode, value) = mapping.first(where: { $0.key.string == key.stringValue }) {
                line = keyNode.mark?.line ?? line
                node = value
                continue
            } else {
                break
            }
            line = node.mark?.line ?? line
        }
        return line
    }

    var description: String {
        var text = "configuration"
        if let line { text += " line \(line)" }
        if let key { text += ", key \(key)" }
        return text + ": " + message
    }
}

extension ForwardingMode: ExpressibleByArgument {}
