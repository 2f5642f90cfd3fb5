import Glibc
import Synchronization
import XDP

/// How an AF_XDP redirect program is attached to one interface, decided from
/// what the driver reports (netdev xdp-features), never from whether a native
/// attach happens to succeed: a driver with basic XDP but no XDP_REDIRECT
/// (Meta's fbnic in Linux 6.18) accepts a native program and then drops every
/// packet it redirects as an invalid action.
struct AttachDecision: Equatable {
    /// The mode to attach in; `.auto` only when the kernel reported no
    /// features at all (then: native, else generic, by trying).
    var mode: AttachMode
    /// Why generic mode was chosen for `.auto`, for the logs and outputs.
    var reason: String?

    /// Decides the mode for `requested` from `features`.
    /// - Parameters:
    ///   - requested: What the user asked for.
    ///   - features: The driver's answer (``XDPFeatures/probe(index:)``).
    ///   - interface: The interface, for the messages.
    ///   - multiBuffer: The frags-aware program is wanted (native needs rx-sg).
    ///   - rxMetadata: The device-bound metadata program is wanted (native only).
    /// - Throws: `XDPError` `.unsupported` when the requested mode cannot
    ///   deliver packets to sockets on this driver, with the probe's answer and the fix.
    static func decide(requested: AttachMode, features: XDPFeatures, interface: String,
                       multiBuffer: Bool = false, rxMetadata: Bool = false) throws(XDPError) -> AttachDecision {
        let answer = features.reported
            ? "the kernel reports xdp-features \(XDPFeatures.names(features.flags, XDPFeatures.flagNames).joined(separator: ","))"
            : "the kernel reports no XDP features for \(interface)"
        if rxMetadata {
            let operation = "attach the RX metadata program to \(interface)"
            guard requested != .generic else {
                throw XDPError(.unsupported, operation: operation, errno: EINVAL,
                               hint: "RX metadata needs a device-bound program, which the kernel runs in native (driver) mode only: use --attach native")
            }
            if features.reported, !(features.hasNativeXDP && features.canRedirect) {
                throw XDPError(.unsupported, operation: operation, errno: EOPNOTSUPP,
                               hint: "the driver of \(interface) cannot redirect to AF_XDP sockets in native mode (\(answer)), and RX metadata exists only there: run without RX metadata in generic mode")
            }
            if features.reported, (features.rxMetadata ?? 0) == 0 {
                throw XDPError(.unsupported, operation: operation, errno: EOPNOTSUPP,
                               hint: "the driver of \(interface) implements no XDP RX metadata kfuncs (\(answer), rx-metadata \(XDPFeatures.names(features.rxMetadata, XDPFeatures.rxMetadataNames).joined(separator: ",")))")
            }
            return AttachDecision(mode: .native)
        }
        guard requested != .generic else { return AttachDecision(mode: .generic) }
        guard features.reported else { return AttachDecision(mode: requested) }
        let nativeProblem: String? =
            if !features.hasNativeXDP {
                "the driver of \(interface) has no native XDP (\(answer))"
            } else if !features.canRedirect {
                "the driver of \(interface) runs XDP programs but not XDP_REDIRECT, which AF_XDP needs in native mode: every packet for a socket would be dropped (\(answer))"
            } else if multiBuffer && !features.hasRXScatterGather {
                "the driver of \(interface) does not receive multi-buffer XDP packets (no rx-sg; \(answer))"
            } else {
                nil
            }
        guard let nativeProblem else { return AttachDecision(mode: .native) }
        if requested == .native {
            throw XDPError(.unsupported, operation: "attach XDP program to \(interface) in native mode", errno: EOPNOTSUPP,
                           hint: "\(nativeProblem): use generic (skb) mode (--attach generic, or auto, which picks it)")
        }
        return AttachDecision(mode: .generic, reason: "\(nativeProblem); running in generic (skb) mode, which is slower")
    }
}
