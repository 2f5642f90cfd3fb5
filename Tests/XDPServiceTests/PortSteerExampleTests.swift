import Foundation
import TestSupport
import Testing
import XDP
import XDPControl

/// The bring-your-own-program example against the lab, with a real client.
@Suite("Example port-steer", .serialized)
struct PortSteerExampleTests {
    @Test("port-steer: its own program steers exactly the port's packets to the socket and counts the rest; stop detaches",
          arguments: ["generic", "native"])
    func portSteer(mode: String) throws {
        let lab = try ServiceLab()
        let steer = try ToolProcess(tool: "port-steer", ["-i", lab.interface, "--port", "9200", "--count", "120", "--duration", "30",
                                                         "--attach", mode, "--netns", lab.device])
        #expect(try waitForProgram(lab.lab, interface: lab.interface))
        usleep(200_000)
        #expect(try lab.ping(count: 5) == 5, "ping reaches the kernel through the program")
        // The other port first: the example stops at its 120th packet.
        let result = try lab.runClient(["send", lab.serviceAddress, "9201", "30", "40001",
                                        "send", lab.serviceAddress, "9200", "120", "40002"])
        #expect(result.sent == 150)
        #expect(steer.wait(timeout: 30) == 0, "\(steer.standardError)")
        let json = steer.json
        #expect(json.integer("received") == 120, "exactly the port's packets: \(json)")
        #expect(json["mode"] as? String == mode)
        // 30 UDP to the other port and 5 echo requests, plus at most a few ARP frames.
        let others = json.integer("others") ?? -1
        #expect((35...39).contains(others), "the program counted the rest in its own map: \(json)")
        #expect(try lab.attachedProgram() == nil, "program detached at exit")
    }
}
