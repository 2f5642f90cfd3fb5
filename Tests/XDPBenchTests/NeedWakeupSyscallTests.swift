import Foundation
import Testing
import TestSupport
import XDP
import XDPControl
import XDPLab

/// need_wakeup on and off, with the system calls counted by strace from the
/// kernel's side (not the library's own bookkeeping).
@Suite("need_wakeup and system calls", .serialized)
struct NeedWakeupSyscallTests {
    /// The number of calls of each system call in an `strace -c` summary.
    static func calls(in path: String) throws -> [String: Int] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // % time, seconds, usecs/call, calls, [errors], syscall
            guard fields.count >= 5, Double(fields[0]) != nil, let calls = Int(fields[3]), let name = fields.last, name != "total" else { continue }
            counts[String(name)] = calls
        }
        return counts
    }

    @Test("rxdrop and txonly with need_wakeup on and off: rxdrop stops at exactly N; copy mode never asks for an RX wakeup; TX kicks per batch, never per packet",
          arguments: [true, false])
    func needWakeupSyscalls(needWakeup: Bool) throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-xdp-strace-\(getpid())-\(needWakeup)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let flag = needWakeup ? [] : ["--no-need-wakeup"]
        func strace(_ output: String) -> [String] { ["strace", "-f", "-qq", "-c", "-e", "trace=sendto,recvfrom,poll,ppoll", "-o", output] }
        // The receiver stops at exactly `count`; the sender sends 4x that, so a
        // packet lost while the machine is loaded cannot hang the count.
        let count = 10_000
        let sent = 4 * count
        let receiver = try ToolProcess(tool: "xdpbench", ["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface,
                                                          "--count", "\(count)", "-d", "30", "--json"] + flag,
                                       prefix: strace(directory + "/rx"))
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        let sender = try ToolProcess.run(tool: "xdpbench", ["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                                            "--count", "\(sent)", "--rate", "100000", "--batch", "64", "--json"] + flag,
                                         prefix: strace(directory + "/tx"))
        #expect(sender.process.terminationStatus == 0, "\(sender.standardError)")
        #expect(receiver.wait(timeout: 40) == 0, "\(receiver.standardError)")
        #expect(receiver.json.integer("packets") == count, "\(receiver.standardOutput)")
        let rx = try Self.calls(in: directory + "/rx")
        let tx = try Self.calls(in: directory + "/tx")
        // Copy mode: the kernel never sets the fill ring's need-wakeup flag,
        // and without need_wakeup the library has no reason to wake RX either.
        #expect(rx["poll", default: 0] + rx["ppoll", default: 0] > 0, "the summary was read: rxdrop waited in poll(): \(rx)")
        #expect(rx["recvfrom", default: 0] == 0, "rxdrop's system calls: \(rx)")
        // The TX flag is always set in copy mode: kicks follow the batches.
        let kicks = tx["sendto", default: 0]
        #expect(kicks >= sent / 64 && kicks <= sent / 8, "txonly kicked \(kicks) times for \(sent) packets in batches of 64: \(tx)")
    }
}
