import ArgumentParser
import Foundation
import XDP
import XDPControl
import XDPLab

/// `xdpbench demo`: the main job on the built-in lab, end to end. Brings up
/// a fresh veth lab, sends N packets with AF_XDP from the generator side,
/// receives them with AF_XDP on the device side in native and in generic
/// mode, prints what happened, and removes the lab.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send and receive real packets over AF_XDP on a throw-away veth lab; print the counts.")

    @Option(help: "Packets to send per mode.") var packets = 1_000_000
    @Option(name: [.customShort("s"), .customLong("packet-size")], help: "Frame size in bytes.") var packetSize = 64
    @Option(help: "Time limit per mode, in seconds.") var duration = 20.0

    func validate() throws {
        guard (1...100_000_000).contains(packets) else { throw ValidationError("--packets \(packets) out of range") }
        guard (60...1500).contains(packetSize) else { throw ValidationError("--packet-size \(packetSize) out of range: use 60 to 1500") }
    }

    func run() throws {
        installSignalHandlers()
        VethLab.removeStale()
        let lab = try VethLab()
        defer { lab.tearDown() }
        let link = lab.links[0]
        let cpus = Worker.allowedCPUs
        let (generatorCPU, applicationCPU) = cpus.count >= 2 ? (cpus[0], cpus[1]) : (cpus.first ?? 0, cpus.first ?? 0)
        print("swift-xdp demo: veth lab \(link.peerInterface) (netns \(lab.peerNamespace)) -> \(link.deviceInterface) (netns \(lab.deviceNamespace)), \(packets) packets of \(packetSize) bytes per mode")
        print("generator (AF_XDP txonly) on CPU \(generatorCPU) with the veth softirq; receiver (AF_XDP rxdrop) alone on CPU \(applicationCPU)")
        var rows: [[String]] = [["mode", "sent", "received", "redirected", "rx_ring_full", "fill_empty", "rx Mpps", "frames conserved"]]
        for mode in [AttachMode.native, .generic] where !interrupted.isRaised {
            let receiverPlan = SessionPlan(
                mode: .rxdrop, interface: link.deviceInterface, secondInterface: nil, namespace: lab.deviceNamespace, queues: [0],
                cpus: [applicationCPU], batch: 64, umem: UMEMConfiguration(frameCount: 4096, frameSize: 4096),
                socket: SocketConfiguration(), attach: mode, wait: .pollWhenIdle, count: nil, timeLimit: duration, packet: nil)
            let senderPlan = SessionPlan(
                mode: .txonly, interface: link.peerInterface, secondInterface: nil, namespace: lab.peerNamespace, queues: [0],
                cpus: [generatorCPU], batch: 64, umem: UMEMConfiguration(frameCount: 4096, frameSize: 4096),
                socket: SocketConfiguration(), attach: mode, wait: .pollWhenIdle, count: packets, timeLimit: duration,
                packet: PacketTemplate(length: packetSize, sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC,
                                       sourceIPv4: link.peerIPv4, destinationIPv4: link.deviceIPv4, flows: 1))
            let receiver = try BenchmarkSession(plan: receiverPlan)
            let sender = try BenchmarkSession(plan: senderPlan)
            var senderDoneAt: ContinuousClock.Instant?
            let results = try runSessions([receiver, sender], timeLimit: duration, live: true) {
                // Stop once the sender is done and the receiver has had a moment to drain.
                guard sender.allFinished else { return false }
                if senderDoneAt == nil { senderDoneAt = .now }
                return ContinuousClock.now - senderDoneAt! > .milliseconds(300)
            }
            let (received, sent) = (results[0], results[1])
            rows.append([mode.description, "\(sent.packets)", "\(received.packets)", "\(received.program?.redirected ?? 0)",
                         "\(received.statistics.rxRingFull)", "\(received.statistics.rxFillRingEmpty)",
                         format(received.pps / 1e6), received.framesConserved && sent.framesConserved ? "yes" : "NO"])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max()! + 2 }
        for row in rows { print(zip(row, widths).map { pad($0, $1) }.joined()) }
        print("Every packet sent is received or counted by the kernel (rx_ring_full when the receiver falls behind).")
        print("The lab is removed now; `xdpbench lab up` keeps one for your own runs.")
    }
}
