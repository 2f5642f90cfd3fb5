import CXDP
import Testing
@testable import XDP

/// The batch functions are one generic API over the packet kind: the same
/// `Socket.receive` / `Socket.transmit` code (the socket batches less their
/// syscalls) run over fake rings, once with single frames and once with
/// multi-buffer chains.
@Suite("Batch API over packet kinds")
struct BatchKindTests {
    typealias Kernel = AllocationTests.FakeKernel

    /// Writes a recognisable Ethernet header (destination 01..06, source
    /// 11..16) at the packet start (past the 256-byte headroom) of every frame.
    static func stampHeaders(_ kernel: Kernel) {
        for frame in 0..<4096 {
            let packet = kernel.region + frame * 2048 + 256
            for index in 0..<6 {
                packet.storeBytes(of: UInt8(1 + index), toByteOffset: index, as: UInt8.self)
                packet.storeBytes(of: UInt8(0x11 + index), toByteOffset: 6 + index, as: UInt8.self)
            }
        }
    }

    /// The first 12 bytes of the packet a TX descriptor names.
    static func macs(_ kernel: Kernel, _ descriptor: xdp_desc) -> [UInt8] {
        (0..<12).map { kernel.region.load(fromByteOffset: Int(descriptor.addr) + $0, as: UInt8.self) }
    }

    static let swapped: [UInt8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 1, 2, 3, 4, 5, 6]

    @Test("a chain handler sends three-frame chains back whole: one chain per packet, MACs swapped in the first frame")
    func chainsReflected() {
        let kernel = Kernel()
        BatchKindTests.stampHeaders(kernel)
        var queue = kernel.queue()
        queue.fill.refill(from: &queue.pool, upTo: 252)
        kernel.step(chain: 3, length: 1792, limit: 63)
        var handler = FirstFrameHandler(MACSwapHandler())
        let result = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                                    pool: &queue.pool, handler: &handler)
        #expect(result.packets == 21, "packets, not frames")
        #expect(result.bytes == 21 * 3 * 1792)
        #expect(result.transmitted == 21)
        #expect(result.transmittedBytes == 21 * 3 * 1792)
        #expect(result.transmitDropped == 0)
        #expect(kernel.txMemory.producer.pointee == 63, "every frame of every chain queued")
        for chain in 0..<21 {
            let first = kernel.txMemory.entries[chain * 3], second = kernel.txMemory.entries[chain * 3 + 1]
            let last = kernel.txMemory.entries[chain * 3 + 2]
            #expect(first.options == FramePacket.continuesFlag && second.options == FramePacket.continuesFlag && last.options == 0)
            #expect(BatchKindTests.macs(kernel, first) == BatchKindTests.swapped, "chain \(chain): first frame's MACs swapped")
            #expect(BatchKindTests.macs(kernel, second) == Array(1...6) + Array(0x11...0x16), "later frames untouched")
        }
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }

    @Test("a chain handler that drops gives every frame back to the fill ring and touches no TX slot")
    func chainsDropped() {
        let kernel = Kernel()
        var queue = kernel.queue()
        queue.fill.refill(from: &queue.pool, upTo: 252)
        let freeBefore = queue.pool.count
        kernel.step(chain: 3, length: 100, limit: 63)
        #expect(FirstFrameHandler<DropHandler>.transmits == false, "the frame handler's transmits carries over")
        var handler = FirstFrameHandler(DropHandler())
        let result = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                                    pool: &queue.pool, handler: &handler)
        #expect(result.packets == 21)
        #expect(result.transmitted == 0)
        #expect(kernel.txMemory.producer.pointee == 0)
        // The 63 received frames went straight back to the fill ring, in
        // order; then the refill topped the ring (4 slots left) up from the pool.
        let received = (0..<63).map { kernel.rxMemory.entries[$0].addr - 256 }
        let recycled = (252..<315).map { kernel.fillMemory.entries[$0 & 255] }
        #expect(recycled == received)
        #expect(queue.fill.produced == 252 + 63 + 4)
        #expect(queue.pool.count == freeBefore - 4)
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }

    @Test("a chain handler stops at the batch limit in packets, not frames")
    func chainLimitCountsPackets() {
        let kernel = Kernel()
        var queue = kernel.queue()
        queue.fill.refill(from: &queue.pool, upTo: 252)
        kernel.step(chain: 3, length: 100, limit: 63)
        var handler = FirstFrameHandler(DropHandler())
        let first = Socket.receive(limit: 5, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                                   pool: &queue.pool, handler: &handler)
        #expect(first.packets == 5)
        #expect(queue.rx.consumed == 15)
        let rest = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                                  pool: &queue.pool, handler: &handler)
        #expect(rest.packets == 16)
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }

    @Test("a frame handler over the same code: single frames, MACs swapped in place")
    func framesReflected() {
        let kernel = Kernel()
        BatchKindTests.stampHeaders(kernel)
        var queue = kernel.queue()
        queue.fill.refill(from: &queue.pool, upTo: 64)
        kernel.step(chain: 1, length: 64, limit: 64)
        var handler = MACSwapHandler()
        let result = Socket.receive(limit: 64, rx: &queue.rx, fill: &queue.fill, tx: &queue.tx, completion: &queue.completion,
                                    pool: &queue.pool, handler: &handler)
        #expect(result.packets == 64 && result.transmitted == 64 && result.transmittedBytes == 64 * 64)
        for index in 0..<64 {
            let descriptor = kernel.txMemory.entries[index]
            #expect(descriptor.options == 0 && descriptor.len == 64)
            #expect(BatchKindTests.macs(kernel, descriptor) == BatchKindTests.swapped)
        }
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }

    @Test("MACSwapHandler drops a frame shorter than an Ethernet header and swaps a 14-byte one")
    func macSwapBounds() {
        let kernel = Kernel()
        BatchKindTests.stampHeaders(kernel)
        var queue = kernel.queue()
        var short = queue.pool.allocate()!
        short.length = 13
        var handler = MACSwapHandler()
        #expect(handler.handle(&short) == .drop)
        #expect(short.bytes.withUnsafeBytes { Array($0.prefix(12)) } == Array(1...6) + Array(0x11...0x16), "left as it was")
        var exact = queue.pool.allocate()!
        exact.length = 14
        #expect(handler.handle(&exact) == .transmit)
        #expect(exact.bytes.withUnsafeBytes { Array($0.prefix(12)) } == BatchKindTests.swapped)
        queue.pool.release(short)
        queue.pool.release(exact)
    }

    @Test("transmit queues chains of as many frames as the length needs, or single frames, from the same code")
    func transmitKinds() {
        let kernel = Kernel()
        var queue = kernel.queue()
        // 3000 bytes in frames of 1792 bytes past the headroom: two frames each.
        let chains = Socket.transmit(limit: 10, tx: &queue.tx, completion: &queue.completion, pool: &queue.pool, length: 3000,
                                     as: FramePacket.self)
        #expect(chains.packets == 10 && chains.bytes == 30_000 && chains.transmitted == 10)
        #expect(kernel.txMemory.producer.pointee == 20)
        for chain in 0..<10 {
            let first = kernel.txMemory.entries[chain * 2], last = kernel.txMemory.entries[chain * 2 + 1]
            #expect(first.len == 1792 && first.options == FramePacket.continuesFlag)
            #expect(last.len == 1208 && last.options == 0)
        }
        let frames = Socket.transmit(limit: 10, tx: &queue.tx, completion: &queue.completion, pool: &queue.pool, length: 64,
                                     as: Frame.self)
        #expect(frames.packets == 10 && frames.bytes == 640)
        #expect(kernel.txMemory.producer.pointee == 30)
        #expect((20..<30).allSatisfy { kernel.txMemory.entries[$0].len == 64 && kernel.txMemory.entries[$0].options == 0 })
        // A TX ring of 256 slots, 30 taken (none completed): 113 two-frame chains fit.
        let full = Socket.transmit(limit: 200, tx: &queue.tx, completion: &queue.completion, pool: &queue.pool, length: 3000,
                                   as: FramePacket.self)
        #expect(full.packets == 113)
        let account = queue.accounting
        #expect(account.isConserved, "\(account)")
    }
}
