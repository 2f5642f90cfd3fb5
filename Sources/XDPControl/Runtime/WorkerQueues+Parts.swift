import Glibc
import XDP

extension WorkerQueues {
    /// Maps a UMEM of exactly `umemConfiguration`, binds one socket per
    /// assignment on it, puts `fillFrames[i]` frames on socket `i`'s fill
    /// ring and registers each socket: ``init(serving:framesPerSocket:frameSize:socketConfiguration:txMetadataLength:transmitReserve:register:)``
    /// for a caller that sizes the UMEM, its rings and the fill priming
    /// itself (xdpbench: xdpsock's sizes, nothing on the fill ring for transmit only).
    /// - Parameters:
    ///   - assignments: The (interface, queue) pairs to serve, at least one.
    ///   - umemConfiguration: The UMEM, as is (its frames are shared by every socket).
    ///   - fillFrames: Frames to put on each socket's fill ring, one per assignment.
    ///   - socketConfiguration: Ring sizes and bind modes of every socket.
    ///   - register: Registers a freshly bound, primed socket with the XSKMAP of its interface.
    /// - Throws: `XDPError` from mapping, binding or registering; what was
    ///   made so far is closed again.
    public init(serving assignments: [QueuePlan.Assignment], umem umemConfiguration: UMEMConfiguration, fillFrames: [Int],
                socketConfiguration: SocketConfiguration, register: (borrowing Socket) throws(XDPError) -> Void) throws(XDPError) {
        try self.init(serving: assignments, umem: umemConfiguration, fillFrames: fillFrames,
                      socketConfiguration: socketConfiguration, withoutTXMetadataIfRefused: false, register: register)
    }

    /// Puts a worker's queues together again from their parts, for a loop
    /// that took them apart to keep its UMEM and sockets in fields of its own
    /// (take the sockets out with `SocketSet.removeLast()`, append them back
    /// in their order).
    /// - Parameters:
    ///   - umem: The UMEM.
    ///   - sockets: Its sockets, socket `i` serving `assignments[i]`.
    ///   - assignments: What each socket serves.
    ///   - checksumOffloadMetadataLength: As it was (``checksumOffloadMetadataLength``).
    public init(umem: consuming UMEM, sockets: consuming SocketSet, assignments: [QueuePlan.Assignment],
                checksumOffloadMetadataLength: Int) {
        self.umem = umem
        self.sockets = sockets
        self.assignments = assignments
        self.checksumOffloadMetadataLength = checksumOffloadMetadataLength
    }

    /// Takes the worker's queues apart, for a loop that keeps its UMEM and
    /// sockets in fields of its own: `body` gets the UMEM and the sockets
    /// (put them together again with ``init(umem:sockets:assignments:checksumOffloadMetadataLength:)``).
    /// - Parameter body: Takes the parts.
    /// - Returns: What `body` returns.
    public consuming func takeApart<R: ~Copyable>(_ body: (consuming UMEM, consuming SocketSet) -> R) -> R {
        body(umem, sockets)
    }
}
