// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// The test programs of the xskxceiver cases that need one (XDP_DROP_HALF,
// XDP_METADATA_COPY[_MULTI_BUFF], XDP_ADJUST_TAIL_SHRINK / GROW[_MULTI_BUFF]),
// loaded through the bring-your-own-program path (XDPProgram(interface:
// object:programName:)), one entry point per case. The one source of them:
// nic-conformance embeds it at build time (EmbedBPF: EmbeddedBPF.xskTestProgs),
// the veth suite (Tests/XDPIntegrationTests/XSKConformanceTests.swift)
// compiles this file with clang at run time (TestBPFObject.compile(file:)).
// The _mb entry points are the same programs in SEC("xdp.frags"), for
// multi-buffer packets.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

// XDP_DROP_HALF: every other packet the program sees is dropped.
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} seen SEC(".maps");

SEC("xdp") int xsk_xdp_drop(struct xdp_md *ctx) {
    __u32 zero = 0;
    __u32 *n = bpf_map_lookup_elem(&seen, &zero);
    if (!n) return XDP_DROP;
    if (__sync_fetch_and_add(n, 1) & 1) return XDP_DROP;
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
}

// XDP_METADATA_COPY: a per-packet count written in front of the packet
// (bpf_xdp_adjust_meta).
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} count SEC(".maps");

static __always_inline int populate_metadata(struct xdp_md *ctx) {
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u64))) return XDP_DROP;
    void *data = (void *)(long)ctx->data;
    __u64 *meta = (void *)(long)ctx->data_meta;
    if ((void *)(meta + 1) > data) return XDP_DROP;
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&count, &zero);
    if (!n) return XDP_DROP;
    *meta = __sync_fetch_and_add(n, 1);
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
}

SEC("xdp") int xsk_xdp_populate_metadata(struct xdp_md *ctx) { return populate_metadata(ctx); }
SEC("xdp.frags") int xsk_xdp_populate_metadata_mb(struct xdp_md *ctx) { return populate_metadata(ctx); }

// XDP_ADJUST_TAIL_SHRINK / GROW: bpf_xdp_adjust_tail by the value in
// `adjust`; a failure is counted in `failed` (and the packet dropped).
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __s32);
} adjust SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} failed SEC(".maps");

static __always_inline int adjust_tail(struct xdp_md *ctx) {
    __u32 zero = 0;
    __s32 *value = bpf_map_lookup_elem(&adjust, &zero);
    if (!value) return XDP_DROP;
    if (bpf_xdp_adjust_tail(ctx, *value)) {
        __u64 *n = bpf_map_lookup_elem(&failed, &zero);
        if (n) __sync_fetch_and_add(n, 1);
        return XDP_DROP;
    }
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
}

SEC("xdp") int xsk_xdp_adjust_tail(struct xdp_md *ctx) { return adjust_tail(ctx); }
SEC("xdp.frags") int xsk_xdp_adjust_tail_mb(struct xdp_md *ctx) { return adjust_tail(ctx); }
