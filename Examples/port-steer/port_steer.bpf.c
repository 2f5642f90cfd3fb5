// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// port-steer's own XDP program: UDP (IPv4) to one destination port goes to
// the AF_XDP socket of its queue; every other packet is counted in `others`
// and left to the kernel. Loaded by the example through
// XDPProgram(interface:object:programName:socketMapName:), which registers
// the sockets in `steer_xsks` and records its process id in `owner`.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);   // RX queue id
    __type(value, __u32); // socket
} steer_xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32); // the UDP destination port to steer, host order
} steer_port SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64); // packets left to the kernel
} others SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32); // the loading process (written by swift-xdp)
} owner SEC(".maps");

static __always_inline int steered(struct xdp_md *ctx, __u32 port) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->ihl < 5 || ip->protocol != IPPROTO_UDP) return 0;
    if (ip->frag_off & bpf_htons(0x3fff)) return 0; // fragments carry no (or a partial) UDP header
    struct udphdr *udp = (void *)ip + ip->ihl * 4;
    if ((void *)(udp + 1) > end) return 0;
    return bpf_ntohs(udp->dest) == port;
}

SEC("xdp")
int port_steer(struct xdp_md *ctx) {
    __u32 zero = 0;
    __u32 *port = bpf_map_lookup_elem(&steer_port, &zero);
    if (port && *port && steered(ctx, *port))
        return bpf_redirect_map(&steer_xsks, ctx->rx_queue_index, XDP_PASS);
    __u64 *count = bpf_map_lookup_elem(&others, &zero);
    if (count) __sync_fetch_and_add(count, 1);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
