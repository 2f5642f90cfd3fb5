import Foundation
import Glibc
import XDP
import XDPControl

/// Raised by SIGINT/SIGTERM; every loop of the tool checks it.
let interrupted = StopFlag()

/// Routes SIGINT and SIGTERM to ``interrupted`` (so programs get detached on the way out).
func installSignalHandlers() {
    _ = interrupted.isRaised  // initialise the global before a signal can touch it
    // A parent may have started us with these blocked (threads of a Swift
    // runtime block signals, and children inherit the mask): unblock them.
    var mask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    sigaddset(&mask, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    signal(SIGINT) { _ in interrupted.raise() }
    signal(SIGTERM) { _ in interrupted.raise() }
}

/// Writes a line to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs sessions to completion: starts their workers, prints a live line
/// every `interval` seconds (unless quiet), stops at the time limit, when every worker is
/// done, or on SIGINT/SIGTERM.
func runSessions(_ sessions: [BenchmarkSession], timeLimit: Double, live: Bool, every interval: Double = 1,
                 doneWhen done: () -> Bool = { false }) throws(XDPError) -> [SessionResult] {
    for session in sessions { try session.start() }
    let start = ContinuousClock.now
    var lastReport = start
    var lastPackets = sessions.map { $0.counters.map(\.packets) }
    var lastStatistics = sessions.map { $0.currentStatistics() }
    let limit = Duration.milliseconds(Int(timeLimit * 1000))
    while !interrupted.isRaised {
        if sessions.allSatisfy(\.allFinished) || done() { break }
        if ContinuousClock.now - start >= limit { break }
        usleep(20_000)
        let now = ContinuousClock.now
        guard live, now - lastReport >= .milliseconds(Int(interval * 1000)) else { continue }
        let interval = Double((now - lastReport).components.attoseconds) / 1e18 + Double((now - lastReport).components.seconds)
        for (index, session) in sessions.enumerated() {
            let packets = session.counters.map(\.packets)
            let statistics = session.currentStatistics()
            let deltas = zip(packets, lastPackets[index]).map { Double($0 &- $1) / interval }
            let perQueue = zip(session.plan.queues, deltas).map { "q\($0) \(format($1 / 1e6))" }.joined(separator: " ")
            let change = statistics - lastStatistics[index]
            note("\(session.plan.mode.rawValue) \(session.plan.interface): \(format(deltas.reduce(0, +) / 1e6)) Mpps [\(perQueue)] rx_dropped +\(change.rxDropped) rx_ring_full +\(change.rxRingFull) fill_empty +\(change.rxFillRingEmpty) tx_invalid +\(change.txInvalidDescriptors)")
            lastPackets[index] = packets
            lastStatistics[index] = statistics
        }
        lastReport = now
    }
    if interrupted.isRaised { note("interrupted: stopping, detaching programs") }
    return sessions.map { $0.finish() }
}

/// Runs `body` with the process in `namespace` (for commands that take --netns).
func describeSetup(_ session: BenchmarkSession) {
    let plan = session.plan
    var text = "\(plan.mode.rawValue): \(plan.interface)"
    if let namespace = plan.namespace { text += " (netns \(namespace))" }
    text += ", queues \(plan.queues.map(String.init).joined(separator: ","))"
    if let attach = session.attachMode { text += ", XDP \(attach)" }
    text += ", \(session.zeroCopy ? "zero-copy" : "copy mode")"
    text += ", need_wakeup \(plan.socket.needWakeup ? "on" : "off"), \(plan.wait.rawValue)"
    text += plan.cpus.map { ", workers on CPU \($0.map(String.init).joined(separator: ","))" } ?? ", workers unpinned"
    note(text)
    if let reason = session.fallbackReason { note("warning: \(reason)") }
    if plan.wait == .spin && plan.cpus == nil {
        note("warning: --spin without --cpus: a worker spinning on the CPU that runs the queue's softirq starves it (measured on veth: millions of pps fall to ~0.17 Mpps)")
    }
}
