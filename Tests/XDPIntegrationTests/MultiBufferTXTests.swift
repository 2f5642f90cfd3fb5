import Foundation
import Glibc
import Packet
import Testing
import XDP
import XDPControl

/// How the kernel treats malformed TX chains (copy mode, 6.18).
@Suite("Multi-buffer TX chains", .serialized)
struct MultiBufferTXTests {
    /// Pushes `packet` split into `pieces` descriptors; the last one's options are `lastOptions`.
    static func pushSplit(_ packet: [UInt8], pieces: Int, lastOptions: UInt32 = 0, on endpoint: inout Endpoint) {
        let size = (packet.count + pieces - 1) / pieces
        for index in 0..<pieces {
            var frame = endpoint.umem.pool.allocate()!
            let part = packet[min(packet.count, index * size)..<min(packet.count, (index + 1) * size)]
            write(part, into: &frame)
            let last = index == pieces - 1
            endpoint.socket.tx.pushDescriptor(frame, offset: Int(frame.headroom), length: UInt32(part.count),
                                             options: last ? lastOptions : FramePacket.continuesFlag)
        }
    }

    /// The most descriptors one copy-mode packet takes: the kernel's
    /// max_skb_frags + 1, read from /proc as the selftest does (TOO_MANY_FRAGS).
    static func kernelChainLimit() throws -> Int {
        let text = try #require(readProcFile("/proc/sys/net/core/max_skb_frags"))
        return try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines))) + 1
    }

    @Test("a chain of more than MAX_SKB_FRAGS + 1 descriptors is dropped whole, counted and completed",
          arguments: [AttachMode.generic, .native])
    func tooManyFragments(mode: AttachMode) throws {
        let limit = try Self.kernelChainLimit()
        #expect(FramePacket.capacity == limit, "FramePacket holds \(FramePacket.capacity) frames; this kernel sends chains of up to \(limit)")
        var pair = try JumboLab(mode: mode)
        let link = pair.link
        let packets = sequencedPackets(3, link: link, frameLength: 1000)
        MultiBufferTXTests.pushSplit(packets[0], pieces: limit + 1, on: &pair.sender)   // one too many
        MultiBufferTXTests.pushSplit(packets[1], pieces: limit, on: &pair.sender)       // the most
        MultiBufferTXTests.pushSplit(packets[2], pieces: 1, on: &pair.sender)
        pair.sender.socket.tx.submit()
        let descriptors = 2 * limit + 2
        #expect(drainCompletions(&pair.sender, expecting: descriptors, seconds: 5) == descriptors,
                "every descriptor completes, the dropped chain's too")
        let statistics = try pair.sender.socket.statistics()
        #expect(statistics.txInvalidDescriptors == UInt64(limit + 1), "each descriptor of the dropped chain counted")
        let received = receivePackets(2, on: &pair.receiver)
        expectSame(received.map(\.bytes), Array(packets[1...]))
        #expect(receivePackets(1, on: &pair.receiver, timeout: 0.3).isEmpty, "nothing of the dropped chain arrives")
        let senderAccount = pair.sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
        #expect(pair.sender.umem.pool.count == pair.sender.umem.pool.capacity)
    }

    @Test("an unterminated chain is held by the kernel until a descriptor without XDP_PKT_CONTD ends it",
          arguments: [AttachMode.generic, .native])
    func unterminatedChain(mode: AttachMode) throws {
        var pair = try JumboLab(mode: mode)
        let link = pair.link
        let packets = sequencedPackets(2, link: link, frameLength: 1000)
        // Three descriptors, the last still saying "continues".
        MultiBufferTXTests.pushSplit(packets[0], pieces: 3, lastOptions: FramePacket.continuesFlag, on: &pair.sender)
        pair.sender.socket.tx.submit()
        #expect(drainCompletions(&pair.sender, expecting: 1, seconds: 0.5) == 0, "nothing completes")
        #expect(pair.sender.socket.tx.outstanding == 0, "the kernel took the descriptors off the ring")
        #expect(receivePackets(1, on: &pair.receiver, timeout: 0.3).isEmpty, "nothing is sent")
        // The next descriptor without the flag ends the chain: one packet of both.
        MultiBufferTXTests.pushSplit(packets[1], pieces: 1, on: &pair.sender)
        pair.sender.socket.tx.submit()
        #expect(drainCompletions(&pair.sender, expecting: 4, seconds: 5) == 4)
        let received = receivePackets(1, on: &pair.receiver)
        expectSame(received.map(\.bytes), [packets[0] + packets[1]])
        let statistics = try pair.sender.socket.statistics()
        #expect(statistics.txInvalidDescriptors == 0)
        let senderAccount = pair.sender.accounting
        #expect(senderAccount.isConserved, "\(senderAccount)")
    }
}
