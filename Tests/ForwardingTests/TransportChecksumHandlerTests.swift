@testable import Forwarding
import Packet
import Testing
@testable import XDP

/// The handler every forwarding mode wraps: partial checksums carried on as
/// TX metadata requests, or finished in software; full ones untouched.
@Suite("TransportChecksumHandler")
struct TransportChecksumHandlerTests {
    /// A UDP/IPv4 frame from 198.18.0.1 to 198.18.1.1 with `payload`; its
    /// checksum field holds the partial (pseudo-header) sum, or the full one.
    static func frame(payload: [UInt8], partial: Bool, padding: Int = 0) -> [UInt8] {
        let builder = UDPPacketBuilder(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                       sourceIPv4: [198, 18, 0, 1], destinationIPv4: [198, 18, 1, 1], sourcePort: 40000, destinationPort: 7)
        var bytes = builder.make(frameLength: 42 + payload.count, payload: payload)
        bytes += [UInt8](repeating: 0, count: padding)
        bytes.withMutableBytes { raw in
            let location = TransportChecksum.locate(raw.bytes)!
            TransportChecksum.finish(&raw, at: location)   // the full checksum
            if partial {
                raw.storeBytes(of: location.pseudoHeaderSum.bigEndian, toByteOffset: location.field, as: UInt16.self)
            }
        }
        return bytes
    }

    static func full(_ bytes: [UInt8]) -> UInt16 {
        var copy = bytes
        copy.withMutableBytes { _ = TransportChecksum.finish(&$0) }
        return UInt16(copy[40]) << 8 | UInt16(copy[41])
    }

    /// Runs the handler over `bytes` in a frame of a real (socketless) UMEM.
    static func handle(_ bytes: [UInt8], offload: Int) throws -> (bytes: [UInt8], options: UInt32, metadata: [UInt8], offloaded: UInt64, finished: UInt64) {
        var umem = try UMEM(configuration: .init(frameCount: 4, headroom: 64))
        var frame = umem.pool.allocate()!
        frame.length = bytes.count
        frame.withUnsafeMutableBytes { raw in bytes.withUnsafeBytes { raw.copyMemory(from: $0) } }
        var handler = TransportChecksumHandler(PassHandler(), offloadMetadataLength: offload)
        #expect(handler.handle(&frame) == .transmit)
        let out = frame.bytes.withUnsafeBytes { Array($0) }
        let metadata = Array(UnsafeRawBufferPointer(start: frame.base + Int(frame.address) - 24, count: 24))
        let options = frame.transmitOptions
        umem.pool.release(frame)
        return (out, options, metadata, handler.offloaded, handler.finishedInSoftware)
    }

    @Test("a partial checksum becomes an offload request (XDP_TX_METADATA, csum_start 34, csum_offset 6); the bytes stay as they are")
    func offloaded() throws {
        let bytes = Self.frame(payload: Array("partial".utf8), partial: true)
        let result = try Self.handle(bytes, offload: 24)
        #expect(result.offloaded == 1 && result.finished == 0)
        #expect(result.options == TXMetadata.descriptorOption)
        #expect(result.bytes == bytes, "the device finishes it, not us")
        #expect(result.metadata[0] == 2, "XDP_TXMD_FLAGS_CHECKSUM")
        #expect(result.metadata[8] == 34 && result.metadata[10] == 6, "csum_start 34, csum_offset 6: \(result.metadata)")
    }

    @Test("without an offload (zero-copy without tx-checksum, a padded frame) the checksum is finished in software")
    func software() throws {
        let bytes = Self.frame(payload: Array("partial".utf8), partial: true)
        let result = try Self.handle(bytes, offload: 0)
        #expect(result.finished == 1 && result.offloaded == 0 && result.options == 0)
        #expect(UInt16(result.bytes[40]) << 8 | UInt16(result.bytes[41]) == Self.full(bytes))
        let padded = Self.frame(payload: [1, 2, 3], partial: true, padding: 15)
        let paddedResult = try Self.handle(padded, offload: 24)
        #expect(paddedResult.finished == 1 && paddedResult.options == 0, "the offload would sum the padding too")
        #expect(UInt16(paddedResult.bytes[40]) << 8 | UInt16(paddedResult.bytes[41]) == Self.full(padded))
    }

    @Test("a full checksum is left alone")
    func fullUntouched() throws {
        let bytes = Self.frame(payload: Array("full".utf8), partial: false)
        let result = try Self.handle(bytes, offload: 24)
        #expect(result.offloaded == 0 && result.finished == 0 && result.options == 0)
        #expect(result.bytes == bytes)
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with the array's bytes as a `MutableRawSpan`.
    mutating func withMutableBytes<R>(_ body: (inout MutableRawSpan) throws -> R) rethrows -> R {
        var span = mutableSpan
        var bytes = span.mutableBytes
        return try body(&bytes)
    }
}
