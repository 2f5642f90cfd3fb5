import Testing
@testable import XDP

/// The leak path: a Frame dropped without going to a ring or back to the
/// pool. Debug builds trap at the spot (driven in a child process, an exit
/// test); release builds count it in `Frame.leakedCount`.
@Suite("Leaked frames")
struct FrameLeakTests {
#if DEBUG
    @Test("debug: dropping a Frame traps at the spot, naming the leak")
    func leakTrapsInDebug() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let base = UnsafeMutableRawPointer.allocate(byteCount: 4 * 2048, alignment: 4096)
            var pool = FramePool(base: base, frameCount: 4, frameSize: 2048, dataOffset: 256)
            let frame = pool.allocate()
            _ = consume frame  // neither a ring nor the pool: the leak
        }
        let message = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(message.contains("a Frame was dropped without being transmitted, filled or released"), "\(message)")
    }
#else
    @Test("release: dropping a Frame is counted in Frame.leakedCount, and nothing else happens")
    func leakCountedInRelease() {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 4 * 2048, alignment: 4096)
        defer { base.deallocate() }
        var pool = FramePool(base: base, frameCount: 4, frameSize: 2048, dataOffset: 256)
        let before = Frame.leakedCount
        let frame = pool.allocate()
        _ = consume frame
        #expect(Frame.leakedCount == before + 1)
        #expect(pool.count == 3, "the leaked frame is lost to the pool")
    }
#endif

    @Test("a frame given back is not a leak")
    func noLeakWhenReleased() {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 4 * 2048, alignment: 4096)
        defer { base.deallocate() }
        var pool = FramePool(base: base, frameCount: 4, frameSize: 2048, dataOffset: 256)
        let before = Frame.leakedCount
        if let frame = pool.allocate() { pool.release(frame) }
        #expect(Frame.leakedCount == before)
        #expect(pool.count == 4)
    }
}
