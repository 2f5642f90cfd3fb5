import Foundation
import Glibc
import TestSupport
import Testing
@testable import xdpfwd

/// Random and truncated configuration files and command lines: every one is
/// accepted or refused with an error; none crashes the daemon.
@Suite("xdpfwd configuration fuzzing")
struct ConfigurationFuzzTests {
    /// SplitMix64: a reproducible stream from a printed seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let seeds: [String] = [
        (try? String(contentsOf: repository.appendingPathComponent("dist/xdpfwd.yaml"), encoding: .utf8)) ?? "",
        "mode: l3\nports:\n  - interface: a\n    queues: 0-3\n  - interface: b\ncpus: 0-1\nmetrics: 127.0.0.1:9109\nprogram_loss_policy: exit\n",
        "mode: xconnect\nports: [{interface: a}, {interface: b}]\nattach: generic\nframe_size: 4096\nchannels: 2\nirq_affinity: spread\n",
    ]

    /// Pieces that stress a YAML parser and the decoder.
    static let tokens = [":", "-", "\n", "  ", "[", "]", "{", "}", ",", "&a ", "*a", "!!binary ", "!!int ", "~", "null", "0x1F", "-1",
                         "99999999999999999999", "1e308", "\"", "'", "\\", "#", "|", ">", "?", "%YAML 1.2\n", "---\n", "...\n",
                         "mode", "ports", "interface", "queues", "cpus", "routes", "prefix", "via", "0-", "4294967296", "é", "\u{0}", "\t"]

    static func mutate(_ text: String, _ random: inout Generator) -> String {
        var bytes = Array(text.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))         // truncate
            case 1 where !bytes.isEmpty:                                                                 // delete a range
                let start = Int.random(in: 0..<bytes.count, using: &random)
                bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...16, using: &random)))
            case 2:                                                                                      // insert a token
                let at = Int.random(in: 0...bytes.count, using: &random)
                bytes.insert(contentsOf: Array(tokens.randomElement(using: &random)!.utf8), at: at)
            case 3 where !bytes.isEmpty:                                                                 // flip a byte
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            default:                                                                                     // duplicate a line
                var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                if let line = lines.randomElement(using: &random) { lines.insert(line, at: Int.random(in: 0...lines.count, using: &random)) }
                bytes = Array(lines.joined(separator: "\n").utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("5000 mutated and truncated configs: each parses or is refused with an error, in process")
    func mutatedConfigurations() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = Generator(state: seed)
        var accepted = 0
        for iteration in 0..<5000 {
            let text = ConfigurationFuzzTests.mutate(ConfigurationFuzzTests.seeds[iteration % ConfigurationFuzzTests.seeds.count], &random)
            if let configuration = try? DaemonConfiguration.parse(text), (try? configuration.engineConfiguration()) != nil { accepted += 1 }
        }
        // Reaching here is the check; the count shows the mutations are not all trivially invalid.
        #expect(accepted > 0, "seed \(seed): some mutations stay valid")
        #expect(accepted < 5000, "seed \(seed)")
    }

    @Test("1000 random command lines: parsed or refused, in process")
    func randomCommandLines() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = Generator(state: seed)
        let words = ["run", "check", "plan", "--config", "/nonexistent.yaml", "--mode", "xconnect", "macswap", "l3", "bogus", "-i", "--interface",
                     "lo", "--cpus", "0-1", "x", "--attach", "native", "generic", "--netns", "--metrics", "off", "127.0.0.1:0", "--help",
                     "--keep-capabilities", "", "-", "--", "9999999999999"]
        var parsed = 0
        for _ in 0..<1000 {
            let arguments = (0..<Int.random(in: 0...8, using: &random)).map { _ in words.randomElement(using: &random)! }
            if let command = try? XDPFwd.parseAsRoot(arguments) {
                parsed += 1
                if let check = command as? Check { _ = try? check.options.effective() }
            }
        }
        #expect(parsed > 0, "seed \(seed)")
    }

    @Test("truncated configs through the real binary: `xdpfwd check` exits with a status, never a signal")
    func truncatedConfigurationsThroughTheBinary() throws {
        let text = ConfigurationFuzzTests.seeds[1]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfwd-fuzz-\(UUID().uuidString).yaml").path
        defer { unlink(path) }
        let cuts = stride(from: 0, through: text.utf8.count, by: max(1, text.utf8.count / 24))
        for cut in cuts {
            try String(decoding: Array(text.utf8.prefix(cut)), as: UTF8.self).write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
            let run = try ToolProcess.run(tool: "xdpfwd", ["check", "--config", path], timeout: 30)
            #expect(run.process.terminationReason == .exit, "cut at \(cut): \(run.standardError)")
            #expect(run.process.terminationStatus == 0 || run.standardError.contains("Error"), "cut at \(cut): \(run.standardError)")
        }
    }
}
