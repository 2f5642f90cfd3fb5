import CXDP
import Glibc
import Testing
import TestSupport
import XDP
import XDPControl
import XDPLab

/// A user's own program loaded by swift-xdp is described as swift-xdp's
/// (custom, with its name and owner), never as "a foreign program"; that
/// word stays for programs swift-xdp did not load.
@Suite("Custom programs described as ours", .serialized)
struct CustomProgramOwnershipTests {
    /// A user's program without an `owner` map: known as ours only while
    /// this process holds it.
    static let withoutOwner = TestBPFObject.prelude + """
        struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } xsks SEC(".maps");
        SEC("xdp") int xdp_no_owner(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }
        """
    /// The same with an `owner` map: swift-xdp records the process id there.
    static let withOwner = TestBPFObject.prelude + """
        struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } xsks SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } owner SEC(".maps");
        SEC("xdp") int xdp_owned(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }
        """

    @Test("a second attach onto the user's program names it as a custom program loaded by swift-xdp (this process, or its owner pid); ip's program stays foreign",
          arguments: ["xdp_no_owner", "xdp_owned"])
    func describedAsOurs(name: String) throws {
        let path = try TestBPFObject.compile(name, source: name == "xdp_owned" ? Self.withOwner : Self.withoutOwner)
        let lab = try makeLab()
        let interface = lab.links[0].deviceInterface
        let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: interface, object: .file(path), mode: .generic)
        }
        let info = try #require(try lab.inDevice { () throws(XDPError) -> XDPProgram.AttachedProgram? in XDPProgram.attachedProgramInfo(interface: interface) })
        #expect(info.isCustom && !info.isOurs, "\(info)")
        #expect(info.ownerPID == (name == "xdp_owned" ? UInt32(getpid()) : nil), "\(info)")
        do {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in try XDPProgram(interface: interface, mode: .generic) }
            Issue.record("attached over the user's program")
        } catch {
            #expect(error.kind == .busy, "\(error)")
            #expect(!error.hint.contains("foreign"), "the user's program is not foreign: \(error.hint)")
            #expect(error.hint.contains("\(name), a custom program loaded by swift-xdp in this process (pid \(getpid()))"), "\(error.hint)")
        }
        _ = consume program
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: interface) } == nil)

        // A program swift-xdp did not load stays foreign, with its name.
        try ForeignXDPProgram.attach(interface: interface, namespace: lab.deviceNamespace)
        defer { _ = try? Command.run(["ip", "-n", lab.deviceNamespace, "link", "set", "dev", interface, "xdpgeneric", "off"]) }
        let foreign = try #require(try lab.inDevice { () throws(XDPError) -> XDPProgram.AttachedProgram? in XDPProgram.attachedProgramInfo(interface: interface) })
        #expect(!foreign.isCustom && !foreign.isOurs)
        do {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in try XDPProgram(interface: interface, object: .file(path), mode: .generic) }
            Issue.record("attached over a foreign program")
        } catch {
            #expect(error.hint.contains("\(ForeignXDPProgram.name), a foreign program"), "\(error.hint)")
        }
    }
}
