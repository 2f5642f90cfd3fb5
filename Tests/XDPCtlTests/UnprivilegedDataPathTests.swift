import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// The unprivileged data path: `xdpctl attach` (root) pins the XSKMAP for a
/// user; that user's process, holding only CAP_NET_RAW, receives through it.
@Suite("xdpctl and the unprivileged data path", .serialized)
struct UnprivilegedDataPathTests {
    static let nobody: UInt32 = 65534

    /// A copy of `tool` that any user can execute (the build directory may sit under /root).
    static func publicCopy(of tool: String, in directory: String) throws -> String {
        let target = directory + "/" + tool
        try FileManager.default.copyItem(atPath: toolPath(tool), toPath: target)
        chmod(directory, 0o755)
        chmod(target, 0o755)
        return target
    }

    /// Runs the command as `nobody` with only CAP_NET_RAW, in the lab's device namespace (nsenter keeps bpffs visible).
    static func asNobody(_ namespace: String) -> [String] {
        ["nsenter", "--net=/run/netns/\(namespace)",
         "setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups",
         "--inh-caps=-all,+net_raw", "--ambient-caps=+net_raw", "--bounding-set=-all,+net_raw"]
    }

    @Test("xdpctl pins the XSKMAP for nobody; rxdrop as nobody with only CAP_NET_RAW receives exactly N; detach removes program and pins")
    func unprivilegedReceive() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let pin = "/sys/fs/bpf/swift-xdp-test-\(getpid())"
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xdpctl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            _ = try? ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let bench = try UnprivilegedDataPathTests.publicCopy(of: "xdpbench", in: scratch)

        // Without the privileged step, nobody gets a clear refusal, not a crash.
        let early = try ToolProcess.run(tool: bench, ["rxdrop", "-i", link.deviceInterface, "--pinned-map", pin, "-d", "1", "--frames", "1024"],
                                        prefix: UnprivilegedDataPathTests.asNobody(lab.deviceNamespace))
        #expect(early.process.terminationStatus != 0)
        #expect(early.standardError.contains("xdpctl attach"), "\(early.standardError)")

        let attach = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace,
                                                          "--pin", pin, "--owner", "\(UnprivilegedDataPathTests.nobody)"])
        try #require(attach.process.terminationStatus == 0, "\(attach.standardError)")
        let programID = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(programID != nil, "left attached after xdpctl exited")

        // Without --pinned-map, nobody cannot attach a program of its own.
        let denied = try ToolProcess.run(tool: bench, ["rxdrop", "-i", link.deviceInterface, "-d", "1", "--frames", "1024"],
                                         prefix: UnprivilegedDataPathTests.asNobody(lab.deviceNamespace))
        #expect(denied.process.terminationStatus != 0)
        #expect(denied.standardError.contains("CAP_"), "\(denied.standardError)")

        let receiver = try ToolProcess(tool: bench, ["rxdrop", "-i", link.deviceInterface, "--pinned-map", pin,
                                                     "--count", "2000", "-d", "30", "--frames", "1024", "--json"],
                                       prefix: UnprivilegedDataPathTests.asNobody(lab.deviceNamespace))
        // The receiver stops at exactly 2000; the sender keeps going for 2 s so
        // the count does not depend on when the receiver's socket entered the map.
        usleep(500_000)
        let sender = try ToolProcess.run(tool: "xdpbench", ["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                                            "--count", "40000", "--rate", "20000", "--json"])
        #expect(sender.json.integer("packets") == 40000, "\(sender.standardError)")
        #expect(receiver.wait(timeout: 40) == 0, "\(receiver.standardError)")
        #expect(receiver.json.integer("packets") == 2000, "\(receiver.standardOutput) \(receiver.standardError)")
        #expect(receiver.json["frames_conserved"] as? Bool == true)

        let detach = try ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
        #expect(detach.process.terminationStatus == 0, "\(detach.standardError)")
        let left = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(left == nil)
        #expect(!FileManager.default.fileExists(atPath: pin))
    }

    @Test("xdpctl refuses what it must: a program in use by a live process, a missing interface, bad options, no bpffs")
    func refusals() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let pin = "/sys/fs/bpf/swift-xdp-test-\(getpid())-r"
        // A live xdpbench owns the program: detach must not take it away.
        let receiver = try ToolProcess(tool: "xdpbench", ["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "-d", "5", "--quiet"])
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        let detachLive = try ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
        #expect(detachLive.process.terminationStatus != 0)
        #expect(detachLive.standardError.contains("is using it"), "\(detachLive.standardError)")
        let attachBusy = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
        #expect(attachBusy.process.terminationStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: pin + "/xsks"), "nothing pinned on failure")
        kill(receiver.pid, SIGINT)
        receiver.wait(timeout: 15)
        let missing = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", "nosuchif0", "--pin", pin])
        #expect(missing.process.terminationStatus != 0)
        #expect(missing.standardError.contains("not found"), "\(missing.standardError)")
        let badOwner = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--owner", "no-such-user-x", "--pin", pin])
        #expect(badOwner.standardError.contains("no such user"), "\(badOwner.standardError)")
        let badMatch = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--match", "sctp:80", "--pin", pin])
        #expect(badMatch.standardError.contains("udp:PORT[-PORT], tcp:PORT[-PORT], protocol:NUMBER"), "\(badMatch.standardError)")
        let badGroup = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--owner", "nobody:no-such-group-x", "--pin", pin])
        #expect(badGroup.standardError.contains("no such group no-such-group-x"), "\(badGroup.standardError)")
        let notBPF = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", "/tmp/not-bpffs-\(getpid())"])
        #expect(notBPF.process.terminationStatus != 0)
        #expect(notBPF.standardError.contains("bpffs"), "\(notBPF.standardError)")
        let after = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(after == nil, "a failed attach leaves nothing attached")
    }

    @Test("xdpctl as operators use it: USER:GROUP names, tcp/protocol/ethertype matches, status of every interface (JSON), detach finds the --pin folder by itself")
    func operatorWorkflow() throws {
        try requireRoot()
        let lab = try VethLab()
        let link = lab.links[0]
        let pin = "/sys/fs/bpf/swift-xdp-test-\(getpid())-o"
        defer { _ = try? ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin]) }
        let nogroup = try #require(getgrnam("nogroup")).pointee.gr_gid
        let attach = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace,
                                                          "--pin", pin, "--owner", "nobody:nogroup", "--match", "tcp:8080-8090", "--attach", "skb"])
        try #require(attach.process.terminationStatus == 0, "\(attach.standardError)")
        var info = stat()
        #expect(stat(pin + "/xsks", &info) == 0)
        #expect(info.st_gid == nogroup, "the group name was resolved (gid \(info.st_gid), nogroup is \(nogroup))")

        let status = try ToolProcess.run(tool: "xdpctl", ["status", "--netns", lab.deviceNamespace, "--json"])
        #expect(status.process.terminationStatus == 0, "\(status.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any])
        let entries = (object["interfaces"] as? [[String: Any]]) ?? []
        #expect(entries.contains { $0["interface"] as? String == "lo" }, "every interface of the namespace, lo included")
        let entry = try #require(entries.first { $0["interface"] as? String == link.deviceInterface })
        #expect(entry["ours"] as? Bool == true)
        #expect(entry["mode"] as? String == "generic")
        #expect(entry["left_attached"] as? Bool == true)
        #expect(entry["program_name"] as? String == "xdp_redirect_qu")
        #expect(entry["match"] as? String == "tcp:8080-8090", "\(entry)")
        #expect((entry["pins"] as? [String])?.contains(pin + "/xsks") == true, "the recorded pin folder: \(entry)")
        let text = try ToolProcess.run(tool: "xdpctl", ["status", "-i", link.deviceInterface, "--netns", lab.deviceNamespace])
        #expect(text.standardOutput.contains("swift-xdp's, left attached by xdpctl attach"), "\(text.standardOutput)")

        for match in ["protocol:47", "ethertype:0x88b5", "udp:53"] {
            #expect((try? MatchArgumentProbe.accepts(match)) == true, "--match \(match)")
        }
        // Detach without --pin: the folder attach recorded.
        let detach = try ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace])
        #expect(detach.process.terminationStatus == 0, "\(detach.standardError)")
        #expect(detach.standardOutput.contains("pins in \(pin) removed"), "\(detach.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: pin + "/xsks"))
        let after = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(after == nil)
    }
}

/// `--match` values xdpctl accepts, checked through the real binary's parser
/// on an interface that does not exist (the match is parsed first).
enum MatchArgumentProbe {
    static func accepts(_ match: String) throws -> Bool {
        let run = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", "nosuchif9", "--match", match, "--pin", "/sys/fs/bpf/none"])
        return run.standardError.contains("not found") && !run.standardError.contains("--match")
    }
}
