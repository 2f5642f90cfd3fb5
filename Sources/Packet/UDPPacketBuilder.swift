/// Builds Ethernet + IPv4 + UDP frames, for generators and tests.
///
/// The IPv4 header checksum is computed; the UDP checksum is left zero
/// (allowed for IPv4).
public struct UDPPacketBuilder: Sendable, Equatable {
    /// Source MAC address (6 bytes).
    public var sourceMAC: [UInt8]
    /// Destination MAC address (6 bytes).
    public var destinationMAC: [UInt8]
    /// Source IPv4 address (4 bytes).
    public var sourceIPv4: [UInt8]
    /// Destination IPv4 address (4 bytes).
    public var destinationIPv4: [UInt8]
    /// UDP source port.
    public var sourcePort: UInt16
    /// UDP destination port.
    public var destinationPort: UInt16

    /// Bytes of Ethernet (14) + IPv4 (20) + UDP (8) headers.
    public static let headerLength = 42
    /// The smallest frame a builder makes: 60 bytes (64 on the wire with FCS).
    public static let minimumFrameLength = 60

    /// Creates a builder.
    public init(sourceMAC: [UInt8], destinationMAC: [UInt8], sourceIPv4: [UInt8], destinationIPv4: [UInt8],
                sourcePort: UInt16 = 9, destinationPort: UInt16 = 9) {
        precondition(sourceMAC.count == 6 && destinationMAC.count == 6, "MAC addresses are 6 bytes")
        precondition(sourceIPv4.count == 4 && destinationIPv4.count == 4, "IPv4 addresses are 4 bytes")
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.sourceIPv4 = sourceIPv4
        self.destinationIPv4 = destinationIPv4
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// Writes a frame of `frameLength` bytes into `bytes` (which must be at
    /// least that long, checked): headers, then `payload` (truncated or
    /// zero-padded).
    /// - Parameters:
    ///   - bytes: Where the frame goes, e.g. a frame's `mutableBytes`.
    ///   - frameLength: The frame length; at least ``minimumFrameLength`` is written.
    ///   - payload: The bytes after the headers.
    /// - Returns: The frame length written.
    @discardableResult
    public func write(into bytes: inout MutableRawSpan, frameLength: Int, payload: [UInt8] = []) -> Int {
        unsafe bytes.withUnsafeMutableBytes { write(into: $0, frameLength: frameLength, payload: payload) }
    }

    // Safety: checks that the buffer holds the whole frame before writing.
    func write(into buffer: UnsafeMutableRawBufferPointer, frameLength: Int, payload: [UInt8] = []) -> Int {
        let length = max(frameLength, UDPPacketBuilder.minimumFrameLength)
        precondition(buffer.count >= length, "buffer of \(buffer.count) bytes too small for a \(length)-byte frame")
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var offset = 0
        func put(_ values: [UInt8]) { for v in values { bytes[offset] = v; offset += 1 } }
        func put16(_ value: UInt16) { put([UInt8(value >> 8), UInt8(value & 0xff)]) }
        put(destinationMAC); put(sourceMAC); put16(0x0800)
        let ipLength = UInt16(length - 14)
        let ipStart = offset
        put([0x45, 0]); put16(ipLength); put16(0); put16(0x4000); put([64, 17]); put16(0)
        put(sourceIPv4); put(destinationIPv4)
        let checksum = InternetChecksum.compute(UnsafeRawBufferPointer(start: bytes + ipStart, count: 20))
        bytes[ipStart + 10] = UInt8(checksum >> 8)
        bytes[ipStart + 11] = UInt8(checksum & 0xff)
        put16(sourcePort); put16(destinationPort); put16(ipLength - 20); put16(0)
        for index in 0..<(length - offset) {
            bytes[offset + index] = index < payload.count ? payload[index] : 0
        }
        return length
    }

    /// Returns a frame of `frameLength` bytes with `payload` after the headers.
    public func make(frameLength: Int, payload: [UInt8] = []) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: max(frameLength, UDPPacketBuilder.minimumFrameLength))
        frame.withUnsafeMutableBytes { _ = write(into: $0, frameLength: frameLength, payload: payload) }
        return frame
    }
}

/// The Internet checksum (RFC 1071) over a byte buffer.
public enum InternetChecksum {
    /// The ones'-complement checksum of `bytes`, ready to store.
    /// - Parameter bytes: The bytes the checksum covers.
    /// - Returns: The complemented sum, in host order (store it big-endian).
    public static func compute(_ bytes: RawSpan) -> UInt16 {
        unsafe bytes.withUnsafeBytes { compute($0) }
    }

    static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum &+= UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
        return ~UInt16(sum)
    }
}
