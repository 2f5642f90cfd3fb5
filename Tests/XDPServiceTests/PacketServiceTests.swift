import Foundation
import ServiceLifecycle
import Logging
import TestSupport
import Testing
import XDP
import XDPControl
import XDPService

/// Drops everything it is given (counts come from the service).
struct CountingDrop: PacketHandler {
    mutating func handle(_ frame: inout Frame) -> PacketVerdict { .drop }
}

/// The service in process, inside a ServiceGroup.
@Suite("PacketService", .serialized)
struct PacketServiceTests {
    @Test("in a ServiceGroup: serves every queue, graceful shutdown stops workers, closes sockets, detaches",
          arguments: [AttachMode.generic, .native])
    func serviceGroup(mode: AttachMode) async throws {
        let lab = try ServiceLab(queues: 2)
        let service = try PacketService(configuration: .init(interface: lab.interface, match: .udp(ports: 9500...9509),
                                                             attach: mode, namespace: lab.device)) { _ in CountingDrop() }
        #expect(service.setup.attachMode == mode)
        #expect(service.setup.plan.workers.flatMap(\.assignments).map(\.queue).sorted() == [0, 1])
        #expect(try lab.attachedProgram() == service.setup.programID)
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        #expect(await eventually { service.isRunning })
        _ = try await lab.client(["send", lab.serviceAddress, "9505", "40", "40030", "send", lab.serviceAddress, "9510", "10", "40031"])
        await eventually { service.statistics.received >= 40 }
        #expect(service.statistics.received == 40, "only ports 9500-9509")
        #expect(service.statistics.droppedByHandler == 40)
        #expect((service.programCounters?.passed ?? 0) >= 10, "port 9510 went to the kernel")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(!service.isRunning)
        #expect(service.statistics.frames.isConserved, "\(service.statistics.frames)")
        #expect(try lab.attachedProgram() == nil)
    }

    @Test("configuration errors name the field")
    func configurationErrors() throws {
        let bad = PacketServiceConfiguration(interface: "lo", match: .udp(port: 1), queues: [], batchSize: 0)
        #expect(throws: XDPError.self) { try bad.validate() }
        do {
            try PacketServiceConfiguration(interface: "lo", match: .udp(port: 1), batchSize: 5000).validate()
            Issue.record("batch size 5000 accepted")
        } catch {
            #expect(error.kind == .invalidConfiguration)
            #expect(error.description.contains("batch size 5000"))
        }
    }
}
