import ArgumentParser
import ToolSupport
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
        discussion: "Exit codes: 0 done; 1 an error (the message names the fix); 64 a usage error.",
        version: SwiftXDPVersion.string,
        subcommands: [Attach.self, Detach.self, Status.self])

    /// ArgumentParser's entry; an error found while running shows the subcommand's usage.
    static func main() { CommandEntry.run(XDPCtl.self) }
}

/// Interface and namespace, shared by the subcommands.
struct Target: ParsableArguments {
    @Option(name: [.short, .customLong("interface")], help: "The interface.")
    var interface: String
    @Option(help: "The interface's network namespace (ip netns name); pins stay in this mount namespace's bpffs.")
    var netns: String?

    /// Runs `body` in the namespace, if one is given.
    func inNamespace<R: ~Copyable>(_ body: () throws(XDPError) -> R) throws(XDPError) -> R {
        try NetworkNamespace.withEntered(netns, body)
    }

    /// The default pin directory for the interface.
    var defaultPinDirectory: String { "/sys/fs/bpf/swift-xdp/\(interface)" }
}

extension AttachMode: ExpressibleByArgument {
    /// native (driver, drv), generic (skb) or auto.
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["native", "generic", "skb", "auto"] }
}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Attach the redirect program, pin its maps for --owner, and leave it attached.")
    @OptionGroup var target: Target
    @Option(help: "Pin directory on bpffs (default /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?
    @Option(help: "Who may use the pinned maps: USER, UID, or USER:GROUP / UID:GID (names or numbers; default: root only).")
    var owner: String?
    @Option(help: "What goes to sockets (the rest goes to the kernel): all, udp:PORT[-PORT], tcp:PORT[-PORT], protocol:N or ethertype:0xNNNN.")
    var match = "all"
    @Option(help: "XDP attach mode: native (drv), generic (skb) or auto (from the driver's xdp-features).")
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
        PinRecord.save(directory, interface: target.interface, netns: target.netns)
        print("attached program \(program.programID) to \(target.interface) (\(program.mode)); maps pinned in \(directory)"
              + (owner.map { " for uid \($0.uid) gid \($0.gid)" } ?? " (root only)"))
        print("unprivileged use: register sockets in \(directory)/xsks; remove with: xdpctl detach -i \(target.interface)"
              + (target.netns.map { " --netns \($0)" } ?? "") + (pin.map { " --pin \($0)" } ?? ""))
        program.leaveAttached()
    }

    func parseOwner(_ text: String) throws -> (uid: UInt32, gid: UInt32) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let uid: UInt32
        var defaultGID: UInt32
        if let number = UInt32(parts[0]) {
            uid = number
            defaultGID = getpwuid(number).map { $0.pointee.pw_gid } ?? number
        } else {
            guard let entry = getpwnam(parts[0]) else { throw ValidationError("--owner \(text): no such user \(parts[0])") }
            uid = entry.pointee.pw_uid
            defaultGID = entry.pointee.pw_gid
        }
        guard parts.count == 2 else { return (uid, defaultGID) }
        if let gid = UInt32(parts[1]) { return (uid, gid) }
        guard let group = getgrnam(parts[1]) else { throw ValidationError("--owner \(text): no such group \(parts[1])") }
        defaultGID = group.pointee.gr_gid
        return (uid, defaultGID)
    }

    func parseMatch(_ text: String) throws -> RedirectMatch {
        try MatchArgument.parse(text)
    }
}

/// `--match` as the library offers it: all, udp:PORT[-PORT],
/// tcp:PORT[-PORT], protocol:N (IP protocol), ethertype:0xNNNN.
enum MatchArgument {
    static let usage = "use all, udp:PORT[-PORT], tcp:PORT[-PORT], protocol:NUMBER (e.g. protocol:47) or ethertype:0xNNNN (e.g. ethertype:0x88b5)"

    static func parse(_ text: String) throws -> RedirectMatch {
        if text == "all" { return .everything }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ValidationError("--match \(text): \(usage)") }
        switch parts[0] {
        case "udp", "tcp":
            let range = parts[1].split(separator: "-", omittingEmptySubsequences: false).map { UInt16($0) }
            guard (1...2).contains(range.count), let low = range.first ?? nil, let high = range.last ?? nil, low <= high else {
                throw ValidationError("--match \(text): use \(parts[0]):PORT or \(parts[0]):LOW-HIGH with ports 0-65535")
            }
            return parts[0] == "udp" ? .udp(ports: low...high) : .tcp(ports: low...high)
        case "protocol":
            guard let value = UInt8(parts[1]), value != 0 else { throw ValidationError("--match \(text): the IP protocol is a number 1-255") }
            return .ipProtocol(value)
        case "ethertype":
            let digits = parts[1].hasPrefix("0x") ? String(parts[1].dropFirst(2)) : parts[1]
            guard let value = UInt16(digits, radix: 16), value >= 0x0600 else {
                throw ValidationError("--match \(text): the ethertype is 0x0600-0xFFFF in hex, e.g. ethertype:0x88b5")
            }
            return .ethertype(value)
        default:
            throw ValidationError("--match \(text): \(usage)")
        }
    }
}

/// Where `attach` pinned the maps of an interface, so that `detach` and
/// `status` find a `--pin` folder without being told again.
enum PinRecord {
    static let directory = "/run/swift-xdp/pins"

    static func path(interface: String, netns: String?) -> String {
        "\(directory)/\(netns ?? "-")_\(interface)"
    }

    static func save(_ pinDirectory: String, interface: String, netns: String?) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? pinDirectory.write(toFile: path(interface: interface, netns: netns), atomically: true, encoding: .utf8)
    }

    static func load(interface: String, netns: String?) -> String? {
        (try? String(contentsOfFile: path(interface: interface, netns: netns), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func remove(interface: String, netns: String?) {
        unlink(path(interface: interface, netns: netns))
    }
}

struct Detach: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Detach the program `attach` left and remove its pins (never anyone else's program).")
    @OptionGroup var target: Target
    @Option(help: "Pin directory (default: where attach pinned them, else /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?

    func run() throws {
        let directory = pin ?? PinRecord.load(interface: target.interface, netns: target.netns) ?? target.defaultPinDirectory
        let detached = try target.inNamespace { () throws(XDPError) -> UInt32? in
            try XDPProgram.detachLeftAttached(interface: target.interface, pinDirectory: directory)
        }
        XDPProgram.unpinMaps(in: directory)
        let left = XDPProgram.pinnedMapNames.map { directory + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
        PinRecord.remove(interface: target.interface, netns: target.netns)
        print(detached.map { "detached program \($0) from \(target.interface)" } ?? "no program attached to \(target.interface)")
        if left.isEmpty {
            print("pins in \(directory) removed")
        } else {
            FileHandle.standardError.write(Data("could not remove \(left.joined(separator: ", ")) (bpffs mounted there? permissions?)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The XDP program on each interface (or one): id, name, mode, whose it is, its owner process, pinned maps.")
    @Option(name: [.short, .customLong("interface")], help: "One interface (default: every interface in the namespace).")
    var interface: String?
    @Option(help: "The network namespace (ip netns name).")
    var netns: String?
    @Option(help: "Pin directory (default: where attach pinned them, else /sys/fs/bpf/swift-xdp/IFACE).")
    var pin: String?
    @Flag(help: "JSON (snake_case keys, numbers as numbers).")
    var json = false

    func run() throws {
        let body = { () throws(XDPError) -> [[String: Any]] in
            let names: [String]
            if let interface {
                guard if_nametoindex(interface) != 0 else {
                    throw XDPError(.interfaceNotFound, operation: "status of \(interface)", errno: ENODEV, hint: "check the name and --netns")
                }
                names = [interface]
            } else {
                names = Status.interfaceNames()
            }
            return names.map { name in
                var entry: [String: Any] = ["interface": name]
                if let program = XDPProgram.attachedProgramInfo(interface: name) {
                    entry["program_id"] = Int(program.id)
                    entry["program_name"] = program.name
                    entry["mode"] = program.mode
                    entry["ours"] = program.isOurs
                    entry["custom"] = program.isCustom
                    entry["owner_pid"] = program.ownerPID.map(Int.init) ?? -1
                    entry["left_attached"] = program.isOurs && program.ownerPID == 0
                    if let match = program.match { entry["match"] = match.description }
                }
                let directory = pin ?? PinRecord.load(interface: name, netns: netns) ?? "/sys/fs/bpf/swift-xdp/\(name)"
                let pinned = XDPProgram.pinnedMapNames.filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
                if !pinned.isEmpty { entry["pins"] = pinned.map { directory + "/" + $0 } }
                return entry
            }
        }
        let entries = try netns.map { namespace throws(XDPError) in try NetworkNamespace.withEntered(namespace, body) } ?? body()
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["interfaces": entries], options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for entry in entries {
            var line = "\(entry["interface"] ?? "?"): "
            if let id = entry["program_id"] {
                line += "XDP program \(id) \(entry["program_name"] ?? "?") (\(entry["mode"] ?? "?")), "
                let custom = entry["custom"] as? Bool == true
                line += (entry["ours"] as? Bool == true) ? "swift-xdp's" : custom ? "a custom program loaded by swift-xdp" : "not swift-xdp's"
                if let pid = entry["owner_pid"] as? Int, entry["ours"] as? Bool == true || custom {
                    line += pid == 0 ? ", left attached by xdpctl attach" : pid > 0 ? ", in use by process \(pid)" : ""
                }
                if let match = entry["match"] { line += "; match \(match)" }
            } else {
                line += "no XDP program"
            }
            print(line)
            for pin in (entry["pins"] as? [String]) ?? [] { print("  pinned: \(pin)") }
        }
    }

    /// Every interface in the calling thread's namespace.
    static func interfaceNames() -> [String] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var names: [String] = []
        var entry = list
        while entry.pointee.if_index != 0, let name = entry.pointee.if_name {
            names.append(String(cString: name))
            entry += 1
        }
        return names
    }
}

/// `FILE[:SECTION]`: a compiled BPF object and, optionally, its entry point
/// (a colon followed by a path is part of FILE).
func splitProgramArgument(_ text: String) -> (path: String, entryPoint: String?) {
    XDPProgram.parseObjectArgument(text)
}
