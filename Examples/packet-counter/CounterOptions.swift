import XDPControl
import XDPService

/// The command line of packet-counter.
struct CounterOptions {
    var interface = ""
    var match: RedirectMatch?
    var queues: [UInt32]?
    var cpus: [Int]?
    var namespace: String?
    var duration: Int?
    var buffer = 4096
    /// Test hook: sleep this long after each batch (a deliberately slow consumer).
    var slowConsumerMicroseconds = 0

    static let usage = "usage: packet-counter -i IFACE (--port P | --ports A-B | --protocol N | --ethertype HEX) [--queues all|LIST] [--cpus LIST] [--netns NS] [--duration S] [--buffer N]"

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func parse(_ arguments: [String]) throws -> CounterOptions {
        var options = CounterOptions()
        var rest = arguments[...]
        func value(_ name: String) throws -> String {
            guard let next = rest.popFirst() else { throw Failure(description: "\(name) needs a value") }
            return next
        }
        func number<T: FixedWidthInteger>(_ name: String, radix: Int = 10) throws -> T {
            let text = try value(name)
            guard let parsed = T(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: text.hasPrefix("0x") ? 16 : radix) else {
                throw Failure(description: "\(name) \(text): not a number")
            }
            return parsed
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "-i", "--interface": options.interface = try value(argument)
            case "--port": options.match = .udp(port: try number(argument))
            case "--ports":
                let text = try value(argument)
                let bounds = text.split(separator: "-").compactMap { UInt16($0) }
                guard bounds.count == 2, bounds[0] <= bounds[1] else { throw Failure(description: "--ports \(text): use LOW-HIGH") }
                options.match = .udp(ports: bounds[0]...bounds[1])
            case "--protocol": options.match = .ipProtocol(try number(argument))
            case "--ethertype": options.match = .ethertype(try number(argument, radix: 16))
            case "--queues":
                let text = try value(argument)
                if text != "all" {
                    do { options.queues = try CPUList.parse(text).map(UInt32.init) } catch { throw Failure(description: "--queues \(text): \(error)") }
                }
            case "--cpus":
                let text = try value(argument)
                do { options.cpus = try CPUList.parse(text) } catch { throw Failure(description: "--cpus \(text): \(error)") }
            case "--netns": options.namespace = try value(argument)
            case "--duration": options.duration = try number(argument)
            case "--buffer": options.buffer = try number(argument)
            case "--slow-consumer-us": options.slowConsumerMicroseconds = try number(argument)
            case "-h", "--help": throw Failure(description: "help")
            default: throw Failure(description: "unknown argument \(argument)")
            }
        }
        guard !options.interface.isEmpty, options.match != nil else {
            throw Failure(description: "-i IFACE and one of --port, --ports, --protocol, --ethertype are required")
        }
        return options
    }

    var configuration: PacketServiceConfiguration {
        PacketServiceConfiguration(interface: interface, match: match!, queues: queues, cpus: cpus, namespace: namespace)
    }
}
