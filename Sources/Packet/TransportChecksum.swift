// The TCP/UDP checksum of a frame: finding it, telling a partial one (left
// for checksum offload) from a full one, and finishing it in software.

/// The TCP or UDP checksum of an Ethernet frame (IPv4 or IPv6, up to two
/// VLAN tags).
///
/// Hosts with checksum offload (every veth and tap with the distribution's
/// defaults: containers) hand out TCP/UDP packets whose checksum is
/// *partial* (CHECKSUM_PARTIAL): the field holds only the folded
/// pseudo-header sum, and whoever transmits the packet is to finish it over
/// the segment. AF_XDP delivers those bytes as they are, so a packet sent on
/// unchanged is rejected by its receiver. ``isPartial(_:at:)`` tells them
/// apart; ``finish(_:at:)`` computes the checksum from scratch, which is the
/// right answer both for a partial field and for a full one (rewritten or
/// not), including a full checksum that happens to equal the pseudo-header sum.
public enum TransportChecksum {
    /// Where a frame's TCP/UDP checksum is and what it covers.
    @frozen
    public struct Location: Equatable, Sendable {
        /// Offset of the TCP/UDP header: where the summed bytes start (`csum_start`).
        public var start: Int
        /// Offset of the checksum field from ``start`` (16 for TCP, 6 for UDP: `csum_offset`).
        public var fieldOffset: Int
        /// End of the segment (the IP packet's end: Ethernet padding excluded).
        public var end: Int
        /// The pseudo-header's ones'-complement sum, folded to 16 bits.
        public var pseudoHeaderSum: UInt16
        /// UDP (a zero field means "no checksum" over IPv4, and a computed
        /// zero is sent as 0xFFFF).
        public var isUDP: Bool
        /// IPv6 (UDP must carry a checksum).
        public var isIPv6: Bool

        /// Creates a location (``TransportChecksum/locate(_:)`` finds one in a frame).
        @inlinable
        public init(start: Int, fieldOffset: Int, end: Int, pseudoHeaderSum: UInt16, isUDP: Bool, isIPv6: Bool) {
            self.start = start
            self.fieldOffset = fieldOffset
            self.end = end
            self.pseudoHeaderSum = pseudoHeaderSum
            self.isUDP = isUDP
            self.isIPv6 = isIPv6
        }

        /// Offset of the checksum field in the frame.
        @inlinable public var field: Int { start &+ fieldOffset }
    }

    /// Finds the TCP or UDP checksum of `bytes`, an Ethernet frame.
    /// - Parameter bytes: The frame.
    /// - Returns: `nil` for anything else: not IPv4/IPv6, not TCP/UDP right
    ///   after the IP header (IPv6 extension headers), IPv4 fragments, or
    ///   headers that do not fit in the frame or the IP length.
    @inlinable @inline(__always)
    public static func locate(_ bytes: RawSpan) -> Location? {
        unsafe bytes.withUnsafeBytes { locate($0) }
    }

    // Safety (this and the pointer implementations below): each checks that
    // the bytes it touches lie inside the buffer (a guard or a precondition)
    // before its unchecked loads and stores; the span overloads lend them a
    // buffer that lives as long as the call.
    @inlinable
    static func locate(_ bytes: UnsafeRawBufferPointer) -> Location? {
        guard let base = bytes.baseAddress, bytes.count >= 14 else { return nil }
        var l3 = 12
        var etherType = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: l3, as: UInt16.self))
        var tags = 0
        while (etherType == 0x8100 || etherType == 0x88a8) && tags < 2 {
            guard bytes.count >= l3 &+ 6 else { return nil }
            l3 &+= 4
            etherType = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: l3, as: UInt16.self))
            tags &+= 1
        }
        l3 &+= 2
        var sum: UInt32
        let proto: UInt8
        let l4: Int
        let end: Int
        let isIPv6: Bool
        if etherType == 0x0800 {
            guard bytes.count >= l3 &+ 20 else { return nil }
            let header = base + l3
            let versionIHL = header.load(as: UInt8.self)
            let headerLength = Int(versionIHL & 0x0f) &* 4
            guard versionIHL >> 4 == 4, headerLength >= 20 else { return nil }
            // Fragments: the checksum covers the whole datagram, not this frame.
            guard UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) & 0x3fff == 0 else { return nil }
            let totalLength = Int(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            proto = header.load(fromByteOffset: 9, as: UInt8.self)
            l4 = l3 &+ headerLength
            end = l3 &+ totalLength
            guard totalLength >= headerLength, end <= bytes.count else { return nil }
            sum = UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 12, as: UInt16.self)))
                &+ UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 14, as: UInt16.self)))
                &+ UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 16, as: UInt16.self)))
                &+ UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 18, as: UInt16.self)))
            isIPv6 = false
        } else if etherType == 0x86dd {
            guard bytes.count >= l3 &+ 40 else { return nil }
            let header = base + l3
            guard header.load(as: UInt8.self) >> 4 == 6 else { return nil }
            proto = header.load(fromByteOffset: 6, as: UInt8.self)
            l4 = l3 &+ 40
            end = l4 &+ Int(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
            guard end <= bytes.count else { return nil }
            sum = 0
            var offset = 8
            while offset < 40 {
                sum &+= UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                offset &+= 2
            }
            isIPv6 = true
        } else {
            return nil
        }
        let fieldOffset: Int
        if proto == 6 {
            fieldOffset = 16
            guard end &- l4 >= 20 else { return nil }
        } else if proto == 17 {
            fieldOffset = 6
            guard end &- l4 >= 8 else { return nil }
        } else {
            return nil
        }
        sum &+= UInt32(proto) &+ UInt32(truncatingIfNeeded: end &- l4)
        return Location(start: l4, fieldOffset: fieldOffset, end: end, pseudoHeaderSum: fold(UInt64(sum)), isUDP: proto == 17, isIPv6: isIPv6)
    }

    /// Whether the checksum field holds only the pseudo-header sum: the
    /// packet came from a host that left the checksum to offload.
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - location: What ``locate(_:)`` found in it.
    @inlinable @inline(__always)
    public static func isPartial(_ bytes: RawSpan, at location: Location) -> Bool {
        unsafe bytes.withUnsafeBytes { isPartial($0, at: location) }
    }

    @inlinable
    static func isPartial(_ bytes: UnsafeRawBufferPointer, at location: Location) -> Bool {
        precondition(location.field &+ 2 <= bytes.count, "checksum field outside the buffer")
        let field = UInt16(bigEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: location.field, as: UInt16.self))
        return field == location.pseudoHeaderSum
    }

    /// Computes the TCP/UDP checksum from scratch and stores it: finishes a
    /// partial checksum, and puts right a full one after a rewrite (or
    /// leaves it as it was when nothing changed). UDP over IPv4 without a
    /// checksum (zero) keeps none.
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - location: What ``locate(_:)`` found in it.
    @inlinable @inline(__always)
    public static func finish(_ bytes: inout MutableRawSpan, at location: Location) {
        unsafe bytes.withUnsafeMutableBytes { finish($0, at: location) }
    }

    @inlinable
    static func finish(_ bytes: UnsafeMutableRawBufferPointer, at location: Location) {
        precondition(location.start >= 0 && location.end <= bytes.count && location.field &+ 2 <= location.end,
                     "checksum outside the buffer")
        let base = bytes.baseAddress!
        if location.isUDP && !location.isIPv6 && base.loadUnaligned(fromByteOffset: location.field, as: UInt16.self) == 0 { return }
        base.storeBytes(of: 0, toByteOffset: location.field, as: UInt16.self)
        let segment = UnsafeRawBufferPointer(start: base + location.start, count: location.end &- location.start)
        var checksum = ~fold(UInt64(location.pseudoHeaderSum) &+ UInt64(sum(segment)))
        if checksum == 0 && location.isUDP { checksum = 0xffff }
        base.storeBytes(of: checksum.bigEndian, toByteOffset: location.field, as: UInt16.self)
    }

    /// Finishes the TCP/UDP checksum of a frame a handler rewrote or echoes:
    /// ``locate(_:)`` then ``finish(_:at:)``.
    /// - Parameter bytes: The frame.
    /// - Returns: Whether the frame has a TCP/UDP checksum (now right).
    @inlinable @discardableResult
    public static func finish(_ bytes: inout MutableRawSpan) -> Bool {
        guard let location = locate(bytes.bytes) else { return false }
        finish(&bytes, at: location)
        return true
    }

    /// The ones'-complement sum of `bytes` as big-endian 16-bit words, folded
    /// to 16 bits (not complemented). Summed eight bytes at a time in host
    /// order, which folds to the byte-swapped big-endian sum (RFC 1071).
    /// - Parameter bytes: The bytes to sum.
    /// - Returns: The folded sum, not complemented.
    @inlinable @inline(__always)
    public static func sum(_ bytes: RawSpan) -> UInt16 {
        unsafe bytes.withUnsafeBytes { sum($0) }
    }

    @inlinable
    static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        guard let base = bytes.baseAddress else { return 0 }
        var accumulator: UInt64 = 0
        var index = 0
        let count = bytes.count
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            accumulator &+= (word & 0xffff_ffff) &+ (word >> 32)
            index &+= 8
        }
        while index &+ 2 <= count {
            accumulator &+= UInt64(base.loadUnaligned(fromByteOffset: index, as: UInt16.self))
            index &+= 2
        }
        if index < count {
            // The odd last byte is the high byte of a big-endian word.
            accumulator &+= UInt64((UInt16(base.load(fromByteOffset: index, as: UInt8.self)) << 8).bigEndian)
        }
        return UInt16(bigEndian: fold(accumulator))
    }

    /// Folds a wide ones'-complement sum to 16 bits (not complemented).
    @usableFromInline @inline(__always)
    static func fold(_ value: UInt64) -> UInt16 {
        var sum = (value & 0xffff_ffff) &+ (value >> 32)
        sum = (sum & 0xffff) &+ (sum >> 16)
        sum = (sum & 0xffff) &+ (sum >> 16)
        sum = (sum & 0xffff) &+ (sum >> 16)
        return UInt16(truncatingIfNeeded: sum)
    }
}
