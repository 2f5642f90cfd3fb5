import Foundation
import TestSupport
import Testing
import XDP
import XDPControl
import XDPLab

/// One veth pair between a client namespace and the service's namespace
/// (198.18.0.1 ↔ 198.18.0.2), with the kernel serving UDP and TCP echo on
/// other ports of the service's interface, and Python's socket module as
/// the client. The client keeps the distribution's offloads (as a container
/// does): its UDP checksums are partial, and an answer sent back from AF_XDP
/// must finish them. `clientChecksumOffload: false` turns that off.
final class ServiceLab: @unchecked Sendable {
    let lab: VethLab
    var client: String { lab.peerNamespace }
    var device: String { lab.deviceNamespace }
    var interface: String { lab.links[0].deviceInterface }
    let serviceAddress = "198.18.0.2"
    private var kernelServers: Process?

    init(queues: Int = 1, clientChecksumOffload: Bool = true) throws {
        try requireRoot()
        VethLab.removeStale()
        lab = try VethLab(queues: queues)
        if !clientChecksumOffload {
            try Command.run(["ip", "netns", "exec", client, "ethtool", "-K", lab.links[0].peerInterface, "tx", "off"])
        }
    }

    /// Whether the client sends partial UDP/TCP checksums (TX checksum offload on).
    func clientChecksumOffloadIsOn() throws -> Bool {
        try Command.run(["ip", "netns", "exec", client, "ethtool", "-k", lab.links[0].peerInterface]).contains("tx-checksumming: on")
    }

    deinit {
        if let kernelServers, kernelServers.isRunning { kill(kernelServers.processIdentifier, SIGKILL) }
        lab.tearDown()
    }

    /// Starts the kernel's UDP echo (port `udp`) and TCP echo (port `tcp`)
    /// in the service's namespace, for at most `seconds`.
    func startKernelServers(udp: Int, tcp: Int, seconds: Int = 60) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", device, "python3", "-c", PythonScripts.kernelServers, "\(udp)", "\(tcp)", "\(seconds)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        kernelServers = process
        usleep(300_000)
    }

    /// What the Python client saw.
    struct ClientResult: Sendable, CustomStringConvertible {
        /// Answers that matched their request exactly.
        var echo = 0
        /// Datagrams sent with `send`.
        var sent = 0
        /// Whether the TCP exchange worked (nil: none asked).
        var tcp: Bool?
        var description: String { "echo \(echo), sent \(sent), tcp \(tcp.map(String.init) ?? "-")" }
    }

    /// Runs the Python client in the client namespace (blocking).
    func runClient(_ arguments: [String]) throws -> ClientResult {
        let output = try Command.run(["ip", "netns", "exec", client, "timeout", "60", "python3", "-c", PythonScripts.client] + arguments)
        guard let line = output.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            Issue.record("client printed no JSON: \(output)")
            return ClientResult()
        }
        return ClientResult(echo: object.integer("echo") ?? -1, sent: object.integer("sent") ?? -1, tcp: object["tcp"] as? Bool)
    }

    /// Runs the Python client from an async test, off the cooperative pool.
    func client(_ arguments: [String]) async throws -> ClientResult {
        try await offPool { try self.runClient(arguments) }
    }

    /// Replies to `count` pings from the client.
    func ping(count: Int = 5) throws -> Int {
        let output = try Command.run(["ip", "netns", "exec", client, "ping", "-c", "\(count)", "-i", "0.05", "-W", "1", "-q", serviceAddress], allowFailure: true)
        guard let range = output.range(of: #"(\d+) received"#, options: .regularExpression) else { return 0 }
        return Int(output[range].split(separator: " ")[0]) ?? 0
    }

    /// The id of the XDP program on the service's interface, if any.
    func attachedProgram() throws -> UInt32? {
        let interface = interface
        return try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: interface) }
    }
}

/// The client and the kernel-side servers, in Python (socket module only).
enum PythonScripts {
    /// argv: kind... where kind is one of
    ///   echo ADDRESS PORT COUNT      COUNT request/response datagrams, each answer checked
    ///   send ADDRESS PORT COUNT SRC  COUNT datagrams from source port SRC, no answer expected
    ///   tcp ADDRESS PORT             one TCP echo exchange
    /// Prints one JSON object: {"echo": replies, "tcp": true/false, "sent": n}.
    static let client = #"""
import json, socket, sys, time
args = sys.argv[1:]
result = {"echo": 0, "sent": 0, "tcp": None}
while args:
    kind = args.pop(0)
    if kind == "echo":
        address, port, count = args.pop(0), int(args.pop(0)), int(args.pop(0))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(count):
            message = b"echo-%d-" % i + b"x" * (i % 200)
            s.sendto(message, (address, port))
            # Wait up to 5 s for this answer; a late answer to an earlier
            # request is skipped, not counted.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                s.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    data, peer = s.recvfrom(4096)
                except socket.timeout:
                    break
                if data == message and peer == (address, port):
                    result["echo"] += 1
                    break
        s.close()
    elif kind == "send":
        address, port, count, source = args.pop(0), int(args.pop(0)), int(args.pop(0)), int(args.pop(0))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", source))
        for i in range(count):
            s.sendto(b"count-%d" % i, (address, port))
            result["sent"] += 1
        s.close()
    elif kind == "tcp":
        address, port = args.pop(0), int(args.pop(0))
        try:
            c = socket.create_connection((address, port), timeout=3)
            c.sendall(b"hello over tcp")
            result["tcp"] = c.recv(100) == b"hello over tcp"
            c.close()
        except OSError:
            result["tcp"] = False
print(json.dumps(result))
"""#

    /// argv: UDP_PORT TCP_PORT SECONDS. Echo servers of the kernel stack.
    static let kernelServers = #"""
import socket, sys, threading, time
udp_port, tcp_port, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", udp_port))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", tcp_port))
t.listen(4)
def udp():
    while True:
        data, peer = u.recvfrom(4096)
        u.sendto(data, peer)
def tcp():
    while True:
        c, _ = t.accept()
        c.sendall(c.recv(4096))
        c.close()
for target in (udp, tcp):
    threading.Thread(target=target, daemon=True).start()
time.sleep(seconds)
"""#
}

/// Runs blocking work (a child process) on a Dispatch thread, so an async
/// test never holds one of the few cooperative threads the tasks under test
/// (a ServiceGroup, a stream's consumer) need to run.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// Waits, without blocking a thread, until `condition` holds or `seconds` pass.
/// - Returns: Whether it held.
@discardableResult
func eventually(within seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}
