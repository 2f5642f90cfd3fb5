import Foundation
import XDPControl
import XDPLab

/// Someone else's XDP program: a minimal XDP_PASS object, compiled here
/// with clang (never swift-xdp's loader or object) and attached with
/// iproute2, as an operator would, so that tests of "never replace a
/// foreign program" face a genuinely foreign one.
public enum ForeignXDPProgram {
    /// The program's name as the kernel shows it.
    public static let name = "xdp_foreign_pas"

    /// The compiled object's path (compiled once per process).
    public static func objectPath() throws -> String {
        try compiled.get()
    }

    private static let compiled: Result<String, Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-xdp-foreign-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = directory.appendingPathComponent("pass.bpf.c")
        let object = directory.appendingPathComponent("pass.bpf.o")
        try """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        SEC("xdp") int xdp_foreign_pass(struct xdp_md *ctx) { return XDP_PASS; }
        char LICENSE[] SEC("license") = "Dual BSD/GPL";
        """.write(to: source, atomically: true, encoding: .utf8)
        try Command.run(["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", source.path, "-o", object.path])
        return object.path
    }

    /// Attaches it to `interface` in `namespace` ("xdpgeneric" or "xdpdrv"), replacing whatever is there.
    public static func attach(interface: String, namespace: String, mode: String = "xdpgeneric") throws {
        try Command.run(["ip", "-force", "-n", namespace, "link", "set", "dev", interface, mode, "obj", try objectPath(), "sec", "xdp"])
    }
}
