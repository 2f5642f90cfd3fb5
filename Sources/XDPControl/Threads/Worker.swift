import CXDP
import Glibc
import Synchronization
import XDP

/// A dedicated OS thread, pinned to one CPU when asked, running one poll
/// loop: the data plane's unit of work. Never a Swift concurrency task (a
/// busy loop would starve the cooperative pool).
public final class Worker: @unchecked Sendable {
    /// The CPU the thread is pinned to, or nil.
    public let cpu: Int?
    /// A name for logs.
    public let name: String
    private var thread: pthread_t?
    private var body: (() -> Void)?
    /// -1 until the thread has tried to pin itself, then 0 or the errno.
    private let pinResult = Atomic<Int32>(-1)

    /// Starts `body` on a new thread, pinned to `cpu` if given.
    /// - Parameters:
    ///   - name: The thread name (at most 15 bytes are kept).
    ///   - cpu: The CPU to pin to.
    ///   - body: The loop; it must return when its stop condition is met.
    /// - Throws: `XDPError` if the thread cannot be created.
    public init(name: String, cpu: Int? = nil, body: @escaping @Sendable () -> Void) throws(XDPError) {
        self.name = name
        self.cpu = cpu
        self.body = body
        let unmanaged = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { context in
            let worker = Unmanaged<Worker>.fromOpaque(context!).takeRetainedValue()
            worker.run()
            return nil
        }, unmanaged.toOpaque())
        guard rc == 0 else {
            unmanaged.release()
            throw XDPError.fromErrno(rc, operation: "start worker thread \(name)")
        }
        thread = handle
    }

    private func run() {
        cxdp_set_thread_name(name)
        pinResult.store(cpu.map { cxdp_pin_current_thread(Int32($0)) } ?? 0, ordering: .releasing)
        body?()
        body = nil
    }

    /// Waits for the loop to return.
    public func join() {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    /// Runs the thread under SCHED_FIFO at `priority` (1-99), for a worker
    /// that spins on a CPU it has to itself (xdpsock's `--policy FIFO`):
    /// the scheduler then never preempts it for ordinary threads.
    /// - Throws: `XDPError` when the kernel refuses (EPERM: needs
    ///   CAP_SYS_NICE; EINVAL: a priority outside 1-99).
    public func setRealtimePriority(_ priority: Int32) throws(XDPError) {
        guard let thread else { return }
        let rc = cxdp_set_thread_fifo(UInt(thread), priority)
        guard rc == 0 else {
            throw XDPError.fromErrno(rc, operation: "set SCHED_FIFO priority \(priority) on \(name)",
                                     hint: rc == EPERM ? "needs CAP_SYS_NICE (run as root)" : "use a priority from 1 to 99")
        }
    }

    /// The errno of a failed pin (0 when pinned, not asked, or not tried yet).
    public var pinErrno: Int32 { max(pinResult.load(ordering: .acquiring), 0) }

    /// Waits (at most `timeout`) until the thread has tried to pin itself.
    /// - Returns: 0 when pinned (or not asked), the errno of a failed pin,
    ///   or nil when the thread has not got that far in time.
    public func pinOutcome(timeout: Duration = .seconds(2)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let result = pinResult.load(ordering: .acquiring)
            if result >= 0 { return result }
            if ContinuousClock.now >= deadline { return nil }
            usleep(100)
        }
    }

    /// The CPU the calling thread runs on now.
    public static var currentCPU: Int { Int(cxdp_current_cpu()) }

    /// The CPUs this process may run on (its affinity mask).
    public static var allowedCPUs: [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = cxdp_allowed_cpus(&cpus, Int32(cpus.count))
        return count > 0 ? cpus.prefix(Int(count)).map(Int.init) : []
    }
}
