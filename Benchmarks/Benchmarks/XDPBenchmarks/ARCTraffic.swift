// Retains and releases per benchmark sample, from the ARCCounter target
// (which interposes the Swift runtime's entry points in this executable),
// recorded as the custom metrics `arcRetains` and `arcReleases`: the
// thresholds files hold them at 0 per batch. They stand in for
// package-benchmark's own `retainCount`/`releaseCount`, whose runtime hook
// crashes on Swift 6.3 on Linux (ordo-one/benchmark issue 349).

import ARCCounter
import Benchmark

struct ARCTraffic {
    static let retainsMetric = BenchmarkMetric.custom("arcRetains")
    static let releasesMetric = BenchmarkMetric.custom("arcReleases")

    let retains: UInt64
    let releases: UInt64

    /// What this thread has done so far.
    @inline(__always)
    static func now() -> ARCTraffic {
        ARCTraffic(retains: arc_counter_retains(), releases: arc_counter_releases())
    }

    /// Records what this thread did since `start` as one sample of each metric.
    func record(since start: ARCTraffic, in benchmark: Benchmark) {
        benchmark.measurement(Self.retainsMetric, Int(retains &- start.retains))
        benchmark.measurement(Self.releasesMetric, Int(releases &- start.releases))
    }

    /// Fails the run unless a retain and a release made here are counted: a
    /// counter that sees nothing would pass every threshold.
    static func verifyCounting() {
        let probe = Probe()
        let start = now()
        retainOnce(probe)
        releaseOnce(probe)
        let end = now()
        guard end.retains &- start.retains == 1, end.releases &- start.releases == 1 else {
            fatalError("ARCCounter does not see this executable's retains/releases (\(end.retains &- start.retains) retains, \(end.releases &- start.releases) releases for 1 each): the thresholds on arcRetains/arcReleases would mean nothing")
        }
    }

    /// The canary benchmark's batch: 64 objects made, each retained and
    /// released once and then freed: 64 mallocs, 64 retains and 128 releases,
    /// which its thresholds file holds, so the check shows it still counts.
    @inline(never)
    static func canaryBatch(_ count: Int) {
        for _ in 0..<count {
            let probe = makeProbe()
            retainOnce(probe)
            releaseOnce(probe)
        }
    }

    final class Probe {}

    @inline(never)
    private static func makeProbe() -> Probe { Probe() }

    @inline(never)
    private static func retainOnce(_ probe: Probe) { _ = Unmanaged.passUnretained(probe).retain() }

    @inline(never)
    private static func releaseOnce(_ probe: Probe) { Unmanaged.passUnretained(probe).release() }
}

extension Benchmark {
    /// Runs `body` (the measured iterations) between start and stop of the
    /// measurement and records the retains and releases it made.
    @inline(__always)
    func measuringARC(_ body: () -> Void) {
        startMeasurement()
        let start = ARCTraffic.now()
        body()
        let end = ARCTraffic.now()
        stopMeasurement()
        end.record(since: start, in: self)
    }
}
