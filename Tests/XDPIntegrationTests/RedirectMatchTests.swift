import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// The match map sends only selected traffic to the socket; the rest, ping
/// and ARP included, reaches the kernel stack.
@Suite("Redirect match", .serialized)
struct RedirectMatchTests {
    @Test("UDP to one port goes to AF_XDP, other ports and ping to the kernel", arguments: [AttachMode.generic, .native])
    func selectedTraffic(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode,
                                        match: .udp(ports: 9000...9000), registering: receiver.socket)
        let kernelSide = try KernelUDPSocket(namespace: lab.deviceNamespace, port: 9001)
        let client = try KernelUDPSocket(namespace: lab.peerNamespace, port: 0)

        client.send(40, to: link.deviceIPv4, port: 9000)
        client.send(30, to: link.deviceIPv4, port: 9001)
        let toSocket = receive(40, on: &receiver, timeout: 3)
        #expect(toSocket.count == 40)
        #expect(toSocket.allSatisfy { $0.count >= 42 && $0[36] == 0x23 && $0[37] == 0x28 }, "all to UDP port 9000")
        #expect(kernelSide.drain() == 30)

        let ping = try lab.runInPeer(["ping", "-c", "3", "-i", "0.2", "-W", "1", link.deviceIPv4.map(String.init).joined(separator: ".")], allowFailure: true)
        #expect(ping.contains("3 received"), "ping across the same veth keeps working: \(ping)")

        let counters = try program.counters()
        #expect(counters.redirected == 40)
        #expect(counters.passed >= 30 + 3 + 1, "UDP 9001, ICMP echo, ARP: \(counters)")
        #expect(counters.droppedNoSocket == 0)
        let receiverAccount = receiver.accounting
        #expect(receiverAccount.isConserved)
    }

    @Test("matching traffic on a queue without a socket is dropped and counted, or passed by policy")
    func noSocketPolicy() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: link.deviceInterface, mode: .native, match: RedirectMatch(ipProtocol: 17, destinationPorts: 7000...7010))
        }
        let kernelSide = try KernelUDPSocket(namespace: lab.deviceNamespace, port: 7005)
        let client = try KernelUDPSocket(namespace: lab.peerNamespace, port: 0)
        client.send(10, to: link.deviceIPv4, port: 7005)
        #expect(kernelSide.drain() == 0)
        #expect(try program.counters().droppedNoSocket == 10)

        try program.setMatch(RedirectMatch(ipProtocol: 17, destinationPorts: 7000...7010, passWithoutSocket: true))
        client.send(10, to: link.deviceIPv4, port: 7005)
        #expect(kernelSide.drain() == 10)
        #expect(try program.counters().passedNoSocket == 10)
    }
}
