import Logging
import MetricsTestKit
import ServiceLifecycle
import Testing
import XDP
import XDPControl
import XDPService

/// The opt-in swift-metrics reporter, with MetricsTestKit as the backend.
@Suite("StatisticsReporter", .serialized)
struct StatisticsReporterTests {
    @Test("a service's statistics reach swift-metrics: counters grow by what the workers counted, frame gauges, dimensions")
    func reports() async throws {
        let lab = try ServiceLab()
        let metrics = TestMetrics()
        let service = try PacketService(configuration: .init(interface: lab.interface, match: .udp(port: 9600), namespace: lab.device)) { _ in CountingDrop() }
        let reporter = StatisticsReporter(dimensions: [("interface", lab.interface)], interval: .milliseconds(100), factory: metrics) {
            service.statistics
        }
        let group = ServiceGroup(services: [service, reporter], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        #expect(await eventually { service.isRunning })
        _ = try await lab.client(["send", lab.serviceAddress, "9600", "25", "40100"])
        await eventually { service.statistics.received >= 25 }
        reporter.report()
        let received = try metrics.expectCounter("xdp_service_received_packets_total", [("interface", lab.interface)])
        #expect(received.totalValue == 25)
        reporter.report()
        #expect(received.totalValue == 25, "a second report adds nothing new")
        let held = try metrics.expectGauge("xdp_service_frames", [("interface", lab.interface), ("place", "held")])
        #expect(held.lastValue == 0)
        // Every frame of the worker waits on its fill ring (the receive side).
        let receiveSide = try metrics.expectGauge("xdp_service_frames", [("interface", lab.interface), ("place", "receive_side")])
        #expect((receiveSide.lastValue ?? 0) > 0)
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
