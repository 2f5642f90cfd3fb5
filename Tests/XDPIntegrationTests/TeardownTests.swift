import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// Repeated create/destroy, EBUSY handling, and nothing left attached.
@Suite("Teardown", .serialized)
struct TeardownTests {
    @Test("create, use and destroy ten times on the same queue", arguments: [AttachMode.generic, .native])
    func repeatedCreateDestroy(mode: AttachMode) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        for round in 0..<10 {
            var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface,
                                            umem: UMEMConfiguration(frameCount: 512, fillRingSize: 256))
            let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: mode, registering: receiver.socket)
            let packets = sequencedPackets(5, link: link)
            #expect(transmit(packets, from: &sender) == 5)
            expectSame(receive(5, on: &receiver), packets)
            let account = receiver.accounting
            #expect(account.isConserved)
            _ = consume program
            _ = consume receiver
            let attached = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
            #expect(attached == nil, "round \(round): the program is detached when dropped")
        }
    }

    @Test("a queue held by another UMEM's socket is busy: retried, then a clear error")
    func busyQueue() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let holder = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let started = ContinuousClock.now
        let error = #expect(throws: XDPError.self) {
            _ = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface,
                                 socket: SocketConfiguration(busyRetries: 3))
        }
        #expect(error?.kind == .busy)
        #expect(error?.errno == EBUSY)
        #expect(error?.description.contains("retried 3 times") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started >= .milliseconds(250), "EBUSY is retried with backoff")
        _ = holder
    }

    @Test("the program is detached when the interface's last user goes, and a foreign one is left alone")
    func foreignProgramNotReplaced() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let first = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native, registering: receiver.socket)
        // A live process's redirect program is there now (ours, loaded a second time); a genuinely
        // foreign one is AttachModeTests' business.
        let error = #expect(throws: XDPError.self) {
            _ = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native, registering: receiver.socket)
        }
        #expect(error?.kind == .busy)
        #expect(error?.description.contains("already has XDP program id \(first.programID)") == true, "\(String(describing: error))")
        // Replacing on request works, and dropping the replaced program does not detach the new one.
        let second = try lab.inDevice { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: link.deviceInterface, mode: .native, replaceExisting: true)
        }
        _ = consume first
        let attached = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(attached == second.programID)
        _ = consume second
        let after = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(after == nil)
    }
}
