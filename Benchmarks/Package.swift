// swift-tools-version: 6.1
// The micro-benchmarks of swift-xdp's hot paths, with package-benchmark
// (ordo-one/benchmark), in a package of their own so that its dependencies
// stay out of users' graphs (as swift-nio does). Run from this directory:
//
//     swift package benchmark                      # p50/p99 per operation
//     swift package benchmark thresholds check     # zero allocations, retains, releases per batch
//
// Needs root for nothing: the rings are in-memory (no kernel socket).

import Foundation
import PackageDescription

// SwiftPM names a path dependency after its directory (swift-xdp, main, a
// worktree's name): the products below refer to it by that identity.
let rootIdentity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "swift-xdp-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Counts retains and releases per thread (package-benchmark's own
        // ARC metrics crash on Swift 6.3 on Linux): see ARCCounter.c.
        .target(name: "ARCCounter", path: "Benchmarks/ARCCounter"),
        .executableTarget(
            name: "XDPBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "XDP", package: rootIdentity),
                .product(name: "Packet", package: rootIdentity),
                .product(name: "XDPControl", package: rootIdentity),
                "ARCCounter",
            ],
            path: "Benchmarks/XDPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
