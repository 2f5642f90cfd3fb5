import Foundation
import XDPControl
import XDPLab

/// BPF objects a test writes in C and compiles with clang at run time
/// (`clang -O2 -g -target bpf`), as a user would: custom programs good and
/// bad, never swift-xdp's embedded object.
public enum TestBPFObject {
    /// Compiles `source` into `NAME.bpf.o` in a per-process directory.
    /// - Returns: The object's path.
    public static func compile(_ name: String, source: String) throws -> String {
        let directory = Self.directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = removeAtExit
        let sourceURL = directory.appendingPathComponent("\(name).bpf.c")
        let object = directory.appendingPathComponent("\(name).bpf.o")
        try source.write(to: sourceURL, atomically: true, encoding: .utf8)
        try Command.run(["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", sourceURL.path, "-o", object.path])
        return object.path
    }

    /// Compiles the C file at `path` (a test program kept in the tree, e.g.
    /// nic-conformance's xsk_test_progs.bpf.c) into `NAME.bpf.o` in the
    /// per-process directory, with the flags EmbedBPF uses.
    /// - Returns: The object's path.
    public static func compile(file path: String) throws -> String {
        let directory = Self.directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = removeAtExit
        let name = URL(fileURLWithPath: path).lastPathComponent.replacingOccurrences(of: ".bpf.c", with: "")
        let object = directory.appendingPathComponent("\(name).bpf.o")
        try Command.run(["clang", "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu",
                         "-c", path, "-o", object.path])
        return object.path
    }

    /// This process's directory of sources and objects.
    static var directory: URL { FileManager.default.temporaryDirectory.appendingPathComponent("swift-xdp-bpf-\(getpid())") }

    /// Removes the directory when the test process exits (registered once),
    /// and the directories of test processes that are gone (a process that
    /// ends without running its exit handlers leaves its own behind).
    private static let removeAtExit: Void = {
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix("swift-xdp-bpf-") {
            if let pid = Int32(name.dropFirst("swift-xdp-bpf-".count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
        atexit { try? FileManager.default.removeItem(at: TestBPFObject.directory) }
    }()

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
