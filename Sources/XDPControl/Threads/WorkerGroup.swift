import XDP

/// Pinned worker threads, each running one loop over a move-only state
/// (its ``WorkerQueues`` and whatever else it owns) that it takes at start
/// and gives back when it returns, until ``stop()``.
///
/// Add one state per worker with ``add(_:)``, then ``start(cpus:name:loop:)``;
/// ``stop()`` raises the shared ``StopFlag``, joins every thread and drops
/// the states (closing their sockets). The loops must poll ``StopFlag/isRaised``
/// once per batch and return when it is raised.
public final class WorkerGroup<State: ~Copyable>: @unchecked Sendable {
    private var handoffs: [Handoff<State>] = []
    private var workers: [Worker] = []
    /// Raised by ``stop()``; every loop polls it once per batch.
    public let stopFlag = StopFlag()

    /// Creates an empty group.
    public init() {}

    /// Adds the state of the next worker (before ``start(cpus:name:loop:)``).
    /// - Parameter state: What the worker will own.
    public func add(_ state: consuming State) {
        handoffs.append(Handoff(state))
    }

    /// The states added, one per worker.
    public var count: Int { handoffs.count }

    /// Worker threads started and not yet joined.
    public var runningCount: Int { workers.count }

    /// Starts one thread per state, the `i`th pinned to `cpus[i]`.
    /// - Parameters:
    ///   - cpus: One CPU per state.
    ///   - name: The threads' name prefix (the CPU is appended).
    ///   - loop: The worker loop: runs with the worker's index and state until the flag is raised.
    /// - Throws: `XDPError` if a thread cannot be created; the ones started are stopped.
    public func start(cpus: [Int], name: String,
                      loop: @escaping @Sendable (_ index: Int, _ state: inout State, _ stop: StopFlag) -> Void) throws(XDPError) {
        try start(workerCPUs: cpus.map { Optional($0) }, names: cpus.map { "\(name)-\($0)" }, loop: loop)
    }

    /// Starts one thread per state, the `i`th pinned to `workerCPUs[i]`, or
    /// left to the scheduler where that is nil.
    /// - Parameters:
    ///   - workerCPUs: One CPU (or nil: unpinned) per state.
    ///   - names: One thread name per state (at most 15 bytes are kept).
    ///   - loop: The worker loop: runs with the worker's index and state until the flag is raised.
    /// - Throws: `XDPError` if a thread cannot be created or pinned; the ones started are stopped.
    public func start(workerCPUs: [Int?], names: [String],
                      loop: @escaping @Sendable (_ index: Int, _ state: inout State, _ stop: StopFlag) -> Void) throws(XDPError) {
        precondition(workerCPUs.count == handoffs.count && names.count == handoffs.count, "one CPU and one name per worker state")
        let stop = stopFlag
        for (index, cpu) in workerCPUs.enumerated() {
            let handoff = handoffs[index]
            do {
                workers.append(try Worker(name: names[index], cpu: cpu) {
                    var state = handoff.take()
                    loop(index, &state, stop)
                    handoff.put(state)
                })
            } catch {
                self.stop()
                throw error
            }
        }
        // A worker that runs unpinned would share a CPU it was planned off:
        // refuse, naming the CPU, rather than run slower without a word.
        for worker in workers {
            guard let cpu = worker.cpu, let rc = worker.pinOutcome(), rc != 0 else { continue }
            self.stop()
            throw XDPError.fromErrno(rc, operation: "pin worker thread \(worker.name) to CPU \(cpu)",
                                     hint: "CPU \(cpu) is not available to this process (allowed: \(Worker.allowedCPUs.map(String.init).joined(separator: ","))): choose CPUs from that list")
        }
    }

    /// Runs every worker under SCHED_FIFO at `priority` (see ``Worker/setRealtimePriority(_:)``).
    /// - Parameter priority: 1 to 99.
    /// - Throws: `XDPError` when the kernel refuses.
    public func setRealtimePriority(_ priority: Int32) throws(XDPError) {
        for worker in workers { try worker.setRealtimePriority(priority) }
    }

    /// Raises the stop flag and joins the workers, keeping their states
    /// (for ``withState(at:_:)``); ``stop()`` drops them.
    public func join() {
        stopFlag.raise()
        for worker in workers { worker.join() }
        workers.removeAll()
    }

    /// Reads the state of worker `index` while no thread runs it (before
    /// ``start(cpus:name:loop:)`` or after ``join()``).
    /// - Parameters:
    ///   - index: The worker.
    ///   - body: Reads the state.
    /// - Returns: What `body` returns, or nil when the state is gone.
    public func withState<R>(at index: Int, _ body: (borrowing State) -> R) -> R? {
        guard workers.isEmpty, index < handoffs.count, let state = handoffs[index].takeIfPresent() else { return nil }
        let result = body(state)
        handoffs[index].put(state)
        return result
    }

    /// Stops and joins the workers and drops their states. Safe to call twice.
    public func stop() {
        stopFlag.raise()
        for worker in workers { worker.join() }
        workers.removeAll()
        for handoff in handoffs { _ = handoff.takeIfPresent() }
        handoffs.removeAll()
    }

    deinit { stop() }
}
