// In-place header rewrites for forwarding: TTL / hop-limit decrement with an
// incremental IPv4 checksum update (RFC 1624), and Ethernet MAC rewrite.

extension InternetChecksum {
    /// Incrementally updates a stored Internet checksum after one 16-bit word
    /// of the covered data changed from `old` to `new` (RFC 1624, eqn. 3:
    /// `HC' = ~(~HC + ~m + m')`), which stays correct at the 0x0000/0xFFFF
    /// boundary where eqn. 2 of RFC 1141 does not.
    /// - Parameters:
    ///   - checksum: The checksum as stored in the header (`HC`).
    ///   - old: The word's old value (`m`).
    ///   - new: The word's new value (`m'`).
    /// - Returns: The checksum to store (`HC'`).
    @inlinable @inline(__always)
    public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var sum = UInt32(~checksum) &+ UInt32(~old) &+ UInt32(new)
        sum = (sum & 0xffff) &+ (sum >> 16)
        sum = (sum & 0xffff) &+ (sum >> 16)
        return ~UInt16(truncatingIfNeeded: sum)
    }
}

extension InternetChecksum {
    /// Whether the IPv4 header at `l3Offset` has a correct header checksum
    /// (its ones'-complement sum, checksum included, is 0xFFFF).
    ///
    /// `headerLength` is the parsed IHL × 4 (20...60); `bytes` must hold
    /// that many bytes from `l3Offset` (checked; traps otherwise).
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - l3Offset: Offset of the IPv4 header.
    ///   - headerLength: The header length in bytes, options included.
    @inlinable @inline(__always)
    public static func isValidIPv4Header(_ bytes: RawSpan, l3Offset: Int, headerLength: Int) -> Bool {
        unsafe bytes.withUnsafeBytes { isValidIPv4Header($0, l3Offset: l3Offset, headerLength: headerLength) }
    }

    // Safety (this and the pointer implementations below): each checks that
    // the bytes it touches lie inside the buffer (precondition, or a guard)
    // before its unchecked loads and stores; the span overloads lend them a
    // buffer that lives as long as the call.
    @inlinable
    static func isValidIPv4Header(_ bytes: UnsafeRawBufferPointer, l3Offset: Int, headerLength: Int) -> Bool {
        precondition(l3Offset >= 0 && headerLength >= 20 && headerLength <= 60
                     && bytes.count - l3Offset >= headerLength, "IPv4 header outside the buffer")
        let header = bytes.baseAddress! + l3Offset
        var sum: UInt32 = 0
        var offset = 0
        while offset < headerLength {  // at most 30 words: no overflow
            sum &+= UInt32(UInt16(bigEndian: header.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset &+= 2
        }
        sum = (sum & 0xffff) &+ (sum >> 16)
        sum = (sum & 0xffff) &+ (sum >> 16)
        return sum == 0xffff
    }
}

/// Decrementing the IPv4 TTL in place, with the header checksum updated.
public enum IPv4TTL {
    /// Decrements the TTL of the IPv4 header at `l3Offset` and updates its
    /// header checksum incrementally (RFC 1624).
    ///
    /// The caller must have parsed the header (``ParsedPacket/parse(_:)``):
    /// `bytes` must hold at least 20 bytes from `l3Offset` (checked; traps
    /// otherwise).
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - l3Offset: Offset of the IPv4 header in `bytes`.
    /// - Returns: `false`, changing nothing, if the TTL is 0 or 1 (the packet
    ///   expires here: the kernel should send ICMP time exceeded); `true`
    ///   once decremented.
    @inlinable @inline(__always)
    public static func decrement(_ bytes: inout MutableRawSpan, l3Offset: Int) -> Bool {
        unsafe bytes.withUnsafeMutableBytes { decrement($0, l3Offset: l3Offset) }
    }

    @inlinable @inline(__always)
    static func decrement(_ bytes: UnsafeMutableRawBufferPointer, l3Offset: Int) -> Bool {
        precondition(l3Offset >= 0 && bytes.count - l3Offset >= 20, "IPv4 header outside the buffer")
        let header = bytes.baseAddress! + l3Offset
        let ttl = header.load(fromByteOffset: 8, as: UInt8.self)
        guard ttl > 1 else { return false }
        // TTL is the high byte of the 16-bit word (TTL, protocol) at offset 8.
        let old = UInt16(ttl) << 8 | UInt16(header.load(fromByteOffset: 9, as: UInt8.self))
        let checksum = UInt16(bigEndian: header.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        header.storeBytes(of: ttl &- 1, toByteOffset: 8, as: UInt8.self)
        let updated = InternetChecksum.update(checksum, old: old, new: old &- 0x0100)
        header.storeBytes(of: updated.bigEndian, toByteOffset: 10, as: UInt16.self)
        return true
    }
}

/// Decrementing the IPv6 hop limit in place (IPv6 has no header checksum).
public enum IPv6HopLimit {
    /// Decrements the hop limit of the IPv6 header at `l3Offset`.
    ///
    /// `bytes` must hold at least 40 bytes from `l3Offset` (checked; traps
    /// otherwise).
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - l3Offset: Offset of the IPv6 header in `bytes`.
    /// - Returns: `false`, changing nothing, if the hop limit is 0 or 1 (the
    ///   packet expires here); `true` once decremented.
    @inlinable @inline(__always)
    public static func decrement(_ bytes: inout MutableRawSpan, l3Offset: Int) -> Bool {
        unsafe bytes.withUnsafeMutableBytes { decrement($0, l3Offset: l3Offset) }
    }

    @inlinable @inline(__always)
    static func decrement(_ bytes: UnsafeMutableRawBufferPointer, l3Offset: Int) -> Bool {
        precondition(l3Offset >= 0 && bytes.count - l3Offset >= 40, "IPv6 header outside the buffer")
        let header = bytes.baseAddress! + l3Offset
        let hopLimit = header.load(fromByteOffset: 7, as: UInt8.self)
        guard hopLimit > 1 else { return false }
        header.storeBytes(of: hopLimit &- 1, toByteOffset: 7, as: UInt8.self)
        return true
    }
}

/// Rewriting the Ethernet addresses of a frame in place.
public enum EthernetAddresses {
    /// Sets the destination (bytes 0...5) and source (bytes 6...11) MACs.
    ///
    /// `bytes` must hold at least 12 bytes (checked; traps otherwise).
    /// - Parameters:
    ///   - bytes: The frame.
    ///   - destination: The new destination MAC (the next hop's).
    ///   - source: The new source MAC (the output interface's).
    @inlinable @inline(__always)
    public static func rewrite(_ bytes: inout MutableRawSpan, destination: MACAddress, source: MACAddress) {
        unsafe bytes.withUnsafeMutableBytes { rewrite($0, destination: destination, source: source) }
    }

    /// Swaps the destination (bytes 0...5) and source (bytes 6...11) MACs,
    /// as a reflector or MAC-swap forwarder does.
    ///
    /// `bytes` must hold at least 12 bytes (checked; traps otherwise).
    /// - Parameter bytes: The frame.
    @inlinable @inline(__always)
    public static func swap(_ bytes: inout MutableRawSpan) {
        unsafe bytes.withUnsafeMutableBytes { buffer in
            precondition(buffer.count >= 12, "frame shorter than the Ethernet addresses")
            // Two 6-byte fields: swapped as a 4-byte and a 2-byte word each.
            let base = buffer.baseAddress!
            let d4 = base.loadUnaligned(as: UInt32.self), d2 = base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
            let s4 = base.loadUnaligned(fromByteOffset: 6, as: UInt32.self), s2 = base.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
            base.storeBytes(of: s4, as: UInt32.self)
            base.storeBytes(of: s2, toByteOffset: 4, as: UInt16.self)
            base.storeBytes(of: d4, toByteOffset: 6, as: UInt32.self)
            base.storeBytes(of: d2, toByteOffset: 10, as: UInt16.self)
        }
    }

    @inlinable @inline(__always)
    static func rewrite(_ bytes: UnsafeMutableRawBufferPointer, destination: MACAddress, source: MACAddress) {
        precondition(bytes.count >= 12, "frame shorter than the Ethernet addresses")
        let base = bytes.baseAddress!
        destination.store(to: base)
        source.store(to: base + 6)
    }
}
