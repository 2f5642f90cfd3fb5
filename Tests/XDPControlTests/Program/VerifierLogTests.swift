import Testing
@testable import XDPControl

/// The verifier's log cut to the lines that say why a program was rejected.
@Suite("Verifier log trimming")
struct VerifierLogTests {
    /// A real log from Linux 6.18 (an unchecked packet read), level 1.
    static let log = """
        func#0 @0
        0: R1=ctx() R10=fp0
        ; struct ethhdr *eth = (void *)(long)ctx->data; @ bad.bpf.c:7
        0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=pkt(r=0)
        ; if (eth->h_proto == bpf_htons(ETH_P_IP)) return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); @ bad.bpf.c:8
        1: (71) r3 = *(u8 *)(r2 +12)
        invalid access to packet, off=12 size=1, R2(id=0,off=12,r=0)
        R2 offset is outside of the packet
        processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0

        """

    @Test("from the last annotated source line to the error; statistics and earlier lines gone")
    func trimsToTheReason() {
        let trimmed = XDPProgram.trimVerifierLog(Self.log)
        #expect(trimmed == """
            ; if (eth->h_proto == bpf_htons(ETH_P_IP)) return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS); @ bad.bpf.c:8
            1: (71) r3 = *(u8 *)(r2 +12)
            invalid access to packet, off=12 size=1, R2(id=0,off=12,r=0)
            R2 offset is outside of the packet
            """)
    }

    @Test("without source annotations: the last 12 lines at most; an empty log stays empty")
    func withoutAnnotations() {
        let lines = (1...20).map { "line \($0)" }.joined(separator: "\n")
        #expect(XDPProgram.trimVerifierLog(lines) == (9...20).map { "line \($0)" }.joined(separator: "\n"))
        #expect(XDPProgram.trimVerifierLog("") == "")
    }
}
