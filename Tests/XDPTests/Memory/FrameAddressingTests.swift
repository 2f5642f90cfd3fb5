import Testing
import XDP

@Suite("Frame addressing")
struct FrameAddressingTests {
    @Test("aligned mode: the chunk is the address masked to the frame size")
    func aligned() {
        let addressing = FrameAddressing(frameSize: 2048, unaligned: false)
        #expect(!addressing.isUnaligned)
        let decoded = addressing.decode(5 * 2048 + 300)
        #expect(decoded.chunk == 5 * 2048 && decoded.offset == 300)
        #expect(addressing.encode(chunk: 5 * 2048, offset: 300) == 5 * 2048 + 300)
        // Addresses with upper bits set name no frame in aligned mode: they stay past the UMEM.
        #expect(addressing.decode(1 << 48).chunk == 1 << 48)
    }

    @Test("unaligned mode: the offset travels in the upper 16 bits, chunks start anywhere")
    func unaligned() {
        let addressing = FrameAddressing(frameSize: 4001, unaligned: true)
        #expect(addressing.isUnaligned)
        let chunk: UInt64 = 7 * 4001
        let address = addressing.encode(chunk: chunk, offset: 256)
        #expect(address == chunk | 256 << 48)
        let decoded = addressing.decode(address)
        #expect(decoded.chunk == chunk && decoded.offset == 256)
        // A plain address (offset 0 in the upper bits) is its own chunk.
        let plain = addressing.decode(12_345)
        #expect(plain.chunk == 12_345 && plain.offset == 0)
    }
}
