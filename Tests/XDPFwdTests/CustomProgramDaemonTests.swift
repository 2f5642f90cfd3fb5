import CXDP
import Forwarding
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
        // The program is attached before the workers register their sockets: warm up first.
        let warm = ContinuousClock.now + .seconds(10)
        while try lab.ping(lab.addressB, count: 1) != 1 && ContinuousClock.now < warm {}
        #expect(try lab.ping(lab.addressB, count: 20) == 20)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        for port in [lab.portA, lab.portB] {
            let attached = try lab.lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: port) }
            #expect(attached == nil, "no program left on \(port)")
        }
    }

    @Test("FILE[:SECTION]: the entry point after the last colon, unless that colon belongs to the path", arguments: [
        ("/opt/prog.o", "/opt/prog.o", nil),
        ("/opt/prog.o:xdp_mine", "/opt/prog.o", "xdp_mine"),
        ("/opt/prog.o:xdp.frags", "/opt/prog.o", "xdp.frags"),
        ("/opt/v1:2/prog.o", "/opt/v1:2/prog.o", nil),
        ("/opt/v1:2/prog.o:xdp/mine", "/opt/v1:2/prog.o:xdp/mine", nil),
        ("prog.o:", "prog.o", nil),
        ("/proc/self/status:xdp/mine", "/proc/self/status", "xdp/mine"),   // an existing file: a section with a slash
        ("/proc/self/status", "/proc/self/status", nil),
    ] as [(String, String, String?)])
    func programArgument(text: String, path: String, entryPoint: String?) {
        let program = EngineConfiguration.Program(argument: text, socketMapName: "m")
        #expect(program.path == path)
        #expect(program.entryPoint == entryPoint)
        #expect(program.socketMapName == "m")
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
