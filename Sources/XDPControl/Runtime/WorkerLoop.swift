import Synchronization

/// One round of a worker's loop, as a tool writes it: a batch over the
/// worker's sockets with its handler inlined, how the worker waits for
/// packets, and what it publishes now and then. ``WorkerLoop/run(_:batch:wait:stop:budget:)``
/// runs it; every tool's worker (xdpfwd's modes, XDPService's handler and
/// stream, xdpbench's loops) is a step over the same skeleton.
///
/// Write it as a struct that owns what the round needs (the worker's queues,
/// handlers, local counters) and conform it in the same module as its
/// handler type, so the loop is specialised for it: the round, its handler
/// and the skeleton then compile to one function with no closure,
/// existential, allocation or reference counting per batch.
public protocol WorkerStep: ~Copyable {
    /// Runs one round: at most `limit` packets over the worker's sockets
    /// (`limit` per socket, or over all of them, as the step counts),
    /// counted and published to the worker's counters.
    /// - Parameter limit: The most packets to take (the batch, or less when
    ///   the run's ``PacketBudget`` or ``admit(_:)`` gives less).
    /// - Returns: The packets the round handled (received, forwarded or
    ///   sent); fewer than `limit` is a short round, 0 an empty one.
    mutating func round(limit: Int) -> Int

    /// Waits for the worker's sockets (`poll()` with a short timeout, at once
    /// when packets are ready), as the loop's ``WorkerWaitPolicy`` says.
    mutating func wait()

    /// Publishes what the counters do not carry per round (where the
    /// worker's frames are): before the first round, every 64 rounds and
    /// after the last.
    mutating func publish()

    /// The packets the next round may take, before the budget (default:
    /// `batch`): a step that paces itself returns less, or 0 to skip the
    /// round (no budget claimed, no wait, no round counted).
    /// - Parameter batch: The loop's batch size.
    /// - Returns: The round's limit.
    mutating func admit(_ batch: Int) -> Int
}

extension WorkerStep where Self: ~Copyable {
    /// Publishes nothing (a step whose counters carry everything).
    @inlinable @inline(__always)
    public mutating func publish() {}

    /// The whole batch, every round.
    @inlinable @inline(__always)
    public mutating func admit(_ batch: Int) -> Int { batch }
}

/// When a worker waits in `poll()` (``WorkerStep/wait()``) instead of
/// starting the next round at once.
///
/// Spin only on a core of its own: a worker spinning on the core that also
/// runs the queue's NAPI work starves it (ARCHITECTURE.md, "Ownership and
/// threading").
@frozen
public enum WorkerWaitPolicy: Sendable, Equatable {
    /// Never wait.
    case spin
    /// After a round that took fewer packets than it was allowed (xdpsock's
    /// default): `poll()` returns at once when packets are ready, else lets
    /// them gather into bigger batches and gives a core shared with the
    /// queue's NAPI work to NAPI.
    case afterShortRound
    /// After a round that took nothing (a loop whose round is more than
    /// receive batches: a transmitter, or a stream with a send queue).
    case afterEmptyRound
    /// Before every round (xdpsock `-p`).
    case beforeEveryRound
}

/// The packets a run may still handle, shared by its workers: each round
/// claims what it may take and refunds what it did not, so a run given a
/// count handles exactly that many over all its workers (xdpbench `--count`).
public final class PacketBudget: Sendable {
    @usableFromInline let remaining: Atomic<Int>
    /// Whether the budget has a limit (`limit` was not nil).
    public let isLimited: Bool

    /// Creates a budget.
    /// - Parameter limit: Packets over all workers, or nil for no limit.
    public init(limit: Int?) {
        remaining = Atomic(limit ?? Int.max)
        isLimited = limit != nil
    }

    /// Claims up to `wanted` packets.
    /// - Parameter wanted: The packets a round would take.
    /// - Returns: The packets claimed: `wanted` without a limit, 0 when the budget is spent.
    @inlinable @inline(__always)
    public func claim(_ wanted: Int) -> Int {
        guard isLimited else { return wanted }
        var current = remaining.load(ordering: .relaxed)
        while current > 0 {
            let take = min(current, wanted)
            let (exchanged, original) = remaining.compareExchange(expected: current, desired: current - take, ordering: .relaxed)
            if exchanged { return take }
            current = original
        }
        return 0
    }

    /// Gives back packets claimed and not handled.
    /// - Parameter count: The packets to give back (nothing when 0 or less).
    @inlinable @inline(__always)
    public func refund(_ count: Int) {
        if isLimited && count > 0 { remaining.add(count, ordering: .relaxed) }
    }

    /// Whether a limited budget is spent.
    public var isSpent: Bool { isLimited && remaining.load(ordering: .relaxed) <= 0 }

    /// No limit: every claim gets what it asks for (the loop's default).
    public static let unlimited = PacketBudget(limit: nil)
}

/// The one worker loop skeleton every tool's worker runs: rounds of a
/// ``WorkerStep`` until the stop flag is raised or the budget is spent,
/// waiting in `poll()` as the ``WorkerWaitPolicy`` says, publishing every 64
/// rounds.
///
/// Per round: the step's ``WorkerStep/admit(_:)``, the budget's claim (one
/// relaxed atomic when limited, none otherwise), the step's round, the
/// refund of what it did not take, the wait. The stop flag is one relaxed
/// load per round, so a stop is seen within a round (plus one wait).
public enum WorkerLoop {
    /// How long a step's ``WorkerStep/wait()`` sleeps in `poll()` at most:
    /// 10 ms. Not shorter: on a core shared with the queue's NAPI work, a
    /// 1 ms timeout lets the timer wake the worker in the middle of NAPI's
    /// run instead of after it (the socket's own wakeups are sync wakeups,
    /// which wait for NAPI to yield), and the worker then drains a few
    /// packets at a time while NAPI loses its CPU: the C yardstick in the
    /// same layout delivered 0.75 of its NAPI input with 1 ms against 0.97
    /// with 10, 100 or xdpsock's 1000 ms (Benchmarks/README). Not longer:
    /// it bounds how late a worker sees the stop flag when no packet comes.
    public static let pollTimeoutMilliseconds: Int32 = 10

    /// Runs `step` until `stop` is raised or `budget` is spent (inlined into
    /// the caller, so a step's round and handler become one function with it).
    /// - Parameters:
    ///   - step: The worker's round, its wait and its publishing.
    ///   - batch: The most packets a round may take.
    ///   - wait: When the worker waits in `poll()`.
    ///   - stop: Checked before every round.
    ///   - budget: Packets the run may still handle, shared by its workers
    ///     (``PacketBudget/unlimited``, the default: no limit).
    @inlinable @inline(__always)
    public static func run<Step: WorkerStep & ~Copyable>(_ step: inout Step, batch: Int, wait: WorkerWaitPolicy,
                                                         stop: StopFlag, budget: PacketBudget = .unlimited) {
        var rounds = 0
        step.publish()
        while !stop.isRaised {
            let admitted = step.admit(batch)
            if admitted <= 0 { continue }
            let limit = budget.claim(admitted)
            if limit == 0 { break }
            if wait == .beforeEveryRound { step.wait() }
            let handled = step.round(limit: limit)
            budget.refund(limit - handled)
            rounds &+= 1
            if rounds & 63 == 0 { step.publish() }
            switch wait {
            case .afterShortRound: if handled < limit { step.wait() }
            case .afterEmptyRound: if handled == 0 { step.wait() }
            case .spin, .beforeEveryRound: break
            }
        }
        step.publish()
    }
}
