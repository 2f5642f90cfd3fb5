import Foundation
import XDP

/// Runs a system tool (`ip`, `ethtool`) for lab and setup work, never on a
/// packet path.
public enum Command {
    /// Runs `arguments[0]` with the rest as arguments and waits for it.
    /// - Parameters:
    ///   - arguments: The program (looked up in PATH) and its arguments.
    ///   - allowFailure: Return the output instead of throwing on a non-zero exit.
    /// - Returns: Standard output and standard error together.
    /// - Throws: `XDPError` when the program cannot start or exits non-zero.
    @discardableResult
    public static func run(_ arguments: [String], allowFailure: Bool = false) throws(XDPError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw XDPError(.systemCall, operation: "run \(arguments.joined(separator: " "))", hint: "\(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        if process.terminationStatus != 0 && !allowFailure {
            throw XDPError(.systemCall, operation: "run \(arguments.joined(separator: " "))",
                           hint: "exit \(process.terminationStatus): \(output.trimmingCharacters(in: .whitespacesAndNewlines))\(process.terminationStatus == 127 ? " (is iproute2 installed? make deps)" : "")")
        }
        return output
    }
}
