import Testing
@_spi(Benchmarks) import XDP
import XDPControl

/// The one worker loop skeleton: stop flag, budget, wait policies and
/// publishing, with scripted steps and with the real receive batch over
/// in-memory rings.
@Suite("Worker loop")
struct WorkerLoopTests {
    /// A step that handles what its script says (the limit when the script
    /// is out), and records every call.
    struct ScriptedStep: WorkerStep {
        var script: [Int]
        var events: [String] = []
        var limits: [Int] = []
        var handled = 0
        var publishes = 0
        var stopAfter: Int?
        var admitted: [Int]?
        let stop: StopFlag

        init(script: [Int] = [], stopAfter: Int? = nil, admitted: [Int]? = nil, stop: StopFlag) {
            self.script = script
            self.stopAfter = stopAfter
            self.admitted = admitted
            self.stop = stop
        }

        mutating func round(limit: Int) -> Int {
            limits.append(limit)
            let done = script.isEmpty ? limit : min(limit, script.removeFirst())
            handled += done
            events.append("round \(done)")
            if let stopAfter, limits.count >= stopAfter { stop.raise() }
            return done
        }

        mutating func wait() { events.append("wait") }

        mutating func publish() { publishes += 1 }

        mutating func admit(_ batch: Int) -> Int {
            guard var admitted, !admitted.isEmpty else { return batch }
            let next = admitted.removeFirst()
            self.admitted = admitted
            if next == 0 { events.append("skip") }
            if admitted.isEmpty { self.admitted = nil }
            return next
        }
    }

    static func run(_ policy: WorkerWaitPolicy, script: [Int]) -> [String] {
        let stop = StopFlag()
        var step = ScriptedStep(script: script, stopAfter: script.count, stop: stop)
        WorkerLoop.run(&step, batch: 64, wait: policy, stop: stop)
        return step.events
    }

    @Test("wait policies: after a short round, after an empty one, before every round, never")
    func waitPolicies() {
        let script = [64, 10, 0, 64]
        #expect(Self.run(.afterShortRound, script: script) == ["round 64", "round 10", "wait", "round 0", "wait", "round 64"])
        #expect(Self.run(.afterEmptyRound, script: script) == ["round 64", "round 10", "round 0", "wait", "round 64"])
        #expect(Self.run(.beforeEveryRound, script: script) == ["wait", "round 64", "wait", "round 10", "wait", "round 0", "wait", "round 64"])
        #expect(Self.run(.spin, script: script) == ["round 64", "round 10", "round 0", "round 64"])
    }

    @Test("a raised stop flag ends the loop before the next round; publishing before, every 64 rounds and after")
    func stopAndPublish() {
        let stop = StopFlag()
        var step = ScriptedStep(stopAfter: 130, stop: stop)
        WorkerLoop.run(&step, batch: 32, wait: .afterShortRound, stop: stop)
        #expect(step.limits.count == 130)
        #expect(step.handled == 130 * 32)
        #expect(!step.events.contains("wait"), "every round was full")
        #expect(step.publishes == 1 + 2 + 1, "before, after rounds 64 and 128, after")

        let raised = StopFlag()
        raised.raise()
        var idle = ScriptedStep(stop: raised)
        WorkerLoop.run(&idle, batch: 32, wait: .afterShortRound, stop: raised)
        #expect(idle.limits.isEmpty)
        #expect(idle.publishes == 2)
    }

    @Test("a budget is handled exactly: rounds claim at most what is left, short rounds refund, a spent budget ends the loop")
    func budget() {
        let stop = StopFlag()
        let budget = PacketBudget(limit: 1000)
        // Rounds that take less than they may: the rest goes back to the budget.
        var step = ScriptedStep(script: [64, 5, 0, 30], stop: stop)
        WorkerLoop.run(&step, batch: 64, wait: .spin, stop: stop, budget: budget)
        #expect(step.handled == 1000)
        #expect(budget.isSpent)
        #expect(!stop.isRaised, "the budget ended it, not the flag")
        #expect(step.limits.prefix(5) == [64, 64, 64, 64, 64])
        let expectedLast = 1000 - (64 + 5 + 0 + 30) - 64 * (step.limits.count - 5)
        #expect(step.limits.last == expectedLast)
        #expect(step.limits.allSatisfy { $0 > 0 && $0 <= 64 })

        // Two workers on one budget share it exactly.
        let shared = PacketBudget(limit: 100)
        var first = ScriptedStep(stopAfter: nil, stop: stop)
        var second = ScriptedStep(stopAfter: nil, stop: stop)
        WorkerLoop.run(&first, batch: 30, wait: .spin, stop: stop, budget: shared)
        WorkerLoop.run(&second, batch: 30, wait: .spin, stop: stop, budget: shared)
        #expect(first.handled == 100)
        #expect(second.handled == 0)
        #expect(second.limits.isEmpty)
    }

    @Test("admit: a smaller limit goes to the round and the budget; 0 skips the round without waiting or claiming")
    func admit() {
        let stop = StopFlag()
        let budget = PacketBudget(limit: 40)
        var step = ScriptedStep(script: [16, 0], admitted: [16, 0, 0, 16], stop: stop)
        WorkerLoop.run(&step, batch: 64, wait: .afterEmptyRound, stop: stop, budget: budget)
        #expect(Array(step.events.prefix(5)) == ["round 16", "skip", "skip", "round 0", "wait"])
        #expect(step.limits.prefix(2) == [16, 16])
        #expect(step.handled == 40, "after the script, whole batches up to the budget")
        #expect(step.limits.last == 40 - 16 - 0)
    }

    /// The real receive batch on in-memory rings, with a stand-in kernel that
    /// delivers `perRound` packets before each round.
    struct InMemoryReceiveStep: WorkerStep, ~Copyable {
        struct Dropper: PacketHandler {
            var seen = 0
            static var transmits: Bool { false }
            mutating func handle(_ frame: inout Frame) -> PacketVerdict {
                seen += 1
                return .drop
            }
        }

        var queue: InMemoryQueue
        var handler = Dropper()
        let perRound: Int
        var waits = 0
        var publishes = 0

        mutating func round(limit: Int) -> Int {
            queue.kernelStep(packets: perRound, length: 64)
            return queue.receiveBatch(limit: limit, handler: &handler).packets
        }

        mutating func wait() { waits += 1 }
        mutating func publish() { publishes += 1 }
    }

    @Test("in-memory rings: a budget of 10 000 receives exactly 10 000 packets, frames conserved, waits after short rounds")
    func inMemoryReceive() {
        var queue = InMemoryQueue(frameCount: 1024, ringSize: 1024, fillRingSize: 1024)
        queue.fill.refill(from: &queue.pool, upTo: 1024)
        // 40 a round against a batch of 64: every round is short.
        var step = InMemoryReceiveStep(queue: queue, perRound: 40)
        let stop = StopFlag()
        WorkerLoop.run(&step, batch: 64, wait: .afterShortRound, stop: stop, budget: PacketBudget(limit: 10_000))
        #expect(step.handler.seen == 10_000)
        #expect(step.waits == 10_000 / 40 - 1, "every round but the last (40 left, 40 taken) was short")
        #expect(step.publishes == 1 + (10_000 / 40) / 64 + 1)
        #expect(step.queue.accounting.isConserved)
        #expect(step.queue.accounting.total == 1024)
    }
}
