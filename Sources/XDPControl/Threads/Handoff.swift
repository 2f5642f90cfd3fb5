import Synchronization

/// Hands one move-only value from the thread that made it (setup, in the
/// right namespace) to the thread that uses it (a worker), and back.
///
/// The worker takes the value into a local at its start, so its loop touches
/// no shared object; only `take` and `put` synchronize.
///
/// The platform's `Mutex` guards the slot, which sits beside it rather than
/// inside it: `Mutex<Value?>` would need `Value` moved into `withLock`'s
/// `inout sending` state, which region-based isolation checking refuses for
/// a value that is not `sending` ("'inout sending' parameter cannot be
/// task-isolated at end of function", Swift 6.3.1, even from a `sending`
/// parameter), and `sending` or `Value: Sendable` here would change
/// ``WorkerGroup``'s public constraints. Every access to `value` is inside
/// `lock.withLock`, which is what makes the `@unchecked Sendable` hold.
public final class Handoff<Value: ~Copyable>: @unchecked Sendable {
    private var value: Value?
    private let lock = Mutex<Void>(())

    /// Holds `value` until taken.
    public init(_ value: consuming Value) { self.value = consume value }

    /// Takes the value out; traps if it is not there.
    public func take() -> Value {
        lock.withLock { _ -> Value in
            guard let taken = value.take() else { fatalError("Handoff.take: no value") }
            return taken
        }
    }

    /// Puts a value (back).
    public func put(_ newValue: consuming Value) {
        // A closure may not consume a capture: move it through an Optional.
        var incoming = Optional(consume newValue)
        lock.withLock { _ in value = incoming.take() }
    }

    /// Takes the value out if there is one.
    public func takeIfPresent() -> Value? {
        lock.withLock { _ in value.take() }
    }
}
