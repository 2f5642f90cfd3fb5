import Dispatch
import Foundation
import Glibc
import Packet
import Testing
@_spi(Testing) import XDP
import XDPControl
import XDPLab

/// One side of a test: a UMEM with one socket on it.
struct Endpoint: ~Copyable {
    var umem: UMEM
    var socket: Socket

    /// Where the UMEM's frames are now.
    var accounting: FrameAccounting {
        var account = FrameAccounting(umem)
        account.add(socket)
        return account
    }
}

/// Fails the test loudly when it cannot run (not root), instead of skipping.
func requireRoot() throws(XDPError) {
    if geteuid() != 0 {
        Issue.record("integration tests need root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN for namespaces): run `make test` as root")
        throw XDPError(.permissionDenied, operation: "run integration tests", hint: "run as root")
    }
}

/// Makes a lab, failing loudly when that is impossible.
func makeLab(linkCount: Int = 1, queues: Int = 1, mtu: Int = 1500) throws -> VethLab {
    try requireRoot()
    VethLab.removeStale()
    return try VethLab(linkCount: linkCount, queues: queues, mtu: mtu)
}

/// Opens an endpoint on `interface` inside `namespace`, with its fill ring
/// full. The default UMEM keeps half its frames out of the fill ring, for
/// endpoints that also send.
func openEndpoint(namespace: String, interface: String, queue: UInt32 = 0,
                  umem umemConfiguration: UMEMConfiguration = .init(fillRingSize: 2048),
                  socket socketConfiguration: SocketConfiguration = .init(),
                  fill: Bool = true) throws(XDPError) -> Endpoint {
    try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> Endpoint in
        let umem = try UMEM(configuration: umemConfiguration)
        let socket = try Socket(umem: umem, interface: interface, queue: queue, configuration: socketConfiguration)
        var endpoint = Endpoint(umem: umem, socket: socket)
        if fill {
            endpoint.socket.fill.refill(from: &endpoint.umem.pool, upTo: umemConfiguration.fillRingSize)
        }
        return endpoint
    }
}

/// Attaches the redirect program inside `namespace` and registers the socket.
func attachProgram(namespace: String, interface: String, mode: AttachMode, match: RedirectMatch = .everything,
                   multiBuffer: Bool = false, rxMetadata: Bool = false,
                   registering socket: borrowing Socket) throws(XDPError) -> XDPProgram {
    try NetworkNamespace.withEntered(namespace) { () throws(XDPError) -> XDPProgram in
        let program = try XDPProgram(interface: interface, mode: mode, match: match,
                                     multiBuffer: multiBuffer, rxMetadata: rxMetadata)
        try program.register(socket)
        return program
    }
}

/// A /proc file's text (they report size 0, so read until end of file).
func readProcFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// 2 MiB huge pages reserved for a test (/proc/sys/vm/nr_hugepages raised
/// only by what is missing, or with `exact` set so that exactly `pages` are
/// free) and given back when the value goes. nr_hugepages is machine-wide:
/// one reservation at a time in this process (the tests that use one wait
/// for each other), so no test sees another's value.
final class HugePageReservation {
    let original: Int
    private(set) var raised = false
    private var held = true
    private static let exclusive = DispatchSemaphore(value: 1)

    init(pages: Int, exact: Bool = false) throws {
        Self.exclusive.wait()
        original = Self.read("/proc/sys/vm/nr_hugepages")
        do { try reserve(pages: pages, exact: exact) } catch {
            restore()
            throw error
        }
    }

    private static func read(_ path: String, field: String? = nil) -> Int {
        guard let text = readProcFile(path) else { return 0 }
        guard let field else { return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? 0
    }

    private func reserve(pages: Int, exact: Bool) throws {
        let free = Self.read("/proc/meminfo", field: "HugePages_Free")
        if free < pages || (exact && free != pages) {
            try "\(original + pages - free)".write(toFile: "/proc/sys/vm/nr_hugepages", atomically: false, encoding: .utf8)
            raised = true
        }
        let now = Self.read("/proc/meminfo", field: "HugePages_Free")
        if now < pages || (exact && now != pages) {
            Issue.record("\(now) free 2 MiB huge pages after asking for \(exact ? "exactly " : "")\(pages) (memory too fragmented?)")
            throw XDPError(.outOfMemory, operation: "reserve huge pages")
        }
    }

    private func restore() {
        guard held else { return }
        held = false
        if raised { try? "\(original)".write(toFile: "/proc/sys/vm/nr_hugepages", atomically: false, encoding: .utf8) }
        raised = false
        Self.exclusive.signal()
    }

    deinit { restore() }
}

/// The kernel page size of the mapping that holds `address` (from /proc/self/smaps), in KiB.
func kernelPageSize(of address: UnsafeMutableRawPointer) -> Int? {
    guard let text = readProcFile("/proc/self/smaps") else { return nil }
    let target = UInt(bitPattern: address)
    var inside = false
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
            let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
            inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
        } else if inside, fields.first == "KernelPageSize:", fields.count >= 2 {
            return Int(fields[1])
        }
    }
    return nil
}

/// A deadline `seconds` from now on the monotonic clock.
struct Deadline {
    let end: ContinuousClock.Instant
    init(seconds: Double) { end = .now + .milliseconds(Int(seconds * 1000)) }
    var passed: Bool { ContinuousClock.now >= end }
}

/// Sends each packet from `endpoint`'s pool, waits until all completed.
/// - Returns: The number completed.
@discardableResult
func transmit(_ packets: [[UInt8]], from endpoint: inout Endpoint, timeout: Double = 5) -> Int {
    var next = 0
    var completed = 0
    let deadline = Deadline(seconds: timeout)
    while completed < packets.count && !deadline.passed {
        completed += endpoint.socket.completion.drainSkippingFrameless(into: &endpoint.umem.pool)
        var pushed = 0
        let room = endpoint.socket.tx.freeCount(wanting: 64)
        while next < packets.count, pushed < room, var frame = endpoint.umem.pool.allocate() {
            write(packets[next], into: &frame)
            endpoint.socket.tx.push(frame)
            next += 1
            pushed += 1
        }
        if pushed > 0 { endpoint.socket.tx.submit() }
        endpoint.socket.kickTransmit()
        if pushed == 0 { endpoint.socket.poll(forTransmit: true, timeoutMilliseconds: 10) }
    }
    return completed
}

/// Kicks the TX ring and takes completions back into the pool until
/// `expecting` have come or `seconds` pass.
/// - Returns: The number of completions taken.
@discardableResult
func drainCompletions(_ endpoint: inout Endpoint, expecting: Int, seconds: Double = 5) -> Int {
    var taken = 0
    let deadline = Deadline(seconds: seconds)
    while taken < expecting && !deadline.passed {
        endpoint.socket.kickTransmit()
        taken += endpoint.socket.completion.drainSkippingFrameless(into: &endpoint.umem.pool)
        if taken < expecting { endpoint.socket.poll(forTransmit: true, timeoutMilliseconds: 10) }
    }
    return taken
}

/// After a batch of TX descriptors of which `invalid` were invalid: each
/// counted, the valid `packets` received intact, and every frame back.
func expectInvalidDescriptorOutcome(invalid: Int, packets: [[UInt8]], sender: inout Endpoint, receiver: inout Endpoint,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let senderStats = try sender.socket.statistics()
    #expect(senderStats.txInvalidDescriptors == UInt64(invalid), sourceLocation: sourceLocation)
    expectSame(receive(packets.count, on: &receiver), packets, sourceLocation: sourceLocation)
    let senderAccount = sender.accounting
    #expect(senderAccount.isConserved, "\(senderAccount)", sourceLocation: sourceLocation)
    #expect(sender.umem.pool.count == sender.umem.pool.capacity, "every frame, valid or not, came back", sourceLocation: sourceLocation)
}

/// Sets a frame's packet to `bytes`.
func write<Bytes: Collection<UInt8>>(_ bytes: Bytes, into frame: inout Frame) {
    frame.length = bytes.count
    frame.withUnsafeMutableBytes { buffer in buffer.copyBytes(from: bytes) }
}

/// Receives up to `count` packets on `endpoint` (copying their bytes out and
/// recycling the frames to the fill ring), until `timeout` seconds pass.
func receive(_ count: Int, on endpoint: inout Endpoint, timeout: Double = 5) -> [[UInt8]] {
    var packets: [[UInt8]] = []
    let deadline = Deadline(seconds: timeout)
    while packets.count < count && !deadline.passed {
        let ready = endpoint.socket.rx.peek(upTo: 64)
        if ready == 0 {
            endpoint.socket.wakeReceive()
            endpoint.socket.poll(timeoutMilliseconds: 10)
            continue
        }
        _ = endpoint.socket.fill.freeCount(wanting: ready)
        for _ in 0..<ready {
            let frame = endpoint.socket.rx.receive()
            packets.append(copyBytes(of: frame))
            endpoint.socket.fill.push(frame)
        }
        endpoint.socket.rx.release()
        endpoint.socket.fill.submit()
    }
    return packets
}

/// UDP frames from the lab's peer end to its device end, each carrying its
/// sequence number (big-endian UInt32) and a byte pattern derived from it.
func sequencedPackets(_ count: Int, link: VethLab.Link, frameLength: Int = 64, destinationPort: UInt16 = 9) -> [[UInt8]] {
    let builder = UDPPacketBuilder(sourceMAC: link.peerMAC, destinationMAC: link.deviceMAC,
                                   sourceIPv4: link.peerIPv4, destinationIPv4: link.deviceIPv4,
                                   sourcePort: 9, destinationPort: destinationPort)
    return (0..<count).map { sequence in
        let payloadLength = max(frameLength, UDPPacketBuilder.minimumFrameLength) - UDPPacketBuilder.headerLength
        var payload = [UInt8](repeating: 0, count: payloadLength)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: sequence &* 7 &+ index) }
        withUnsafeBytes(of: UInt32(sequence).bigEndian) { for i in 0..<4 { payload[i] = $0[i] } }
        return builder.make(frameLength: frameLength, payload: payload)
    }
}

/// The sequence number sequencedPackets wrote into `packet`.
func sequenceNumber(of packet: [UInt8]) -> Int {
    let offset = UDPPacketBuilder.headerLength
    return Int(packet[offset]) << 24 | Int(packet[offset + 1]) << 16 | Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
}

/// The bytes of a frame's packet, copied out.
func copyBytes(of frame: borrowing Frame) -> [UInt8] {
    frame.bytes.withUnsafeBytes { Array($0) }
}

/// Checks that `received` equals `expected`, reporting a short summary
/// (counts, first difference) rather than every byte.
func expectSame(_ received: [[UInt8]], _ expected: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) {
    if received == expected { return }
    let firstDifference = zip(received, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    Issue.record("received \(received.count) packets, expected \(expected.count); first difference at index \(firstDifference.map(String.init) ?? "none (one is a prefix of the other)")\(firstDifference.map { ": got \(received[$0].prefix(48)) expected \(expected[$0].prefix(48))" } ?? "")", sourceLocation: sourceLocation)
}
