import Foundation
import Packet
import Testing
import XDP
import XDPControl
import TestSupport
import XDPLab

/// xdpbench on the lab with exact counts, and its errors.
@Suite("xdpbench", .serialized)
struct XDPBenchTests {
    @Test("txonly sends N, rxdrop receives exactly N", arguments: ["native", "generic"])
    func txonlyToRxdrop(attach: String) throws {
        try requireRoot()
        let count = 50_000
        let (exchange, note) = try retryingOnceOnCountedDrops("txonly -> rxdrop --attach \(attach)", attempt: {
            let lab = try VethLab()
            let link = lab.links[0]
            let receiver = try BenchProcess.start(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface,
                                                   "--attach", attach, "--count", "\(count)", "-d", "30", "--json"] + BenchExchange.promptReceiver)
            let ready = try waitForProgram(lab, interface: link.deviceInterface) && receiver.waitForStandardError(containing: ": ready")
            // Paced, so a receiver sharing the CPUs with the test runner keeps up and the count is exact.
            let sender = try BenchProcess.run(["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                               "--count", "\(count)", "--rate", "100000", "--json", "--dst-mac", link.deviceMAC.map { String(format: "%02x", $0) }.joined(separator: ":")])
            return BenchExchange(lab: lab, ready: ready, sender: sender, receivers: [receiver])
        }, complete: { $0.isComplete(count: count) && ($0.received["xdp_statistics"] as? [String: Any])?.integer("rx_ring_full") == 0 },
           drops: \.drops)
        let link = exchange.lab.links[0]
        #expect(exchange.ready)
        #expect(exchange.sender.process.terminationStatus == 0, "\(exchange.sender.standardError)")
        #expect(exchange.sender.json.integer("packets") == count)
        #expect(exchange.statuses == [0], "\(exchange.receivers[0].standardError) \(note)")
        let received = exchange.received
        #expect(received.integer("packets") == count, "\(exchange.receivers[0].standardOutput) \(note)")
        #expect(received["attach"] as? String == attach)
        #expect(received["bind"] as? String == "copy")
        #expect(received["frames_conserved"] as? Bool == true)
        #expect((received["per_queue"] as? [[String: Any]])?.first?.integer("packets") == count)
        let stats = received["xdp_statistics"] as? [String: Any]
        #expect(stats?.integer("rx_ring_full") == 0, "\(note)")
        let attached = try exchange.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(attached == nil, "no program left after exit")
    }

    @Test("l2fwd returns N packets to the sender, MACs swapped")
    func l2fwdReflects() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let count = 2000
        let reflector = try BenchProcess.start(["l2fwd", "--netns", lab.deviceNamespace, "-i", link.deviceInterface,
                                          "--count", "\(count)", "-d", "30", "--json"])
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        var peer = try PeerEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface)
        let builder = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC,
                                       sourceIPv4: link.peerIPv4, destinationIPv4: link.deviceIPv4)
        let packets = (0..<count).map { builder.make(frameLength: 64, payload: [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
        let back = peer.exchange(packets, timeout: 20)
        #expect(reflector.wait() == 0, "\(reflector.standardError)")
        #expect(reflector.json.integer("packets") == count)
        #expect(back.count == count)
        #expect(back.allSatisfy { Array($0[0..<6]) == link.peerMAC && Array($0[6..<12]) == link.deviceMAC }, "MACs swapped")
        #expect(Set(back.map { Array($0[42..<44]) }).count == count, "every packet came back once")
    }

    @Test("latency reports N samples")
    func latencySamples() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let run = try BenchProcess.run(["latency", "-i", link.peerInterface, "--netns", lab.peerNamespace,
                                        "--peer", link.deviceInterface, "--peer-netns", lab.deviceNamespace,
                                        "--count", "300", "--json"])
        #expect(run.process.terminationStatus == 0, "\(run.standardError)")
        #expect(run.json.integer("samples") == 300)
        #expect(run.json.integer("lost") == 0)
        let rtt = run.json["rtt_ns"] as? [String: Any]
        #expect((rtt?.integer("p50") ?? 0) > 0 && (rtt?.integer("p99") ?? 0) >= (rtt?.integer("p50") ?? 0))
    }

    @Test("SIGINT stops the run early and detaches the program")
    func interruptDetaches() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let receiver = try BenchProcess.start(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "-d", "30", "--json"])
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        kill(receiver.process.processIdentifier, SIGINT)
        #expect(receiver.wait(timeout: 10) == 0, "\(receiver.standardError)")
        #expect(receiver.standardError.contains("interrupted"))
        let attached = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(attached == nil)
    }

    @Test("bad options and bad situations: a clear message and a non-zero exit", arguments: [
        (["rxdrop", "-i", "lo", "--batch", "0"], "--batch 0 out of range"),
        (["rxdrop", "-i", "lo", "--frame-size", "3000"], "--frame-size 3000 not a power of two"),
        (["rxdrop", "-i", "lo", "--queues", "x"], "--queues x"),
        (["rxdrop", "-i", "lo", "--queues", "0,1", "--cpus", "0"], "one CPU per queue"),
        (["rxdrop", "-i", "lo", "--cpus", "999"], "CPU 999 is not available"),
        (["rxdrop", "-i", "lo", "-d", "0"], "--duration 0.0 out of range"),
        (["rxdrop", "-i", "lo", "--count", "0"], "--count 0 must be positive"),
        (["rxdrop", "-i", "lo", "--attach", "sideways"], "sideways"),
        (["txonly", "-i", "lo", "--dst-mac", "zz"], "--dst-mac zz is not a MAC address"),
        (["txonly", "-i", "lo", "--src-ip", "300.1.1.1"], "--src-ip 300.1.1.1 is not an IPv4 address"),
        (["txonly", "-i", "lo", "-s", "4000", "-f", "2048"], "does not fit"),
        (["rxdrop", "-i", "xd9", "-d", "1"], "interface xd9 not found"),
        (["rxdrop", "-i", "lo", "--netns", "no-such-ns", "-d", "1"], "no namespace no-such-ns"),
        (["lab", "up", "--queues", "0"], "--queues 0 out of range"),
        (["frobnicate"], "Unexpected argument"),
    ])
    func badInput(arguments: [String], message: String) throws {
        try requireRoot()
        let run = try BenchProcess.run(arguments, timeout: 20)
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains(message), "stderr: \(run.standardError)")
    }

    @Test("a busy queue and zero-copy on veth are refused with the reason")
    func busyAndZeroCopy() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let zeroCopy = try BenchProcess.run(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "--zero-copy", "required", "-d", "1"])
        #expect(zeroCopy.process.terminationStatus != 0)
        #expect(zeroCopy.standardError.contains("zero-copy"), "\(zeroCopy.standardError)")
        let holder = try BenchProcess.start(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "-d", "20"])
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        let second = try BenchProcess.run(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "-d", "1"])
        #expect(second.process.terminationStatus != 0)
        #expect(second.standardError.contains("already has XDP program"), "\(second.standardError)")
        kill(holder.process.processIdentifier, SIGTERM)
        #expect(holder.wait(timeout: 10) == 0)
    }

    @Test("without capabilities: EPERM naming them")
    func withoutCapabilities() throws {
        try requireRoot()
        let run = try BenchProcess.run(["rxdrop", "-i", "lo", "-d", "1"], prefix: ["setpriv", "--bounding-set=-all", "--inh-caps=-all"])
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains("EPERM"), "\(run.standardError)")
        #expect(run.standardError.contains("CAP_"), "\(run.standardError)")
    }
}

/// Multi-queue runs and inspect.
@Suite("xdpbench control", .serialized)
struct XDPBenchControlTests {
    @Test("rxdrop -q 0,1 --cpus 0,1: per-queue counts add up, workers on their CPUs")
    func twoQueues() throws {
        try requireRoot()
        let cpus = Worker.allowedCPUs
        try #require(cpus.count >= 2)
        let (exchange, note) = try retryingOnceOnCountedDrops("rxdrop -q 0,1", attempt: {
            let lab = try VethLab(queues: 2)
            let link = lab.links[0]
            let receiver = try BenchProcess.start(["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "-q", "0,1",
                                                   "--cpus", "\(cpus[0]),\(cpus[1])", "--count", "4000", "-d", "30", "--json"] + BenchExchange.promptReceiver)
            let ready = try waitForProgram(lab, interface: link.deviceInterface) && receiver.waitForStandardError(containing: ": ready")
            var senders: [ToolProcess] = []
            for queue in ["0", "1"] {
                senders.append(try BenchProcess.run(["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface, "-q", queue,
                                                     "--count", "2000", "--rate", "50000", "--json"]))
            }
            return BenchExchange(lab: lab, ready: ready, sender: senders[0], receivers: [receiver], otherSenders: [senders[1]])
        }, complete: { $0.isComplete(count: 4000) }, drops: \.drops)
        #expect(exchange.ready)
        for sender in [exchange.sender] + exchange.otherSenders {
            #expect(sender.json.integer("packets") == 2000, "\(sender.standardError)")
        }
        #expect(exchange.statuses == [0], "\(exchange.receivers[0].standardError) \(note)")
        let result = exchange.received
        #expect(result.integer("packets") == 4000, "\(note)")
        let perQueue = result["per_queue"] as? [[String: Any]] ?? []
        #expect(perQueue.count == 2)
        #expect(perQueue.compactMap { $0.integer("packets") }.reduce(0, +) == 4000)
        #expect(perQueue.map { $0.integer("packets") } == [2000, 2000], "each queue got its own sender's packets")
        #expect(perQueue.map { $0.integer("cpu_observed") } == [cpus[0], cpus[1]])
    }

    @Test("inspect reports the veth's capabilities and a plan, as text and JSON")
    func inspect() throws {
        try requireRoot()
        let lab = try VethLab(queues: 4)
        let text = try BenchProcess.run(["inspect", "--netns", lab.deviceNamespace, "-i", lab.links[0].deviceInterface, "--cpus", "0"])
        #expect(text.process.terminationStatus == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("driver veth"))
        #expect(text.standardOutput.contains("xdp-features: basic, redirect, rx-sg (0x23)"))
        #expect(text.standardOutput.contains("rx 4/4"))
        let json = try BenchProcess.run(["inspect", "--netns", lab.deviceNamespace, "-i", lab.links[0].deviceInterface, "--json"])
        let plan = json.json["plan"] as? [String: Any]
        let workers = plan?["workers"] as? [[String: Any]] ?? []
        #expect(workers.flatMap { ($0["assignments"] as? [[String: Any]]) ?? [] }.count == 4)
        // snake_case keys everywhere, features as names beside the bits.
        let interface = (json.json["interfaces"] as? [[String: Any]])?.first ?? [:]
        #expect(interface["is_up"] as? Bool == true, "snake_case keys: \(interface.keys.sorted())")
        #expect(interface["queue_irqs"] != nil, "acronyms stay whole: \(interface.keys.sorted())")
        let xdp = interface["xdp"] as? [String: Any] ?? [:]
        #expect(xdp["flag_names"] as? [String] == ["basic", "redirect", "rx-sg"], "\(xdp)")
        #expect(xdp["flags"] as? Int == 0x23)
    }
}

/// Names and switches users know from xdpsock and xdp-bench.
@Suite("xdpbench options from xdpsock and xdp-bench", .serialized)
struct PeerOptionTests {
    @Test("the interface as the argument, --interval for live lines, --policy fifo --schpri for the workers, --attach skb")
    func peerNames() throws {
        try requireRoot()
        let lab = try VethLab()
        let bench = try BenchProcess.start(["rxdrop", lab.links[0].deviceInterface, "--netns", lab.deviceNamespace, "-d", "2.2",
                                            "--interval", "0.5", "--policy", "fifo", "--schpri", "10", "--attach", "skb"])
        usleep(1_000_000)
        var policies: [Int] = []
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(bench.pid)/task")) ?? []
        for task in tasks {
            let comm = (try? String(contentsOfFile: "/proc/\(bench.pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard comm.hasPrefix("xdpbench-q") else { continue }
            let stat = (try? String(contentsOfFile: "/proc/\(bench.pid)/task/\(task)/stat", encoding: .utf8)) ?? ""
            // Fields after the command name (which ends with ')'): policy is field 41, the 39th after it.
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            policies.append(Int(fields[38]) ?? -1)
        }
        #expect(policies == [1], "one worker, SCHED_FIFO (1): \(policies)")
        bench.wait(timeout: 15)
        #expect(bench.process.terminationStatus == 0, "\(bench.standardError)")
        let live = bench.standardError.split(separator: "\n").filter { $0.contains(" Mpps [") }
        #expect(live.count >= 3, "a live line every 0.5 s: \(live.count) in \(bench.standardError)")
        #expect(bench.standardError.contains("XDP generic (skb)"), "\(bench.standardError)")
    }

    @Test("--app-stats counts the syscalls: copy-mode TX kicks once per batch with or without need_wakeup; an idle receiver's polls are all empty")
    func applicationStatistics() throws {
        try requireRoot()
        let lab = try VethLab()
        func kicks(_ extra: [String]) throws -> (kicks: Int, packets: Int, text: String) {
            let run = try BenchProcess.run(["txonly", "-i", lab.links[0].peerInterface, "--netns", lab.peerNamespace, "--count", "20000",
                                            "--json", "--attach", "skb"] + extra)
            let queue = (run.json["per_queue"] as? [[String: Any]])?.first ?? [:]
            let stats = queue["app_stats"] as? [String: Any] ?? [:]
            return (stats.integer("tx_kicks") ?? -1, run.json.integer("packets") ?? -1, run.standardError)
        }
        let without = try kicks(["--no-need-wakeup"])
        let with = try kicks([])
        #expect(without.packets == 20000 && with.packets == 20000)
        #expect(without.kicks >= 20000 / 64, "a kick per batch without need_wakeup: \(without.kicks)")
        // Copy mode transmits inside sendto(): the kernel keeps asking for the kick.
        #expect(with.kicks >= 20000 / 64, "copy mode asks for a kick per batch with need_wakeup too: \(with.kicks)")
        let idle = try BenchProcess.run(["rxdrop", "-i", lab.links[0].deviceInterface, "--netns", lab.deviceNamespace, "-d", "1", "--json"])
        let idleStats = ((idle.json["per_queue"] as? [[String: Any]])?.first?["app_stats"] as? [String: Any]) ?? [:]
        #expect((idleStats.integer("polls") ?? 0) > 10, "an idle receiver waits in poll(): \(idleStats)")
        #expect(idleStats.integer("empty_polls") == idleStats.integer("polls"), "and every poll times out empty: \(idleStats)")
        let text = try BenchProcess.run(["txonly", lab.links[0].peerInterface, "--netns", lab.peerNamespace, "--count", "1000", "-a", "--quiet"])
        #expect(text.standardOutput.contains("app stats: rx wakeups (recvfrom)"), "\(text.standardOutput)")
    }

    @Test("the interface twice, or not at all, is a usage error")
    func interfaceArgument() throws {
        let none = try BenchProcess.run(["rxdrop", "-d", "1"])
        #expect(none.process.terminationStatus == 64)
        #expect(none.standardError.contains("give the interface"))
        let two = try BenchProcess.run(["rxdrop", "a0", "-i", "b0", "-d", "1"])
        #expect(two.process.terminationStatus == 64)
        #expect(two.standardError.contains("two interfaces given"))
    }
}

/// One exchange between xdpbench processes on a lab of its own, kept for
/// the assertions (and retried once, whole, by retryingOnceOnCountedDrops
/// when it falls short with drops the kernel counted).
struct BenchExchange {
    /// The receivers' workers under SCHED_FIFO: on a loaded machine (make
    /// test beside a build) a receiver left waiting for a CPU longer than its
    /// RX ring lasts at the sender's rate loses packets (rx_ring_full). A
    /// real-time worker runs as soon as poll() wakes it; it waits in poll()
    /// when idle, so it takes no CPU from the rest.
    static let promptReceiver = ["--policy", "fifo", "--schpri", "10"]

    let lab: VethLab
    /// Whether the (first) receiver's program was attached before sending.
    let ready: Bool
    let sender: ToolProcess
    /// The receiving processes (rxdrop, then any forwarder), waited for.
    let receivers: [ToolProcess]
    var otherSenders: [ToolProcess] = []
    /// The receivers' exit statuses.
    let statuses: [Int32]

    init(lab: VethLab, ready: Bool, sender: ToolProcess, receivers: [ToolProcess], otherSenders: [ToolProcess] = []) {
        self.lab = lab
        self.ready = ready
        self.sender = sender
        self.receivers = receivers
        self.otherSenders = otherSenders
        statuses = receivers.map { $0.wait() }
    }

    /// The first receiver's JSON.
    var received: [String: Any] { receivers[0].json }

    /// Every receiver exited 0 having counted `count` packets.
    func isComplete(count: Int) -> Bool {
        statuses.allSatisfy { $0 == 0 } && receivers.allSatisfy { $0.json.integer("packets") == count }
    }

    /// What the kernel counted as dropped: every receiver's sockets, every link's veth ends.
    var drops: CountedDrops {
        receivers.enumerated().map { CountedDrops.socket($0.element.json, label: "receiver \($0.offset)") }.reduce(CountedDrops(), +)
            + lab.links.map { CountedDrops.veth(lab, link: $0) }.reduce(CountedDrops(), +)
    }
}

/// xdpbench runs for these tests.
enum BenchProcess {
    static func start(_ arguments: [String], prefix: [String] = []) throws -> ToolProcess {
        try ToolProcess(tool: "xdpbench", arguments, prefix: prefix)
    }
    static func run(_ arguments: [String], prefix: [String] = [], timeout: Double = 60) throws -> ToolProcess {
        try ToolProcess.run(tool: "xdpbench", arguments, prefix: prefix, timeout: timeout)
    }
}
