import ArgumentParser
import Foundation
import Histogram
import Packet
import XDP
import XDPControl

/// Ping-pong between two ports: a timestamped packet leaves -i, is reflected
/// by an AF_XDP socket on --peer (MACs swapped), and its round trip is timed
/// when it comes back. Percentiles from an HdrHistogram.
struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Round-trip latency through AF_XDP on two ports (timestamped ping-pong).")

    @Option(name: [.short, .customLong("interface")], help: "The sending port.")
    var interface: String
    @Option(help: "The reflecting port.")
    var peer: String
    @Option(help: "Network namespace of the sending port.")
    var netns: String?
    @Option(name: .customLong("peer-netns"), help: "Network namespace of the reflecting port (default: --netns).")
    var peerNetns: String?
    @Option(name: [.short, .customLong("count")], help: "Samples to take.")
    var count: Int = 1000
    @Option(name: [.short, .customLong("duration")], help: "Time limit in seconds.")
    var duration: Double = 10
    @Option(name: [.customShort("s"), .customLong("packet-size")], help: "Frame size in bytes (60 or more).")
    var packetSize: Int = 64
    @Option(help: "Microseconds between pings.")
    var interval: Int = 0
    @Option(help: "XDP attach mode: native (drv), generic (skb) or auto.")
    var attach: AttachMode = .auto
    @Flag(help: "Busy-wait for the packet instead of poll().")
    var spin = false
    @Flag(help: "Print one JSON object at the end.")
    var json = false

    func validate() throws {
        guard count > 0, count <= 10_000_000 else { throw ValidationError("--count \(count) out of range: use 1 to 10000000") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration \(duration) out of range") }
        guard (60...1500).contains(packetSize) else { throw ValidationError("--packet-size \(packetSize) out of range: use 60 to 1500") }
        guard interval >= 0 else { throw ValidationError("--interval must not be negative") }
        if peer == interface && (peerNetns ?? netns) == netns {
            throw ValidationError("--peer \(peer) is the sending port itself (-i): give the port that reflects, e.g. the other end of a veth pair")
        }
    }

    func run() throws {
        installSignalHandlers()
        let config = UMEMConfiguration(frameCount: 1024, frameSize: 2048, fillRingSize: 512, completionRingSize: 512)
        func open(_ interface: String, _ namespace: String?) throws(XDPError) -> Port {
            let body = { () throws(XDPError) -> Port in
                var umem = try UMEM(configuration: config)
                var socket = try Socket(umem: umem, interface: interface, queue: 0)
                socket.fill.refill(from: &umem.pool, upTo: 512)
                let program = try XDPProgram(interface: interface, mode: attach)
                try program.register(socket)
                return Port(umem: umem, socket: socket, program: program)
            }
            return try NetworkNamespace.withEntered(namespace, body)
        }
        var senderPort = try open(interface, netns)
        var reflectorPort = try open(peer, peerNetns ?? netns)
        let builder = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                                       sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 0, 2], sourcePort: 7, destinationPort: 7)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var lost = 0
        var samples = 0
        let deadline = ContinuousClock.now + .milliseconds(Int(duration * 1000))
        let started = ContinuousClock.now

        func wait(for socket: inout Socket, pool: inout FramePool, until limit: ContinuousClock.Instant) -> Bool {
            while socket.rx.peek(upTo: 1) == 0 {
                if ContinuousClock.now >= limit || interrupted.isRaised { return false }
                socket.fill.refill(from: &pool)
                if !spin { socket.poll(timeoutMilliseconds: 1) }
            }
            return true
        }

        while samples + lost < count && ContinuousClock.now < deadline && !interrupted.isRaised {
            senderPort.socket.completion.drain(into: &senderPort.umem.pool)
            reflectorPort.socket.completion.drain(into: &reflectorPort.umem.pool)
            guard var ping = senderPort.umem.pool.allocate() else { break }
            let sequence = UInt64(samples + lost)
            let sentAt = ContinuousClock.now
            ping.length = packetSize
            do {
                var bytes = ping.mutableBytes
                builder.write(into: &bytes, frameLength: packetSize)
                bytes.storeBytes(of: sequence, toByteOffset: UDPPacketBuilder.headerLength, as: UInt64.self)
            }
            senderPort.socket.tx.push(ping)
            senderPort.socket.tx.submit()
            senderPort.socket.kickTransmit()
            let legLimit = ContinuousClock.now + .milliseconds(100)
            guard wait(for: &reflectorPort.socket, pool: &reflectorPort.umem.pool, until: legLimit) else { lost += 1; continue }
            var reflected = reflectorPort.socket.rx.receive()
            reflectorPort.socket.rx.release()
            var swap = MACSwapHandler()
            _ = swap.handle(&reflected)
            reflectorPort.socket.tx.push(reflected)
            reflectorPort.socket.tx.submit()
            reflectorPort.socket.kickTransmit()
            guard wait(for: &senderPort.socket, pool: &senderPort.umem.pool, until: legLimit) else { lost += 1; continue }
            let pong = senderPort.socket.rx.receive()
            senderPort.socket.rx.release()
            let returned = sequenceNumber(in: pong)
            senderPort.socket.fill.push(pong)
            senderPort.socket.fill.submit()
            if returned == sequence {
                let rtt = ContinuousClock.now - sentAt
                _ = histogram.record(UInt64(rtt.components.seconds) * 1_000_000_000 + UInt64(rtt.components.attoseconds / 1_000_000_000))
                samples += 1
            } else {
                lost += 1
            }
            if interval > 0 { usleep(UInt32(interval)) }
        }
        let elapsed = ContinuousClock.now - started
        let result = LatencyResult(samples: samples, lost: lost, histogram: histogram,
                                   seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        if json { printJSON(result) } else { print(result.table(interface: interface, peer: peer)) }
        if samples + lost < count { note("stopped with \(samples + lost) of \(count) pings"); throw ExitCode(3) }
    }
}

/// Latency percentiles in nanoseconds.
struct LatencyResult: Encodable {
    var samples: Int
    var lost: Int
    var seconds: Double
    var nanoseconds: [String: UInt64]

    init(samples: Int, lost: Int, histogram: Histogram<UInt64>, seconds: Double) {
        self.samples = samples
        self.lost = lost
        self.seconds = seconds
        var values: [String: UInt64] = [:]
        if samples > 0 {
            values["min"] = histogram.min
            values["p50"] = histogram.valueAtPercentile(50)
            values["p90"] = histogram.valueAtPercentile(90)
            values["p99"] = histogram.valueAtPercentile(99)
            values["p99.9"] = histogram.valueAtPercentile(99.9)
            values["max"] = histogram.max
            values["mean"] = UInt64(histogram.mean)
        }
        nanoseconds = values
    }

    enum CodingKeys: String, CodingKey { case tool, mode, samples, lost, seconds = "duration_s", nanoseconds = "rtt_ns" }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("xdpbench", forKey: .tool)
        try container.encode("latency", forKey: .mode)
        try container.encode(samples, forKey: .samples)
        try container.encode(lost, forKey: .lost)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(nanoseconds, forKey: .nanoseconds)
    }

    func table(interface: String, peer: String) -> String {
        let order = ["min", "p50", "p90", "p99", "p99.9", "max", "mean"]
        let values = order.compactMap { key in nanoseconds[key].map { "\(key) \(format(Double($0) / 1000)) us" } }
        return "latency \(interface) -> \(peer) -> \(interface): \(samples) samples, \(lost) lost\n" + values.joined(separator: ", ")
    }
}

/// One port of the ping-pong: its UMEM, socket and program.
struct Port: ~Copyable {
    var umem: UMEM
    var socket: Socket
    let program: XDPProgram
}

/// The sequence number the ping carries after its headers.
func sequenceNumber(in frame: borrowing Frame) -> UInt64 {
    guard frame.length >= UDPPacketBuilder.headerLength + 8 else { return .max }
    return frame.bytes.unsafeLoadUnaligned(fromByteOffset: UDPPacketBuilder.headerLength, as: UInt64.self)
}
