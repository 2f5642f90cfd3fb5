import XDPControl

/// What a ``PacketService`` or ``PacketStream`` found and chose at setup,
/// for logs and metrics.
public struct PacketServiceSetup: Sendable, Equatable {
    /// The interface as discovered.
    public var interface: Interface
    /// The queue→CPU plan in use: one pinned worker per listed CPU.
    public var plan: QueuePlan
    /// The mode the program was attached in (never `.auto`).
    public var attachMode: AttachMode
    /// Why `.auto` fell back to generic mode, when it did.
    public var fallbackReason: String?
    /// The kernel's id of the attached program.
    public var programID: UInt32
    /// Whether the sockets are bound in zero-copy mode.
    public var isZeroCopy: Bool

    /// One line for logs: interface, attach and bind modes, and the plan.
    public var summary: String {
        let served = plan.workers.map { worker in
            "cpu \(worker.cpu): queue \(worker.assignments.map { String($0.queue) }.joined(separator: ","))"
        }.joined(separator: "; ")
        return "\(interface.name): \(attachMode), \(isZeroCopy ? "zero-copy" : "copy mode"); \(served)"
    }
}
