
/// The CPUs a plan may use, with what placement needs to know about them.
public struct CPUTopology: Sendable, Equatable, Codable {
    /// One logical CPU.
    public struct CPU: Sendable, Equatable, Codable {
        /// The CPU number.
        public var id: Int
        /// Its NUMA node, when known.
        public var numaNode: Int?
        /// Its physical core (CPUs with the same core id on the same package are SMT siblings).
        public var core: Int
        /// Its package (socket).
        public var package: Int

        /// Creates a CPU description.
        public init(id: Int, numaNode: Int?, core: Int, package: Int = 0) {
            self.id = id
            self.numaNode = numaNode
            self.core = core
            self.package = package
        }
    }

    /// The CPUs, ascending by id.
    public var cpus: [CPU]

    /// Creates a topology.
    public init(cpus: [CPU]) { self.cpus = cpus.sorted { $0.id < $1.id } }

    /// A synthetic machine: `nodes` NUMA nodes of `coresPerNode` cores, each
    /// with `threadsPerCore` hardware threads (numbered Linux-style: all
    /// first threads, then all second threads).
    public static func synthetic(nodes: Int, coresPerNode: Int, threadsPerCore: Int = 1) -> CPUTopology {
        var cpus: [CPU] = []
        let cores = nodes * coresPerNode
        for thread in 0..<threadsPerCore {
            for core in 0..<cores {
                cpus.append(CPU(id: thread * cores + core, numaNode: core / coresPerNode, core: core, package: core / coresPerNode))
            }
        }
        return CPUTopology(cpus: cpus)
    }

    /// The SMT siblings of `cpu` (same package and core), excluding it.
    public func siblings(of cpu: Int) -> [Int] {
        guard let this = cpus.first(where: { $0.id == cpu }) else { return [] }
        return cpus.filter { $0.id != cpu && $0.core == this.core && $0.package == this.package }.map(\.id)
    }

    /// The CPUs of this machine that `allowed` lists (default: the process's affinity mask), read from sysfs.
    public static func current(allowed: [Int]? = nil) -> CPUTopology {
        let ids = allowed ?? Worker.allowedCPUs
        let base = "/sys/devices/system/cpu"
        func read(_ path: String) -> Int? {
            SystemFiles.value(path).flatMap { Int($0) }
        }
        var nodeOf: [Int: Int] = [:]
        if let nodes = SystemFiles.entries("/sys/devices/system/node") {
            for entry in nodes where entry.hasPrefix("node") {
                guard let node = Int(entry.dropFirst(4)),
                      let list = SystemFiles.value("/sys/devices/system/node/\(entry)/cpulist"),
                      let cpus = try? CPUList.parse(list) else { continue }
                for cpu in cpus { nodeOf[cpu] = node }
            }
        }
        return CPUTopology(cpus: ids.map { id in
            CPU(id: id, numaNode: nodeOf[id],
                core: read("\(base)/cpu\(id)/topology/core_id") ?? id,
                package: read("\(base)/cpu\(id)/topology/physical_package_id") ?? 0)
        })
    }
}

/// CPU and queue lists in the kernel's text form: "0-3,8,10-11".
public enum CPUList {
    /// An error in a list, naming the bad part.
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses a list such as "0-3,8" into [0, 1, 2, 3, 8].
    public static func parse(_ text: String) throws(ParseError) -> [Int] {
        var values: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                  low >= 0, low <= high, high < 65536 else {
                throw ParseError(description: "'\(part)' is not a number or a range like 0-3")
            }
            values.append(contentsOf: low...high)
        }
        guard Set(values).count == values.count else { throw ParseError(description: "lists a value twice") }
        return values
    }

    /// Formats [0, 1, 2, 3, 8] as "0-3,8".
    public static func format(_ values: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = values.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}
