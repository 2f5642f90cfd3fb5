import XDPControl
import XDPService

/// The command line of udp-echo.
struct EchoOptions {
    var interface = ""
    var port: UInt16 = 0
    var queues: [UInt32]?
    var cpus: [Int]?
    var async = false
    var namespace: String?
    var attach = AttachMode.auto

    static let usage = "usage: udp-echo -i IFACE --port P [--queues all|LIST] [--cpus LIST] [--async] [--netns NS] [--attach native|generic|auto]"

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func parse(_ arguments: [String]) throws -> EchoOptions {
        var options = EchoOptions()
        var rest = arguments[...]
        func value(_ name: String) throws -> String {
            guard let next = rest.popFirst() else { throw Failure(description: "\(name) needs a value") }
            return next
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "-i", "--interface": options.interface = try value(argument)
            case "--port":
                let text = try value(argument)
                guard let port = UInt16(text), port > 0 else { throw Failure(description: "--port \(text): not a port number") }
                options.port = port
            case "--queues":
                let text = try value(argument)
                if text != "all" {
                    do { options.queues = try CPUList.parse(text).map(UInt32.init) } catch { throw Failure(description: "--queues \(text): \(error)") }
                }
            case "--cpus":
                let text = try value(argument)
                do { options.cpus = try CPUList.parse(text) } catch { throw Failure(description: "--cpus \(text): \(error)") }
            case "--async": options.async = true
            case "--netns": options.namespace = try value(argument)
            case "--attach":
                let text = try value(argument)
                guard let mode = AttachMode(rawValue: text) else { throw Failure(description: "--attach \(text): use native, generic or auto") }
                options.attach = mode
            case "-h", "--help": throw Failure(description: "help")
            default: throw Failure(description: "unknown argument \(argument)")
            }
        }
        guard !options.interface.isEmpty, options.port != 0 else { throw Failure(description: "-i IFACE and --port P are required") }
        return options
    }

    var configuration: PacketServiceConfiguration {
        PacketServiceConfiguration(interface: interface, match: .udp(port: port), queues: queues, cpus: cpus,
                                   attach: attach, namespace: namespace)
    }
}
