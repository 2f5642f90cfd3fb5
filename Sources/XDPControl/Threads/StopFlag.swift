import Synchronization

/// A flag a control thread raises and worker loops poll once per batch
/// (a relaxed load: cheap, and a late stop by one batch is harmless).
public final class StopFlag: Sendable {
    @usableFromInline let raised = Atomic<Bool>(false)

    /// Creates a lowered flag.
    public init() {}

    /// Whether a stop was requested.
    @inlinable
    public var isRaised: Bool { load() }

    @inlinable
    func load() -> Bool { raised.load(ordering: .relaxed) }

    /// Requests a stop.
    public func raise() { raised.store(true, ordering: .relaxed) }
}
