import Foundation
import Testing
import XDP
import XDPControl
import TestSupport
import XDPLab

/// xdpbench's frame options (issue 8): --mtu, --multi-buffer, --unaligned,
/// --frame-size 4001, --rx-metadata, with exact counts.
@Suite("xdpbench frame options", .serialized)
struct FrameOptionsTests {
    static func mac(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: ":") }

    /// One rxdrop and one txonly run with the given extra options on a lab
    /// of its own (`makeLab`), retried once, whole, if it fell short with
    /// drops the kernel counted; the exchange's own checks made here.
    /// - Returns: The exchange (the receiver's JSON in `received`).
    static func exchange(count: Int, makeLab: () throws -> VethLab = { try VethLab() }, receiver receiverOptions: [String],
                         sender senderOptions: [String], attach: String = "native",
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> BenchExchange {
        let (exchange, note) = try retryingOnceOnCountedDrops("rxdrop \(receiverOptions.joined(separator: " ")) --attach \(attach)", attempt: {
            let lab = try makeLab()
            let link = lab.links[0]
            let receiver = try BenchProcess.start(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "--attach", attach,
                                                   "--count", "\(count)", "-d", "30", "--json"] + receiverOptions + BenchExchange.promptReceiver)
            let ready = try waitForProgram(lab, interface: link.deviceInterface) && receiver.waitForStandardError(containing: ": ready")
            let sender = try BenchProcess.run(["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface, "--count", "\(count)",
                                               "--rate", "50000", "--json", "--dst-mac", mac(link.deviceMAC)] + senderOptions)
            return BenchExchange(lab: lab, ready: ready, sender: sender, receivers: [receiver])
        }, complete: { $0.isComplete(count: count) }, drops: \.drops)
        #expect(exchange.ready, sourceLocation: sourceLocation)
        #expect(exchange.sender.process.terminationStatus == 0, "\(exchange.sender.standardError)", sourceLocation: sourceLocation)
        #expect(exchange.sender.json.integer("packets") == count, "\(exchange.sender.standardOutput)", sourceLocation: sourceLocation)
        #expect(exchange.statuses == [0], "\(exchange.receivers[0].standardError) \(note)", sourceLocation: sourceLocation)
        #expect(exchange.received.integer("packets") == count, "\(note)", sourceLocation: sourceLocation)
        return exchange
    }

    @Test("--mtu 9000 --multi-buffer: 9014-byte packets over three 4 KiB frames, exactly N, MTUs restored after", arguments: ["native", "generic"])
    func jumbo(attach: String) throws {
        try requireRoot()
        let count = 5000
        let exchange = try FrameOptionsTests.exchange(count: count, receiver: ["--mtu", "9000", "--multi-buffer"],
                                                      sender: ["--mtu", "9000", "--multi-buffer", "-s", "9014"], attach: attach)
        let (lab, received) = (exchange.lab, exchange.received)
        #expect(received.integer("packets") == count)
        #expect(received.integer("bytes") == count * 9014)
        #expect(received["frames_conserved"] as? Bool == true)
        let frames = received["frames"] as? [String: Any]
        #expect(frames?["multi_buffer"] as? Bool == true && frames?.integer("mtu") == 9000)
        #expect((received["xdp_statistics"] as? [String: Any])?.integer("rx_dropped") == 0)
        let link = lab.links[0]
        let mtus = try [(lab.deviceNamespace, link.deviceInterface), (lab.peerNamespace, link.peerInterface)].map { namespace, interface in
            try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> Int in try Interface.discover(interface).mtu }
        }
        #expect(mtus == [1500, 1500], "both ends back to their MTU")
    }

    @Test("l2fwd --to --multi-buffer forwards N jumbo chains to the second port over one UMEM")
    func forwardJumbo() throws {
        try requireRoot()
        let count = 2000
        let (exchange, note) = try retryingOnceOnCountedDrops("l2fwd --to --multi-buffer", attempt: {
            let lab = try VethLab(linkCount: 2, mtu: 9000)
            let (inbound, outbound) = (lab.links[0], lab.links[1])
            let sink = try BenchProcess.start(["rxdrop", "--netns", lab.peerNamespace, "-i", outbound.peerInterface, "--multi-buffer",
                                               "--count", "\(count)", "-d", "30", "--json"] + BenchExchange.promptReceiver)
            let sinkReady = try waitForProgram(lab, interface: outbound.peerInterface, namespace: lab.peerNamespace)
                && sink.waitForStandardError(containing: ": ready")
            let forwarder = try BenchProcess.start(["l2fwd", "--netns", lab.deviceNamespace, "-i", inbound.deviceInterface,
                                                    "--to", outbound.deviceInterface, "--multi-buffer", "--count", "\(count)", "-d", "30", "--json"]
                                                   + BenchExchange.promptReceiver)
            let forwarderReady = try waitForProgram(lab, interface: inbound.deviceInterface)
                && forwarder.waitForStandardError(containing: ": ready")
            let sender = try BenchProcess.run(["txonly", "--netns", lab.peerNamespace, "-i", inbound.peerInterface, "--multi-buffer",
                                               "-s", "9014", "--count", "\(count)", "--rate", "20000", "--json",
                                               "--dst-mac", FrameOptionsTests.mac(inbound.deviceMAC)])
            return BenchExchange(lab: lab, ready: sinkReady && forwarderReady, sender: sender, receivers: [sink, forwarder])
        }, complete: { $0.isComplete(count: count) }, drops: \.drops)
        let (sink, forwarder) = (exchange.receivers[0], exchange.receivers[1])
        #expect(exchange.ready)
        #expect(exchange.sender.json.integer("packets") == count, "\(exchange.sender.standardError)")
        #expect(exchange.statuses[1] == 0, "\(forwarder.standardError) \(note)")
        #expect(exchange.statuses[0] == 0, "\(sink.standardError) \(note)")
        #expect(forwarder.json.integer("packets") == count, "\(note)")
        #expect(sink.json.integer("packets") == count, "\(note)")
        #expect(sink.json.integer("bytes") == count * 9014)
        #expect(forwarder.json["frames_conserved"] as? Bool == true)
    }

    @Test("--unaligned --frame-size 4001 on both ends: exactly N", arguments: ["native", "generic"])
    func unaligned(attach: String) throws {
        try requireRoot()
        let count = 20_000
        let options = ["--unaligned", "--frame-size", "4001"]
        let received = try FrameOptionsTests.exchange(count: count, receiver: options, sender: options + ["-s", "1500"], attach: attach).received
        #expect(received.integer("packets") == count)
        #expect(received.integer("bytes") == count * 1500)
        let frames = received["frames"] as? [String: Any]
        #expect(frames?.integer("frame_size") == 4001 && frames?["unaligned"] as? Bool == true)
        #expect(received["frames_conserved"] as? Bool == true)
    }

    @Test("--rx-metadata: every packet read with its RX hash, exactly N")
    func rxMetadata() throws {
        try requireRoot()
        let count = 20_000
        let received = try FrameOptionsTests.exchange(count: count, receiver: ["--rx-metadata"], sender: []).received
        #expect(received.integer("packets") == count)
        #expect((received["frames"] as? [String: Any])?.integer("rx_metadata_packets") == count)
        #expect(received["attach"] as? String == "native")
    }

    @Test("bad combinations: a clear message and a non-zero exit", arguments: [
        (["rxdrop", "-i", "lo", "--frame-size", "4001"], "add --unaligned"),
        (["rxdrop", "-i", "lo", "--unaligned", "--frame-size", "5000"], "--frame-size 5000 out of range with --unaligned"),
        (["rxdrop", "-i", "lo", "--mtu", "9000"], "add --multi-buffer"),
        (["rxdrop", "-i", "lo", "--mtu", "10000", "--multi-buffer"], "--mtu 10000 out of range"),
        (["rxdrop", "-i", "lo", "--rx-metadata", "--attach", "generic"], "--rx-metadata needs native mode"),
        (["txonly", "-i", "lo", "--rx-metadata"], "--rx-metadata is for the receiving modes"),
        (["txonly", "-i", "lo", "-s", "9014"], "add --multi-buffer"),
        (["txonly", "-i", "lo", "-s", "9014", "--multi-buffer", "--mtu", "1500"], "exceeds --mtu 1500"),
    ])
    func badCombinations(arguments: [String], message: String) throws {
        try requireRoot()
        let run = try BenchProcess.run(arguments, timeout: 20)
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains(message), "stderr: \(run.standardError)")
    }
}
