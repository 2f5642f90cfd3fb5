import CXDP
import Glibc
import Testing
import TestSupport
import XDP
import XDPControl

/// Bring your own program: objects written here in C, compiled by clang at
/// test time, loaded through `XDPProgram(interface:object:...)`.
@Suite("Custom XDP programs", .serialized)
struct CustomProgramTests {
    /// Two XDP programs: a decoy that drops everything, and the entry point
    /// that counts each packet in its own map and redirects it into its own
    /// XSKMAP; an owner map so the process id is recorded.
    static let good = TestBPFObject.prelude + """
        struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } my_sockets SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } owner SEC(".maps");
        SEC("xdp") int xdp_decoy(struct xdp_md *ctx) { return XDP_DROP; }
        SEC("xdp") int xdp_mine(struct xdp_md *ctx) {
            __u32 zero = 0;
            __u64 *n = bpf_map_lookup_elem(&seen, &zero);
            if (n) __sync_fetch_and_add(n, 1);
            return bpf_redirect_map(&my_sockets, ctx->rx_queue_index, XDP_PASS);
        }
        """

    /// Reads the 64-bit value at key 0 of an array map.
    static func readFirst(_ fd: Int32) -> UInt64? {
        var key: UInt32 = 0
        var value: UInt64 = 0
        return bpf_map_lookup_elem(fd, &key, &value) == 0 ? value : nil
    }

    @Test("a user's program receives exact counts, counts them in its own map, records its owner and detaches on drop",
          arguments: [AttachMode.generic, .native])
    func goodProgram(mode: AttachMode) throws {
        let path = try TestBPFObject.compile("custom_good", source: Self.good)
        let lab = try makeLab()
        let link = lab.links[0]
        var receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface)
        var sender = try openEndpoint(namespace: lab.peerNamespace, interface: link.peerInterface, fill: false)
        do {
            let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                let program = try XDPProgram(interface: link.deviceInterface, object: .file(path), programName: "xdp_mine",
                                             socketMapName: "my_sockets", mode: mode)
                try program.register(receiver.socket)
                return program
            }
            #expect(program.mode == mode)
            let name = program.programName
            #expect(name == "xdp_mine")
            let attached = program.isAttached()
            #expect(attached)
            let packets = sequencedPackets(100, link: link)
            #expect(transmit(packets, from: &sender) == 100)
            expectSame(receive(100, on: &receiver), packets)
            #expect(receive(1, on: &receiver, timeout: 0.3).isEmpty, "nothing beyond the 100")
            let seenFD = program.mapFileDescriptor(named: "seen")
            #expect(seenFD.flatMap(Self.readFirst) == 100, "the program's own map counted each packet")
            let seen = try program.readMap("seen", key: UInt32(0), as: UInt64.self)
            #expect(seen == 100)
            let absent = program.mapFileDescriptor(named: "absent")
            #expect(absent == nil)
            let wrongSize = #expect(throws: XDPError.self) { _ = try program.readMap("seen", key: UInt32(0), as: UInt32.self) }
            #expect(wrongSize?.hint.contains("values 8") == true, "\(String(describing: wrongSize))")
            let id = program.programID
            #expect(cxdp_program_owner(id) == Int64(getpid()), "owner recorded in the object's owner map")
            let countersError = #expect(throws: XDPError.self) { _ = try program.counters() }
            #expect(countersError?.kind == .unsupported)
            // A second attach while the owner lives is refused (the owner rule).
            let second = #expect(throws: XDPError.self) {
                _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                    try XDPProgram(interface: link.deviceInterface, object: .file(path), programName: "xdp_mine",
                                   socketMapName: "my_sockets", mode: mode)
                }
            }
            #expect(second?.kind == .busy, "\(String(describing: second))")
            let stillAttached = program.isAttached()
            #expect(stillAttached)
        }
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == nil,
                "detached when the value went")
    }

    @Test("a foreign program is not replaced by a user's program unless asked")
    func foreignProgramKept() throws {
        let path = try TestBPFObject.compile("custom_good", source: Self.good)
        let lab = try makeLab()
        let link = lab.links[0]
        try ForeignXDPProgram.attach(interface: link.deviceInterface, namespace: lab.deviceNamespace, mode: "xdpgeneric")
        let foreign = try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) }
        let error = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                try XDPProgram(interface: link.deviceInterface, object: .file(path), programName: "xdp_mine", socketMapName: "my_sockets", mode: .generic)
            }
        }
        #expect(error?.kind == .busy)
        #expect(error?.hint.contains("a foreign program") == true, "\(String(describing: error))")
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == foreign)
        let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: link.deviceInterface, object: .file(path), programName: "xdp_mine", socketMapName: "my_sockets",
                           mode: .generic, replaceExisting: true)
        }
        let attached = program.isAttached()
        #expect(attached && program.programID != foreign)
    }

    /// A bad object, the names to load it with, and what the refusal must say.
    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var source: String
        var programName: String?
        var socketMapName = "xsks"
        var expected: [String]
        var unexpected: [String] = []
        var testDescription: String { name }
    }

    static let xsks = "struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } xsks SEC(\".maps\");\n"

    static let bad: [Bad] = [
        Bad(name: "no_xskmap",
            source: "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } stats SEC(\".maps\");\n"
                + "SEC(\"xdp\") int xdp_nomap(struct xdp_md *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&stats, &k); if (v) *v += 1; return XDP_PASS; }",
            expected: ["no map named xsks", "stats (array)"]),
        Bad(name: "wrong_name",
            source: xsks + "SEC(\"xdp\") int xdp_named(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }",
            socketMapName: "sockets", expected: ["no map named sockets", "xsks (xskmap)"]),
        Bad(name: "wrong_type",
            source: "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); } xsks SEC(\".maps\");\n"
                + "SEC(\"xdp\") int xdp_array(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&xsks, &k) ? XDP_PASS : XDP_DROP; }",
            expected: ["xsks is a array map, not an xskmap"]),
        Bad(name: "too_small",
            source: "struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } xsks SEC(\".maps\");\n"
                + "SEC(\"xdp\") int xdp_small(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }",
            expected: ["xsks has 1 entries but", "has 2 RX queues", "at least 2"]),
        Bad(name: "verifier_rejects",
            source: xsks + """
                SEC("xdp") int xdp_unchecked(struct xdp_md *ctx) {
                    struct ethhdr *eth = (void *)(long)ctx->data;
                    if (eth->h_proto == bpf_htons(ETH_P_IP)) return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
                    return XDP_PASS;
                }
                """,
            expected: ["the verifier says", "invalid access to packet", "h_proto"], unexpected: ["processed ", "func#0"]),
        Bad(name: "not_xdp",
            source: xsks + "SEC(\"tc\") int tc_prog(struct __sk_buff *skb) { return 0; }\n"
                + "SEC(\"xdp\") int xdp_fine(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }",
            programName: "tc_prog", expected: ["is not an XDP program", "SEC \"tc\""]),
        Bad(name: "no_such_program",
            source: xsks + "SEC(\"xdp\") int xdp_fine(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }",
            programName: "xdp_missing", expected: ["xdp_fine (SEC \"xdp\")"]),
        Bad(name: "several_programs",
            source: xsks + "SEC(\"xdp\") int xdp_one(struct xdp_md *ctx) { return XDP_PASS; }\n"
                + "SEC(\"xdp\") int xdp_two(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }",
            expected: ["several XDP programs", "xdp_one", "xdp_two"]),
    ]

    @Test("a program that cannot work is refused with the reason, and nothing is attached", arguments: bad)
    func badProgram(_ bad: Bad) throws {
        let path = try TestBPFObject.compile("custom_\(bad.name)", source: TestBPFObject.prelude + bad.source)
        let lab = try makeLab(queues: 2)
        let link = lab.links[0]
        let error = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                try XDPProgram(interface: link.deviceInterface, object: .file(path), programName: bad.programName,
                               socketMapName: bad.socketMapName, mode: .generic)
            }
        }
        #expect(error?.kind == .program)
        for text in bad.expected { #expect(error?.hint.contains(text) == true, "\(text) in: \(String(describing: error))") }
        for text in bad.unexpected { #expect(error?.hint.contains(text) == false, "no \(text) in: \(String(describing: error))") }
        #expect(try lab.inDevice { () throws(XDPError) -> UInt32? in XDPProgram.attachedProgramID(interface: link.deviceInterface) } == nil)
    }

    @Test("not an object, or no file: refused with the reason")
    func unreadableObjects() throws {
        let lab = try makeLab()
        let link = lab.links[0]
        let garbage = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                try XDPProgram(interface: link.deviceInterface, object: .bytes([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3], name: "garbage"))
            }
        }
        #expect(garbage?.kind == .program)
        #expect(garbage?.hint.contains("not a BPF ELF object") == true, "\(String(describing: garbage))")
        let missing = #expect(throws: XDPError.self) {
            _ = try lab.inDevice { () throws(XDPError) -> XDPProgram in
                try XDPProgram(interface: link.deviceInterface, object: .file("/nonexistent/prog.o"))
            }
        }
        #expect(missing?.errno == ENOENT, "\(String(describing: missing))")
    }

    @Test("an XSKMAP exactly as large as the queues is accepted, its last queue registers, the entry point found alone")
    func registerBeyondMap() throws {
        let source = TestBPFObject.prelude
            + "struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 2); __type(key, __u32); __type(value, __u32); } xsks SEC(\".maps\");\n"
            + "SEC(\"xdp\") int xdp_two(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); }"
        let path = try TestBPFObject.compile("custom_two_entries", source: source)
        let lab = try makeLab(queues: 2)
        let link = lab.links[0]
        let program = try lab.inDevice { () throws(XDPError) -> XDPProgram in
            try XDPProgram(interface: link.deviceInterface, object: .file(path), mode: .generic)
        }
        let name = program.programName
        #expect(name == "xdp_two")
        let receiver = try openEndpoint(namespace: lab.deviceNamespace, interface: link.deviceInterface, queue: 1)
        try program.register(receiver.socket)
    }
}
