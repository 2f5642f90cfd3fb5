import Glibc
import Testing
import TestSupport
@_spi(Testing) import XDPControl
import XDP

/// The attach mode a user gets without flags, decided from the driver's
/// xdp-features, and the rule that someone else's program is never replaced.
@Suite("Attach mode and foreign programs", .serialized)
struct AttachModeTests {
    @Test("auto on veth's real answer: native, no fallback")
    func autoOnVeth() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let features = try lab.inDevice { () throws(XDPError) -> XDPFeatures in XDPFeatures.probe(index: Int(if_nametoindex(link.deviceInterface))) }
        #expect(features.reported && features.canRedirect, "veth reports redirect: \(features)")
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .auto, registering: receiver.socket)
        #expect(program.mode == .native)
        #expect(program.fallbackReason == nil)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(50, link: link)
        #expect(transmit(packets, from: &sender) == 50)
        expectSame(receive(50, on: &receiver), packets)
    }

    @Test("auto on a driver with basic XDP and no redirect (fbnic's bits): generic with the reason, and packets arrive")
    func autoOnBasicOnlyDriver() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let index = try lab.inDevice { () throws(XDPError) -> Int in Int(if_nametoindex(link.deviceInterface)) }
        // fbnic in Linux 6.18: basic + rx-sg; a native program there drops every redirect.
        XDPFeatures.injectForTesting(XDPFeatures(reported: true, flags: 0b10_0001), interfaceIndex: index)
        defer { XDPFeatures.injectForTesting(nil, interfaceIndex: index) }
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let error = #expect(throws: XDPError.self) {
            _ = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .native, registering: receiver.socket)
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.hint.contains("not XDP_REDIRECT") == true, "\(String(describing: error))")
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == nil,
                "nothing attached after the refusal")
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .auto, registering: receiver.socket)
        #expect(program.mode == .generic, "decided from the features, although a native attach would succeed on veth")
        #expect(program.fallbackReason?.contains("basic,rx-sg") == true, "\(String(describing: program.fallbackReason))")
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        let packets = sequencedPackets(50, link: link)
        #expect(transmit(packets, from: &sender) == 50)
        expectSame(receive(50, on: &receiver), packets)
    }

    @Test("a foreign program is refused with the command that removes it in its mode", arguments: ["xdpgeneric", "xdpdrv"])
    func foreignProgramRefused(mode: String) throws {
        let lab = try makeLab()
        let link = lab.links[0]
        try ForeignXDPProgram.attach(interface: link.deviceInterface, namespace: lab.deviceNamespace, mode: mode)
        let foreign = try #require(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) })
        let receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let error = #expect(throws: XDPError.self) {
            _ = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .auto, registering: receiver.socket)
        }
        #expect(error?.kind == .busy)
        let command = "ip link set dev \(link.deviceInterface) \(mode) off"
        #expect(error?.hint.contains(command) == true, "\(String(describing: error))")
        #expect(error?.hint.contains("a foreign program") == true)
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == foreign)
        // The hinted command is the one that works.
        try lab.runInDevice(command.split(separator: " ").map(String.init))
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == nil)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .auto, registering: receiver.socket)
        let attached = program.isAttached()
        #expect(attached)
    }

    @Test("reattach after a foreign program replaced ours: refused, the foreign one stays; after it goes, ours is back")
    func reattachNeverClobbers() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        let program = try attachProgram(namespace: lab.deviceNamespace, interface: link.deviceInterface, mode: .generic, registering: receiver.socket)
        try ForeignXDPProgram.attach(interface: link.deviceInterface, namespace: lab.deviceNamespace, mode: "xdpgeneric")
        let foreign = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        #expect(foreign != nil && foreign != program.programID)
        let attachedAfterReplace = program.isAttached()
        #expect(!attachedAfterReplace)
        let foreignDescription = program.foreignProgram()
        #expect(foreignDescription?.description.contains("a foreign program") == true)
        #expect(foreignDescription?.removalCommand == "ip link set dev \(link.deviceInterface) xdpgeneric off")
        let error = #expect(throws: XDPError.self) { try program.reattach() }
        #expect(error?.kind == .busy)
        #expect(error?.hint.contains("xdpgeneric off") == true, "\(String(describing: error))")
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == foreign,
                "the foreign program is still there")
        try lab.runInDevice(["ip", "link", "set", "dev", link.deviceInterface, "xdpgeneric", "off"])
        try program.reattach()
        let attached = program.isAttached()
        #expect(attached)
        let noForeign = program.foreignProgram()
        #expect(noForeign == nil)
    }
}
