import Forwarding
import Foundation
import XDP
import XDPControl

/// What `xdpfwd status` and `xdpfwd show ...` print, read from the running
/// engine (its counters are atomics published by the workers): text for
/// people, JSON (snake_case keys, numbers as numbers) for tools.
struct DaemonStatus {
    let engine: ForwardingEngine
    let mode: ForwardingMode
    let started: Date
    /// The Prometheus text (`show counters` without json).
    let renderMetrics: @Sendable () -> String

    /// The answer to one control-socket request.
    func answer(_ request: String) -> String {
        var words = request.split(separator: " ").map(String.init)
        let json = words.last == "json"
        if json { words.removeLast() }
        switch words {
        case ["status"]: return json ? encode(everything()) : text(everything())
        case ["show", "ports"]: return json ? encode(["ports": ports()]) : text(["ports": ports()])
        case ["show", "queues"]: return json ? encode(["queues": queues()]) : text(["queues": queues()])
        case ["show", "plan"]: return json ? encode(["plan": plan()]) : engine.plan.table + "\n"
        case ["show", "counters"]: return json ? encode(["queues": queues(), "frames": frames()]) : renderMetrics()
        default: return "error: unknown request '\(request)': use status, show ports, show queues, show plan or show counters (append json for JSON)\n"
        }
    }

    func everything() -> [String: Any] {
        ["version": SwiftXDPVersion.string, "pid": Int(getpid()), "mode": mode.rawValue,
         "uptime_seconds": Int(Date().timeIntervalSince(started)), "bind": engine.zeroCopy ? "zero-copy" : "copy",
         "ports": ports(), "queues": queues(), "frames": frames()]
    }

    func ports() -> [[String: Any]] {
        let programs = engine.attachedProgramIDs()
        let lost = Set(engine.portsWithLostProgram())
        return engine.interfaces.map { interface in
            var port: [String: Any] = ["name": interface.name, "ifindex": interface.index, "driver": interface.driver ?? "unknown",
                                       "attach": engine.attachModes[interface.name]?.rawValue ?? "unknown",
                                       "program_id": Int(programs[interface.name] ?? 0), "program_attached": !lost.contains(interface.name),
                                       "xdp_features": XDPFeatures.names(interface.xdp.reported ? interface.xdp.flags : nil, XDPFeatures.flagNames)]
            if let reason = engine.fallbackReasons[interface.name] { port["fallback_reason"] = reason }
            return port
        }
    }

    func queues() -> [[String: Any]] {
        let statistics = Dictionary(engine.socketStatistics().map { ("\($0.port)/\($0.queue)", $0.statistics) }, uniquingKeysWith: { a, _ in a })
        var cpuOf: [String: Int] = [:]
        for worker in engine.plan.workers { for assignment in worker.assignments { cpuOf["\(assignment.port)/\(assignment.queue)"] = worker.cpu } }
        return engine.portCounters.map { counter in
            let key = "\(counter.port)/\(counter.queue)"
            var drops: [String: Int] = [:]
            for reason in DropCounter.allCases { drops[reason.label] = Int(counter.drops(reason)) }
            var entry: [String: Any] = [
                "port": counter.port, "queue": Int(counter.queue), "cpu": cpuOf[key] ?? -1,
                "rx_packets": Int(counter.rxPackets.load(ordering: .relaxed)), "rx_bytes": Int(counter.rxBytes.load(ordering: .relaxed)),
                "tx_packets": Int(counter.txPackets.load(ordering: .relaxed)), "tx_bytes": Int(counter.txBytes.load(ordering: .relaxed)),
                "drops": drops,
            ]
            if let stats = statistics[key] {
                entry["xdp_statistics"] = ["rx_dropped": Int(stats.rxDropped), "rx_invalid_descs": Int(stats.rxInvalidDescriptors),
                                           "tx_invalid_descs": Int(stats.txInvalidDescriptors), "rx_ring_full": Int(stats.rxRingFull),
                                           "rx_fill_ring_empty_descs": Int(stats.rxFillRingEmpty), "tx_ring_empty_descs": Int(stats.txRingEmpty)]
            }
            return entry
        }
    }

    func frames() -> [[String: Any]] {
        engine.workerFrames.enumerated().map { index, frames in
            let (total, free, receive, transmit) = (frames.total, frames.free, frames.receiveSide, frames.transmitSide)
            return ["worker": index, "total": total, "free": free, "receive_side": receive, "transmit_side": transmit,
                    "held": total - free - receive - transmit]
        }
    }

    func plan() -> [[String: Any]] {
        engine.plan.workers.map { worker in
            ["cpu": worker.cpu, "numa_node": worker.numaNode ?? -1,
             "serves": worker.assignments.map { ["port": $0.port, "queue": Int($0.queue)] }]
        }
    }

    func encode(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// A plain rendering: scalars as "key: value", lists as tables of their entries.
    func text(_ object: [String: Any]) -> String {
        var out = ""
        if let version = object["version"] {
            out += "xdpfwd \(version), pid \(object["pid"] ?? "?"), mode \(object["mode"] ?? "?"), \(object["bind"] ?? "?") mode, up \(object["uptime_seconds"] ?? 0) s\n"
        }
        if let ports = object["ports"] as? [[String: Any]] {
            out += "ports:\n"
            for port in ports {
                out += "  \(port["name"] ?? "?")  ifindex \(port["ifindex"] ?? "?")  driver \(port["driver"] ?? "?")  attach \(port["attach"] ?? "?")  program \(port["program_id"] ?? 0)\((port["program_attached"] as? Bool) == false ? " (NOT attached)" : "")\n"
                if let reason = port["fallback_reason"] { out += "    \(reason)\n" }
            }
        }
        if let queues = object["queues"] as? [[String: Any]] {
            out += "queues:\n  " + ["port", "queue", "cpu", "rx_packets", "tx_packets", "drops"].joined(separator: "  ") + "\n"
            for queue in queues {
                let drops = ((queue["drops"] as? [String: Int]) ?? [:]).values.reduce(0, +)
                out += "  \(queue["port"] ?? "?")  \(queue["queue"] ?? "?")  \(queue["cpu"] ?? "?")  \(queue["rx_packets"] ?? 0)  \(queue["tx_packets"] ?? 0)  \(drops)\n"
            }
        }
        if let frames = object["frames"] as? [[String: Any]] {
            for worker in frames {
                out += "frames of worker \(worker["worker"] ?? "?"): total \(worker["total"] ?? 0), free \(worker["free"] ?? 0), receive side \(worker["receive_side"] ?? 0), transmit side \(worker["transmit_side"] ?? 0), held \(worker["held"] ?? 0)\n"
            }
        }
        return out
    }
}
