import ArgumentParser
import Foundation
import XDP
import XDPControl
import XDPLab

/// `xdpbench lab up|down`: the built-in veth lab, so a benchmark needs no spare NIC.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Bring the veth/namespace lab (198.18.0.0/15) up or down.",
        subcommands: [Up.self, Down.self])

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the lab: a generator namespace and a device namespace joined by veth pairs.")
        @Option(help: "Lab name (namespaces NAMEp, NAMEd; interfaces NAMEp0, NAMEd0, ...).") var name = "xb"
        @Option(help: "Queues per veth end.") var queues = 1
        @Option(help: "Veth pairs.") var links = 1
        @Option(help: "MTU of every veth end.") var mtu = 1500
        @Flag(name: .customLong("separate-hosts"), help: "Each link's far end in its own namespace (NAMEp, NAMEq, ...): hosts A, B on either side of the device.")
        var separateHosts = false

        func validate() throws {
            guard name.count <= 10, name.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw ValidationError("--name \(name): use up to 10 letters or digits")
            }
            guard (1...64).contains(queues) else { throw ValidationError("--queues \(queues) out of range: use 1 to 64") }
            guard (1...8).contains(links) else { throw ValidationError("--links \(links) out of range: use 1 to 8") }
            guard (68...9000).contains(mtu) else { throw ValidationError("--mtu \(mtu) out of range: use 68 to 9000") }
        }

        func run() throws {
            guard !VethLab.exists(name: name) else {
                throw ValidationError("lab \(name) is already up: run `xdpbench lab down --name \(name)` first")
            }
            let lab = try VethLab(linkCount: links, queues: queues, mtu: mtu, name: name, separateHosts: separateHosts)
            lab.keep()
            print(describe(lab))
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the lab (namespaces, veths, any XDP program on them).")
        @Option(help: "Lab name.") var name = "xb"
        func run() throws {
            guard VethLab.exists(name: name) else {
                print("lab \(name) is not up")
                return
            }
            VethLab.delete(name: name)
            print("lab \(name) deleted")
        }
    }
}

/// Where each piece of the lab is, and how to run a meaningful benchmark on it.
func describe(_ lab: VethLab) -> String {
    func mac(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: ":") }
    func ip(_ bytes: [UInt8]) -> String { bytes.map(String.init).joined(separator: ".") }
    var lines = ["lab up: namespace(s) \(lab.peerNamespaces.joined(separator: ", ")) (generator/host side), \(lab.deviceNamespace) (device under test); \(lab.queues) queue(s) per veth end"]
    for (index, link) in lab.links.enumerated() {
        lines.append("  link \(index): \(link.peerInterface) [\(link.peerNamespace)] \(mac(link.peerMAC)) \(ip(link.peerIPv4))/24  <->  \(link.deviceInterface) [\(lab.deviceNamespace)] \(mac(link.deviceMAC)) \(ip(link.deviceIPv4))/24")
    }
    let cpus = Worker.allowedCPUs
    let link = lab.links[0]
    lines.append("CPUs: \(cpus.map(String.init).joined(separator: ",")). veth's NAPI is not threaded: a packet's receive work (and the XDP program) runs on the CPU that sent it.")
    if cpus.count >= 2 {
        lines.append("Run the generator on CPU \(cpus[0]) (it carries the softirq too) and the application alone on CPU \(cpus[1]):")
        lines.append("  xdpbench rxdrop --netns \(lab.deviceNamespace) -i \(link.deviceInterface) --cpus \(cpus[1]) -d 10 &")
        lines.append("  xdpbench txonly --netns \(lab.peerNamespace) -i \(link.peerInterface) --dst-mac \(mac(link.deviceMAC)) --cpus \(cpus[0]) -d 10")
    } else {
        lines.append("One CPU: generator, softirq and application share it; expect low and noisy numbers.")
    }
    lines.append("Remove with: xdpbench lab down")
    return lines.joined(separator: "\n")
}
