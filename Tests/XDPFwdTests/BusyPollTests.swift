@testable import Forwarding
import Foundation
import Glibc
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab
@testable import xdpfwd

/// `busy_poll` (config key and `--busy-poll`): off by default; on, every
/// socket gets SO_PREFER_BUSY_POLL, SO_BUSY_POLL and SO_BUSY_POLL_BUDGET
/// (read back from the kernel), the ports the kernel documentation's NAPI
/// tunables unless configured, and the loops wait only when idle.
@Suite("xdpfwd busy_poll", .serialized)
struct BusyPollTests {
    static let base = "mode: xconnect\nports: [{interface: a0}, {interface: b0}]\n"

    @Test("busy_poll: off by default; true gives the engine 20 µs and the batch as budget, and NAPI tunables 2 / 200000 unless set")
    func configuration() throws {
        let plain = try DaemonConfiguration.parse(Self.base)
        #expect(try plain.engineConfiguration().busyPoll == nil)
        #expect(plain.napiTunables == nil)
        #expect(plain.effective.busyPoll == false)

        let on = try DaemonConfiguration.parse(Self.base + "busy_poll: true\nbatch: 32\n")
        #expect(try on.engineConfiguration().busyPoll == BusyPollConfiguration(timeoutMicroseconds: 20, budget: 32))
        #expect(on.napiTunables.map { [$0.deferHardIRQs, $0.groFlushTimeout] } == [2, 200_000])
        #expect(on.effective.napiDeferHardIRQs == 2 && on.effective.groFlushTimeout == 200_000)

        let own = try DaemonConfiguration.parse(Self.base + "busy_poll: true\nnapi_defer_hard_irqs: 5\n")
        #expect(own.napiTunables.map { [$0.deferHardIRQs, $0.groFlushTimeout] } == [5, 200_000], "the file's value wins")

        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.parse(Self.base + "busy_poll: sometimes\n") }
    }

    @Test("--busy-poll on the command line sets busy_poll")
    func flag() throws {
        let options = try ConfigurationOptions.parse(["--mode", "xconnect", "-i", "a0", "-i", "b0", "--busy-poll"])
        #expect(try options.effective().busyPoll == true)
        let without = try ConfigurationOptions.parse(["--mode", "xconnect", "-i", "a0", "-i", "b0"])
        #expect(try without.effective().busyPoll == nil)
    }

    @Test("the loops wait after any partial round without busy polling, only after an empty one with it")
    func waitThreshold() {
        #expect(ForwardingLoops.waitPolicy(busyPoll: false) == .afterShortRound)
        #expect(ForwardingLoops.waitPolicy(busyPoll: true) == .afterEmptyRound)
    }

    // asm-generic/socket.h (SO_PREFER_BUSY_POLL and SO_BUSY_POLL_BUDGET: Linux 5.11).
    static let preferBusyPoll: Int32 = 69, busyPollMicroseconds: Int32 = 46, busyPollBudget: Int32 = 70

    /// One SOL_SOCKET integer option of `fd`, read back from the kernel.
    static func option(_ fd: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 else { return -errno }
        return value
    }

    @Test("an engine with busy polling sets the three options on every socket (getsockopt); without it, none")
    func appliedToSockets() throws {
        let lab = try ForwardingLab(.bridge)
        for busyPoll in [BusyPollConfiguration(timeoutMicroseconds: 20, budget: 48), nil] {
            var configuration = EngineConfiguration(mode: .xconnect, ports: [.init(interface: lab.portA), .init(interface: lab.portB)],
                                                    attach: .generic, frameCount: 1024, namespace: lab.device)
            configuration.busyPoll = busyPoll
            let engine = try ForwardingEngine(configuration: configuration)
            defer { engine.stop() }
            let options = engine.dataPlane.withWorkerQueues(at: 0) { (queues: borrowing WorkerQueues) -> [[Int32]] in
                (0..<queues.sockets.count).map { index in
                    queues.sockets.withSocket(at: index) { (socket: borrowing Socket) in
                        [Self.option(socket.fileDescriptor, Self.preferBusyPoll), Self.option(socket.fileDescriptor, Self.busyPollMicroseconds),
                         Self.option(socket.fileDescriptor, Self.busyPollBudget)]
                    }
                }
            }
            #expect(options?.count == 2, "both ports' sockets")
            for socket in options ?? [] {
                #expect(Array(socket[0...1]) == (busyPoll == nil ? [0, 0] : [1, 20]), "\(socket) for \(String(describing: busyPoll))")
                // This kernel does not read SO_BUSY_POLL_BUDGET back (ENOPROTOOPT);
                // setting it succeeded, or Socket.init would have thrown.
                #expect(socket[2] == -ENOPROTOOPT || socket[2] == (busyPoll == nil ? 8 : 48), "\(socket)")
            }
        }
    }
}
