import Foundation
import Testing
import XDP
@testable import XDPControl

/// The queue→core plan on synthetic machines.
@Suite("Queue plan")
struct QueuePlanTests {
    @Test("2 NUMA nodes x 16 cores, 3 NICs x 8 queues: one queue per core, every queue on its NIC's node")
    func bigMachine() {
        let topology = CPUTopology.synthetic(nodes: 2, coresPerNode: 16)
        let ports = [
            QueuePlan.Port(name: "eth0", queues: Array(0..<8), numaNode: 0),
            QueuePlan.Port(name: "eth1", queues: Array(0..<8), numaNode: 1),
            QueuePlan.Port(name: "eth2", queues: Array(0..<8), numaNode: 0),
        ]
        let plan = QueuePlan.make(ports: ports, topology: topology)
        #expect(plan.workers.count == 24)
        #expect(plan.workers.allSatisfy { $0.assignments.count == 1 })
        #expect(plan.crossNUMA.isEmpty)
        for port in ports {
            for queue in port.queues {
                let worker = plan.worker(serving: port.name, queue: queue)
                #expect(worker?.numaNode == port.numaNode, "\(port.name):\(queue)")
            }
        }
        #expect(Set(plan.workers.map(\.cpu)).count == 24, "one worker per CPU")
    }

    @Test("more queues than cores: spread evenly (5 queues on 2 cores is 3 + 2)")
    func uneven() {
        let plan = QueuePlan.make(ports: [QueuePlan.Port(name: "eth0", queues: Array(0..<5))],
                                  topology: CPUTopology.synthetic(nodes: 1, coresPerNode: 2))
        #expect(plan.workers.map(\.assignments.count).sorted() == [2, 3])
        #expect(plan.workers.map(\.cpu) == [0, 1])
    }

    @Test("fewer queues than cores: one worker per queue, the rest idle")
    func fewQueues() {
        let plan = QueuePlan.make(ports: [QueuePlan.Port(name: "eth0", queues: [0, 1])],
                                  topology: CPUTopology.synthetic(nodes: 1, coresPerNode: 8))
        #expect(plan.workers.count == 2)
        #expect(plan.workers.map(\.cpu) == [0, 1])
    }

    @Test("a NUMA node full of work spills to the other node and says so")
    func spill() {
        // 6 queues on node 0 which has 2 cores, node 1 has 2 idle cores: still local first (3 + 3 on node 0).
        let topology = CPUTopology.synthetic(nodes: 2, coresPerNode: 2)
        let plan = QueuePlan.make(ports: [QueuePlan.Port(name: "eth0", queues: Array(0..<6), numaNode: 0)], topology: topology)
        #expect(plan.workers.map(\.cpu) == [0, 1], "NUMA-local cores first, even when busier")
        // A NIC on a node with no allowed CPU goes anywhere and is reported.
        let remote = QueuePlan.make(ports: [QueuePlan.Port(name: "eth9", queues: [0], numaNode: 1)],
                                    topology: CPUTopology(cpus: [.init(id: 0, numaNode: 0, core: 0)]))
        #expect(remote.workers.map(\.cpu) == [0])
        #expect(remote.crossNUMA == [QueuePlan.Assignment(port: "eth9", queue: 0)])
    }

    @Test("ports that forward to each other share a worker per queue id (so they can share a UMEM)")
    func forwardingPairs() {
        let ports = [QueuePlan.Port(name: "a", queues: [0, 1, 2, 3]), QueuePlan.Port(name: "b", queues: [0, 1, 2, 3]),
                     QueuePlan.Port(name: "c", queues: [0, 1])]
        let plan = QueuePlan.make(ports: ports, topology: CPUTopology.synthetic(nodes: 1, coresPerNode: 4), forwarding: [("a", "b")])
        for queue in UInt32(0)..<4 {
            #expect(plan.worker(serving: "a", queue: queue)?.cpu == plan.worker(serving: "b", queue: queue)?.cpu)
        }
        let total = plan.workers.reduce(0) { $0 + $1.assignments.count }
        #expect(total == 10)
        #expect(plan.workers.map { $0.assignments.count }.max()! <= 4)
    }

    @Test("SMT: distinct physical cores before siblings; IRQs on the same CPU or a sibling")
    func smtAndIRQs() {
        let topology = CPUTopology.synthetic(nodes: 1, coresPerNode: 2, threadsPerCore: 2)  // cpus 0,1 cores; 2,3 siblings
        #expect(topology.siblings(of: 0) == [2])
        let port = QueuePlan.Port(name: "eth0", queues: [0, 1], irqs: [0: 40, 1: 41])
        let same = QueuePlan.make(ports: [port], topology: topology)
        #expect(same.workers.map(\.cpu) == [0, 1], "one per physical core")
        #expect(same.irqAffinity.map(\.cpu) == [0, 1])
        let sibling = QueuePlan.make(ports: [port], topology: topology, irqPlacement: .sibling)
        #expect(sibling.irqAffinity.map(\.cpu) == [2, 3])
        #expect(QueuePlan.make(ports: [port], topology: topology, irqPlacement: .none).irqAffinity.isEmpty)
    }

    @Test("nothing to plan")
    func empty() {
        #expect(QueuePlan.make(ports: [], topology: CPUTopology.synthetic(nodes: 1, coresPerNode: 2)).workers.isEmpty)
        #expect(QueuePlan.make(ports: [QueuePlan.Port(name: "x", queues: [0])], topology: CPUTopology(cpus: [])).workers.isEmpty)
    }

    @Test("CPU lists parse and format like the kernel's")
    func cpuLists() throws {
        #expect(try CPUList.parse("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
        #expect(CPUList.format([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11")
        #expect(throws: CPUList.ParseError.self) { try CPUList.parse("3-1") }
        #expect(throws: CPUList.ParseError.self) { try CPUList.parse("1,1") }
    }

    @Test("the plan for a 2-socket, 64-core machine with 4 NICs (the README's example)")
    func documentedExample() {
        let topology = CPUTopology.synthetic(nodes: 2, coresPerNode: 32)
        let ports = (0..<4).map { QueuePlan.Port(name: "eth\($0)", queues: Array(0..<16), numaNode: $0 < 2 ? 0 : 1) }
        let plan = QueuePlan.make(ports: ports, topology: topology)
        #expect(plan.workers.count == 64)
        #expect(plan.crossNUMA.isEmpty)
        #expect(plan.workers.filter { $0.numaNode == 0 }.flatMap(\.assignments).allSatisfy { $0.port == "eth0" || $0.port == "eth1" })
    }

    @Test("a discovered interface's port: every queue when none are named, a queue it lacks is an error naming it")
    func portOfInterface() throws {
        let json = #"""
        {"name": "eth9", "index": 9, "mtu": 1500, "isUp": true, "isRunning": true, "numaNode": 1, "queueIRQs": [2, 40, 3, 41],
         "channels": {"rx": 0, "tx": 0, "combined": 4, "other": 1, "maxRX": 0, "maxTX": 0, "maxCombined": 8, "maxOther": 1, "source": "ethtool"},
         "xdp": {"reported": false, "flags": 0}}
        """#
        let interface = try JSONDecoder().decode(Interface.self, from: Data(json.utf8))
        let all = try QueuePlan.Port(interface, queues: nil)
        #expect(all.queues == [0, 1, 2, 3])
        #expect(all.numaNode == 1)
        #expect(all.irqs == [2: 40, 3: 41])
        #expect(try QueuePlan.Port(interface, queues: [3, 1]).queues == [3, 1])
        do {
            _ = try QueuePlan.Port(interface, queues: [1, 4])
            Issue.record("queue 4 of a 4-queue interface accepted")
        } catch {
            #expect(error.kind == .queueOutOfRange)
            #expect(error.description.contains("queue 4 out of range: eth9 has 4 queues"))
        }
    }
}
