import Foundation
import XDP
import XDPControl

/// What a run did, for the summary table and `--json`.
struct SessionResult: Encodable {
    struct Queue {
        var queue: UInt32
        var cpu: Int?
        var packets: UInt64
        var bytes: UInt64
        var transmitDropped: UInt64
        var observedCPU: Int
        var frames: FrameAccounting
        var syscalls: SyscallCounts
    }

    /// Application statistics (xdpsock -a) as JSON numbers.
    struct SyscallsJSON: Encodable {
        var rxWakeups, txKicks, polls, emptyPolls, refusedTxKicks: UInt64
        /// The errno of the last refused TX kick, when one was refused.
        var lastTxKickErrno: Int32?
        init(_ counts: SyscallCounts) {
            (rxWakeups, txKicks, polls, emptyPolls) = (counts.receiveWakeups, counts.transmitKicks, counts.polls, counts.emptyPolls)
            refusedTxKicks = counts.refusedTransmitKicks
            lastTxKickErrno = counts.refusedTransmitKicks > 0 ? counts.lastTransmitKickError : nil
        }
    }

    /// Frame accounting as JSON numbers.
    struct FramesJSON: Encodable {
        var total, free, receiveSide, transmitSide, held: Int
        init(_ account: FrameAccounting) {
            (total, free, receiveSide, transmitSide, held) = (account.total, account.free, account.receiveSide, account.transmitSide, account.held)
        }
        enum CodingKeys: String, CodingKey {
            case total, free, receiveSide = "receive_side", transmitSide = "transmit_side", held
        }
    }

    var mode: BenchmarkMode
    var interface: String
    var attach: AttachMode?
    var zeroCopy: Bool
    var needWakeup: Bool
    var seconds: Double
    var perQueue: [Queue]
    var statistics: SocketStatistics
    var program: RedirectCounters?
    var framesConserved: Bool
    var fallbackReason: String?
    /// Print the syscall counts (xdpsock -a) in the table; JSON always has them.
    var showApplicationStatistics = false
    /// How frames were set up (issue 8's options).
    var frames = FrameSetup()

    struct FrameSetup: Encodable {
        var frameSize = 0
        var unaligned = false
        var multiBuffer = false
        var rxMetadata = false
        var mtu: Int?
        var rxMetadataPackets: UInt64?

        enum CodingKeys: String, CodingKey {
            case frameSize = "frame_size", unaligned, multiBuffer = "multi_buffer", rxMetadata = "rx_metadata", mtu
            case rxMetadataPackets = "rx_metadata_packets"
        }
    }

    var packets: UInt64 { perQueue.reduce(0) { $0 + $1.packets } }
    var bytes: UInt64 { perQueue.reduce(0) { $0 + $1.bytes } }
    var pps: Double { seconds > 0 ? Double(packets) / seconds : 0 }

    enum CodingKeys: String, CodingKey {
        case tool, mode, interface, attach, bind, needWakeup = "need_wakeup", packets, bytes, duration = "duration_s", pps
        case bitsPerSecond = "bits_per_second", perQueue = "per_queue", statistics = "xdp_statistics", program
        case framesConserved = "frames_conserved", fallbackReason = "fallback_reason", frames
    }

    enum QueueKeys: String, CodingKey {
        case queue, cpu, packets, bytes, pps, transmitDropped = "tx_dropped", frames, observedCPU = "cpu_observed", appStats = "app_stats"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("xdpbench", forKey: .tool)
        try container.encode(mode, forKey: .mode)
        try container.encode(interface, forKey: .interface)
        try container.encodeIfPresent(attach?.rawValue, forKey: .attach)
        try container.encode(zeroCopy ? "zero-copy" : "copy", forKey: .bind)
        try container.encode(needWakeup, forKey: .needWakeup)
        try container.encode(packets, forKey: .packets)
        try container.encode(bytes, forKey: .bytes)
        try container.encode((seconds * 1e6).rounded() / 1e6, forKey: .duration)
        try container.encode(pps.rounded(), forKey: .pps)
        try container.encode(seconds > 0 ? (Double(bytes) * 8 / seconds).rounded() : 0, forKey: .bitsPerSecond)
        var queues = container.nestedUnkeyedContainer(forKey: .perQueue)
        for queue in perQueue {
            var entry = queues.nestedContainer(keyedBy: QueueKeys.self)
            try entry.encode(queue.queue, forKey: .queue)
            try entry.encodeIfPresent(queue.cpu, forKey: .cpu)
            try entry.encode(queue.packets, forKey: .packets)
            try entry.encode(queue.bytes, forKey: .bytes)
            try entry.encode(seconds > 0 ? (Double(queue.packets) / seconds).rounded() : 0, forKey: .pps)
            try entry.encode(queue.transmitDropped, forKey: .transmitDropped)
            try entry.encode(FramesJSON(queue.frames), forKey: .frames)
            try entry.encode(SyscallsJSON(queue.syscalls), forKey: .appStats)
            try entry.encode(queue.observedCPU, forKey: .observedCPU)
        }
        try container.encode(StatisticsJSON(statistics), forKey: .statistics)
        try container.encodeIfPresent(program, forKey: .program)
        try container.encode(framesConserved, forKey: .framesConserved)
        try container.encodeIfPresent(fallbackReason, forKey: .fallbackReason)
        try container.encode(frames, forKey: .frames)
    }

    /// The human summary.
    var table: String {
        var lines: [String] = []
        lines.append("\(mode.rawValue) on \(interface): \(attach.map(\.description) ?? "no program"), \(zeroCopy ? "zero-copy" : "copy mode"), need_wakeup \(needWakeup ? "on" : "off")")
        lines.append(pad("queue", 6) + pad("cpu", 5) + pad("packets", 14) + pad("Mpps", 9) + pad("Gbit/s", 9) + "frames")
        for queue in perQueue {
            let rate = seconds > 0 ? Double(queue.packets) / seconds : 0
            lines.append(pad("\(queue.queue)", 6) + pad(queue.cpu.map(String.init) ?? "-", 5) + pad("\(queue.packets)", 14)
                         + pad(format(rate / 1e6), 9) + pad(format(seconds > 0 ? Double(queue.bytes) * 8 / seconds / 1e9 : 0), 9) + queue.frames.description)
        }
        lines.append(pad("total", 11) + pad("\(packets)", 14) + pad(format(pps / 1e6), 9)
                     + pad(format(seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0), 9) + "in \(format(seconds)) s")
        lines.append("XDP_STATISTICS: rx_dropped \(statistics.rxDropped), rx_ring_full \(statistics.rxRingFull), fill_ring_empty \(statistics.rxFillRingEmpty), rx_invalid \(statistics.rxInvalidDescriptors), tx_invalid \(statistics.txInvalidDescriptors), tx_ring_empty \(statistics.txRingEmpty)")
        if let program {
            lines.append("program: redirected \(program.redirected), passed \(program.passed), dropped (no socket) \(program.droppedNoSocket)")
        }
        if showApplicationStatistics {
            let calls = perQueue.reduce(SyscallCounts()) { $0 + $1.syscalls }
            lines.append("app stats: rx wakeups (recvfrom) \(calls.receiveWakeups), tx kicks (sendto) \(calls.transmitKicks), polls \(calls.polls) (empty \(calls.emptyPolls))"
                         + (packets > 0 ? String(format: ", %.3f syscalls per packet", Double(calls.receiveWakeups + calls.transmitKicks + calls.polls) / Double(packets)) : ""))
        }
        var setup = "frames: \(frames.frameSize) bytes, \(frames.unaligned ? "unaligned" : "aligned")"
        if frames.multiBuffer { setup += ", multi-buffer" }
        if let mtu = frames.mtu { setup += ", MTU \(mtu)" }
        if let withHash = frames.rxMetadataPackets { setup += ", RX metadata (hash) on \(withHash) packets" }
        lines.append(setup)
        lines.append("frames conserved: \(framesConserved ? "yes" : "NO")")
        return lines.joined(separator: "\n")
    }
}

/// XDP_STATISTICS with the kernel's field names.
struct StatisticsJSON: Encodable {
    let rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full, rx_fill_ring_empty_descs, tx_ring_empty_descs: UInt64
    init(_ s: SocketStatistics) {
        rx_dropped = s.rxDropped; rx_invalid_descs = s.rxInvalidDescriptors; tx_invalid_descs = s.txInvalidDescriptors
        rx_ring_full = s.rxRingFull; rx_fill_ring_empty_descs = s.rxFillRingEmpty; tx_ring_empty_descs = s.txRingEmpty
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func format(_ value: Double) -> String {
    String(format: "%.3f", value)
}

/// Prints JSON for an encodable value on one line.
func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // Every key snake_case, including the library types' (Interface, QueuePlan),
    // an acronym kept whole: queueIRQs -> queue_irqs, maxRX -> max_rx.
    encoder.keyEncodingStrategy = .custom { path in SnakeCaseKey(path.last!.stringValue) }
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}

/// A coding key in snake_case: a word starts at an upper-case letter that
/// follows a lower-case letter or digit, so acronyms stay one word.
struct SnakeCaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ camel: String) {
        var out = ""
        var previous: Character?
        for character in camel {
            if character.isUppercase, let previous, previous.isLowercase || previous.isNumber { out.append("_") }
            out.append(contentsOf: character.lowercased())
            previous = character
        }
        stringValue = out
    }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }
}
