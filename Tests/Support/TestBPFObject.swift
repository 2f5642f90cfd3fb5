import Foundation
import XDPControl

/// BPF objects a test writes in C and compiles with clang at run time
/// (`clang -O2 -g -target bpf`), as a user would: custom programs good and
/// bad, never swift-xdp's embedded object.
public enum TestBPFObject {
    /// Compiles `source` into `NAME.bpf.o` in a per-process directory.
    /// - Returns: The object's path.
    public static func compile(_ name: String, source: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-xdp-bpf-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sourceURL = directory.appendingPathComponent("\(name).bpf.c")
        let object = directory.appendingPathComponent("\(name).bpf.o")
        try source.write(to: sourceURL, atomically: true, encoding: .utf8)
        try Command.run(["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", sourceURL.path, "-o", object.path])
        return object.path
    }

    /// The headers every test program starts with.
    public static let prelude = """
        #include <linux/bpf.h>
        #include <linux/if_ether.h>
        #include <linux/ip.h>
        #include <linux/in.h>
        #include <linux/udp.h>
        #include <bpf/bpf_helpers.h>
        #include <bpf/bpf_endian.h>
        char LICENSE[] SEC("license") = "Dual BSD/GPL";

        """
}
