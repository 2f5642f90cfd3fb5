/// What a handler decides for one received packet.
public enum PacketVerdict: Sendable, Equatable {
    /// Give the frame back to the kernel for receiving (drop the packet).
    case drop
    /// Send the packet (as the handler left it) out of the socket it came in on.
    case transmit
}

/// Per-packet logic for the batch loops (``Socket/receiveBatch(limit:pool:handler:)``).
///
/// Conformers are value types whose `handle` is inlined into the loop: make
/// the conformance `@inlinable`-visible (public, in the same module, or
/// `@inlinable`) and keep it free of allocation and locks.
public protocol PacketHandler {
    /// Looks at (and may rewrite) one packet and says where it goes.
    /// - Parameter frame: The received packet, borrowed mutably.
    /// - Returns: The verdict.
    mutating func handle(_ frame: inout Frame) -> PacketVerdict

    /// Whether `handle` can ever return ``PacketVerdict/transmit``. A handler
    /// that never transmits (`false`) lets the batch loops skip the TX ring's
    /// bookkeeping on every batch. Default: `true`.
    static var transmits: Bool { get }
}

extension PacketHandler {
    /// `true`: a handler may transmit unless it says otherwise.
    @inlinable @inline(__always)
    public static var transmits: Bool { true }
}

/// Drops every packet (the `rxdrop` loop): frames go straight back to the fill ring.
@frozen
public struct DropHandler: PacketHandler {
    /// Creates the handler.
    @inlinable public init() {}
    /// `false`: every packet goes back to the fill ring.
    @inlinable @inline(__always)
    public static var transmits: Bool { false }
    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict { .drop }
}

/// Swaps source and destination MAC and sends the packet back (the `l2fwd`
/// reflector). Frames shorter than an Ethernet header are dropped.
@frozen
public struct MACSwapHandler: PacketHandler {
    /// Creates the handler.
    @inlinable public init() {}
    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        guard frame.length >= 14 else { return .drop }
        return frame.withUnsafeMutableBytes { bytes in
            // Two 6-byte fields: swap as a 4-byte and a 2-byte word each.
            let base = bytes.baseAddress!
            let d4 = base.loadUnaligned(as: UInt32.self), d2 = base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
            let s4 = base.loadUnaligned(fromByteOffset: 6, as: UInt32.self), s2 = base.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
            base.storeBytes(of: s4, as: UInt32.self)
            base.storeBytes(of: s2, toByteOffset: 4, as: UInt16.self)
            base.storeBytes(of: d4, toByteOffset: 6, as: UInt32.self)
            base.storeBytes(of: d2, toByteOffset: 10, as: UInt16.self)
            return .transmit
        }
    }
}

/// Per-packet logic for multi-buffer sockets
/// (``Socket/receivePacketBatch(limit:pool:handler:)``): the same contract
/// as ``PacketHandler``, for a packet of one or more frames.
public protocol MultiBufferHandler {
    /// Looks at (and may rewrite) one packet and says where it goes.
    /// - Parameter packet: The received packet, all its frames, borrowed mutably.
    /// - Returns: The verdict.
    mutating func handle(_ packet: inout FramePacket) -> PacketVerdict
}

extension DropHandler: MultiBufferHandler {
    @inlinable @inline(__always)
    public mutating func handle(_ packet: inout FramePacket) -> PacketVerdict { .drop }
}

extension MACSwapHandler: MultiBufferHandler {
    /// Swaps the MACs in the first frame (where the Ethernet header is) and
    /// sends the whole packet back.
    @inlinable @inline(__always)
    public mutating func handle(_ packet: inout FramePacket) -> PacketVerdict {
        guard packet.count > 0, packet.segments[0].length >= 14 else { return .drop }
        var first = packet.frame(at: 0)
        let verdict = handle(&first)
        _ = first.surrender()
        return verdict
    }
}
