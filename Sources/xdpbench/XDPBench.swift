import ArgumentParser
import ToolSupport
import XDPControl

/// `xdpbench`: throughput and latency of AF_XDP on a NIC queue (or the
/// built-in veth lab), in the shape of the kernel's xdpsock and xdp-tools'
/// xdp-bench.
@main
struct XDPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpbench",
        abstract: "AF_XDP throughput and latency benchmark (swift-xdp).",
        discussion: """
            Runs against any interface whose driver speaks XDP, or against the built-in
            veth lab (`xdpbench lab up`), which needs no spare NIC. Every run stops by
            itself (--duration, default 5 s, or --count).

            Exit codes: 0 done; 1 a setup or run-time error (the message names the fix);
            64 a usage error (bad option or value).
            """,
        version: SwiftXDPVersion.string,
        subcommands: [RxDrop.self, TxOnly.self, L2Fwd.self, Latency.self, Inspect.self, LabCommand.self, Demo.self])

    /// ArgumentParser's entry; an error found while running shows the subcommand's usage.
    static func main() { CommandEntry.run(XDPBench.self) }
}
