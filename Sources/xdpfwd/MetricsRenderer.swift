import Forwarding
import XDP
import XDPControl

/// The Prometheus text the metrics endpoint serves.
enum MetricsRenderer {
    static func render(engine: ForwardingEngine, mode: ForwardingMode, reloads: Int) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func sample(_ name: String, _ labels: [(String, String)], _ value: some Numeric) {
            let text = labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",")
            out += "\(name){\(text)} \(value)\n"
        }
        family("xdpfwd_build_info", "gauge", "The running build: swift-xdp version.")
        sample("xdpfwd_build_info", [("version", SwiftXDPVersion.string)], 1)
        family("xdpfwd_info", "gauge", "Mode, attach and bind modes of the running daemon.")
        for port in engine.configuration.ports {
            sample("xdpfwd_info", [("mode", mode.rawValue), ("port", port.interface),
                                   ("attach", engine.attachModes[port.interface]?.rawValue ?? "unknown"),
                                   ("bind", engine.zeroCopy ? "zero-copy" : "copy")], 1)
        }
        let counters = engine.portCounters
        for (name, help, read) in [
            ("xdpfwd_rx_packets_total", "Packets received per port and queue.", { (c: PortCounters) in c.rxPackets.load(ordering: .relaxed) }),
            ("xdpfwd_rx_bytes_total", "Bytes received per port and queue.", { (c: PortCounters) in c.rxBytes.load(ordering: .relaxed) }),
            ("xdpfwd_tx_packets_total", "Packets sent per port and queue.", { (c: PortCounters) in c.txPackets.load(ordering: .relaxed) }),
            ("xdpfwd_tx_bytes_total", "Bytes sent per port and queue.", { (c: PortCounters) in c.txBytes.load(ordering: .relaxed) }),
        ] as [(String, String, (PortCounters) -> UInt64)] {
            family(name, "counter", help)
            for counter in counters { sample(name, [("port", counter.port), ("queue", "\(counter.queue)")], read(counter)) }
        }
        family("xdpfwd_drops_total", "counter", "Packets dropped in userspace, by port, queue and reason.")
        for counter in counters {
            for reason in DropCounter.allCases {
                sample("xdpfwd_drops_total", [("port", counter.port), ("queue", "\(counter.queue)"), ("reason", reason.label)], counter.drops(reason))
            }
        }
        family("xdpfwd_partial_checksums_total", "counter",
               "Received TCP/UDP packets with a partial checksum (senders with checksum offload), by how they were finished: offload (TX metadata request) or software.")
        for counter in counters {
            sample("xdpfwd_partial_checksums_total", [("port", counter.port), ("queue", "\(counter.queue)"), ("how", "offload")],
                   counter.partialChecksumsOffloaded.load(ordering: .relaxed))
            sample("xdpfwd_partial_checksums_total", [("port", counter.port), ("queue", "\(counter.queue)"), ("how", "software")],
                   counter.partialChecksumsFinished.load(ordering: .relaxed))
        }
        family("xdpfwd_xdp_statistics_total", "counter", "The kernel's XDP_STATISTICS per socket.")
        for (port, queue, stats) in engine.socketStatistics() {
            for (name, value) in [("rx_dropped", stats.rxDropped), ("rx_invalid_descs", stats.rxInvalidDescriptors),
                                  ("tx_invalid_descs", stats.txInvalidDescriptors), ("rx_ring_full", stats.rxRingFull),
                                  ("rx_fill_ring_empty_descs", stats.rxFillRingEmpty), ("tx_ring_empty_descs", stats.txRingEmpty)] {
                sample("xdpfwd_xdp_statistics_total", [("port", port), ("queue", "\(queue)"), ("counter", name)], value)
            }
        }
        family("xdpfwd_program_packets_total", "counter", "Decisions of the XDP redirect program per port.")
        for (port, program) in engine.programCounters() {
            for (decision, value) in [("redirected", program.redirected), ("passed", program.passed), ("dropped_no_socket", program.droppedNoSocket),
                                      ("passed_no_socket", program.passedNoSocket), ("router_passed", program.routerPassed)] {
                sample("xdpfwd_program_packets_total", [("port", port), ("decision", decision)], value)
            }
        }
        if mode == .l3 {
            family("xdpfwd_program_router_passed_total", "counter", "Router mode: packets the XDP program left to the kernel, per port and reason.")
            for (port, program) in engine.programCounters() {
                for reason in RedirectCounters.RouterReason.allCases {
                    sample("xdpfwd_program_router_passed_total", [("port", port), ("reason", reason.label)], program.routerPassed(reason))
                }
            }
        }
        family("xdpfwd_frames", "gauge", "UMEM frames by place, per worker (conservation: free + receive_side + transmit_side + held = total).")
        for (index, frames) in engine.workerFrames.enumerated() {
            let (total, free, receive, transmit) = (frames.total, frames.free, frames.receiveSide, frames.transmitSide)
            for (place, value) in [("total", total), ("free", free), ("receive_side", receive), ("transmit_side", transmit),
                                   ("held", total - free - receive - transmit)] {
                sample("xdpfwd_frames", [("worker", "\(index)"), ("place", place)], value)
            }
        }
        family("xdpfwd_reloads_total", "counter", "SIGHUP reloads.")
        sample("xdpfwd_reloads_total", [], reloads)
        return out
    }

    /// A label value in the exposition format: backslash, double quote and
    /// line feed escaped (an interface name may hold any of them but '/').
    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
