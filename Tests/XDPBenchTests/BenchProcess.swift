import Foundation
import Testing
import XDP
import XDPControl

/// The xdpbench binary built next to the test bundle.
let xdpbenchPath: String = {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("xdpbench").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return directory.appendingPathComponent("xdpbench").path
}()

/// A running or finished xdpbench process.
final class BenchProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var stdoutData = Data()
    private var stderrData = Data()
    private let group = DispatchGroup()

    /// Starts `xdpbench arguments...` (optionally through another program, e.g. setpriv).
    init(_ arguments: [String], prefix: [String] = []) throws {
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: xdpbenchPath)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = prefix + [xdpbenchPath] + arguments
        }
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        for (pipe, isOutput) in [(output, true), (errors, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                if isOutput { self.stdoutData = data } else { self.stderrData = data }
                self.group.leave()
            }
        }
    }

    /// Waits (bounded) for the process to exit; kills it by PID if it overstays.
    @discardableResult
    func wait(timeout: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("xdpbench overstayed \(timeout) s: killing PID \(process.processIdentifier)")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        group.wait()
        return process.terminationStatus
    }

    var standardOutput: String { String(decoding: stdoutData, as: UTF8.self) }
    var standardError: String { String(decoding: stderrData, as: UTF8.self) }

    /// The JSON object xdpbench printed last.
    var json: [String: Any] {
        guard let line = standardOutput.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return [:] }
        return object
    }

    /// Runs xdpbench to completion.
    static func run(_ arguments: [String], prefix: [String] = [], timeout: Double = 60) throws -> BenchProcess {
        let bench = try BenchProcess(arguments, prefix: prefix)
        bench.wait(timeout: timeout)
        return bench
    }
}

/// Fails loudly when not root.
func requireRoot() throws {
    if geteuid() != 0 {
        Issue.record("xdpbench tests need root: run `make test` as root")
        throw XDPError(.permissionDenied, operation: "run xdpbench tests")
    }
}

/// Waits until `interface` in `namespace` has an XDP program (the receiver is ready).
func waitForProgram(_ lab: VethLab, interface: String, timeout: Double = 10) throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let attached = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: interface) }
        if attached != nil { return true }
        usleep(20_000)
    }
    return false
}

extension Dictionary where Key == String, Value == Any {
    func integer(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
}
