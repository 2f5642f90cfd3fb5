import Testing
import TestSupport

/// The one retry the exact-count tests allow themselves.
@Suite("retryingOnceOnCountedDrops")
struct RetryPolicyTests {
    @Test("an exchange that falls short is retried once, and only when the kernel counted drops; a complete one never")
    func retryPolicy() throws {
        var dropped = CountedDrops()
        dropped.counters = [("receiver 0 rx_ring_full", 3)]
        var calls = 0
        let uncounted = try retryingOnceOnCountedDrops("short, nothing counted", attempt: { calls += 1; return calls },
                                                       complete: { _ in false }, drops: { _ in CountedDrops() })
        #expect(calls == 1 && uncounted.run == 1 && uncounted.note.isEmpty, "a packet lost without a count is a bug: no retry")
        calls = 0
        let counted = try retryingOnceOnCountedDrops("short, drops counted", attempt: { calls += 1; return calls },
                                                     complete: { _ in false }, drops: { _ in dropped })
        #expect(calls == 2 && counted.run == 2, "retried once, never twice")
        #expect(counted.note.contains("receiver 0 rx_ring_full 3") && counted.note.contains("the retry:"), "\(counted.note)")
        calls = 0
        let complete = try retryingOnceOnCountedDrops("complete", attempt: { calls += 1; return calls },
                                                      complete: { _ in true }, drops: { _ in dropped })
        #expect(calls == 1 && complete.note.isEmpty)
    }
}
