/// Where the frames of one UMEM are, at a batch boundary.
///
/// Every frame is in exactly one place: the pool, on the kernel's receive
/// side (fill ring, the driver, RX ring), on its transmit side (TX ring, the
/// driver, completion ring), or held by the application. ``held`` is what the
/// other places do not account for: zero at a batch boundary of a correct
/// loop, and the count of leaked frames otherwise.
public struct FrameAccounting: Sendable, Equatable, CustomStringConvertible {
    /// Frames in the UMEM.
    public var total: Int
    /// Frames in the pool.
    public var free: Int
    /// Frames given to fill rings and not yet taken from RX rings.
    public var receiveSide: Int
    /// Frames pushed to TX rings and not yet taken from completion rings.
    public var transmitSide: Int

    /// Frames none of the places above hold: held by the application (or leaked).
    public var held: Int { total - free - receiveSide - transmitSide }

    /// Whether every frame is accounted for with none held.
    public var isConserved: Bool { held == 0 }

    /// Creates an account from counts.
    public init(total: Int, free: Int, receiveSide: Int, transmitSide: Int) {
        self.total = total
        self.free = free
        self.receiveSide = receiveSide
        self.transmitSide = transmitSide
    }

    /// Starts an account of a UMEM's frames from its pool; add each socket
    /// with ``add(_:)``.
    public init(_ umem: borrowing UMEM) {
        total = umem.pool.capacity
        free = umem.pool.count
        receiveSide = 0
        transmitSide = 0
    }

    /// Adds one socket's in-flight frames.
    public mutating func add(_ socket: borrowing Socket) {
        receiveSide += Int(socket.fill.produced &- socket.rx.consumed)
        transmitSide += Int(socket.tx.produced &- socket.completion.consumed)
    }

    public var description: String {
        "total \(total) = free \(free) + receive side \(receiveSide) + transmit side \(transmitSide) + held \(held)"
    }
}
