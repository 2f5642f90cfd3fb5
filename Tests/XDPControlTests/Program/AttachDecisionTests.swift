import Testing
import XDP
@testable import XDPControl

/// `.auto` decides from the driver's xdp-features, never from whether a native attach succeeds.
@Suite("Attach mode decision")
struct AttachDecisionTests {
    /// Meta's fbnic in Linux 6.18: basic + rx-sg, no redirect.
    static let fbnic = XDPFeatures(reported: true, flags: 0b10_0001)
    /// veth: basic, redirect, ndo-xmit, rx-sg, ndo-xmit-sg.
    static let veth = XDPFeatures(reported: true, flags: 0b110_0111)
    /// A kernel that reports nothing (before 6.3).
    static let unreported = XDPFeatures(reported: false, flags: 0)
    /// A driver without native XDP at all.
    static let none = XDPFeatures(reported: true, flags: 0)

    @Test("auto: generic with the reason where the driver cannot redirect (fbnic)")
    func autoOnBasicOnly() throws {
        let decision = try AttachDecision.decide(requested: .auto, features: Self.fbnic, interface: "eth0")
        #expect(decision.mode == .generic)
        #expect(decision.reason?.contains("not XDP_REDIRECT") == true, "\(String(describing: decision.reason))")
        #expect(decision.reason?.contains("basic,rx-sg") == true, "the probe's answer is named")
        #expect(Self.fbnic.recommendedAttachMode == .generic)
    }

    @Test("auto: native where the driver redirects; tried native-then-generic where the kernel reports nothing")
    func autoElsewhere() throws {
        #expect(try AttachDecision.decide(requested: .auto, features: Self.veth, interface: "eth0") == AttachDecision(mode: .native))
        #expect(try AttachDecision.decide(requested: .auto, features: Self.unreported, interface: "eth0") == AttachDecision(mode: .auto))
        #expect(try AttachDecision.decide(requested: .auto, features: Self.none, interface: "eth0").mode == .generic)
        #expect(Self.veth.recommendedAttachMode == .native)
        #expect(Self.unreported.recommendedAttachMode == .native)
    }

    @Test("native on a driver that cannot redirect fails with the reason and the fix")
    func nativeRefused() {
        let error = #expect(throws: XDPError.self) {
            _ = try AttachDecision.decide(requested: .native, features: Self.fbnic, interface: "eth0")
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.hint.contains("XDP_REDIRECT") == true)
        #expect(error?.hint.contains("--attach generic") == true, "\(String(describing: error))")
    }

    @Test("generic is always generic; multi-buffer auto without rx-sg is generic; RX metadata needs redirect")
    func otherCases() throws {
        #expect(try AttachDecision.decide(requested: .generic, features: Self.fbnic, interface: "eth0") == AttachDecision(mode: .generic))
        let noSG = XDPFeatures(reported: true, flags: 0b11)
        #expect(try AttachDecision.decide(requested: .auto, features: noSG, interface: "eth0", multiBuffer: true).mode == .generic)
        #expect(try AttachDecision.decide(requested: .auto, features: noSG, interface: "eth0").mode == .native)
        #expect(throws: XDPError.self) {
            _ = try AttachDecision.decide(requested: .auto, features: Self.fbnic, interface: "eth0", rxMetadata: true)
        }
        let withMetadata = XDPFeatures(reported: true, flags: 0b11, rxMetadata: 0b111)
        #expect(try AttachDecision.decide(requested: .auto, features: withMetadata, interface: "eth0", rxMetadata: true).mode == .native)
    }
}
