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
    /// Set every port's channel (queue) count before binding (ETHTOOL_SCHANNELS; undone on exit).
    var channels: Int?
    /// l3: switch IP forwarding on where a port has it off (undone on exit),
    /// instead of refusing to start.
    var enableForwarding: Bool?
    /// A user's own XDP program (FILE[:SECTION]) and its XSKMAP's name (default xsks).
    var program: String?
    var programMap: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, ports, cpus, attach, zeroCopy = "zero_copy", needWakeup = "need_wakeup", frameSize = "frame_size"
        case frameCount = "frame_count", batch, netns, metrics, routes, neighbors, programLossPolicy = "program_loss_policy"
        case irqAffinity = "irq_affinity", napiDeferHardIRQs = "napi_defer_hard_irqs", groFlushTimeout = "gro_flush_timeout", channels
        case enableForwarding = "enable_forwarding"
        case program, programMap = "program_map"
    }

    /// The engine configuration this file describes.
    func engineConfiguration() throws(ConfigurationError) -> EngineConfiguration {
        var cpuList: [Int]?
        if let cpus, cpus != "auto" {
            do { cpuList = try CPUList.parse(cpus) } catch { throw ConfigurationError(key: "cpus", line: nil, message: "\(error)") }
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
        if let program { engine.program = EngineConfiguration.Program(argument: program, socketMapName: programMap ?? "xsks") }
        if programMap != nil && program == nil { throw ConfigurationError(key: "program_map", line: nil, message: "names the XSKMAP of program: give program too") }
        do { try engine.validate() } catch { throw ConfigurationError(key: nil, line: nil, message: error.hint) }
        if let channels, !(1...1024).contains(channels) {
            throw ConfigurationError(key: "channels", line: nil, message: "\(channels) out of range: use 1 to 1024")
        }
        // l3 forwards exactly as the kernel's FIB says (the XDP program asks
        // it per packet): routes and neighbors belong in the kernel's tables.
        if let routes, let route = routes.first {
            let example = "ip route add \(route.prefix)\(route.via.map { " via \($0)" } ?? "") dev \(route.interface)"
            throw ConfigurationError(key: "routes", line: nil,
                                     message: "static routes are not supported: xdpfwd l3 follows the kernel's FIB, so add them to the kernel in the daemon's network namespace (\(example)) and remove routes: from the file")
        }
        if let neighbors, let neighbor = neighbors.first {
            let example = "ip neigh replace \(neighbor.address) lladdr \(neighbor.mac) dev \(neighbor.interface) nud permanent"
            throw ConfigurationError(key: "neighbors", line: nil,
                                     message: "static neighbors are not supported: xdpfwd l3 follows the kernel's FIB and neighbor table, so add them to the kernel in the daemon's network namespace (\(example)) and remove neighbors: from the file")
        }
        if let policy = programLossPolicy, policy != "reattach" && policy != "exit" {
            throw ConfigurationError(key: "program_loss_policy", line: nil, message: "'\(policy)': use reattach or exit")
        }
        if let metrics, metrics != "off", MetricsServer.parseAddress(metrics) == nil {
            throw ConfigurationError(key: "metrics", line: nil, message: "'\(metrics)': use host:port, e.g. 127.0.0.1:9109, or off")
        }
        return engine
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
        for (key, _) in mapping {
            if let name = key.string, !known.contains(name) {
                throw ConfigurationError(key: name, line: key.mark.map { $0.line }, message: "unknown key (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
        do {
            return try YAMLDecoder().decode(DaemonConfiguration.self, from: node)
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
        self.init(key: key.isEmpty ? nil : key, line: ConfigurationError.line(of: path, in: root), message: message)
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
