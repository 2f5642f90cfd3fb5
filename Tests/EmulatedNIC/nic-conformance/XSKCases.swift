// xskxceiver's cases by their names (tools/testing/selftests/bpf/test_xsk.c),
// each asserting what the veth suites assert for it (SendReceiveTests,
// RingBehaviourTests, UnalignedChunkTests, XSKConformanceTests), here with
// every socket zero-copy on the lab's two wired NICs.
import Glibc
import Packet
@_spi(Testing) import XDP
import XDPControl

/// The bundled test programs (xsk_test_progs.bpf.c, embedded by EmbedBPF).
enum EmbeddedBPF {}

/// The usual UMEM: its fill ring keeps more than virtio_net's 256 RX
/// buffers posted, so the RX queue never runs dry (order-at-queue-exhaustion).
let standardUMEM = UMEMConfiguration(frameCount: 1024, fillRingSize: 512, completionRingSize: 512)

/// An interface's hardware ring sizes (ETHTOOL_GRINGPARAM / SRINGPARAM,
/// what `ethtool -g` / `-G` use).
struct RingSizes: Equatable, CustomStringConvertible {
    var rx: Int
    var tx: Int
    var description: String { "rx \(rx) tx \(tx)" }

    /// struct ethtool_ringparam: cmd, rx/rx_mini/rx_jumbo/tx max, rx/rx_mini/rx_jumbo/tx pending.
    private static func ioctl(_ interface: String, _ parameters: inout [UInt32]) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (index, byte) in interface.utf8.prefix(name.count - 1).enumerated() { name[index] = byte }
        }
        return parameters.withUnsafeMutableBytes { buffer in
            request.ifr_ifru.ifru_data = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
            return Glibc.ioctl(fd, 0x8946 /* SIOCETHTOOL */, &request) == 0 ? 0 : errno
        }
    }

    /// The current sizes and the driver's maximums, or nil when the driver
    /// has no ring parameters.
    static func read(_ interface: String) -> (current: RingSizes, maximum: RingSizes)? {
        var parameters = [UInt32](repeating: 0, count: 9)
        parameters[0] = 0x10  // ETHTOOL_GRINGPARAM
        guard ioctl(interface, &parameters) == 0 else { return nil }
        return (RingSizes(rx: Int(parameters[5]), tx: Int(parameters[8])), RingSizes(rx: Int(parameters[1]), tx: Int(parameters[4])))
    }

    /// Sets `interface`'s RX and TX rings, retrying on EBUSY as the selftest
    /// does, and reads them back.
    static func set(_ interface: String, to sizes: RingSizes) throws {
        guard let now = read(interface) else { throw CaseFailure("\(interface): no ring parameters (ETHTOOL_GRINGPARAM)") }
        var parameters = [UInt32](repeating: 0, count: 9)
        parameters[0] = 0x11  // ETHTOOL_SRINGPARAM
        parameters[1] = UInt32(now.maximum.rx)
        parameters[4] = UInt32(now.maximum.tx)
        parameters[5] = UInt32(sizes.rx)
        parameters[8] = UInt32(sizes.tx)
        var attempt = 0
        while true {
            var copy = parameters
            let error = ioctl(interface, &copy)
            if error == 0 { break }
            attempt += 1
            try check(error == EBUSY && attempt < 10, "ETHTOOL_SRINGPARAM \(sizes) on \(interface): errno \(error)")
            usleep(100_000)
        }
        let after = read(interface)?.current
        try check(after == sizes, "\(interface): rings \(after.map(\.description) ?? "unknown") after ETHTOOL_SRINGPARAM, want \(sizes)")
    }
}

extension Cases {
    /// The runner's own program (xsk_test_progs.bpf.c) entry point `entry`,
    /// attached natively to the receiving NIC through the custom-program path.
    func ownProgram(_ entry: String) throws -> XDPProgram {
        try XDPProgram(interface: rx, object: .bytes(EmbeddedBPF.xskTestProgs, name: "xsk_test_progs"), programName: entry, mode: .native)
    }

    /// SEND_RECEIVE_SINGLE_PKT: one packet arrives intact, the program
    /// redirected exactly one, every frame accounted for.
    func sendReceiveSinglePacket(_ program: borrowing XDPProgram) throws -> String {
        var receiver = try receiver(program, umem: standardUMEM)
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let before = try program.counters().redirected
        let packets = sequencedPackets(1, wire: wire)
        let (sent, received) = exchange(packets, from: &sender, to: &receiver)
        let late = discard(on: &receiver, seconds: 0.2)
        let redirected = try program.counters().redirected - before
        try check(sent == 1, "\(sent) of 1 sent")
        try check(difference(received, packets) == nil, difference(received, packets) ?? "")
        try check(late == 0, "\(late) more packet(s) arrived")
        try check(redirected == 1, "the program redirected \(redirected), want 1")
        try check(receiver.accounting.isConserved && sender.accounting.isConserved, "frames not conserved: \(receiver.accounting), \(sender.accounting)")
        return "SEND_RECEIVE_SINGLE_PKT: 1 of 1 received intact, redirected 1, frames conserved"
    }

    /// POLL_RXQ_FULL (xskxceiver's poll_rxq_tmout) with POLL_RX: poll() on an
    /// empty RX ring times out; once packets come it wakes, and poll() alone
    /// drives the receive.
    func pollRXQueue(_ program: borrowing XDPProgram) throws -> String {
        var receiver = try receiver(program, umem: standardUMEM)
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let started = ContinuousClock.now
        let idle = receiver.socket.poll(timeoutMilliseconds: 100)
        let waited = ContinuousClock.now - started
        try check(!idle, "poll() reported POLLIN on an empty RX ring")
        try check(waited >= .milliseconds(90), "poll() returned after \(waited), before its 100 ms timeout")
        try check(sender.socket.poll(forTransmit: true, timeoutMilliseconds: 0), "an idle TX ring has room, but no POLLOUT")
        let packets = sequencedPackets(100, wire: wire)
        for packet in packets {
            guard var frame = sender.umem.pool.allocate() else { throw CaseFailure("sender pool empty") }
            write(packet, into: &frame)
            sender.socket.tx.push(frame)
        }
        sender.socket.tx.submit()
        sender.socket.kickTransmit()
        let woke = receiver.socket.poll(timeoutMilliseconds: 2000)
        try check(woke, "poll() did not wake within 2 s of 100 packets sent")
        var received: [[UInt8]] = []
        var completed = 0
        var polls = 0
        let deadline = Deadline(seconds: 5)
        while (received.count < packets.count || completed < packets.count) && !deadline.passed {
            if sender.socket.tx.outstanding > 0 { sender.socket.kickTransmit() }
            completed += sender.socket.completion.drainSkippingFrameless(into: &sender.umem.pool)
            guard receiver.socket.poll(timeoutMilliseconds: 20) else { continue }
            polls += 1
            let ready = receiver.socket.rx.peek(upTo: 64)
            _ = receiver.socket.fill.freeCount(wanting: ready)
            for _ in 0..<ready {
                let frame = receiver.socket.rx.receive()
                received.append(copyBytes(of: frame))
                receiver.socket.fill.push(frame)
            }
            receiver.socket.rx.release()
            receiver.socket.fill.submit()
        }
        try check(completed == packets.count, "\(completed) of \(packets.count) completed")
        try check(difference(received, packets) == nil, difference(received, packets) ?? "")
        try check(receiver.accounting.isConserved, "receiver frames not conserved: \(receiver.accounting)")
        return "POLL_RXQ_FULL: poll() on the empty RX ring timed out after \(waited.formatted); it woke for 100 packets, received in order through \(polls) poll() wakeups"
    }

    /// POLL_TXQ_FULL: with 64 completions nobody takes, the kernel can
    /// consume no TX descriptor; poll() for TX on the full TX ring times
    /// out; once completions are taken everything is sent, in order.
    func pollTXQueueFull(_ program: borrowing XDPProgram) throws -> String {
        var receiver = try receiver(program, umem: standardUMEM)
        var sender = try open(tx, umem: UMEMConfiguration(frameCount: 1024, fillRingSize: 64, completionRingSize: 64),
                              socket: SocketConfiguration(txRingSize: 256, zeroCopy: .required), fill: false)
        let packets = sequencedPackets(64 + 256, wire: wire)
        func push(_ slice: ArraySlice<[UInt8]>, into sender: inout Endpoint) throws {
            for packet in slice {
                guard var frame = sender.umem.pool.allocate() else { throw CaseFailure("sender pool empty") }
                write(packet, into: &frame)
                sender.socket.tx.push(frame)
            }
            sender.socket.tx.submit()
        }
        try push(packets.prefix(64), into: &sender)
        let first = Deadline(seconds: 5)
        while sender.socket.tx.outstanding > 0 && !first.passed { sender.socket.kickTransmit(); usleep(1000) }
        try check(sender.socket.tx.outstanding == 0, "the first 64 not consumed: \(sender.socket.tx.outstanding) left")
        try push(packets.suffix(256), into: &sender)
        try check(sender.socket.tx.freeCount(wanting: 1) == 0, "the TX ring is not full")
        let started = ContinuousClock.now
        let writable = sender.socket.poll(forTransmit: true, timeoutMilliseconds: 200)
        let waited = ContinuousClock.now - started
        try check(!writable, "poll() reported TX room on a full TX ring the kernel cannot drain")
        try check(waited >= .milliseconds(150), "poll() returned after \(waited), before its 200 ms timeout")
        let stuck = sender.socket.tx.outstanding
        try check(stuck == 256, "the kernel consumed \(256 - stuck) descriptors while the completion ring was full")
        // Taking the completions lets the kernel go on.
        let (completed, received) = exchange([], from: &sender, to: &receiver, expect: packets.count)
        let taken = completed + drainCompletions(&sender, expecting: packets.count - completed, seconds: 1)
        try check(taken == packets.count, "\(taken) of \(packets.count) completed")
        let swaps = try checkInOrderButForQueueExhaustion(received, packets)
        try check(sender.umem.pool.count == sender.umem.pool.capacity, "\(sender.umem.pool.count) of \(sender.umem.pool.capacity) sender frames back")
        return "POLL_TXQ_FULL: 64 completions untaken, 256 more on a full 256-entry TX ring: poll() for TX timed out after \(waited.formatted), 256 left unconsumed; "
            + "then all 320 completed and received \(swapsNote(swaps))"
    }

    /// Pushes `table`'s descriptors (frame i is chunk i; `special` rows at an
    /// offset with a length, valid or not; `frameless` after frame index k,
    /// an address naming no frame), then receives and checks as
    /// `expectInvalidDescriptorOutcome` does on veth: the invalid ones counted
    /// in tx_invalid_descs, the valid ones received intact and in order, every
    /// frame back. - Returns: (invalid count, packets, completions taken).
    func invalidDescriptors(_ program: borrowing XDPProgram, config: UMEMConfiguration,
                            special: [Int: (offset: Int, length: UInt32, valid: Bool)],
                            frameless: [Int: UInt64]) throws -> (invalid: Int, valid: Int, taken: Int) {
        var receiver = try receiver(program, umem: standardUMEM)
        var sender = try open(tx, umem: config, socket: SocketConfiguration(txRingSize: 64, zeroCopy: .required), fill: false)
        let base = sender.umem.baseAddress
        let validCount = config.frameCount - special.values.filter { !$0.valid }.count
        let packets = sequencedPackets(validCount, wire: wire)
        var sent = 0
        for index in 0..<config.frameCount {
            guard var frame = sender.umem.pool.allocate() else { throw CaseFailure("sender pool empty at frame \(index)") }
            try check(frame.chunkAddress == UInt64(index * config.frameSize), "frame \(index) is chunk \(frame.chunkAddress)")
            if let descriptor = special[index] {
                if descriptor.valid {
                    let packet = packets[sent]
                    packet.withUnsafeBytes { (base + index * config.frameSize + descriptor.offset).copyMemory(from: $0.baseAddress!, byteCount: packet.count) }
                    sent += 1
                }
                sender.socket.tx.pushDescriptor(frame, offset: descriptor.offset, length: descriptor.length)
            } else {
                write(packets[sent], into: &frame)
                sender.socket.tx.push(frame)
                sent += 1
            }
            if let address = frameless[index] { sender.socket.tx.pushDescriptor(address: address, length: 64) }
        }
        sender.socket.tx.submit()
        let invalid = special.values.filter { !$0.valid }.count + frameless.count
        let (completed, received) = exchange([], from: &sender, to: &receiver, expect: packets.count)
        var taken = completed + sender.socket.completion.drainSkippingFrameless(into: &sender.umem.pool)
        taken += drainCompletions(&sender, expecting: packets.count + invalid - taken, seconds: 0.5)
        let stats = try sender.socket.statistics()
        try check(stats.txInvalidDescriptors == UInt64(invalid), "tx_invalid_descs \(stats.txInvalidDescriptors), want \(invalid)")
        try check(difference(received, packets) == nil, difference(received, packets) ?? "")
        try check(sender.umem.pool.count == sender.umem.pool.capacity,
                  "\(sender.umem.pool.count) of \(sender.umem.pool.capacity) sender frames back (\(taken) completions)")
        try check(sender.accounting.isConserved, "sender frames not conserved: \(sender.accounting)")
        return (invalid, packets.count, taken)
    }

    /// ALIGNED_INV_DESC on 4 KiB frames (the selftest's default frame size):
    /// its table of descriptors, the invalid ones counted, the rest arrive.
    func alignedInvalidDescriptors4K(_ program: borrowing XDPProgram) throws -> String {
        let config = UMEMConfiguration(frameCount: 32, frameSize: 4096, fillRingSize: 32, completionRingSize: 64)
        let outcome = try invalidDescriptors(program, config: config, special: [
            3: (0, 9001, false),              // packet too large
            7: (0x1000 - 32, 64, false),      // straddles a 4 KiB (chunk) boundary
            9: (0x800 - 32, 64, true),        // straddles 2 KiB: inside a 4 KiB frame, fine
            30: (4096 - 32, 64, false),       // runs into the last frame
            31: (4096 - 64, 64, true),        // up to the end of the UMEM: allowed
        ], frameless: [
            1: UInt64.max - 1,                // straddles the start of the UMEM
            5: UInt64(config.byteCount),      // after the UMEM ends
        ])
        return "ALIGNED_INV_DESC (4 KiB frames): \(outcome.invalid) of \(config.frameCount + 2) counted in tx_invalid_descs (too large, straddling a chunk, "
            + "into the last frame, before and after the UMEM), the \(outcome.valid) valid ones (a 2 KiB straddle, up to the UMEM's end) received intact and in order, "
            + "every frame back (\(outcome.taken) completions)"
    }

    /// UNALIGNED_INV_DESC: descriptors anywhere in an unaligned UMEM of
    /// 4001-byte frames (UnalignedChunkTests' table): crossing frames and
    /// pages is valid, leaving the UMEM or a frame's length is not. On 2 MiB
    /// huge pages, as the selftest runs its unaligned cases: in zero-copy a
    /// descriptor crossing a 4 KiB page of ordinary pages is invalid.
    func unalignedInvalidDescriptors(_ program: borrowing XDPProgram) throws -> String {
        let config = UMEMConfiguration(frameCount: 32, frameSize: 4001, fillRingSize: 32, completionRingSize: 64,
                                       hugePages: true, unalignedChunks: true)
        let outcome = try invalidDescriptors(program, config: config, special: [
            1: (4096 - 4001 - 32, 64, true),  // crosses the 4 KiB page boundary inside frame 1
            5: (0, 4002, false),              // longer than a frame
            10: (4001 - 32, 64, true),        // runs into frame 11: fine without chunk alignment
            20: (17, 64, true),               // an odd offset
            31: (4001 - 32, 64, false),       // the last frame: runs past the end of the UMEM
        ], frameless: [3: UInt64(config.byteCount)])  // past the end
        return "UNALIGNED_INV_DESC (4001-byte frames, 2 MiB huge pages): \(outcome.invalid) of \(config.frameCount + 1) counted in tx_invalid_descs "
            + "(longer than a frame, past the UMEM's end twice), the \(outcome.valid) valid ones (crossing a 4 KiB page, into the next frame, an odd offset) "
            + "received intact and in order, every frame back (\(outcome.taken) completions)"
    }

    /// XDP_PROG_CLEANUP: a closed socket leaves the XSKMAP (nothing is
    /// redirected into its entry); a new socket registered in its place receives.
    func xdpProgCleanup(_ program: borrowing XDPProgram) throws -> String {
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let packets = sequencedPackets(60, wire: wire)
        do {
            var first = try receiver(program, umem: standardUMEM)
            let (sent, received) = exchange(Array(packets.prefix(50)), from: &sender, to: &first)
            try check(sent == 50 && difference(received, Array(packets.prefix(50))) == nil,
                      "the first socket: sent \(sent), " + (difference(received, Array(packets.prefix(50))) ?? ""))
            _ = consume first
        }
        // The kernel removed the closed socket from the map: nothing is redirected now.
        let before = try program.counters()
        let orphans = sequencedPackets(10, wire: wire, first: 100)
        for packet in orphans {
            guard var frame = sender.umem.pool.allocate() else { throw CaseFailure("sender pool empty") }
            write(packet, into: &frame)
            sender.socket.tx.push(frame)
        }
        sender.socket.tx.submit()
        let orphansSent = drainCompletions(&sender, expecting: orphans.count)
        var after = try program.counters()
        let noSocket = { (counters: RedirectCounters) in counters.droppedNoSocket + counters.passedNoSocket }
        let deadline = Deadline(seconds: 2)
        while noSocket(after) - noSocket(before) < 10 && !deadline.passed {
            usleep(10_000)
            after = try program.counters()
        }
        try check(orphansSent == orphans.count, "\(orphansSent) of \(orphans.count) sent with no socket")
        try check(after.redirected == before.redirected, "\(after.redirected - before.redirected) redirected into the closed socket's entry")
        try check(noSocket(after) - noSocket(before) == 10, "\(noSocket(after) - noSocket(before)) counted with no socket, want 10")
        var second = try receiver(program, umem: standardUMEM)
        let more = Array(packets.suffix(10))
        let (moreSent, moreReceived) = exchange(more, from: &sender, to: &second)
        try check(moreSent == more.count && difference(moreReceived, more) == nil, "the second socket: sent \(moreSent), " + (difference(moreReceived, more) ?? ""))
        try check(second.accounting.isConserved, "receiver frames not conserved: \(second.accounting)")
        return "XDP_PROG_CLEANUP: 50 received on the first socket; closed, 10 more found no socket (redirected +0, no-socket +10); "
            + "a second zero-copy socket registered in its place received 10 of 10"
    }

    /// XDP_DROP_HALF: a program of the test's own drops every other packet;
    /// exactly the even ones arrive.
    func xdpDropHalf() throws -> String {
        let program = try ownProgram("xsk_xdp_drop")
        var receiver = try receiver(program, umem: standardUMEM)
        try program.writeMap("seen", key: UInt32(0), value: UInt32(0))  // strays dropped above counted too
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let packets = sequencedPackets(200, wire: wire)
        let evens = packets.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let (sent, received) = exchange(packets, from: &sender, to: &receiver, expect: evens.count)
        let late = discard(on: &receiver, seconds: 0.3)
        let seen = try program.readMap("seen", key: UInt32(0), as: UInt32.self)
        try check(sent == packets.count, "\(sent) of \(packets.count) sent")
        try check(difference(received, evens) == nil, "the even ones: " + (difference(received, evens) ?? ""))
        try check(late == 0, "\(late) odd one(s) arrived")
        try check(seen == 200, "the program saw \(seen.map(String.init) ?? "none"), want 200")
        try check(receiver.accounting.isConserved, "receiver frames not conserved: \(receiver.accounting)")
        return "XDP_DROP_HALF: the program saw 200, the 100 even ones received in order, none of the odd ones"
    }

    /// XDP_METADATA_COPY: a program writes a per-packet count in the metadata
    /// area (bpf_xdp_adjust_meta); in zero-copy it lies in the UMEM right in
    /// front of each packet.
    func xdpMetadataCopy() throws -> String {
        let program = try ownProgram("xsk_xdp_populate_metadata")
        var receiver = try receiver(program, umem: standardUMEM)
        try program.writeMap("count", key: UInt32(0), value: UInt64(0))
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let packets = sequencedPackets(100, wire: wire)
        var counts: [UInt64] = []
        let (sent, received) = exchange(packets, from: &sender, to: &receiver, inspect: { frame in
            let headroom = frame.headroom
            guard headroom >= 8 else { return }
            // The 8 bytes in front of the packet, in the frame's chunk.
            frame.bytes.withUnsafeBytes { bytes in
                counts.append((UnsafeRawPointer(bytes.baseAddress!) - 8).loadUnaligned(as: UInt64.self))
            }
        })
        try check(sent == packets.count, "\(sent) of \(packets.count) sent")
        try check(difference(received, packets) == nil, difference(received, packets) ?? "")
        try check(counts == (0..<100).map(UInt64.init), "the metadata in front of packet i holds i: \(counts.prefix(8))...")
        return "XDP_METADATA_COPY: 100 of 100 received intact, the count in front of packet i is i for every one"
    }

    /// XDP_ADJUST_TAIL_SHRINK / XDP_ADJUST_TAIL_GROW: 128-byte packets arrive
    /// 4 bytes shorter, or 4 longer with the new bytes zeroed; the helper
    /// never fails.
    func xdpAdjustTail(by value: Int32) throws -> String {
        let program = try ownProgram("xsk_xdp_adjust_tail")
        try program.writeMap("adjust", key: UInt32(0), value: value)
        var receiver = try receiver(program, umem: standardUMEM)
        try program.writeMap("failed", key: UInt32(0), value: UInt64(0))
        var sender = try open(tx, umem: standardUMEM, fill: false)
        let packets = sequencedPackets(64, wire: wire, frameLength: 128)
        let expected = packets.map { value < 0 ? Array($0.prefix(128 + Int(value))) : $0 + [UInt8](repeating: 0, count: Int(value)) }
        let (sent, received) = exchange(packets, from: &sender, to: &receiver)
        let failed = try program.readMap("failed", key: UInt32(0), as: UInt64.self)
        let name = value < 0 ? "XDP_ADJUST_TAIL_SHRINK" : "XDP_ADJUST_TAIL_GROW"
        try check(sent == packets.count, "\(sent) of \(packets.count) sent")
        try check(failed == 0, "bpf_xdp_adjust_tail failed \(failed.map(String.init) ?? "?") times")
        try check(difference(received, expected) == nil, difference(received, expected) ?? "")
        return "\(name): 64 of 64 128-byte packets received \(value < 0 ? "4 bytes shorter" : "4 bytes longer, the new bytes zero"), bpf_xdp_adjust_tail failed 0 times"
    }

    /// Sends `packets` `batch` at a time and receives each batch before the
    /// next, taking at most `batch` per peek (the selftest's batch size on
    /// both sides); kicks, completions and receives interleave, since on a
    /// QEMU hub the sender's TX completes only as the receiver takes packets.
    func lockstep(_ packets: [[UInt8]], batch: Int, sender: inout Endpoint, receiver: inout Endpoint) throws -> [[UInt8]] {
        var received: [[UInt8]] = []
        var next = 0, completed = 0
        while next < packets.count {
            let count = min(batch, packets.count - next)
            try check(sender.socket.tx.freeCount(wanting: count) >= count, "no TX room for a batch of \(count)")
            for packet in packets[next..<(next + count)] {
                guard var frame = sender.umem.pool.allocate() else { throw CaseFailure("sender pool empty") }
                write(packet, into: &frame)
                sender.socket.tx.push(frame)
            }
            sender.socket.tx.submit()
            next += count
            let deadline = Deadline(seconds: 5)
            while (completed < next || received.count < next) && !deadline.passed {
                if sender.socket.tx.outstanding > 0 || completed < next { sender.socket.kickTransmit() }
                let done = sender.socket.completion.drainSkippingFrameless(into: &sender.umem.pool)
                completed += done
                receiver.socket.wakeReceive()
                let ready = receiver.socket.rx.peek(upTo: batch)
                if ready > 0 {
                    _ = receiver.socket.fill.freeCount(wanting: ready)
                    for _ in 0..<ready {
                        let frame = receiver.socket.rx.receive()
                        received.append(copyBytes(of: frame))
                        receiver.socket.fill.push(frame)
                    }
                    receiver.socket.rx.release()
                    receiver.socket.fill.submit()
                }
                if done == 0 && ready == 0 { usleep(200) }
            }
            try check(completed == next && received.count == next,
                      "batch of \(count) up to packet \(next): \(completed) completed, \(received.count) received")
            // The frames just given back reach the NIC's RX queue only when the
            // driver refills it: wake it (need_wakeup, as xskxceiver's receive
            // loop does after each refill) before the next batch, or a queue
            // left with a buffer or none makes QEMU hold a frame and deliver
            // the next one first (order-at-queue-exhaustion).
            let settle = Deadline(seconds: 1)
            while receiver.socket.fill.needsWakeup && !settle.passed { receiver.socket.wakeReceive(); usleep(200) }
        }
        return received
    }

    /// Sets both NICs' hardware rings to `sizes(maximum)`, runs `body`, and
    /// puts the rings back as they were (checked).
    func withHardwareRings(_ sizes: (RingSizes) -> RingSizes, _ body: (RingSizes) throws -> String) throws -> String {
        var original: [String: RingSizes] = [:]
        var wanted = RingSizes(rx: 0, tx: 0)
        for interface in [tx, rx] {
            guard let rings = RingSizes.read(interface) else { throw CaseFailure("\(interface): no ring parameters (ETHTOOL_GRINGPARAM)") }
            original[interface] = rings.current
            wanted = sizes(rings.maximum)
        }
        var line: String
        do {
            for interface in [tx, rx] { try RingSizes.set(interface, to: wanted) }
            line = try body(wanted)
        } catch {
            for (interface, rings) in original { try? RingSizes.set(interface, to: rings) }
            throw error
        }
        for (interface, rings) in original { try RingSizes.set(interface, to: rings) }
        return line + "; rings back to \(original[tx]!) on \(tx), \(original[rx]!) on \(rx)"
    }

    /// HW_SW_MIN_RING_SIZE: the hardware rings at the selftest's minimum
    /// (rx 128, tx 64, ETHTOOL_SRINGPARAM on both NICs, as `ethtool -G` sets them), 64-entry socket
    /// and UMEM rings, batches of 1 then 63: every packet in order.
    func hwSwMinRingSize(_ program: borrowing XDPProgram) throws -> String {
        try withHardwareRings({ _ in RingSizes(rx: 128, tx: 64) }) { rings in
            let umem = UMEMConfiguration(frameCount: 128, fillRingSize: 64, completionRingSize: 64)
            let socket = SocketConfiguration(rxRingSize: 64, txRingSize: 64, zeroCopy: .required)
            var receiver = try receiver(program, umem: umem, socket: socket)
            var sender = try open(tx, umem: umem, socket: socket, fill: false)
            for batch in [1, 63] {
                let packets = sequencedPackets(batch == 1 ? 100 : 63 * 8, wire: wire, first: batch == 1 ? 0 : 100)
                let received = try lockstep(packets, batch: batch, sender: &sender, receiver: &receiver)
                try check(difference(received, packets) == nil, "batches of \(batch): " + (difference(received, packets) ?? ""))
            }
            let stats = try receiver.socket.statistics()
            try check(stats.rxRingFull == 0 && stats.rxDropped == 0, "rx_ring_full \(stats.rxRingFull), rx_dropped \(stats.rxDropped)")
            try check(receiver.accounting.isConserved && sender.accounting.isConserved, "frames not conserved: \(receiver.accounting), \(sender.accounting)")
            return "HW_SW_MIN_RING_SIZE: hardware rings \(rings) on \(tx) and \(rx) (ETHTOOL_SRINGPARAM, read back), 64-entry socket rings: "
                + "100 in batches of 1 and 504 in batches of 63 received in order, rx_ring_full 0"
        }
    }

    /// HW_SW_MAX_RING_SIZE: the hardware rings at the driver's maximum,
    /// 8192-entry socket and UMEM rings, batches of 2048, then batches of
    /// the TX maximum less 8 (the selftest's, for ice): every packet intact,
    /// in order but for neighbours QEMU swaps when a batch larger than the
    /// NIC's RX queue drains it (counted and reported).
    func hwSwMaxRingSize(_ program: borrowing XDPProgram) throws -> String {
        try withHardwareRings({ $0 }) { rings in
            let umem = UMEMConfiguration(frameCount: 8192, fillRingSize: 8192, completionRingSize: 8192)
            let socket = SocketConfiguration(rxRingSize: 8192, txRingSize: 8192, zeroCopy: .required)
            var receiver = try receiver(program, umem: umem, socket: socket)
            var sender = try open(tx, umem: umem, socket: socket, fill: false)
            let second = rings.tx - 8
            let plan = [(batch: 2048, count: 4096, first: 0), (batch: second, count: second * 2, first: 4096)]
            var swapped = 0
            for step in plan {
                let packets = sequencedPackets(step.count, wire: wire, first: step.first)
                let received = try lockstep(packets, batch: step.batch, sender: &sender, receiver: &receiver)
                // Batches larger than the NIC's RX queue can drain it: QEMU 7.2 then
                // holds a frame and delivers the next one first (order-at-queue-
                // exhaustion). Such late deliveries are counted; anything else
                // out of place, lost, repeated or changed fails.
                swapped += try checkInOrderButForQueueExhaustion(received, packets, "batches of \(step.batch): ")
            }
            let stats = try receiver.socket.statistics()
            try check(stats.rxRingFull == 0 && stats.rxDropped == 0, "rx_ring_full \(stats.rxRingFull), rx_dropped \(stats.rxDropped)")
            try check(receiver.accounting.isConserved && sender.accounting.isConserved, "frames not conserved: \(receiver.accounting), \(sender.accounting)")
            return "HW_SW_MAX_RING_SIZE: hardware rings at the driver's maximum \(rings) on \(tx) and \(rx), 8192-entry socket rings: "
                + "4096 in batches of 2048 and \(second * 2) in batches of \(second) received intact, \(swapsNote(swapped)), rx_ring_full 0"
        }
    }
}

/// Checks that `received` is `expected` but for packets QEMU delivered a
/// few places late where virtio-net's RX queue ran dry, and returns how many
/// were. More packets than the NIC's 256 RX buffers can drain its queue when
/// the guest's NAPI refill falls behind (TCG on a loaded host): QEMU 7.2 then
/// holds a frame and delivers the next one(s) first (order-at-queue-
/// exhaustion; usually one neighbour swapped). Anything else out of place
/// (further than ``lateDeliveryWindow``), lost, repeated or changed fails.
func checkInOrderButForQueueExhaustion(_ received: [[UInt8]], _ expected: [[UInt8]], _ context: String = "") throws -> Int {
    let (restored, late) = undoLateDeliveries(received, expected)
    // Report what is wrong once the tolerated late deliveries are undone (the
    // first difference of `received` itself may be one of them and hide it).
    try check(difference(restored, expected) == nil,
              context + "with \(late) late delivery(ies) undone: " + (difference(restored, expected) ?? ""))
    return late
}

/// How many places late a held frame may arrive and still count as QEMU's
/// reordering at RX queue exhaustion.
let lateDeliveryWindow = 8

/// A note for a case's PASS line: how many packets QEMU delivered late.
func swapsNote(_ late: Int) -> String {
    late == 0 ? "in order" : "in order but for \(late) packet(s) delivered at most \(lateDeliveryWindow) places late where the RX queue ran dry (QEMU)"
}

/// `received` with each packet that arrived at most ``lateDeliveryWindow``
/// places after where `expected` has it moved back there, and how many
/// there were (a swapped pair of neighbours is one).
func undoLateDeliveries(_ received: [[UInt8]], _ expected: [[UInt8]]) -> ([[UInt8]], Int) {
    var restored = received
    var late = 0
    var index = 0
    while index < min(restored.count, expected.count) {
        if restored[index] != expected[index],
           let found = restored[(index + 1)..<min(restored.count, index + 1 + lateDeliveryWindow)].firstIndex(of: expected[index]) {
            let packet = restored.remove(at: found)
            restored.insert(packet, at: index)
            late += 1
        }
        index += 1
    }
    return (restored, late)
}

extension Duration {
    /// Milliseconds, e.g. "101 ms".
    var formatted: String {
        let (seconds, attoseconds) = components
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
    }
}
