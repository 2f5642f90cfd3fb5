// Turning a packet around in place: what an echo or a reflector does.

extension ParsedPacket {
    /// Swaps the frame's endpoints in place: the Ethernet addresses, the IP
    /// addresses and, when the packet has them (``sourcePort``), the TCP or
    /// UDP ports, so the frame goes back where it came from.
    ///
    /// Every checksum that was right stays right (a swap changes no
    /// ones'-complement sum, the pseudo-header's included); a partial
    /// TCP/UDP checksum stays partial (``TransportChecksum/finish(_:)``
    /// finishes it).
    ///
    /// `bytes` must be the frame this description was parsed from (its
    /// headers are checked to lie inside it; traps otherwise).
    /// - Parameter bytes: The frame.
    @inlinable
    public func swapEndpoints(in bytes: inout MutableRawSpan) {
        let addressOffset = ipVersion == 4 ? l3Offset &+ 12 : l3Offset &+ 8
        let addressLength = ipVersion == 4 ? 4 : 16
        let end = sourcePort == nil ? addressOffset &+ 2 &* addressLength : l4Offset &+ 4
        precondition(l3Offset >= 14 && end >= addressOffset &+ 2 &* addressLength && end <= bytes.byteCount,
                     "headers outside the frame")
        EthernetAddresses.swap(&bytes)
        // Safety: the precondition above puts every byte swapped below
        // inside the buffer, which lives as long as the call.
        unsafe bytes.withUnsafeMutableBytes { buffer in
            Self.swap(buffer, addressOffset, addressOffset &+ addressLength, count: addressLength)
            if sourcePort != nil { Self.swap(buffer, l4Offset, l4Offset &+ 2, count: 2) }
        }
    }

    @inlinable @inline(__always)
    static func swap(_ buffer: UnsafeMutableRawBufferPointer, _ a: Int, _ b: Int, count: Int) {
        var index = 0
        while index < count {
            let x = buffer[a &+ index]
            buffer[a &+ index] = buffer[b &+ index]
            buffer[b &+ index] = x
            index &+= 1
        }
    }
}
