// swift-tools-version:6.2
import PackageDescription

/// Settings every Swift target shares. `Lifetimes` lets `Frame` hand out
/// `Span`-family views tied to its own lifetime; `SuppressedAssociatedTypes`
/// lets `BatchHandler.Packet` be a move-only `Frame` or `FramePacket` (one
/// batch API over both kinds). Clients need neither flag.
let swiftSettings: [SwiftSetting] = [
    .enableExperimentalFeature("Lifetimes"),
    .enableExperimentalFeature("SuppressedAssociatedTypes"),
]

let package = Package(
    name: "swift-xdp",
    platforms: [.macOS(.v26)],
    products: [
        .library(name: "XDP", targets: ["XDP"]),
        .library(name: "XDPControl", targets: ["XDPControl"]),
        .library(name: "Packet", targets: ["Packet"]),
        .library(name: "Forwarding", targets: ["Forwarding"]),
        .library(name: "XDPService", targets: ["XDPService"]),
        // The veth lab, for tests and benchmarks (a nested package's too);
        // nothing an embedder's data plane needs.
        .library(name: "XDPLab", targets: ["XDPLab"]),
        .executable(name: "xdpbench", targets: ["xdpbench"]),
        .executable(name: "xdpfwd", targets: ["xdpfwd"]),
        .executable(name: "xdpctl", targets: ["xdpctl"]),
        .executable(name: "udp-echo", targets: ["udp-echo"]),
        .executable(name: "packet-counter", targets: ["packet-counter"]),
        .executable(name: "port-steer", targets: ["port-steer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        // `swift package generate-documentation` (make docs); a plugin only, nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C shims, one per concern; the package graph keeps each to the
        // modules that use it.
        // CXDP: kernel and libxdp/libbpf headers, AF_XDP ring and socket
        // helpers, LIBBPF_OPTS wrappers, capabilities, threads, setns.
        .target(
            name: "CXDP",
            linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]
        ),
        // CNetdevProbe: what an interface can do, asked of the kernel without
        // libbpf (netdev generic netlink for XDP features, ethtool and
        // interface ioctls). Used by XDP (error hints, queue count),
        // XDPControl (Interface, SystemChanges) and xdpbench.
        .target(name: "CNetdevProbe"),
        // CUnixSocket: a descriptor over a Unix socket (SCM_RIGHTS), for the
        // Kubernetes device plugin's handshake (XDPControl) and its test double.
        .target(name: "CUnixSocket"),
        // The queue API: UMEM, frame pool, the four rings, sockets, frames.
        .target(
            name: "XDP",
            dependencies: ["CXDP", "CNetdevProbe"],
            swiftSettings: swiftSettings
        ),
        // Packet header views and builders over byte buffers: stdlib only.
        .target(
            name: "Packet",
            swiftSettings: swiftSettings
        ),
        // Programs, interfaces, namespaces: everything around the fast path.
        .target(
            name: "XDPControl",
            dependencies: ["XDP", "CXDP", "CNetdevProbe", "CUnixSocket"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedBPF"]
        ),
        // A throw-away veth network in namespaces and a command runner, for
        // tests, examples' tests, benchmarks and the tools' lab and demo
        // commands; kept out of the libraries an embedder links (as swift-nio
        // keeps NIOEmbedded apart). Its tc program (lab_vlan_push.bpf.c) is
        // embedded here by EmbedBPF.
        .target(
            name: "XDPLab",
            dependencies: ["XDP", "XDPControl", "CXDP"],
            exclude: ["lab_vlan_push.bpf.c"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedBPF"]
        ),
        // The daemon's forwarding pipeline: xconnect, macswap, l3; counters.
        .target(
            name: "Forwarding",
            dependencies: ["XDP", "XDPControl", "Packet"],
            swiftSettings: swiftSettings
        ),
        // Embedding: a service (pinned workers, your handler) or an async
        // stream of the packets a match selects, for other Swift services.
        .target(
            name: "XDPService",
            dependencies: [
                "XDP", "XDPControl",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Examples of embedding, built by `swift build` and run by the tests.
        .executableTarget(
            name: "udp-echo",
            dependencies: [
                "XDPService", "XDP", "XDPControl", "Packet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/udp-echo",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "packet-counter",
            dependencies: [
                "XDPService", "XDP", "XDPControl", "Packet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/packet-counter",
            swiftSettings: swiftSettings
        ),
        // Bring your own XDP program: port_steer.bpf.c, compiled and embedded
        // at build time by EmbedBPF (from the example's own directory).
        .executableTarget(
            name: "port-steer",
            dependencies: [
                "XDP", "XDPControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/port-steer",
            exclude: ["port_steer.bpf.c"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedBPF"]
        ),
        .executableTarget(
            name: "xdpfwd",
            dependencies: [
                "ToolSupport",
                "Forwarding", "XDP", "XDPControl", "Packet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Privileged setup for unprivileged AF_XDP users: attach, pin, detach.
        .executableTarget(
            name: "xdpctl",
            dependencies: [
                "ToolSupport",
                "XDP", "XDPControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "xdpbench",
            dependencies: [
                "ToolSupport",
                "XDP", "XDPControl", "XDPLab", "Packet", "Forwarding", "CNetdevProbe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // xskxceiver-style cases on two existing, wired NICs with every socket
        // in zero-copy: the emulated-NIC lab runs it in its guest
        // (scripts/emulated-nic/guest-conformance.sh). Test-only: no product.
        // Its own XDP programs (xsk_test_progs.bpf.c) are embedded by EmbedBPF.
        .executableTarget(
            name: "nic-conformance",
            dependencies: ["XDP", "XDPControl", "Packet"],
            path: "Tests/EmulatedNIC/nic-conformance",
            exclude: ["xsk_test_progs.bpf.c"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedBPF"]
        ),
        // What the package's command-line tools share (their entry point).
        .target(
            name: "ToolSupport",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        // Compiles bpf/*.bpf.c with clang -target bpf and embeds the object
        // into XDPControl, so no binary depends on the working directory.
        .plugin(name: "EmbedBPF", capability: .buildTool()),
        // Counts the test thread's heap allocations (test builds only).
        .target(
            name: "AllocationCounter",
            path: "Tests/AllocationCounter"
        ),
        .testTarget(
            name: "XDPTests",
            dependencies: ["XDP", "AllocationCounter"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ForwardingTests",
            dependencies: ["Forwarding", "XDP", "Packet"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PacketTests",
            dependencies: ["Packet"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPControlTests",
            dependencies: ["XDPControl", "XDP"],
            swiftSettings: swiftSettings
        ),
        // Shared by the tests that run the package's tools: processes, lab waits.
        .target(
            name: "TestSupport",
            dependencies: ["XDP", "XDPControl", "XDPLab", "CUnixSocket"],
            path: "Tests/Support",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPBenchTests",
            dependencies: ["XDP", "XDPControl", "XDPLab", "Packet", "TestSupport", "xdpbench"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPFwdTests",
            dependencies: ["XDP", "XDPControl", "XDPLab", "Packet", "Forwarding", "TestSupport", "xdpfwd"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPCtlTests",
            dependencies: ["XDP", "XDPControl", "XDPLab", "TestSupport", "xdpctl", "xdpbench"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPServiceTests",
            dependencies: ["XDPService", "XDP", "XDPControl", "XDPLab", "Packet", "TestSupport", "udp-echo", "packet-counter", "port-steer",
                           .product(name: "MetricsTestKit", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XDPIntegrationTests",
            dependencies: ["XDP", "XDPControl", "XDPLab", "Packet", "TestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
