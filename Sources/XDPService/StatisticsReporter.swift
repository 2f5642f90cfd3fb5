import CoreMetrics
import ServiceLifecycle
import Synchronization
import XDP

/// Publishes a ``PacketService``'s or ``PacketStream``'s statistics through
/// swift-metrics, so the backend the application already bootstrapped
/// (swift-prometheus, swift-otel, StatsD...) exports them. Opt-in, and free
/// on the packet path: the workers keep publishing their plain counters as
/// always; this service reads them every `interval` on the concurrency
/// runtime and feeds the differences to swift-metrics counters, and the
/// frame places to gauges.
///
/// Metrics (with `dimensions` on each): `<prefix>_received_packets_total`,
/// `_received_bytes_total`, `_transmitted_packets_total`,
/// `_transmitted_bytes_total`, `_transmit_ring_full_total`,
/// `_delivered_total`, `_dropped_slow_consumer_total`, `_sent_total`
/// (counters); `<prefix>_frames` with `place` = free, receive_side,
/// transmit_side, held (gauges).
///
/// ```swift
/// let reporter = StatisticsReporter(dimensions: [("service", "udp-echo")]) { service.statistics }
/// let group = ServiceGroup(services: [service, reporter], logger: logger)
/// ```
public final class StatisticsReporter: Service, Sendable {
    private let interval: Duration
    private let read: @Sendable () -> PacketServiceStatistics
    /// In the order of ``totals(_:)``.
    private let counters: [Counter]
    /// In the order of ``places(_:)``.
    private let frames: [Gauge]
    private let last = Mutex(PacketServiceStatistics())

    /// Creates a reporter.
    /// - Parameters:
    ///   - prefix: The metric names' prefix.
    ///   - dimensions: Labels on every metric (e.g. the service or interface).
    ///   - interval: How often to publish.
    ///   - factory: The swift-metrics backend (default: the bootstrapped one).
    ///   - statistics: Reads the statistics (e.g. `{ service.statistics }`).
    public init(prefix: String = "xdp_service", dimensions: [(String, String)] = [], interval: Duration = .seconds(1),
                factory: MetricsFactory = MetricsSystem.factory,
                statistics: @escaping @Sendable () -> PacketServiceStatistics) {
        self.interval = interval
        read = statistics
        counters = ["received_packets_total", "received_bytes_total", "transmitted_packets_total", "transmitted_bytes_total",
                    "transmit_ring_full_total", "delivered_total", "dropped_slow_consumer_total", "sent_total"].map {
            Counter(label: "\(prefix)_\($0)", dimensions: dimensions, factory: factory)
        }
        frames = ["free", "receive_side", "transmit_side", "held"].map {
            Gauge(label: "\(prefix)_frames", dimensions: dimensions + [("place", $0)], factory: factory)
        }
    }

    /// The cumulative totals, in the order of ``counters``.
    private static func totals(_ s: PacketServiceStatistics) -> [Int] {
        [s.received, s.receivedBytes, s.transmitted, s.transmittedBytes, s.transmitRingFull, s.delivered, s.droppedSlowConsumer, s.sent]
    }

    /// The frame places, in the order of ``frames``.
    private static func places(_ f: FrameAccounting) -> [Int] {
        [f.free, f.receiveSide, f.transmitSide, f.held]
    }

    /// Publishes every `interval` until graceful shutdown or cancellation,
    /// and once more at the end.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            report()
            try? await Task.sleep(for: interval)
        }
        report()
    }

    /// Publishes once now: counters grow by what changed since the last
    /// report, gauges take the current frame places.
    public func report() {
        let now = read()
        let previous = last.withLock { last in
            defer { last = now }
            return last
        }
        for (counter, (new, old)) in zip(counters, zip(Self.totals(now), Self.totals(previous))) where new > old {
            counter.increment(by: new - old)
        }
        for (gauge, value) in zip(frames, Self.places(now.frames)) { gauge.record(value) }
    }
}
