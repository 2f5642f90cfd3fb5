import Foundation
@testable import Packet
import Testing

/// Replays the fuzzer's seed corpus and every kept crash reproducer through
/// the same properties the fuzzer checks (scripts/fuzz.sh runs the fuzzer).
@Suite("fuzz corpus and reproducers")
struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ folder: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = fuzzDirectory.appendingPathComponent(folder)
        // A missing folder is an error, not an empty list: a test over it could not fail.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return try names.sorted().filter { !$0.hasPrefix(".") }.map { name in
            (name, [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test("every seed frame satisfies the properties, and the seeds reach every decision")
    func seeds() throws {
        let seeds = try FuzzCorpusTests.inputs("corpus/packet")
        #expect(seeds.count >= 30, "seed corpus present (Fuzz/make_corpus.py)")
        var decisions: Set<String> = []
        for (name, bytes) in seeds {
            let violations = PacketProperties.violations(bytes.span.bytes)
            #expect(violations.isEmpty, "\(name): \(violations)")
            var copy = bytes
            let decision = copy.withMutableBytes { PacketProperties.forwarder.process(&$0) }
            switch decision {
            case .forward: decisions.insert("forward")
            case .toKernel: decisions.insert("kernel")
            case .drop: decisions.insert("drop")
            }
        }
        #expect(decisions == ["forward", "kernel", "drop"], "the seeds exercise forwarding, kernel hand-off and drops: \(decisions)")
    }

    @Test("every kept reproducer and boundary frame satisfies the properties")
    func reproducers() throws {
        // Crash reproducers the fuzzer found, kept once fixed, and the boundary
        // frames (truncations, lengths past the frame, TTL 0/1, fragments,
        // stacked VLANs) that guard the parser's bounds checks.
        let kept = try FuzzCorpusTests.inputs("regressions/packet")
        #expect(kept.count >= 13, "Fuzz/regressions/packet holds the boundary frames")
        for (name, bytes) in kept {
            let violations = PacketProperties.violations(bytes.span.bytes)
            #expect(violations.isEmpty, "\(name): \(violations)")
        }
    }
}
