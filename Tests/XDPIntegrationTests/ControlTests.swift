import Glibc
import Packet
import Synchronization
import Testing
import XDP
import XDPControl

/// Discovery on real veths, and pinned workers serving their own queues.
@Suite("Control", .serialized)
struct ControlTests {
    @Test("discovery on lab veths with 1, 2 and 4 queues", arguments: [1, 2, 4])
    func discovery(queues: Int) throws {
        let lab = try makeLab(queues: queues)
        let interface = try lab.inDevice { () throws(XDPError) -> Interface in try Interface.discover(lab.links[0].deviceInterface) }
        #expect(interface.driver == "veth")
        #expect(interface.mtu == 1500 && interface.isUp)
        #expect(interface.channels?.queueCount == queues)
        #expect(interface.channels?.source == "ethtool")
        #expect(interface.numaNode == nil, "veth has no device: unknown, not guessed")
        #expect(interface.xdp.reported)
        // A fresh veth: basic, redirect, rx-sg; RX metadata timestamp, hash, VLAN tag; no xsk features, no zero-copy.
        #expect(interface.xdp.flags & 0x23 == 0x23)
        #expect(interface.xdp.rxMetadata == 0x7)
        #expect(interface.xdp.xskFeatures == 0)
        #expect(!interface.xdp.hasZeroCopy && interface.xdp.zeroCopyMaxSegments == nil)
        #expect(interface.xdp.recommendedAttachMode == .native)
        let missing = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> Interface in try Interface.discover("xd9") }
        }
        #expect(missing?.kind == .interfaceNotFound)
    }

    @Test("two queues, two pinned workers: each receives its own flow, on its planned CPU")
    func pinnedWorkersPerQueue() throws {
        let cpus = Worker.allowedCPUs
        try #require(cpus.count >= 2, "needs two CPUs")
        let lab = try makeLab(queues: 2)
        let link = lab.links[0]
        let plan = QueuePlan.make(ports: [QueuePlan.Port(name: link.deviceInterface, queues: [0, 1])],
                                  topology: CPUTopology.current(allowed: Array(cpus.prefix(2))))
        #expect(plan.workers.count == 2)

        let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in try XDPProgram(interface: link.deviceInterface, mode: .native) }
        let stop = StopFlag()
        var workers: [Worker] = []
        let results = [QueueResult(), QueueResult()]
        for (index, worker) in plan.workers.enumerated() {
            let queue = worker.assignments[0].queue
            var endpoint = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, queue: queue)
            try program.register(endpoint.socket)
            let handoff = Handoff(endpoint)
            let result = results[index]
            result.queue.store(Int(queue), ordering: .relaxed)
            workers.append(try Worker(name: "test-q\(queue)", cpu: worker.cpu) {
                var endpoint = handoff.take()
                result.cpu.store(Worker.currentCPU, ordering: .relaxed)
                while !stop.isRaised {
                    let ready = endpoint.socket.rx.peek(upTo: 64)
                    if ready == 0 { endpoint.socket.poll(timeoutMilliseconds: 5); continue }
                    _ = endpoint.socket.fill.freeCount(wanting: ready)
                    for _ in 0..<ready {
                        let frame = endpoint.socket.rx.receive()
                        // The flow is the UDP source port: 1000 + the TX queue it was sent on.
                        let port = sourcePort(of: frame)
                        result.ports.add(port == 1000 ? 1 : (port == 1001 ? 1 << 32 : 0), ordering: .relaxed)
                        endpoint.socket.fill.push(frame)
                    }
                    endpoint.socket.rx.release()
                    endpoint.socket.fill.submit()
                }
                let account = endpoint.accounting
                result.conserved.store(account.isConserved, ordering: .relaxed)
            })
        }
        // Flow k leaves the peer on TX queue k, so it lands on the device's RX queue k.
        for queue in UInt32(0)..<2 {
            var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, queue: queue, fill: false)
            let builder = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC, sourceIPv4: link.peerIPv4,
                                           destinationIPv4: link.deviceIPv4, sourcePort: UInt16(1000 + queue), destinationPort: 9)
            #expect(transmit(Array(repeating: builder.make(frameLength: 64), count: 300), from: &sender) == 300)
        }
        let deadline = Deadline(seconds: 5)
        while !deadline.passed && results.contains(where: { $0.total < 300 }) { usleep(10_000) }
        stop.raise()
        for worker in workers { worker.join() }
        for (index, result) in results.enumerated() {
            let queue = result.queue.load(ordering: .relaxed)
            let counts = result.ports.load(ordering: .relaxed)
            let own = queue == 0 ? counts & 0xffff_ffff : counts >> 32
            let other = queue == 0 ? counts >> 32 : counts & 0xffff_ffff
            #expect(own == 300 && other == 0, "queue \(queue) got \(own) of its own flow and \(other) of the other")
            let observedCPU = result.cpu.load(ordering: .relaxed)
            let conserved = result.conserved.load(ordering: .relaxed)
            #expect(observedCPU == plan.workers[index].cpu, "worker runs on its planned CPU")
            #expect(conserved)
        }
        _ = program
    }
}

/// What one test worker saw.
final class QueueResult: Sendable {
    let queue = Atomic<Int>(-1)
    let cpu = Atomic<Int>(-1)
    /// Flow 0 count in the low 32 bits, flow 1 in the high.
    let ports = Atomic<Int>(0)
    let conserved = Atomic<Bool>(false)
    var total: Int { let v = ports.load(ordering: .relaxed); return (v & 0xffff_ffff) + (v >> 32) }
}

/// The UDP source port of a frame built by UDPPacketBuilder.
func sourcePort(of frame: borrowing Frame) -> Int {
    let bytes = copyBytes(of: frame)
    return bytes.count >= 36 ? Int(bytes[34]) << 8 | Int(bytes[35]) : -1
}

/// Channel counts changed through the plan's system changes, and undone.
@Suite("Control: channels", .serialized)
struct ChannelChangeTests {
    @Test("ETHTOOL_SCHANNELS on a 4-queue veth: set to 2, logged, undone back to 4; a dry run changes nothing")
    func setAndUndo() throws {
        let lab = try makeLab(queues: 4)
        let port = lab.links[0].deviceInterface
        func queues() throws -> Int? {
            try lab.inDevice { () throws(XDPError) -> Int? in try Interface.discover(port).channels?.queueCount }
        }
        try lab.inDevice { () throws(XDPError) in
            let dryRun = SystemChanges(dryRun: true)
            try dryRun.setChannels(interface: port, count: 2)
            #expect(dryRun.log.first?.note == "dry run")
        }
        #expect(try queues() == 4)
        let changes = SystemChanges()
        try lab.inDevice { () throws(XDPError) in try changes.setChannels(interface: port, count: 2) }
        #expect(try queues() == 2)
        #expect(changes.log.first?.description == "channels of \(port): rx 4 tx 4 combined 0 -> rx 2 tx 2 combined 0")
        try lab.inDevice { () throws(XDPError) in changes.undo() }
        #expect(try queues() == 4)
        let tooMany = #expect(throws: XDPError.self) {
            try lab.inDevice { () throws(XDPError) in try SystemChanges().setChannels(interface: port, count: 9) }
        }
        #expect(tooMany?.description.contains("at most 4") == true, "\(String(describing: tooMany))")
    }
}
