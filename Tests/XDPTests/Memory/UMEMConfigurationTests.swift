import Testing
import XDP

@Suite("UMEM configuration")
struct UMEMConfigurationTests {
    @Test("aligned mode refuses a frame size that is not a power of two; unaligned takes 2048 to 4096")
    func frameSizes() throws {
        var aligned = UMEMConfiguration(frameSize: 4001)
        #expect(throws: XDPError.self) { try aligned.validate() }
        aligned.unalignedChunks = true
        try aligned.validate()
        for size in [2047, 4097] {
            let outOfRange = UMEMConfiguration(frameSize: size, unalignedChunks: true)
            #expect(throws: XDPError.self) { try outOfRange.validate() }
        }
        try UMEMConfiguration(frameSize: 2048, unalignedChunks: true).validate()
        try UMEMConfiguration(frameSize: 4096, unalignedChunks: true).validate()
    }
}
