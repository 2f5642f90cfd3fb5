import ArgumentParser
import Foundation
import XDP
import XDPControl

/// `xdpctl`: the privileged half of an unprivileged data path. `attach`
/// loads the redirect program, pins its maps for one user and exits with the
/// program left attached; that user's process (holding only CAP_NET_RAW) then
/// binds its sockets and registers them in the pinned XSKMAP
/// (`xdpbench rxdrop --pinned-map DIR`, or `PinnedSocketMap` in code).
/// `detach` removes both.
@main
struct XDPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpctl",
        abstract: "Attach swift-xdp's redirect program for unprivileged AF_XDP users, and remove it.",
        subcommands: [Attach.self, Detach.self, Status.self])
}

/// Interface and namespace, shared by the subcommands.
struct Target: ParsableArguments {
    @Option(name: [.short, .customLong("interface")], help: "The interface.")
    var interface: String
    @Option(help: "The interface's network namespace (ip netns name); pins stay in this mount namespace's bpffs.")
    var netns: String?

    /// Runs `body` in the namespace, if one is given.
    func inNamespace<R: ~Copyable>(_ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        if let netns { return try NetworkNamespace.withEntered(netns, body) }
        return try body()
    }

    /// The default pin directory for the interface.
    var defaultPinDirectory: String { "/sys/fs/bpf/swift-xdp/\(interface)" }
}

extension AttachMode: ExpressibleByArgument {}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Attach the redirect program, pin its maps for --owner, and leave it attached.")
    @OptionGroup var target: Target
    @Option(help: "Pin directory on bpffs (default /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?
    @Option(help: "Who may use the pinned maps: a user name, UID or UID:GID (default: root only).")
    var owner: String?
    @Option(help: "What goes to sockets: all, or udp:PORT[-PORT] (the rest goes to the kernel).")
    var match = "all"
    @Option(help: "XDP attach mode: native, generic or auto.")
    var attach: AttachMode = .auto
    @Option(help: "Attach your own XDP program instead: a compiled object, optionally with the entry point's function or section (FILE[:SECTION]); its XSKMAP (--program-map) is pinned as DIR/xsks, the program as DIR/program.")
    var program: String?
    @Option(name: .customLong("program-map"), help: "The XSKMAP of --program.")
    var programMap = "xsks"

    func run() throws {
        let owner = try self.owner.map(parseOwner)
        let match = try parseMatch(self.match)
        let directory = pin ?? target.defaultPinDirectory
        if self.program != nil && self.match != "all" { throw ValidationError("--match configures swift-xdp's program: your --program decides what it redirects") }
        let custom = self.program.map(splitProgramArgument)
        let program = try target.inNamespace { () throws(XDPError) -> XDPProgram in
            if let custom {
                return try XDPProgram(interface: target.interface, object: .file(custom.path), programName: custom.entryPoint,
                                      socketMapName: programMap, mode: attach)
            }
            return try XDPProgram(interface: target.interface, mode: attach, match: match)
        }
        if let reason = program.fallbackReason { FileHandle.standardError.write(Data("warning: \(reason)\n".utf8)) }
        do {
            try program.pinMaps(in: directory, owner: owner)
        } catch {
            XDPProgram.unpinMaps(in: directory)
            throw error  // dropping `program` detaches it
        }
        print("attached program \(program.programID) to \(target.interface) (\(program.mode)); maps pinned in \(directory)"
              + (owner.map { " for uid \($0.uid) gid \($0.gid)" } ?? " (root only)"))
        print("unprivileged use: register sockets in \(directory)/xsks; remove with: xdpctl detach -i \(target.interface)"
              + (target.netns.map { " --netns \($0)" } ?? "") + (pin.map { " --pin \($0)" } ?? ""))
        program.leaveAttached()
    }

    func parseOwner(_ text: String) throws -> (uid: UInt32, gid: UInt32) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        if let uid = UInt32(parts[0]) {
            guard parts.count == 1 || UInt32(parts[1]) != nil else { throw ValidationError("--owner \(text): the group must be a number") }
            return (uid, parts.count == 2 ? UInt32(parts[1])! : (getpwuid(uid).map { $0.pointee.pw_gid } ?? uid))
        }
        guard let entry = getpwnam(parts[0]) else { throw ValidationError("--owner \(text): no such user") }
        return (entry.pointee.pw_uid, parts.count == 2 ? (UInt32(parts[1]) ?? entry.pointee.pw_gid) : entry.pointee.pw_gid)
    }

    func parseMatch(_ text: String) throws -> RedirectMatch {
        if text == "all" { return .everything }
        guard text.hasPrefix("udp:") else { throw ValidationError("--match \(text): use all or udp:PORT[-PORT]") }
        let range = text.dropFirst(4).split(separator: "-").map { UInt16($0) }
        guard (1...2).contains(range.count), let low = range.first ?? nil, let high = range.last ?? nil, low <= high else {
            throw ValidationError("--match \(text): use udp:PORT or udp:LOW-HIGH with ports 0-65535")
        }
        return .udp(ports: low...high)
    }
}

struct Detach: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Detach the program `attach` left and remove its pins (never anyone else's program).")
    @OptionGroup var target: Target
    @Option(help: "Pin directory (default /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?

    func run() throws {
        let directory = pin ?? target.defaultPinDirectory
        let detached = try target.inNamespace { () throws(XDPError) -> UInt32? in
            try XDPProgram.detachLeftAttached(interface: target.interface, pinDirectory: directory)
        }
        XDPProgram.unpinMaps(in: pin ?? target.defaultPinDirectory)
        print(detached.map { "detached program \($0) from \(target.interface); pins removed" } ?? "no program attached to \(target.interface); pins removed")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The program attached to the interface and its pinned maps.")
    @OptionGroup var target: Target
    @Option(help: "Pin directory (default /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?

    func run() throws {
        let id = try target.inNamespace { () throws(XDPError) -> UInt32? in
            guard if_nametoindex(target.interface) != 0 else {
                throw XDPError(.interfaceNotFound, operation: "status of \(target.interface)", errno: ENODEV, hint: "check the name and --netns")
            }
            return XDPProgram.attachedProgramID(interface: target.interface)
        }
        let directory = pin ?? target.defaultPinDirectory
        print("\(target.interface): " + (id.map { "XDP program \($0) attached" } ?? "no XDP program attached"))
        for name in XDPProgram.pinnedMapNames {
            let path = directory + "/" + name
            print("  \(path): " + (FileManager.default.fileExists(atPath: path) ? "pinned" : "absent"))
        }
    }
}

/// `FILE[:SECTION]`: a compiled BPF object and, optionally, its entry point
/// (a colon followed by a path is part of FILE).
func splitProgramArgument(_ text: String) -> (path: String, entryPoint: String?) {
    XDPProgram.parseObjectArgument(text)
}
