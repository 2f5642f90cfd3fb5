import ArgumentParser
import Forwarding
import Foundation
import Logging
import Packet
import ServiceLifecycle
import Synchronization
import XDP
import XDPControl

/// Set by SIGHUP; the daemon reloads at its next tick.
let reloadRequested = Atomic<Bool>(false)

/// Set by SIGTERM/SIGINT during setup, before the service group watches the
/// signals: the daemon then stops (detaching what it attached) as soon as it runs.
let stopRequestedEarly = Atomic<Bool>(false)

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forward packets until SIGTERM/SIGINT (SIGHUP re-reads the config and checks it).")
    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Keep every capability after setup (default: give up all but the ones needed to detach and watch the programs).")
    var keepCapabilities = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info
    @Option(help: "Log format on standard error: text, or json (one object per line, for journald and log shippers).")
    var logFormat: LogFormat = .text

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    /// Privileged setup on the main thread while it is the only thread
    /// (programs attached, sockets bound, metrics socket listening), then
    /// the capabilities it no longer needs given up, and only then workers
    /// and the concurrency runtime started, so every thread has the reduced
    /// sets (Linux keeps capabilities per thread).
    func run() throws {
        // A parent may have started us with signals blocked (children inherit the mask).
        var mask = sigset_t()
        sigemptyset(&mask)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, number) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        // Until the service group takes the signals over: a stop during setup
        // must not kill the process with its programs attached.
        for number in [SIGINT, SIGTERM] { signal(number) { _ in stopRequestedEarly.store(true, ordering: .relaxed) } }
        // A SIGHUP during setup is a reload at the first tick, never the default (exit).
        signal(SIGHUP) { _ in reloadRequested.store(true, ordering: .relaxed) }
        let level = logLevel, format = logFormat
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "xdpfwd")
        let configuration = try options.effective()
        serviceNotifier.send(["STATUS=setting up: attaching programs, binding sockets"])
        let daemon = try Daemon(configuration: configuration, configPath: options.config, logger: logger)
        if keepCapabilities {
            logger.warning("--keep-capabilities: keeping \(Privileges.permitted) for the whole run")
        } else {
            daemon.giveUpCapabilities()
        }
        try daemon.startThreads()
        // systemd (Type=notify): programs attached, sockets bound, workers running.
        serviceNotifier.send(["READY=1", "STATUS=\(daemon.readyStatus)"])
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let group = ServiceGroup(configuration: .init(services: [.init(service: daemon)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do { try await group.run() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            if error is ExitCode { throw error }
            // Stopped during setup: the daemon ended on its own, cleanly.
            if stopRequestedEarly.load(ordering: .relaxed) && daemon.failure == nil { return }
            if daemon.failure != nil { throw ExitCode(2) }
            throw error
        }
    }

    /// How the service group ended, handed from its task to the main thread.
    final class Outcome: @unchecked Sendable {
        var error: Error?
    }
}

/// The daemon as a service: starts the engine (l3 follows the kernel's FIB
/// through the program: no tables to keep), watches its programs, serves
/// metrics, and on graceful shutdown stops the workers and detaches every
/// program.
final class Daemon: Service, @unchecked Sendable {
    let configuration: DaemonConfiguration
    let configPath: String?
    let engine: ForwardingEngine
    let logger: Logger
    private var metrics: MetricsServer?
    /// `xdpfwd status` / `show` answer here.
    private var control: ControlSocket?
    /// System changes the plan made (IRQ affinity, NAPI tunables), undone at stop.
    private var systemChanges: SystemChanges?
    /// Channel counts set before binding, undone after the sockets are closed.
    private var channelChanges: SystemChanges?
    /// IP forwarding switched on for l3 (enable_forwarding), undone at stop.
    private var forwardingChanges: SystemChanges?
    private let reloads = Atomic<Int>(0)
    private(set) var failure: String?
    /// What a reload compares the file against: the configuration in force.
    private var appliedConfiguration: DaemonConfiguration
    /// program_loss_policy, which a reload can change live.
    private var programLossPolicy: String

    init(configuration: DaemonConfiguration, configPath: String?, logger: Logger) throws {
        self.configuration = configuration
        self.configPath = configPath
        self.logger = logger
        appliedConfiguration = configuration
        programLossPolicy = configuration.programLossPolicy ?? "reattach"
        if let channels = configuration.channels {
            // Before binding: the queue count decides the plan.
            let changes = SystemChanges()
            for port in configuration.ports {
                let set = { () throws(XDPError) in try changes.setChannels(interface: port.interface, count: channels) }
                try NetworkNamespace.withEntered(configuration.netns, set)
            }
            for change in changes.log { logger.info("system change: \(change)") }
            channelChanges = changes
        }
        if configuration.mode == .l3 {
            // bpf_fib_lookup answers "forwarding disabled" on a port that does not forward.
            let ports = configuration.ports.map(\.interface)
            let read = { () throws(XDPError) -> [IPForwarding.Off] in IPForwarding.off(on: ports) }
            let off = try NetworkNamespace.withEntered(configuration.netns, read)
            if !off.isEmpty {
                guard configuration.enableForwarding == true else {
                    throw IPForwarding.refusal(off, namespace: configuration.netns, switchName: "enable_forwarding: true (or --enable-forwarding)")
                }
                let changes = SystemChanges()
                let enable = { () throws(XDPError) in IPForwarding.enable(off, changes: changes) }
                try NetworkNamespace.withEntered(configuration.netns, enable)
                for change in changes.log { logger.info("system change: \(change)") }
                forwardingChanges = changes
            }
        }
        engine = try ForwardingEngine(configuration: try configuration.engineConfiguration())
        let address = configuration.metrics ?? "127.0.0.1:9109"
        if address != "off" {
            metrics = try MetricsServer(address: address) { [unowned self] in
                MetricsRenderer.render(engine: engine, mode: configuration.mode, reloads: reloads.load(ordering: .relaxed))
            }
        }
        let controlPath = configuration.controlSocket
            ?? ControlSocket.defaultPath(firstPort: configuration.ports[0].interface, namespace: configuration.netns)
        if controlPath != "off" {
            let status = DaemonStatus(engine: engine, mode: configuration.mode, started: Date()) { [unowned self] in
                MetricsRenderer.render(engine: engine, mode: configuration.mode, reloads: reloads.load(ordering: .relaxed))
            }
            do {
                control = try ControlSocket(path: controlPath) { request in status.answer(request) }
            } catch {
                // The default path is a convenience: without it the daemon still forwards.
                let failure: XDPError = error
                guard configuration.controlSocket == nil, failure.kind != .busy else { throw failure }
                logger.warning("no control socket (xdpfwd status will not find this daemon): \(failure); set control_socket: to a writable path, or off")
            }
        }
        applySystemChanges()
    }

    /// Starts the workers, the metrics and the control threads (after the capabilities are given up).
    func startThreads() throws {
        try engine.start()
        try metrics?.start()
        try control?.start()
    }

    /// Gives up every capability except what the rest of the run needs:
    ///  CAP_NET_ADMIN     detach the programs at stop, reattach them after a
    ///                    loss, restore channel counts;
    ///  CAP_SYS_ADMIN     only with `netns:` (setns to do the above there;
    ///                    run the daemon inside the namespace to drop it);
    ///  CAP_DAC_OVERRIDE  only when IRQ/NAPI settings were changed and the
    ///                    daemon is not uid 0 (to write them back at stop).
    /// Everything else (CAP_BPF, CAP_NET_RAW, CAP_IPC_LOCK, CAP_PERFMON...)
    /// was needed for setup only.
    ///
    /// With `xsk_map_socket` the device plugin owns the programs: nothing to
    /// detach or reattach, so CAP_NET_ADMIN goes too (unless channel counts
    /// are to be restored).
    func giveUpCapabilities() {
        var keep: Capabilities = configuration.xskMapSocket == nil || configuration.channels != nil ? [.netAdmin] : []
        if configuration.netns != nil { keep.insert(.sysAdmin) }
        if systemChanges.map({ !$0.log.isEmpty }) == true, geteuid() != 0 { keep.insert(.dacOverride) }
        do {
            let dropped = try Privileges.limit(to: keep)
            logger.info("capabilities: gave up \(dropped); keeping \(Privileges.permitted.intersection(keep))")
        } catch {
            logger.warning("could not give up capabilities: \(error)")
        }
    }

    func run() async throws {
        logStartup()
        var foreignReported: [String: String] = [:]
        var ticks = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully && !stopRequestedEarly.load(ordering: .relaxed) {
            try? await Task.sleep(for: .milliseconds(100))
            ticks += 1
            serviceNotifier.watchdogIfDue()
            if reloadRequested.exchange(false, ordering: .relaxed) { reload() }
            if ticks % 5 == 0 {
                if let gone = engine.missingPorts().first {
                    let message = "interface \(gone) disappeared (deleted while running); exiting"
                    failure = message
                    logger.critical("\(message)")
                    shutDown()
                    throw ExitCode(3)
                }
                for port in engine.portsWithLostProgram() {
                    let foreign = engine.foreignProgram(port: port)
                    if programLossPolicy == "exit" {
                        let what = foreign.map { "replaced by \($0.description)" } ?? "removed by someone else"
                        let message = "the XDP program on \(port) was \(what); exiting (program_loss_policy: exit)"
                        failure = message
                        logger.critical("\(message)")
                        shutDown()
                        throw ExitCode(2)
                    }
                    if let foreign {
                        // Never overwrite someone else's program: say so once, and
                        // reattach when the interface is free again.
                        if foreignReported[port] != foreign.description {
                            foreignReported[port] = foreign.description
                            logger.error("the XDP program on \(port) was replaced by \(foreign.description); leaving it in place, so \(port) forwards nothing until it is removed (\(foreign.removalCommand)\(configuration.netns.map { " in network namespace \($0)" } ?? "")); xdpfwd reattaches then")
                        }
                        continue
                    }
                    foreignReported[port] = nil
                    logger.warning("the XDP program on \(port) was removed by someone else: reattaching (program_loss_policy: reattach)")
                    do { try engine.reattachProgram(port: port) } catch { logger.error("reattach on \(port) failed: \(error)") }
                }
            }
        }
        shutDown()
    }

    private func shutDown() {
        logger.info("stopping: draining workers, detaching programs")
        serviceNotifier.send(["STOPPING=1", "STATUS=\(failure ?? "stopping"): draining workers, detaching programs"])
        engine.stop()
        systemChanges?.undo()
        systemChanges = nil
        for changes in [channelChanges, forwardingChanges].compactMap({ $0 }) {
            if let namespace = configuration.netns {
                try? NetworkNamespace.withEntered(namespace) { () throws(XDPError) in changes.undo() }
            } else {
                changes.undo()
            }
        }
        channelChanges = nil
        forwardingChanges = nil
        metrics?.shutdown()
        metrics = nil
        control?.shutdown()
        control = nil
        logger.info("stopped")
    }

    /// IRQ affinity and NAPI tunables as configured; each change is logged and undone at stop.
    private func applySystemChanges() {
        let placement = configuration.irqAffinity ?? .none
        let tunables = configuration.napiTunables
        guard placement != .none || tunables != nil else { return }
        let changes = SystemChanges()
        if placement != .none {
            let ports = engine.plan.workers.flatMap(\.assignments).reduce(into: [String: [UInt32]]()) { $0[$1.port, default: []].append($1.queue) }
            let plan = QueuePlan.make(ports: engine.interfaces.map { QueuePlan.Port(name: $0.name, queues: ports[$0.name] ?? [], numaNode: $0.numaNode, irqs: $0.queueIRQs) },
                                      topology: CPUTopology.current(allowed: engine.plan.workers.map(\.cpu)),
                                      forwarding: configuration.mode == .macswap ? [] : [(engine.interfaces[0].name, engine.interfaces[1].name)],
                                      irqPlacement: placement)
            if plan.irqAffinity.isEmpty { logger.info("irq_affinity: no queue interrupts found for the ports (virtual devices have none)") }
            changes.applyIRQAffinity(plan)
        }
        if let tunables {
            for interface in engine.interfaces {
                changes.setNAPITunables(interface: interface.name, deferHardIRQs: tunables.deferHardIRQs,
                                        groFlushTimeoutNanoseconds: tunables.groFlushTimeout)
            }
        }
        for change in changes.log { logger.info("system change: \(change)") }
        systemChanges = changes
    }

    /// SIGHUP: re-read and check the config file. Routes and neighbors are
    /// the kernel's (the program asks its FIB per packet): nothing to rebuild.
    private func reload() {
        reloads.add(1, ordering: .relaxed)
        serviceNotifier.send(["STATUS=\(readyStatus); reloaded \(reloads.load(ordering: .relaxed)) times"])
        warnIfForwardingOff()
        guard let path = configPath else {
            logger.info("reload (SIGHUP): no configuration file to re-read (started from flags)")
            return
        }
        let fresh: DaemonConfiguration
        do {
            try checkFilePermissions(path)
            fresh = try DaemonConfiguration.load(path: path)
            _ = try fresh.engineConfiguration()
        } catch {
            logger.error("reload (SIGHUP): keeping the running configuration: \(error)")
            return
        }
        let changes = DaemonConfiguration.differences(from: appliedConfiguration.effective, to: fresh.effective)
        guard !changes.isEmpty else {
            logger.info("reload (SIGHUP): \(path) has no changes")
            return
        }
        var needRestart: [String] = []
        for change in changes {
            switch change.key {
            case "program_loss_policy":
                programLossPolicy = fresh.programLossPolicy ?? "reattach"
                appliedConfiguration.programLossPolicy = fresh.programLossPolicy
                logger.info("reload (SIGHUP): program_loss_policy \(change.old) -> \(change.new) (applied)")
            default:
                needRestart.append("\(change.key) \(change.old) -> \(change.new)")
            }
        }
        if !needRestart.isEmpty {
            logger.warning("reload (SIGHUP): not applied, needs a restart (systemctl restart xdpfwd): \(needRestart.joined(separator: "; "))")
        }
    }

    /// l3: a port whose IP forwarding was switched off while running drops
    /// everything routed through it; say so loudly, with the fix.
    private func warnIfForwardingOff() {
        guard configuration.mode == .l3 else { return }
        let ports = configuration.ports.map(\.interface)
        let read = { () throws(XDPError) -> [IPForwarding.Off] in IPForwarding.off(on: ports) }
        let off = (try? NetworkNamespace.withEntered(configuration.netns, read)) ?? []
        if !off.isEmpty {
            logger.error("\(IPForwarding.refusal(off, namespace: configuration.netns, switchName: "enable_forwarding: true").hint)")
        }
    }

    private func logStartup() {
        let modes = engine.configuration.ports.map { "\($0.interface) \(engine.attachModes[$0.interface].map { "\($0)" } ?? "?")" }.joined(separator: ", ")
        logger.info("xdpfwd \(configuration.mode.rawValue): \(modes); \(engine.zeroCopy ? "zero-copy" : "copy mode"); metrics \(metrics?.url ?? "off"); control socket \(control?.path ?? "off")")
        for (port, reason) in engine.fallbackReasons { logger.warning("\(port): \(reason)") }
        for line in engine.plan.table.split(separator: "\n") { logger.info("plan: \(line)") }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
