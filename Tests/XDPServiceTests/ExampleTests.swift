import Foundation
import TestSupport
import Testing
import XDP
import XDPControl

/// The examples against the lab, with a real client in another namespace.
@Suite("Examples", .serialized)
struct ExampleTests {
    @Test("udp-echo: N requests get N replies (client with default offloads: partial checksums finished), ping, TCP and another UDP port still reach the kernel, stop detaches",
          arguments: ["pinned", "async"], [true, false])
    func udpEcho(mode: String, clientChecksumOffload: Bool) throws {
        let lab = try ServiceLab(queues: 2, clientChecksumOffload: clientChecksumOffload)
        #expect(try lab.clientChecksumOffloadIsOn() == clientChecksumOffload)
        try lab.startKernelServers(udp: 9001, tcp: 9002)
        let echo = try ToolProcess(tool: "udp-echo", ["-i", lab.interface, "--port", "9000", "--queues", "all", "--netns", lab.device]
                                       + (mode == "async" ? ["--async"] : []))
        #expect(try waitForProgram(lab.lab, interface: lab.interface))
        usleep(200_000)
        let result = try lab.runClient(["echo", lab.serviceAddress, "9000", "300", "echo", lab.serviceAddress, "9001", "20",
                                        "tcp", lab.serviceAddress, "9002"])
        #expect(result.echo == 300 + 20, "300 echoes from AF_XDP and 20 from the kernel: \(result)")
        #expect(result.tcp == true, "TCP on the same interface reaches the kernel")
        #expect(try lab.ping(count: 5) == 5, "ping reaches the kernel")

        kill(echo.pid, SIGTERM)
        #expect(echo.wait(timeout: 15) == 0, "\(echo.standardError)")
        let stats = echo.json
        #expect(stats.integer("received") == 300, "exactly the 300 requests to port 9000: \(stats)")
        #expect(stats.integer("transmitted") == 300)
        #expect(stats.integer("frames_held") == 0, "every frame accounted for")
        #expect(try lab.attachedProgram() == nil, "program detached on SIGTERM")
    }

    @Test("packet-counter: per-flow counts match what was sent; other ports stay with the kernel")
    func packetCounter() throws {
        let lab = try ServiceLab()
        let counter = try ToolProcess(tool: "packet-counter", ["-i", lab.interface, "--port", "9100", "--netns", lab.device])
        #expect(try waitForProgram(lab.lab, interface: lab.interface))
        usleep(200_000)
        let result = try lab.runClient(["send", lab.serviceAddress, "9100", "120", "40001",
                                        "send", lab.serviceAddress, "9100", "45", "40002",
                                        "send", lab.serviceAddress, "9101", "30", "40003"])
        #expect(result.sent == 195)
        usleep(500_000)
        kill(counter.pid, SIGINT)
        #expect(counter.wait(timeout: 15) == 0, "\(counter.standardError)")
        let output = counter.standardOutput
        #expect(output.contains("198.18.0.1:40001 > 198.18.0.2:9100 udp  packets 120"), "a per-second table was printed: \(output)")
        let json = counter.json
        let flows = (json["flows"] as? [[String: Any]]) ?? []
        let counts = Dictionary(uniqueKeysWithValues: flows.map { ($0["flow"] as? String ?? "", $0.integer("packets") ?? -1) })
        #expect(counts == ["198.18.0.1:40001 > 198.18.0.2:9100 udp": 120, "198.18.0.1:40002 > 198.18.0.2:9100 udp": 45],
                "port 9101 is not counted (the kernel has it): \(json)")
        #expect(json.integer("received") == 165)
        #expect(json.integer("dropped_slow_consumer") == 0)
        #expect(json.integer("frames_held") == 0)
        #expect(try lab.attachedProgram() == nil)
    }
}
