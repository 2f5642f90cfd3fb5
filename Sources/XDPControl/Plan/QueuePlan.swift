import XDP

/// Which worker (pinned to which CPU) serves which (port, queue), and where
/// each queue's interrupt should go: the map that lets the data plane scale
/// past one queue. A pure function of its inputs; see ``QueuePlan/make(ports:topology:forwarding:irqPlacement:)``.
public struct QueuePlan: Sendable, Equatable, Codable {
    /// A port to serve: an interface and the queues of it to use.
    public struct Port: Sendable, Equatable, Codable {
        /// The interface name.
        public var name: String
        /// Queue ids to serve.
        public var queues: [UInt32]
        /// The NIC's NUMA node, when known.
        public var numaNode: Int?
        /// Interrupt number of each queue, when known.
        public var irqs: [UInt32: Int]

        /// Creates a port.
        public init(name: String, queues: [UInt32], numaNode: Int? = nil, irqs: [UInt32: Int] = [:]) {
            self.name = name
            self.queues = queues
            self.numaNode = numaNode
            self.irqs = irqs
        }

        /// The port of a discovered interface: the given queues (all the
        /// interface has when `nil`), its NUMA node and queue interrupts.
        /// - Parameters:
        ///   - interface: What ``Interface/discover(_:)`` found.
        ///   - queues: Queue ids to serve; `nil` for every queue.
        /// - Throws: `XDPError` of kind `.queueOutOfRange` naming a queue the interface does not have.
        public init(_ interface: Interface, queues: [UInt32]?) throws(XDPError) {
            let count = interface.channels?.queueCount
            let queues = queues ?? Array(0..<UInt32(count ?? 1))
            if let count, let bad = queues.first(where: { $0 >= count }) {
                throw XDPError(.queueOutOfRange, operation: "plan queues of \(interface.name)",
                               hint: "queue \(bad) out of range: \(interface.name) has \(count) queue\(count == 1 ? "" : "s")")
            }
            self.init(name: interface.name, queues: queues, numaNode: interface.numaNode, irqs: interface.queueIRQs)
        }
    }

    /// One (port, queue) pair.
    public struct Assignment: Sendable, Equatable, Hashable, Codable {
        /// The interface name.
        public var port: String
        /// The queue id.
        public var queue: UInt32
        /// Creates an assignment.
        public init(port: String, queue: UInt32) {
            self.port = port
            self.queue = queue
        }
    }

    /// One worker thread.
    public struct WorkerPlan: Sendable, Equatable, Codable {
        /// The CPU it is pinned to.
        public var cpu: Int
        /// Its CPU's NUMA node.
        public var numaNode: Int?
        /// What it serves. Assignments of ports that forward to each other
        /// and share a queue id are on one worker, so they can share a UMEM.
        public var assignments: [Assignment]
    }

    /// Where to steer a queue's interrupt.
    public struct IRQAffinity: Sendable, Equatable, Codable {
        /// The interrupt number.
        public var irq: Int
        /// The interface whose queue raises it.
        public var port: String
        /// The queue id.
        public var queue: UInt32
        /// The CPU it should be handled on.
        public var cpu: Int
    }

    /// Where interrupts go relative to the worker.
    public enum IRQPlacement: String, Sendable, Codable {
        /// On the worker's own CPU (its softirq work runs where the worker reads the ring).
        case sameCPU = "same-cpu"
        /// On an SMT sibling of the worker's CPU (when it has one; else the same CPU).
        case sibling
        /// Leave interrupts alone.
        case none
    }

    /// A plan with no workers.
    public static let empty = QueuePlan(workers: [], irqAffinity: [], crossNUMA: [])

    /// The workers, ascending by CPU.
    public var workers: [WorkerPlan]
    /// Interrupt steering, if asked and the queues' IRQs are known.
    public var irqAffinity: [IRQAffinity]
    /// Assignments whose port's NUMA node differs from their worker's.
    public var crossNUMA: [Assignment]

    /// Builds the plan.
    ///
    /// Each unit of work is one queue id of one forwarding group (ports that
    /// forward to each other; a port alone is its own group). Units are
    /// placed one by one on the least-loaded CPU of their NIC's NUMA node
    /// (any node when none is known or the node has no allowed CPU), ties
    /// broken by CPU id: at most one worker per CPU, queues spread evenly,
    /// local cores first.
    ///
    /// - Parameters:
    ///   - ports: The ports and their queues.
    ///   - topology: The CPUs allowed.
    ///   - forwarding: Pairs of port names that forward to each other.
    ///   - irqPlacement: Where interrupts go.
    /// - Returns: The plan; no workers when there are no queues or no CPUs.
    public static func make(ports: [Port], topology: CPUTopology, forwarding: [(String, String)] = [],
                            irqPlacement: IRQPlacement = .sameCPU) -> QueuePlan {
        // Forwarding groups: union-find over port names.
        var parent: [String: String] = [:]
        for port in ports { parent[port.name] = port.name }
        func root(_ name: String) -> String {
            var current = name
            while let next = parent[current], next != current { current = next }
            return current
        }
        for (a, b) in forwarding where parent[a] != nil && parent[b] != nil {
            let (ra, rb) = (root(a), root(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        // Units: (group, queue id) -> assignments, in port order then queue order.
        struct Unit { var assignments: [Assignment]; var numaNode: Int? }
        var unitIndex: [String: Int] = [:]
        var units: [Unit] = []
        let queueIDs = Set(ports.flatMap(\.queues)).sorted()
        for queue in queueIDs {
            for port in ports where port.queues.contains(queue) {
                let key = "\(root(port.name))#\(queue)"
                if let index = unitIndex[key] {
                    units[index].assignments.append(Assignment(port: port.name, queue: queue))
                    if units[index].numaNode == nil { units[index].numaNode = port.numaNode }
                } else {
                    unitIndex[key] = units.count
                    units.append(Unit(assignments: [Assignment(port: port.name, queue: queue)], numaNode: port.numaNode))
                }
            }
        }
        guard !units.isEmpty, !topology.cpus.isEmpty else { return QueuePlan(workers: [], irqAffinity: [], crossNUMA: []) }

        // Place units: least-loaded local CPU, else least-loaded anywhere.
        var load: [Int: Int] = [:]
        var served: [Int: [Assignment]] = [:]
        for cpu in topology.cpus { load[cpu.id] = 0 }
        // Prefer distinct physical cores before SMT siblings: order CPUs by (thread rank, id).
        var rank: [Int: Int] = [:]
        var seenCores: [String: Int] = [:]
        for cpu in topology.cpus {
            let key = "\(cpu.package)/\(cpu.core)"
            rank[cpu.id] = seenCores[key, default: 0]
            seenCores[key, default: 0] += 1
        }
        func better(_ a: CPUTopology.CPU, _ b: CPUTopology.CPU) -> Bool {
            (load[a.id]!, rank[a.id]!, a.id) < (load[b.id]!, rank[b.id]!, b.id)
        }
        for unit in units {
            let local = topology.cpus.filter { unit.numaNode != nil && $0.numaNode == unit.numaNode }
            let candidates = local.isEmpty ? topology.cpus : local
            let chosen = candidates.min(by: better)!
            load[chosen.id]! += 1
            served[chosen.id, default: []] += unit.assignments
        }
        let workers = topology.cpus.compactMap { cpu -> WorkerPlan? in
            guard let assignments = served[cpu.id] else { return nil }
            return WorkerPlan(cpu: cpu.id, numaNode: cpu.numaNode, assignments: assignments)
        }
        var irqs: [IRQAffinity] = []
        var crossNUMA: [Assignment] = []
        let portsByName = Dictionary(ports.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for worker in workers {
            for assignment in worker.assignments {
                let port = portsByName[assignment.port]!
                if let node = port.numaNode, let workerNode = worker.numaNode, node != workerNode {
                    crossNUMA.append(assignment)
                }
                guard irqPlacement != .none, let irq = port.irqs[assignment.queue] else { continue }
                let cpu = irqPlacement == .sibling ? (topology.siblings(of: worker.cpu).first ?? worker.cpu) : worker.cpu
                irqs.append(IRQAffinity(irq: irq, port: assignment.port, queue: assignment.queue, cpu: cpu))
            }
        }
        return QueuePlan(workers: workers, irqAffinity: irqs, crossNUMA: crossNUMA)
    }

    /// The worker serving (port, queue).
    public func worker(serving port: String, queue: UInt32) -> WorkerPlan? {
        workers.first { $0.assignments.contains(Assignment(port: port, queue: queue)) }
    }

    /// A table for people.
    public var table: String {
        var lines = ["cpu   numa  serves"]
        for worker in workers {
            let serves = worker.assignments.map { "\($0.port):\($0.queue)" }.joined(separator: " ")
            func column(_ text: String) -> String { text + String(repeating: " ", count: max(1, 6 - text.count)) }
            let cpu = column(String(worker.cpu)), numa = column(worker.numaNode.map(String.init) ?? "?")
            lines.append(cpu + numa + serves)
        }
        for irq in irqAffinity { lines.append("irq \(irq.irq) (\(irq.port) queue \(irq.queue)) -> cpu \(irq.cpu)") }
        if !crossNUMA.isEmpty {
            lines.append("warning: served from another NUMA node: " + crossNUMA.map { "\($0.port):\($0.queue)" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
