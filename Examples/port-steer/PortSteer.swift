// port-steer: bring your own XDP program. Its own program (port_steer.bpf.c,
// embedded at build time) sends UDP to one port to this process's AF_XDP
// socket and counts everything else in its own map, which the example reads
// back at the end.
import ArgumentParser
import Foundation
import XDP
import XDPControl

/// The objects the EmbedBPF plugin compiled from this directory's `*.bpf.c`.
enum EmbeddedBPF {}

@main
struct PortSteer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port-steer",
        abstract: "Receive UDP to one port through your own XDP program; the program counts the rest, left to the kernel.",
        discussion: "Stops after --count packets, --duration seconds or SIGINT/SIGTERM, then prints one JSON line: {\"received\":..,\"others\":..,\"mode\":..}.")

    @Option(name: [.short, .customLong("interface")], help: "The interface (in --netns if given).") var interface: String
    @Option(help: "The UDP destination port to receive.") var port: UInt16
    @Option(help: "The RX queue to serve.") var queue: UInt32 = 0
    @Option(help: "XDP attach mode: native, generic or auto.") var attach: String = "auto"
    @Option(help: "Set up in this network namespace (ip netns).") var netns: String?
    @Option(help: "Stop after this many packets.") var count: Int?
    @Option(help: "Stop after this many seconds.") var duration: Double = 10

    /// The program and the socket it steers to.
    struct Steering: ~Copyable {
        var program: XDPProgram
        var umem: UMEM
        var socket: Socket
    }

    /// Loads the embedded program, tells it the port, binds the socket and registers it.
    func setUp(mode: AttachMode) throws(XDPError) -> Steering {
        let program = try XDPProgram(interface: interface, object: .bytes(EmbeddedBPF.portSteer, name: "port_steer"),
                                     programName: "port_steer", socketMapName: "steer_xsks", mode: mode)
        try program.writeMap("steer_port", key: UInt32(0), value: UInt32(port))
        let umem = try UMEM(configuration: UMEMConfiguration())
        let socket = try Socket(umem: umem, interface: interface, queue: queue)
        try program.register(socket)
        return Steering(program: program, umem: umem, socket: socket)
    }

    func run() throws {
        guard let mode = AttachMode(rawValue: attach) else { throw ValidationError("--attach \(attach): use native, generic or auto") }
        for number in [SIGINT, SIGTERM] { signal(number) { _ in PortSteer.stop.raise() } }
        var steering = if let netns {
            try NetworkNamespace.withEntered(netns) { () throws(XDPError) -> Steering in try setUp(mode: mode) }
        } else {
            try setUp(mode: mode)
        }
        FileHandle.standardError.write(Data("port-steer: program \(steering.program.programID) on \(interface) (\(steering.program.mode)), UDP port \(port) to queue \(queue)\n".utf8))
        steering.socket.fill.refill(from: &steering.umem.pool)
        steering.socket.fill.submit()
        var received = 0
        let end = ContinuousClock.now + .milliseconds(Int(duration * 1000))
        while !PortSteer.stop.isRaised && ContinuousClock.now < end && received < (count ?? .max) {
            let ready = steering.socket.rx.peek(upTo: 64)
            if ready == 0 {
                _ = steering.socket.wakeReceive()
                _ = steering.socket.poll(timeoutMilliseconds: 100)
                continue
            }
            _ = steering.socket.fill.freeCount(wanting: ready)
            for _ in 0..<ready {
                let frame = steering.socket.rx.receive()
                steering.socket.fill.push(frame)  // counted; the frame goes straight back
            }
            steering.socket.rx.release()
            steering.socket.fill.submit()
            received += ready
        }
        // The program's own counter, read back through the library.
        let others = try steering.program.readMap("others", key: UInt32(0), as: UInt64.self) ?? 0
        print("{\"received\":\(received),\"others\":\(others),\"mode\":\"\(steering.program.mode.rawValue)\",\"program_id\":\(steering.program.programID)}")
        _ = consume steering  // closes the socket, detaches the program
    }

    static let stop = StopFlag()
}
