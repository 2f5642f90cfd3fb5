import Glibc
import Testing
import XDP
import XDPControl
import XDPLab

/// Drops every packet (the test counts what arrives).
private struct DropEverything: PacketHandler {
    mutating func handle(_ frame: inout Frame) -> PacketVerdict { .drop }
}

/// The one runtime under the daemon, XDPService and xdpbench, on its own:
/// setup undone on failure, a worker body over its queues, the counters it
/// publishes, join then read what the workers left, an idempotent stop.
@Suite("DataPlane", .serialized)
struct DataPlaneTests {
    static func configuration(_ lab: VethLab) -> DataPlane.Configuration {
        DataPlane.Configuration(ports: lab.links.map { DataPlane.Port(interface: $0.deviceInterface) },
                                namespace: lab.deviceNamespace, socketMap: .redirect(.everything), attach: .generic,
                                framesPerSocket: 1024)
    }

    static func programIDs(_ lab: VethLab) throws -> [UInt32?] {
        try lab.links.map { link in
            try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        }
    }

    @Test("a failure after programs, UMEMs and sockets were made undoes them all: no program left, the queues bind again")
    func rollback() throws {
        let lab = try makeLab(linkCount: 2)
        defer { lab.tearDown() }
        var prepared = 0
        do {
            _ = try DataPlane(configuration: Self.configuration(lab), prepareWorker: { (_: Int, queues: inout WorkerQueues) throws(XDPError) in
                prepared += 1
                #expect(queues.sockets.count == 1)
                throw XDPError(.invalidConfiguration, operation: "prepare worker", hint: "refused by the test")
            })
            Issue.record("set up although a worker was refused")
        } catch {
            #expect(error.hint == "refused by the test", "\(error)")
        }
        #expect(prepared == 1, "the first worker was built, registered and refused")
        #expect(try Self.programIDs(lab) == [nil, nil], "programs detached on failure")
        // The sockets were closed: the same queues bind again.
        let plane = try DataPlane(configuration: Self.configuration(lab))
        #expect(plane.socketStatistics().count == 2)
        #expect(try Self.programIDs(lab).allSatisfy { $0 != nil })
        plane.stop()
        plane.stop()
        #expect(try Self.programIDs(lab) == [nil, nil], "stop detaches; twice is harmless")
        #expect(plane.socketStatistics().isEmpty)
    }

    @Test("workers run the body over their queues and publish QueueCounters; join keeps the queues to read, frames conserved")
    func workersAndCounters() throws {
        let lab = try makeLab()
        defer { lab.tearDown() }
        let plane = try DataPlane(configuration: Self.configuration(lab))
        let counters = plane.workerCounters
        #expect(counters.flatMap { $0 }.count == 1 && counters[0][0].isWorkerFirst)
        try plane.start(name: "dptest") { index, queues, stop in
            var handler = DropEverything()
            var local = [LocalQueueCounters](repeating: LocalQueueCounters(), count: queues.sockets.count)
            while !stop.isRaised {
                var handled = 0
                for socket in 0..<queues.sockets.count {
                    let result = queues.sockets.withSocket(at: socket) { (socket: inout Socket) in
                        socket.receiveBatch(limit: 64, pool: &queues.umem.pool, handler: &handler)
                    }
                    guard result.packets > 0 else { continue }
                    handled += result.packets
                    local[socket].add(result)
                    local[socket].publish(to: counters[index][socket])
                }
                if handled == 0 { queues.sockets.pollAny(timeoutMilliseconds: 1) }
            }
        }
        #expect(plane.isRunning)
        let address = lab.links[0].deviceIPv4.map(String.init).joined(separator: ".")
        // The peer's ARP requests (and any ping) are redirected to the socket and dropped.
        _ = try lab.runInPeer(["ping", "-c", "3", "-i", "0.2", "-W", "1", address], allowFailure: true)
        let deadline = ContinuousClock.now + .seconds(2)
        while counters[0][0].rxPackets.load(ordering: .relaxed) == 0 && ContinuousClock.now < deadline { usleep(10_000) }
        let received = counters[0][0].rxPackets.load(ordering: .relaxed)
        #expect(received > 0, "the peer's packets reached the worker")
        #expect(counters[0][0].rxBytes.load(ordering: .relaxed) >= received * 42)
        #expect(counters[0][0].observedCPU.load(ordering: .relaxed) == plane.plan.workers[0].cpu)
        plane.join()
        #expect(counters[0][0].finished.load(ordering: .acquiring) && plane.allWorkersFinished)
        let account = plane.withWorkerQueues(at: 0) { (queues: borrowing WorkerQueues) in queues.accounting }
        #expect(account?.isConserved == true, "\(String(describing: account))")
        #expect(counters[0][0].frames == account, "the runtime published the worker's frames when its body returned")
        plane.stop()
        #expect(plane.withWorkerQueues(at: 0) { (queues: borrowing WorkerQueues) in queues.sockets.count } == nil, "stop closed them")
        #expect(try Self.programIDs(lab) == [nil])
    }
}
