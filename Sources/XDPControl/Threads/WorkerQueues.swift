import Glibc
import XDP

/// What one worker owns: one UMEM, and on it a socket for each
/// (interface, queue) the worker serves, its fill ring primed and the socket
/// registered with its interface's program.
///
/// One UMEM per worker, shared by all its sockets: a worker can move a frame
/// from one of its sockets to another without a copy, and no two threads ever
/// touch the same rings or pool. Hand it to the worker thread whole (a
/// ``WorkerGroup`` does); dropping it closes the sockets and unmaps the UMEM.
public struct WorkerQueues: ~Copyable, Sendable {
    /// The packet memory and its frame pool.
    public var umem: UMEM
    /// One socket per assignment, in the order of ``assignments``.
    public var sockets: SocketSet
    /// What each socket serves: socket `i` is bound to `assignments[i]`.
    public let assignments: [QueuePlan.Assignment]
    /// The UMEM's TX metadata length when every socket honours a checksum
    /// request in TX metadata (copy mode always; zero-copy with the
    /// driver's tx-checksum xsk-feature), else 0: pass it to
    /// `Frame.requestChecksumOffload(start:offset:metadataLength:)`,
    /// and finish checksums in software when it is 0.
    public let checksumOffloadMetadataLength: Int

    /// Maps the UMEM, binds one socket per assignment, primes each fill ring
    /// and registers each socket.
    /// - Parameters:
    ///   - assignments: The (interface, queue) pairs to serve, at least one.
    ///   - framesPerSocket: UMEM frames per socket (the UMEM has this many times the assignments).
    ///   - frameSize: Bytes per frame (2048 or 4096).
    ///   - socketConfiguration: Ring sizes and bind modes of every socket.
    ///   - txMetadataLength: TX metadata bytes in front of each packet
    ///     (`UMEMConfiguration.txMetadataLength`), for checksum offload
    ///     requests; a kernel that refuses it (before 6.8) gets a UMEM without.
    ///   - transmitReserve: Frames per socket kept in the pool for packets the
    ///     application sends on its own (`FramePool.allocate()`); the
    ///     rest wait on the socket's fill ring, which holds them all (as
    ///     xdpsock's does). 0, the default, for handlers that only receive,
    ///     drop or send back what they received.
    ///   - register: Registers a freshly bound socket with the program of its
    ///     interface (``XDPProgram/register(_:)``), so its queue is redirected to it.
    /// - Throws: `XDPError` from mapping, binding or registering; what was
    ///   made so far is closed again.
    public init(serving assignments: [QueuePlan.Assignment], framesPerSocket: Int, frameSize: Int,
                socketConfiguration: SocketConfiguration, txMetadataLength: Int = 0, transmitReserve: Int = 0,
                register: (borrowing Socket) throws(XDPError) -> Void) throws(XDPError) {
        guard !assignments.isEmpty else {
            throw XDPError(.invalidConfiguration, operation: "set up worker queues", hint: "a worker serves at least one queue")
        }
        // The fill ring holds every frame, unless frames are kept for sending:
        // then it is no bigger than what it may hold, since an idle batch
        // tops it up from the pool and would otherwise take the reserve too.
        let fillRingSize = transmitReserve > 0
            ? WorkerQueues.ringSize(atMost: framesPerSocket - transmitReserve)
            : WorkerQueues.ringSize(holding: framesPerSocket)
        var umemConfiguration = UMEMConfiguration(frameCount: framesPerSocket * assignments.count, frameSize: frameSize,
                                                  fillRingSize: fillRingSize, completionRingSize: 2048)
        umemConfiguration.txMetadataLength = txMetadataLength
        try self.init(serving: assignments, umem: umemConfiguration,
                      fillFrames: [Int](repeating: max(0, framesPerSocket - transmitReserve), count: assignments.count),
                      socketConfiguration: socketConfiguration, withoutTXMetadataIfRefused: true, register: register)
    }

    /// The one setup path: maps the UMEM (without TX metadata when the
    /// kernel refuses it and `withoutTXMetadataIfRefused`), binds one socket
    /// per assignment, primes socket `i`'s fill ring with `fillFrames[i]`
    /// frames, registers it, and finds whether every socket honours a
    /// checksum request in TX metadata.
    init(serving assignments: [QueuePlan.Assignment], umem umemConfiguration: UMEMConfiguration, fillFrames: [Int],
         socketConfiguration: SocketConfiguration, withoutTXMetadataIfRefused: Bool,
         register: (borrowing Socket) throws(XDPError) -> Void) throws(XDPError) {
        guard !assignments.isEmpty, fillFrames.count == assignments.count else {
            throw XDPError(.invalidConfiguration, operation: "set up worker queues",
                           hint: "a worker serves at least one queue, with one fill priming per queue")
        }
        var umemConfiguration = umemConfiguration
        var umem: UMEM
        do throws(XDPError) {
            umem = try UMEM(configuration: umemConfiguration)
        } catch {
            // A kernel before 6.8 refuses TX metadata (EINVAL): a UMEM without.
            guard withoutTXMetadataIfRefused, umemConfiguration.txMetadataLength > 0, error.errno == EINVAL else { throw error }
            umemConfiguration.txMetadataLength = 0
            umem = try UMEM(configuration: umemConfiguration)
        }
        var sockets = SocketSet(capacity: assignments.count)
        for (assignment, frames) in zip(assignments, fillFrames) {
            var socket = try Socket(umem: umem, interface: assignment.port, queue: assignment.queue, configuration: socketConfiguration)
            if frames > 0 { socket.fill.refill(from: &umem.pool, upTo: frames) }
            try register(socket)
            sockets.append(socket)
        }
        var offload = umemConfiguration.txMetadataLength
        for index in 0..<sockets.count where offload > 0 {
            sockets.withSocket(at: index) { (socket: borrowing Socket) in
                do throws(XDPError) {
                    try socket.checkTXMetadata(TXMetadata(checksum: .udpOverIPv4))
                } catch {
                    offload = 0
                }
            }
        }
        self.init(umem: umem, sockets: sockets, assignments: assignments, checksumOffloadMetadataLength: offload)
    }

    /// The smallest power of two at least `frames` (a fill ring that holds them all).
    static func ringSize(holding frames: Int) -> Int {
        var size = 64
        while size < frames { size <<= 1 }
        return size
    }

    /// The largest ring size (a power of two, at least 64) not above `frames`.
    static func ringSize(atMost frames: Int) -> Int {
        var size = 64
        while size * 2 <= frames { size <<= 1 }
        return size
    }

    /// Where this worker's frames are now (exact at a batch boundary, on the worker's thread).
    public var accounting: FrameAccounting {
        var account = FrameAccounting(umem)
        for index in 0..<sockets.count {
            sockets.withSocket(at: index) { (socket: borrowing Socket) in account.add(socket) }
        }
        return account
    }

    /// The index in ``sockets`` of the socket serving `queue` of `interface`, if this worker serves it.
    public func socketIndex(interface: String, queue: UInt32) -> Int? {
        assignments.firstIndex(of: QueuePlan.Assignment(port: interface, queue: queue))
    }
}
