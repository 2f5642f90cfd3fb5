import Foundation
import Testing
import TestSupport
import XDP
import XDPControl
import XDPLab

/// `--program FILE[:SECTION]` on xdpbench and xdpctl: a user's object,
/// compiled by clang here, carries the traffic; bad ones are refused.
@Suite("Tools with a user's XDP program", .serialized)
struct CustomProgramToolTests {
    /// A decoy that drops everything first, then the entry point, which
    /// redirects into its own XSKMAP.
    static let source = TestBPFObject.prelude + """
        struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } my_sockets SEC(".maps");
        SEC("xdp") int xdp_decoy(struct xdp_md *ctx) { return XDP_DROP; }
        SEC("xdp") int xdp_mine(struct xdp_md *ctx) { return bpf_redirect_map(&my_sockets, ctx->rx_queue_index, XDP_PASS); }
        """

    static func attachedID(_ lab: VethLab, _ interface: String) throws -> UInt32? {
        try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: interface) }
    }

    @Test("xdpbench rxdrop --program FILE:ENTRY --program-map NAME receives and stops at exactly N", arguments: ["native", "generic"])
    func rxdropWithOwnProgram(attach: String) throws {
        try requireRoot()
        let object = try TestBPFObject.compile("tool_mine", source: Self.source)
        let lab = try VethLab()
        let link = lab.links[0]
        // The receiver stops at exactly `count`; the sender keeps going for 2 s, so
        // the count does not hang on a packet lost while the machine is loaded.
        let count = 2_000
        let receiver = try ToolProcess(tool: "xdpbench", ["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface,
                                                          "--program", "\(object):xdp_mine", "--program-map", "my_sockets",
                                                          "--attach", attach, "--count", "\(count)", "-d", "30", "--json"])
        #expect(try waitForProgram(lab, interface: link.deviceInterface))
        let sender = try ToolProcess.run(tool: "xdpbench", ["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                                            "--count", "40000", "--rate", "20000", "--json"])
        #expect(sender.json.integer("packets") == 40000, "\(sender.standardError)")
        #expect(receiver.wait(timeout: 40) == 0, "\(receiver.standardError)")
        let received = receiver.json
        #expect(received.integer("packets") == count, "\(receiver.standardOutput)")
        #expect(received["attach"] as? String == attach)
        #expect(received["frames_conserved"] as? Bool == true)
        #expect(try Self.attachedID(lab, link.deviceInterface) == nil, "detached at exit")
    }

    @Test("xdpbench refuses a program without the named XSKMAP, and --program with txonly, with the reason")
    func rxdropRefusals() throws {
        try requireRoot()
        let object = try TestBPFObject.compile("tool_mine", source: Self.source)
        let lab = try VethLab()
        let link = lab.links[0]
        let noMap = try ToolProcess.run(tool: "xdpbench", ["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface,
                                                           "--program", "\(object):xdp_mine", "-d", "1"])
        #expect(noMap.process.terminationStatus != 0)
        #expect(noMap.standardError.contains("no map named xsks") && noMap.standardError.contains("my_sockets (xskmap)"), "\(noMap.standardError)")
        #expect(try Self.attachedID(lab, link.deviceInterface) == nil)
        let txonly = try ToolProcess.run(tool: "xdpbench", ["txonly", "-i", link.deviceInterface, "--program", object])
        #expect(txonly.process.terminationStatus != 0)
        #expect(txonly.standardError.contains("txonly attaches no program"), "\(txonly.standardError)")
    }

    @Test("xdpctl attach --program pins its XSKMAP and the program; rxdrop --pinned-map receives exactly N; detach recognises it by the pin")
    func xdpctlWithOwnProgram() throws {
        try requireRoot()
        let object = try TestBPFObject.compile("tool_mine", source: Self.source)
        let lab = try VethLab()
        let link = lab.links[0]
        let pin = "/sys/fs/bpf/swift-xdp-test-\(getpid())-custom"
        defer { _ = try? ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin]) }
        let attach = try ToolProcess.run(tool: "xdpctl", ["attach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin,
                                                          "--program", "\(object):xdp_mine", "--program-map", "my_sockets", "--attach", "generic"])
        try #require(attach.process.terminationStatus == 0, "\(attach.standardError)")
        #expect(try Self.attachedID(lab, link.deviceInterface) != nil, "left attached after xdpctl exited")
        #expect(FileManager.default.fileExists(atPath: pin + "/xsks") && FileManager.default.fileExists(atPath: pin + "/program"))
        #expect(!FileManager.default.fileExists(atPath: pin + "/match_config"), "a user's program has no match map to pin")

        let receiver = try ToolProcess(tool: "xdpbench", ["rxdrop", "--netns", lab.deviceNamespace, "-i", link.deviceInterface, "--pinned-map", pin,
                                                          "--count", "2000", "-d", "30", "--json"])
        usleep(500_000)
        let sender = try ToolProcess.run(tool: "xdpbench", ["txonly", "--netns", lab.peerNamespace, "-i", link.peerInterface,
                                                            "--count", "40000", "--rate", "20000", "--json"])
        #expect(sender.json.integer("packets") == 40000, "\(sender.standardError)")
        #expect(receiver.wait(timeout: 40) == 0, "\(receiver.standardError)")
        #expect(receiver.json.integer("packets") == 2000, "\(receiver.standardOutput) \(receiver.standardError)")

        let detach = try ToolProcess.run(tool: "xdpctl", ["detach", "-i", link.deviceInterface, "--netns", lab.deviceNamespace, "--pin", pin])
        #expect(detach.process.terminationStatus == 0, "\(detach.standardError)")
        #expect(try Self.attachedID(lab, link.deviceInterface) == nil)
        #expect(!FileManager.default.fileExists(atPath: pin))
    }
}
