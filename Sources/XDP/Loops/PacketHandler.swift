/// What a handler decides for one received packet.
public enum PacketVerdict: Sendable, Equatable {
    /// Give the frame back to the kernel for receiving (drop the packet).
    case drop
    /// Send the packet (as the handler left it) out of the socket it came in on.
    case transmit
}

/// Per-packet logic for the batch loops, over one kind of packet
/// (``Packet``): a ``Frame`` (``PacketHandler``) or a multi-buffer
/// ``FramePacket`` (``MultiBufferHandler``). The batch functions
/// (``Socket/receiveBatch(limit:pool:handler:)``,
/// ``Socket/forwardBatch(from:to:limit:pool:handler:)``) are generic over it,
/// so one loop serves both kinds.
///
/// Conformers are value types whose `handle` is inlined into the loop: make
/// the conformance `@inlinable`-visible (public, in the same module, or
/// `@inlinable`) and keep it free of allocation and locks. Conform to
/// ``PacketHandler`` or ``MultiBufferHandler`` rather than to this protocol:
/// they fix ``Packet``.
public protocol BatchHandler {
    /// The kind of packet `handle` sees: ``Frame`` or ``FramePacket``.
    associatedtype Packet: RingPacket & ~Copyable

    /// Looks at (and may rewrite) one packet and says where it goes.
    /// - Parameter packet: The received packet, borrowed mutably.
    /// - Returns: The verdict.
    mutating func handle(_ packet: inout Packet) -> PacketVerdict

    /// Whether `handle` can ever return ``PacketVerdict/transmit``. A handler
    /// that never transmits (`false`) lets the batch loops skip the TX ring's
    /// bookkeeping on every batch. Default: `true`.
    static var transmits: Bool { get }
}

extension BatchHandler {
    /// `true`: a handler may transmit unless it says otherwise.
    @inlinable @inline(__always)
    public static var transmits: Bool { true }
}

/// Per-packet logic over single frames: a ``BatchHandler`` whose packets are
/// ``Frame``s. Implement `mutating func handle(_ frame: inout Frame) -> PacketVerdict`.
///
/// On a multi-buffer socket, ``FirstFrameHandler`` runs a frame handler on
/// the first frame of each chain.
public protocol PacketHandler: BatchHandler where Packet == Frame {}

/// Per-packet logic for multi-buffer sockets: a ``BatchHandler`` whose
/// packets are whole chains (``FramePacket``), one or more frames each.
/// Implement `mutating func handle(_ packet: inout FramePacket) -> PacketVerdict`.
public protocol MultiBufferHandler: BatchHandler where Packet == FramePacket {}

/// Drops every packet (the `rxdrop` loop): frames go straight back to the fill ring.
@frozen
public struct DropHandler: PacketHandler {
    /// Creates the handler.
    @inlinable public init() {}
    /// `false`: every packet goes back to the fill ring.
    @inlinable @inline(__always)
    public static var transmits: Bool { false }
    /// Drops the frame.
    /// - Parameter frame: The received packet.
    /// - Returns: ``PacketVerdict/drop``.
    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict { .drop }
}

/// Swaps source and destination MAC and sends the packet back (the `l2fwd`
/// reflector). Frames shorter than an Ethernet header are dropped.
@frozen
public struct MACSwapHandler: PacketHandler {
    /// Creates the handler.
    @inlinable public init() {}
    /// Swaps the MACs and sends the frame back.
    /// - Parameter frame: The received packet.
    /// - Returns: ``PacketVerdict/transmit``, or ``PacketVerdict/drop`` for a
    ///   frame shorter than an Ethernet header.
    @inlinable @inline(__always)
    public mutating func handle(_ frame: inout Frame) -> PacketVerdict {
        var bytes = frame.mutableBytes
        guard bytes.byteCount >= 14 else { return .drop }
        // Two 6-byte fields: swap as a 4-byte and a 2-byte word each. The
        // span checks every offset (the guard above lets the checks fold);
        // `unsafe` is only that a load could make a type of invalid bit
        // patterns, which integers have none of.
        let d4 = unsafe bytes.unsafeLoadUnaligned(as: UInt32.self), d2 = unsafe bytes.unsafeLoadUnaligned(fromByteOffset: 4, as: UInt16.self)
        let s4 = unsafe bytes.unsafeLoadUnaligned(fromByteOffset: 6, as: UInt32.self), s2 = unsafe bytes.unsafeLoadUnaligned(fromByteOffset: 10, as: UInt16.self)
        bytes.storeBytes(of: s4, as: UInt32.self)
        bytes.storeBytes(of: s2, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: d4, toByteOffset: 6, as: UInt32.self)
        bytes.storeBytes(of: d2, toByteOffset: 10, as: UInt16.self)
        return .transmit
    }
}

/// Runs a frame handler on the first frame of each multi-buffer packet
/// (where the Ethernet, IP and transport headers are, as far as they fit)
/// and applies its verdict to the whole chain: a ``MultiBufferHandler`` made
/// of a ``PacketHandler``. Changes the handler makes to the first frame's
/// bytes, start and length are kept; a TX metadata request it makes is not
/// (chains are sent without one). Its ``BatchHandler/transmits`` is the
/// frame handler's.
@frozen
public struct FirstFrameHandler<Base: PacketHandler>: MultiBufferHandler {
    /// The frame handler.
    public var base: Base

    /// Wraps a frame handler.
    /// - Parameter base: The handler to run on each chain's first frame.
    @inlinable
    public init(_ base: Base) { self.base = base }

    /// The frame handler's: whether it can ever transmit.
    @inlinable @inline(__always)
    public static var transmits: Bool { Base.transmits }

    /// Runs the frame handler on the chain's first frame.
    /// - Parameter packet: The received chain; an empty one is dropped.
    /// - Returns: The frame handler's verdict, for the whole chain.
    @inlinable @inline(__always)
    public mutating func handle(_ packet: inout FramePacket) -> PacketVerdict {
        guard packet.count > 0 else { return .drop }
        var first = packet.frame(at: 0)
        let verdict = base.handle(&first)
        let (chunk, offset, length) = first.surrender()
        packet.segments[0] = FrameSegment(chunk: chunk, offset: offset, length: length)
        return verdict
    }
}
