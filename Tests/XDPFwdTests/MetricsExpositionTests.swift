import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// The metrics endpoint read by a real Prometheus parser (prometheus_client,
/// from Debian's python3-prometheus-client), on an IPv6 listen address,
/// with a port whose name needs escaping.
@Suite("xdpfwd metrics exposition", .serialized)
struct MetricsExpositionTests {
    static let parser = #"""
    import sys, json, urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    url = sys.argv[1]
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    samples = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value, "type": family.type})
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=5)
        post = 200
    except urllib.error.HTTPError as e:
        post = e.code
    print(json.dumps({"samples": samples, "post": post}))
    """#

    @Test("parsed by prometheus_client: every family valid, a quote in a port name escaped, build info, [::1] listen, 405 for POST")
    func exposition() throws {
        let lab = try ForwardingLab(.bridge)
        let odd = "x\"\(String(getpid() % 100_000, radix: 16))"
        try lab.lab.runInDevice(["ip", "link", "add", odd, "type", "veth", "peer", "name", odd + "p"])
        for name in [odd, odd + "p"] { try lab.lab.runInDevice(["ip", "link", "set", name, "up"]) }
        let port = 9174
        let daemon = try Daemon.start(["run", "--mode", "macswap", "-i", odd, "--netns", lab.device, "--metrics", "[::1]:\(port)"])
        #expect(try waitForProgram(lab.lab, interface: odd))
        usleep(300_000)
        let output = try Command.run(["/usr/bin/python3", "-c", Self.parser, "http://[::1]:\(port)/metrics"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let samples = (json["samples"] as? [[String: Any]]) ?? []
        #expect(samples.count > 20, "\(samples.count) samples parsed")
        let build = samples.first { ($0["name"] as? String) == "xdpfwd_build_info" }
        #expect((build?["labels"] as? [String: String])?["version"] == SwiftXDPVersion.string)
        let portLabels = samples.compactMap { ($0["labels"] as? [String: String])?["port"] }
        #expect(portLabels.contains(odd), "the port name with a quote survives escaping: \(Set(portLabels))")
        #expect(json["post"] as? Int == 405)
        #expect(Daemon.stop(daemon) == 0, "\(daemon.standardError)")
        #expect(daemon.standardError.contains("metrics http://[::1]:\(port)/metrics"))
    }
}
