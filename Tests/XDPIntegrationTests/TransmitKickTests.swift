import Glibc
import Testing
import XDP
import XDPControl

/// A TX kick the kernel refuses is counted and surfaced, not ignored.
@Suite("Refused TX kicks", .serialized)
struct TransmitKickTests {
    @Test("a socket whose interface was removed: each refused kick counted, ENXIO surfaced with the fix")
    func interfaceRemovedUnderSocket() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        // need_wakeup off: every kick is a syscall, whatever the ring's flag says.
        var sender = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface,
                                      socket: SocketConfiguration(needWakeup: false), fill: false)
        // Bound and able: a kick on a live interface is not refused.
        #expect(transmit(sequencedPackets(3, link: link), from: &sender) == 3)
        #expect(sender.socket.syscalls.refusedTransmitKicks == 0)
        try sender.socket.checkTransmitKicks()

        // The interface goes away under the bound socket: the kernel unbinds it.
        try lab.runInDevice(["ip", "link", "del", "dev", link.deviceInterface])
        guard var frame = sender.umem.pool.allocate() else {
            Issue.record("no free frame left in the sender's pool")
            return
        }
        write(sequencedPackets(1, link: link)[0], into: &frame)
        sender.socket.tx.push(frame)
        sender.socket.tx.submit()
        let kicksBefore = sender.socket.syscalls.transmitKicks
        for _ in 0..<3 {
            let kicked = sender.socket.kickTransmit()
            #expect(kicked)
        }
        let counts = sender.socket.syscalls
        #expect(counts.transmitKicks - kicksBefore == 3)
        #expect(counts.refusedTransmitKicks == 3, "every kick after the removal was refused and counted")
        #expect(counts.lastTransmitKickError == ENXIO)
        var error: XDPError?
        do { try sender.socket.checkTransmitKicks() } catch let thrown { error = thrown }
        #expect(error != nil, "checkTransmitKicks throws after a refused kick")
        #expect(error?.kind == .interfaceNotFound)
        #expect(error?.errno == ENXIO)
        #expect(error?.description.contains("no longer bound") == true, "\(String(describing: error))")
    }

    @Test("transient sendto errors are not refusals; others carry their fix")
    func classification() {
        for transient in [EAGAIN, EBUSY, ENOBUFS, ENETDOWN, EINTR] {
            #expect(XDPError.isTransientTransmitKickError(transient))
            #expect(XDPError.refusedTransmitKick(errno: transient, interface: "eth0", queue: 0, zeroCopy: true) == nil)
        }
        let igb = XDPError.refusedTransmitKick(errno: EINVAL, interface: "eth0", queue: 1, zeroCopy: true)
        #expect(igb?.kind == .unsupported)
        #expect(igb?.description.contains("xdpctl attach -i eth0") == true, "\(String(describing: igb))")
        let copy = XDPError.refusedTransmitKick(errno: EINVAL, interface: "eth0", queue: 1, zeroCopy: false, refusals: 7)
        #expect(copy?.kind == .invalidConfiguration)
        #expect(copy?.description.contains("7 kicks refused") == true, "\(String(describing: copy))")
    }
}
