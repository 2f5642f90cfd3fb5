/// The kernel's FIB answer for a packet the redirect program sent to a
/// socket in router mode (`RedirectMatch.forwardable`): the program asked
/// `bpf_fib_lookup`, got `BPF_FIB_LKUP_RET_SUCCESS`, and wrote where the
/// packet goes in front of it (`bpf_xdp_adjust_meta`), so userspace forwards
/// exactly as the kernel would (policy rules, ECMP, nexthop objects, IPv4
/// options) without deciding again.
///
/// Mirrors `struct xdp_fib_meta` in `bpf/xdp_redirect.bpf.c`, 20 bytes:
/// destination MAC (6), source MAC (6), egress ifindex (4), magic (4, last,
/// right before the packet). ``RXMetadata`` (the device-bound program's
/// 32-byte area) ends with a magic at the same place: the two are exclusive
/// (a program writes one or the other) and each reader checks its own magic,
/// so a frame never reads as both.
@frozen
public struct FIBMetadata: Sendable, Equatable {
    /// The interface the FIB sends the packet out of.
    public var egressInterfaceIndex: UInt32
    /// The next hop's MAC, as a 48-bit number (first byte most significant).
    public var destinationMAC: UInt64
    /// The egress interface's MAC, as a 48-bit number (first byte most significant).
    public var sourceMAC: UInt64

    /// Creates a value.
    @inlinable
    public init(egressInterfaceIndex: UInt32, destinationMAC: UInt64, sourceMAC: UInt64) {
        self.egressInterfaceIndex = egressInterfaceIndex
        self.destinationMAC = destinationMAC
        self.sourceMAC = sourceMAC
    }

    /// Bytes the program puts in front of the packet.
    public static let byteCount = 20
    /// Marks an area written by our program, format version 1 ("XDF1").
    public static let magic: UInt32 = 0x5844_4631

    /// Reads the area that ends at `packet`, when `headroom` bytes in front
    /// of it leave room for one, it carries the magic number and names an
    /// interface.
    @inlinable @inline(__always)
    static func read(before packet: UnsafeMutableRawPointer, headroom: Int) -> FIBMetadata? {
        guard headroom >= byteCount else { return nil }
        let area = UnsafeRawPointer(packet - byteCount)
        guard area.loadUnaligned(fromByteOffset: 16, as: UInt32.self) == magic else { return nil }
        let index = area.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        guard index != 0 else { return nil }
        return FIBMetadata(egressInterfaceIndex: index,
                           destinationMAC: mac(area),
                           sourceMAC: mac(area + 6))
    }

    /// Six bytes at `bytes` as a 48-bit number.
    @inlinable @inline(__always)
    static func mac(_ bytes: UnsafeRawPointer) -> UInt64 {
        let high = UInt64(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))
        let low = UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        return high << 16 | low
    }

    /// Writes the two MACs over the first 12 bytes of an Ethernet frame
    /// (destination, then source).
    /// - Parameter bytes: The frame; at least 12 bytes.
    /// - Returns: `false`, writing nothing, when the frame is shorter.
    @inlinable @inline(__always)
    public func writeEthernetAddresses(to bytes: inout MutableRawSpan) -> Bool {
        guard bytes.byteCount >= 12 else { return false }
        bytes.storeBytes(of: UInt32(truncatingIfNeeded: destinationMAC >> 16).bigEndian, toByteOffset: 0, as: UInt32.self)
        bytes.storeBytes(of: UInt16(truncatingIfNeeded: destinationMAC).bigEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: UInt32(truncatingIfNeeded: sourceMAC >> 16).bigEndian, toByteOffset: 6, as: UInt32.self)
        bytes.storeBytes(of: UInt16(truncatingIfNeeded: sourceMAC).bigEndian, toByteOffset: 10, as: UInt16.self)
        return true
    }
}

extension Frame {
    /// The FIB answer in front of the packet (see ``FIBMetadata``), or `nil`
    /// when the program that redirected it wrote none (not router mode, or
    /// an area that is missing or invalid).
    @inlinable
    public var fibMetadata: FIBMetadata? {
        FIBMetadata.read(before: UMEMPointer.at(address, in: base), headroom: Int(offset))
    }

    /// Reads the FIB answer in front of the packet and erases its magic
    /// number, so the bytes can never be read again as a fresh answer (copy
    /// mode copies an area only when the program wrote one: without the
    /// erase, a later packet in this chunk with none would find the old one).
    /// - Returns: The answer, or `nil` as for ``fibMetadata``.
    @inlinable @inline(__always)
    public mutating func takeFIBMetadata() -> FIBMetadata? {
        let packet = UMEMPointer.at(address, in: base)
        guard let value = FIBMetadata.read(before: packet, headroom: Int(offset)) else { return nil }
        (packet - 4).storeBytes(of: 0, as: UInt32.self)
        return value
    }
}
