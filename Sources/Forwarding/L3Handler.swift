import Packet
import XDP
import XDPControl

/// The l3 per-packet logic. The redirect program already asked the kernel's
/// FIB (`bpf_fib_lookup`) and sends to userspace only packets it forwards
/// out of a port the daemon serves, with the answer (egress interface, the
/// MACs) in front of the packet (``FIBMetadata``). So userspace never
/// decides again: it checks the answer, writes the MACs, decrements the TTL
/// (IPv4 header checksum updated incrementally, RFC 1624) or hop limit, and
/// sends the frame out of the egress port's socket on this worker, which may
/// be the port it came in on (hairpin). Routes, ECMP, policy rules, nexthop
/// objects and neighbors are all the kernel's. A partial TCP/UDP checksum
/// (from a host with checksum offload) is carried on as an offload request
/// or finished in software (``PartialChecksum``), as for every mode.
///
/// Anything else is counted by reason and dropped: no or invalid metadata,
/// an egress this worker has no socket for, a frame that is not the IPv4 or
/// IPv6 packet the program looked at, a bad IPv4 header checksum or a length
/// beyond the frame (the kernel would drop both), a TTL that expired (the
/// program leaves those to the kernel; counted if one races).
public struct L3Handler: RoutingHandler {
    /// Egress interface indexes and, at the same position, the socket (index
    /// in the worker's ``SocketSet``) that sends out of each.
    @usableFromInline let egressIndexes: [UInt32]
    @usableFromInline let egressSockets: [Int]
    /// TX metadata length for checksum offload requests; 0 finishes partial checksums in software.
    @usableFromInline let offloadMetadataLength: Int
    /// Drops by reason since creation.
    public var drops = DropCounts()
    /// Partial checksums handed on as offload requests, and finished in software.
    public var partialChecksums: (offloaded: UInt64, finished: UInt64) = (0, 0)

    /// A handler that sends a packet whose FIB answer names
    /// `outputs[i].interfaceIndex` out of socket `outputs[i].socket`.
    /// - Parameters:
    ///   - outputs: Egress interface indexes and the socket sending out of each.
    ///   - offloadMetadataLength: The worker's
    ///     ``XDPControl/WorkerQueues/checksumOffloadMetadataLength`` (0: finish
    ///     partial checksums in software).
    public init(outputs: [(interfaceIndex: UInt32, socket: Int)], offloadMetadataLength: Int = 0) {
        egressIndexes = outputs.map(\.interfaceIndex)
        egressSockets = outputs.map(\.socket)
        self.offloadMetadataLength = offloadMetadataLength
    }

    @inlinable
    public mutating func route(_ frame: inout Frame) -> RoutingVerdict {
        guard let fib = frame.takeFIBMetadata() else {
            drops.invalidMetadata &+= 1
            return .drop
        }
        var output = -1
        for index in egressIndexes.indices where egressIndexes[index] == fib.egressInterfaceIndex {
            output = egressSockets[index]
            break
        }
        guard output >= 0 else {
            drops.routeToUnservedPort &+= 1
            return .drop
        }
        var bytes = frame.mutableBytes
        switch L3Handler.rewrite(&bytes, fib) {
        case .rewritten:
            switch PartialChecksum.carry(&frame, offloadMetadataLength: offloadMetadataLength) {
            case .full: break
            case .offloaded: partialChecksums.offloaded &+= 1
            case .finished: partialChecksums.finished &+= 1
            }
            return .transmit(socket: output)
        case .malformed: drops.malformed &+= 1
        case .ttlExpired: drops.ttlExpired &+= 1
        }
        return .drop
    }

    @usableFromInline
    enum Rewrite { case rewritten, malformed, ttlExpired }

    /// Writes the FIB's MACs and decrements the TTL or hop limit of an
    /// untagged IPv4 or IPv6 frame (the only ones the program sends with an
    /// answer); an IPv4 header must verify first (RFC 1812 §5.2.2).
    @inlinable @inline(__always)
    static func rewrite(_ bytes: inout MutableRawSpan, _ fib: FIBMetadata) -> Rewrite {
        let count = bytes.byteCount
        guard count >= 14 + 20 else { return .malformed }
        // Bounds-checked loads of integers (any bit pattern is valid).
        let etherType = UInt16(bigEndian: bytes.unsafeLoadUnaligned(fromByteOffset: 12, as: UInt16.self))
        let first = bytes.unsafeLoad(fromByteOffset: 14, as: UInt8.self)
        switch etherType {
        case 0x0800:
            let headerLength = Int(first & 0x0f) &* 4
            let totalLength = Int(UInt16(bigEndian: bytes.unsafeLoadUnaligned(fromByteOffset: 16, as: UInt16.self)))
            guard first >> 4 == 4, headerLength >= 20, totalLength >= headerLength, count >= 14 &+ totalLength,
                  InternetChecksum.isValidIPv4Header(bytes.bytes, l3Offset: 14, headerLength: headerLength)
            else { return .malformed }
            guard IPv4TTL.decrement(&bytes, l3Offset: 14) else { return .ttlExpired }
        case 0x86DD:
            guard first >> 4 == 6, count >= 14 + 40,
                  count >= 14 + 40 + Int(UInt16(bigEndian: bytes.unsafeLoadUnaligned(fromByteOffset: 18, as: UInt16.self)))
            else { return .malformed }
            guard IPv6HopLimit.decrement(&bytes, l3Offset: 14) else { return .ttlExpired }
        default:
            return .malformed
        }
        _ = fib.writeEthernetAddresses(to: &bytes)
        return .rewritten
    }
}

/// l3: every socket is an input in turn; each packet goes out of the
/// socket its FIB answer names (see ``L3Handler``).
struct RouteStep: ForwardingStep, ~Copyable {
    var state: WorkerState
    var handlers: [L3Handler]
    var local: [LocalPortCounters]
    /// What each batch sent per output socket, counted onto it and zeroed.
    var tally: [TransmitTally]

    init(state: consuming WorkerState, handlers: [L3Handler]) {
        local = state.counters.map { _ in LocalPortCounters() }
        tally = [TransmitTally](repeating: TransmitTally(), count: state.queues.sockets.count)
        self.handlers = handlers
        self.state = state
    }

    mutating func round(limit: Int) -> Int {
        let sockets = state.queues.sockets.count
        var handled = 0
        for input in 0..<sockets {
            let result = state.queues.sockets.routeBatch(from: input, limit: limit, pool: &state.queues.umem.pool,
                                                         handler: &handlers[input], tally: &tally)
            guard result.packets > 0 else { continue }
            handled += result.packets
            local[input].rxPackets &+= UInt64(result.packets)
            local[input].rxBytes &+= UInt64(result.bytes)
            local[input].drops.txRingFull &+= UInt64(result.transmitDropped)
            handlers[input].drops.store(into: &local[input])
            (local[input].partialChecksumsOffloaded, local[input].partialChecksumsFinished) = handlers[input].partialChecksums
            for output in 0..<sockets where tally[output] != TransmitTally() {
                local[output].txPackets &+= tally[output].packets
                local[output].txBytes &+= tally[output].bytes
                tally[output] = TransmitTally()
                local[output].publish(to: state.counters[output])
            }
            local[input].publish(to: state.counters[input])
        }
        return handled
    }
}

extension ForwardingLoops {
    /// The outputs of each socket's handler: for every port the worker
    /// serves, the socket of that port on the same queue (else any of its
    /// sockets on this worker).
    static func l3Handlers(_ state: borrowing WorkerState, offloadMetadataLength: Int) -> [L3Handler] {
        let count = state.queues.sockets.count
        let queues = (0..<count).map { state.queues.sockets.withSocket(at: $0) { $0.queue } }
        return (0..<count).map { input in
            var outputs: [(interfaceIndex: UInt32, socket: Int)] = []
            for index in Set(state.interfaceIndexes) {
                let candidates = (0..<count).filter { state.interfaceIndexes[$0] == index }
                if let socket = candidates.first(where: { queues[$0] == queues[input] }) ?? candidates.first {
                    outputs.append((UInt32(index), socket))
                }
            }
            return L3Handler(outputs: outputs, offloadMetadataLength: offloadMetadataLength)
        }
    }
}
