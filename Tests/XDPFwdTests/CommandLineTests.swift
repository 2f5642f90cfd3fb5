import Foundation
import Glibc
import TestSupport
import Testing
import XDPControl

/// The tools as an operator meets them: versions, exit codes, and refusals
/// that say what is wrong before anything is attached.
@Suite("Command lines of xdpfwd, xdpbench, xdpctl")
struct CommandLineTests {
    @Test("--version on every tool prints the release", arguments: ["xdpfwd", "xdpbench", "xdpctl"])
    func version(tool: String) throws {
        let run = try ToolProcess.run(tool: tool, ["--version"], timeout: 30)
        #expect(run.process.terminationStatus == 0, "\(run.standardError)")
        #expect(run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == SwiftXDPVersion.string)
    }

    @Test("--help documents the exit codes", arguments: ["xdpfwd", "xdpbench", "xdpctl"])
    func exitCodesDocumented(tool: String) throws {
        let run = try ToolProcess.run(tool: tool, ["--help"], timeout: 30)
        #expect(run.standardOutput.contains("Exit codes: 0"), "\(run.standardOutput)")
    }

    @Test("xdpfwd: a usage error exits 64, a configuration error 78, with the subcommand's usage")
    func xdpfwdExitCodes() throws {
        let usage = try ToolProcess.run(tool: "xdpfwd", ["check", "--mode", "xconnect"], timeout: 30)
        #expect(usage.process.terminationStatus == 64)
        #expect(usage.standardError.contains("give --config FILE, or --mode and -i for each port"))
        #expect(usage.standardError.contains("Usage: xdpfwd check"), "the subcommand's usage, not the root's: \(usage.standardError)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-\(UUID().uuidString).yaml").path
        try "mode: macswap\nports:\n  - interface: a\nbatch: 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        chmod(path, 0o644)
        let bad = try ToolProcess.run(tool: "xdpfwd", ["check", "--config", path], timeout: 30)
        #expect(bad.process.terminationStatus == 78, "\(bad.standardError)")
        #expect(bad.standardError.contains("key batch"))
        chmod(path, 0o666)
        let open = try ToolProcess.run(tool: "xdpfwd", ["check", "--config", path], timeout: 30)
        #expect(open.process.terminationStatus == 78)
        #expect(open.standardError.contains("world-writable"))
    }

    @Test("xdpbench refuses a port given twice up front: l2fwd --to itself, latency --peer itself")
    func xdpbenchSamePort() throws {
        let l2fwd = try ToolProcess.run(tool: "xdpbench", ["l2fwd", "-i", "xq0", "--to", "xq0"], timeout: 30)
        #expect(l2fwd.process.terminationStatus == 64)
        #expect(l2fwd.standardError.contains("--to xq0 is the interface itself"), "\(l2fwd.standardError)")
        let late = try ToolProcess.run(tool: "xdpbench", ["l2fwd", "-i", "xq0", "--pinned-map", "/sys/fs/bpf/none", "--to", "xq1"], timeout: 30)
        #expect(late.process.terminationStatus == 64)
        #expect(late.standardError.contains("Usage: l2fwd"), "a usage error found while running shows the subcommand's usage: \(late.standardError)")
        let latency = try ToolProcess.run(tool: "xdpbench", ["latency", "-i", "xq0", "--peer", "xq0"], timeout: 30)
        #expect(latency.process.terminationStatus == 64)
        #expect(latency.standardError.contains("--peer xq0 is the sending port itself"), "\(latency.standardError)")
    }

    @Test("man pages in dist/man cover every subcommand (make man regenerates them); shell completion scripts generate",
          arguments: [("xdpfwd", ["run", "check", "plan", "status", "show"]), ("xdpbench", ["rxdrop", "txonly", "l2fwd", "latency", "inspect"]),
                      ("xdpctl", ["attach", "detach", "status"])])
    func manualAndCompletion(tool: String, subcommands: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try String(contentsOf: root.appendingPathComponent("dist/man/\(tool).1"), encoding: .utf8)
        #expect(page.contains(".Dt \(tool.uppercased()) 1"), "an mdoc page for \(tool)")
        for subcommand in subcommands {
            #expect(page.contains(subcommand), "\(tool).1 mentions \(subcommand): regenerate with make man")
        }
        let bash = try ToolProcess.run(tool: tool, ["--generate-completion-script", "bash"], timeout: 30)
        #expect(bash.process.terminationStatus == 0)
        #expect(bash.standardOutput.contains("_\(tool)"), "\(bash.standardOutput.prefix(200))")
    }

    @Test("skb and drv are accepted as attach modes, as iproute2 and xdpsock name them")
    func attachModeNames() {
        #expect(AttachMode(name: "skb") == .generic)
        #expect(AttachMode(name: "drv") == .native)
        #expect(AttachMode(name: "auto") == .auto)
        #expect(AttachMode(name: "sometimes") == nil)
    }
}
