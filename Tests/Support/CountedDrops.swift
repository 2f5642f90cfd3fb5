import Foundation
import XDPLab

/// Packets the kernel counted as dropped during an exchange: a receiving
/// socket's XDP_STATISTICS (rx_dropped, rx_ring_full, fill ring empty) and
/// the veth ends' rx/tx dropped. On a loaded machine these are what a
/// receiver that was not scheduled in time leaves behind: the environment's
/// drops, told apart from a bug's packets that go missing without a count.
public struct CountedDrops: CustomStringConvertible, Sendable {
    /// Each non-zero counter: where, which, how many.
    public var counters: [(name: String, count: Int)] = []

    public init() {}

    /// Whether the kernel counted any drop.
    public var any: Bool { counters.contains { $0.count > 0 } }

    public var description: String {
        counters.isEmpty ? "no drop counted" : counters.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
    }

    /// Adds the counters of `other`.
    public static func + (lhs: CountedDrops, rhs: CountedDrops) -> CountedDrops {
        var sum = lhs
        sum.counters += rhs.counters
        return sum
    }

    /// The drop counters of an xdpbench `--json` result's `xdp_statistics`
    /// (the sum over its sockets), named after `label`.
    public static func socket(_ result: [String: Any], label: String) -> CountedDrops {
        var drops = CountedDrops()
        let statistics = result["xdp_statistics"] as? [String: Any] ?? [:]
        for key in ["rx_dropped", "rx_ring_full", "rx_fill_ring_empty_descs"] {
            if let count = statistics.integer(key), count > 0 { drops.counters.append(("\(label) \(key)", count)) }
        }
        return drops
    }

    /// The rx and tx drop counters of both ends of `link` (since the lab was
    /// made: its veths are new), read with `ip -s -j link`.
    public static func veth(_ lab: VethLab, link: VethLab.Link) -> CountedDrops {
        var drops = CountedDrops()
        for (namespace, interface) in [(lab.deviceNamespace, link.deviceInterface), (link.peerNamespace, link.peerInterface)] {
            guard let text = try? Command.run(["ip", "-n", namespace, "-s", "-j", "link", "show", "dev", interface], allowFailure: true),
                  let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
                  let stats = list.first?["stats64"] as? [String: Any] else { continue }
            for direction in ["rx", "tx"] {
                if let count = (stats[direction] as? [String: Any])?.integer("dropped"), count > 0 {
                    drops.counters.append(("veth \(interface) \(direction)_dropped", count))
                }
            }
        }
        return drops
    }
}

/// Runs `attempt` (one whole exchange, on a lab of its own) and, only when it
/// fell short of what the test expects (`complete` false) AND the kernel
/// counted drops (`drops`), says so on standard error and runs it once more.
/// The test then asserts on the run returned, unchanged: an exchange that
/// falls short without a counted drop (a lost packet: a bug) is never
/// retried, and one that falls short twice fails.
/// - Returns: The last run, and a note for the assertions' messages (empty
///   when the first attempt was complete).
public func retryingOnceOnCountedDrops<Run>(_ name: String, attempt: () throws -> Run, complete: (Run) -> Bool,
                                            drops: (Run) -> CountedDrops) throws -> (run: Run, note: String) {
    let first = try attempt()
    if complete(first) { return (first, "") }
    let counted = drops(first)
    guard counted.any else { return (first, "") }
    let note = "\(name): the first attempt fell short with drops the kernel counted (\(counted)): an environmental drop (a receiver not scheduled in time); retried once"
    FileHandle.standardError.write(Data("note: \(note)\n".utf8))
    let second = try attempt()
    return (second, complete(second) ? note : note + "; the retry: \(drops(second))")
}
