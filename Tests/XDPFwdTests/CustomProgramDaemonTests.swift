import CXDP
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl

/// xdpfwd with a user's own XDP program (`program:` in the file, `--program` on the command line).
@Suite("xdpfwd with a user's XDP program", .serialized)
struct CustomProgramDaemonTests {
    static let source = TestBPFObject.prelude + """
        struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } fwd_xsks SEC(".maps");
        SEC("xdp") int xdp_fwd_mine(struct xdp_md *ctx) { return bpf_redirect_map(&fwd_xsks, ctx->rx_queue_index, XDP_PASS); }
        """

    @Test("xconnect through program: from the config file: ping 20 of 20, the user's program is the one attached, SIGTERM detaches")
    func xconnectWithOwnProgram() throws {
        let object = try TestBPFObject.compile("fwd_mine", source: Self.source)
        let lab = try ForwardingLab(.bridge)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try "mode: xconnect\nports:\n  - interface: \(lab.portA)\n  - interface: \(lab.portB)\nprogram: \(object):xdp_fwd_mine\nprogram_map: fwd_xsks\nmetrics: off\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        defer { unlink(path) }
        let daemon = try Daemon.start(["run", "--config", path, "--netns", lab.device])
        #expect(try waitForProgram(lab.lab, interface: lab.portB))
        for port in [lab.portA, lab.portB] {
            let id = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(id.map { cxdp_program_is_named($0, "xdp_fwd_mine") } == true, "the user's program on \(port)")
        }
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        for port in [lab.portA, lab.portB] {
            let attached = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(attached == nil, "no program left on \(port)")
        }
    }

    @Test("--program without the named XSKMAP: refused with the reason, nothing left attached; l3 with program: refused")
    func refusals() throws {
        let object = try TestBPFObject.compile("fwd_mine", source: Self.source)
        let lab = try ForwardingLab(.bridge)
        let run = try Daemon.run(["run", "--mode", "xconnect", "-i", lab.portA, "-i", lab.portB, "--netns", lab.device, "--metrics", "off",
                                  "--program", object])
        #expect(run.process.terminationStatus != 0)
        #expect(run.standardError.contains("no map named xsks"), "\(run.standardError)")
        for port in [lab.portA, lab.portB] {
            let attached = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(attached == nil, "nothing left on \(port)")
        }
        let l3 = try Daemon.run(["check", "--mode", "l3", "-i", "a", "-i", "b", "--program", object])
        #expect(l3.process.terminationStatus != 0)
        #expect(l3.standardError.contains("l3 needs swift-xdp's program"), "\(l3.standardError)")
    }
}
