import Foundation
import Testing
import XDP
import XDPControl
import XDPLab

/// A tool of this package (xdpbench, xdpfwd) built next to the test bundle.
public func toolPath(_ name: String) -> String {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return directory.appendingPathComponent(name).path
}

/// A running or finished process of one of the package's tools.
public final class ToolProcess: @unchecked Sendable {
    public let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var stdoutData = Data()
    private var stderrData = Data()
    private let group = DispatchGroup()
    private let lock = NSLock()

    /// Starts `tool arguments...` (optionally through another program, e.g.
    /// setpriv); `tool` is a name next to the tests, or a path.
    public init(tool: String, _ arguments: [String], prefix: [String] = []) throws {
        let path = tool.contains("/") ? tool : toolPath(tool)
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = prefix + [path] + arguments
        }
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        group.enter()
        DispatchQueue.global().async {
            let data = self.output.fileHandleForReading.readDataToEndOfFile()
            self.lock.withLock { self.stdoutData = data }
            self.group.leave()
        }
        // Standard error as it comes, so a test can wait for a line (xdpbench's "ready").
        group.enter()
        DispatchQueue.global().async {
            while true {
                let chunk = self.errors.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                self.lock.withLock { self.stderrData.append(chunk) }
            }
            self.group.leave()
        }
    }

    /// Waits (at most `timeout` seconds) until the standard error so far
    /// contains `text`, or the process has exited.
    /// - Returns: Whether it does.
    public func waitForStandardError(containing text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if standardError.contains(text) { return true }
            if !process.isRunning { break }
            usleep(10_000)
        }
        return standardError.contains(text)
    }

    /// Waits (bounded) for the process to exit; kills it by PID if it overstays.
    @discardableResult
    public func wait(timeout: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("\(process.executableURL?.lastPathComponent ?? "tool") overstayed \(timeout) s: killing PID \(process.processIdentifier)")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        group.wait()
        return process.terminationStatus
    }

    public var standardOutput: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }
    public var standardError: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// The JSON object the tool printed last.
    public var json: [String: Any] {
        guard let line = standardOutput.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return [:] }
        return object
    }

    /// Runs the tool to completion.
    public static func run(tool: String, _ arguments: [String], prefix: [String] = [], timeout: Double = 60) throws -> ToolProcess {
        let running = try ToolProcess(tool: tool, arguments, prefix: prefix)
        running.wait(timeout: timeout)
        return running
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }
}

/// Fails loudly when not root.
public func requireRoot() throws {
    if geteuid() != 0 {
        Issue.record("xdpbench tests need root: run `make test` as root")
        throw XDPError(.permissionDenied, operation: "run xdpbench tests")
    }
}

/// Waits until `interface` in the lab's device namespace (or `namespace`) has an XDP program (the receiver is ready).
public func waitForProgram(_ lab: VethLab, interface: String, namespace: String? = nil, timeout: Double = 10) throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let attached = try NetworkNamespace.withEntered(namespace ?? lab.deviceNamespace) { () throws(XDPError) -> UInt32? in
            XDPProgram.attachedProgramID(interface: interface)
        }
        if attached != nil { return true }
        usleep(20_000)
    }
    return false
}

extension Dictionary where Key == String, Value == Any {
    public func integer(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
}
