import Glibc

/// Hands one move-only value from the thread that made it (setup, in the
/// right namespace) to the thread that uses it (a worker), and back.
///
/// The worker takes the value into a local at its start, so its loop touches
/// no shared object; only `take` and `put` synchronize.
public final class Handoff<Value: ~Copyable>: @unchecked Sendable {
    private var value: Value?
    private let lock = PThreadLock()

    /// Holds `value` until taken.
    public init(_ value: consuming Value) { self.value = consume value }

    /// Takes the value out; traps if it is not there.
    public func take() -> Value {
        lock.withLock { () -> Value in
            guard let taken = value.take() else { fatalError("Handoff.take: no value") }
            return taken
        }
    }

    /// Puts a value (back).
    public func put(_ newValue: consuming Value) {
        lock.lock()
        value = consume newValue
        lock.unlock()
    }

    /// Takes the value out if there is one.
    public func takeIfPresent() -> Value? {
        lock.withLock { value.take() }
    }
}

/// A small mutex for setup-time handoffs (not for packet paths).
///
/// Not `Synchronization.Mutex<Value?>`: with it `init` and `take` compile
/// (as `sending`), but `put` does not: moving the value into `withLock`'s
/// `inout sending` slot from the closure fails region-based isolation
/// checking ("'inout sending' parameter '$0' cannot be task-isolated at end
/// of function", Swift 6.3.1), even from a `sending` parameter held in a
/// `nonisolated(unsafe)` local; and requiring `Value: Sendable` would change
/// `WorkerGroup`'s public constraint.
final class PThreadLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func withLock<R: ~Copyable>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
