// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// swift-xdp redirect program: hand each RX queue's packets to the AF_XDP
// socket registered for that queue in `xsks`, or to the kernel stack.
//
// A packet goes to userspace when the match in `match_config` says so (all
// packets when the match is disabled). Everything else gets XDP_PASS. Per-CPU
// counters record each decision; userspace sums them.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_QUEUES 256

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

// What goes to userspace. Zero in a field means "any". Layout mirrored by
// RedirectMatch in Swift (XDPControl/RedirectMatch.swift).
struct match_config {
    __u32 enabled;            // 0: every packet is a candidate for redirect
    __u16 ethertype;          // host order, e.g. 0x0800; looked up under one VLAN tag
    __u8 ip_protocol;         // e.g. 17 (UDP), 6 (TCP)
    __u8 pass_without_socket; // 1: a match on a queue with no socket goes to the kernel
    __u16 port_min;           // destination port range (UDP/TCP), host order
    __u16 port_max;
    __u8 router;              // 1: router mode (see below); the match fields are ignored
    __u8 reserved[3];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct match_config);
} match_config SEC(".maps");

// Router mode: next hops (output interface, family, address) whose neighbor
// the userspace tables know. A packet the FIB would forward goes to userspace
// only when its next hop is here; otherwise the kernel forwards it (so a
// neighbor the kernel just learned is never a userspace drop).
struct next_hop_key {
    __u32 ifindex;
    __u32 family;
    __u8 address[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, struct next_hop_key);
    __type(value, __u8);
} known_next_hops SEC(".maps");

// The process that loaded this program (written by userspace at load), so a
// new instance can tell a program left by a killed process (replace it) from
// one a live process is using (refuse).
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} owner SEC(".maps");

enum counter {
    COUNTER_REDIRECTED = 0,     // handed to the queue's socket
    COUNTER_PASSED = 1,         // no match: to the kernel stack
    COUNTER_DROPPED_NO_SOCKET = 2, // matched, but the queue has no socket
    COUNTER_PASSED_NO_SOCKET = 3,  // matched, no socket, pass_without_socket set
    COUNTER_ROUTER_PASSED = 4,     // router mode: for the kernel (ARP/ND, local, no route/neighbor, TTL)
    COUNTER_COUNT = 5,
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, COUNTER_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
    __u64 *value = bpf_map_lookup_elem(&counters, &which);
    if (value)
        *value += 1;
}

struct vlan_header {
    __be16 tci;
    __be16 encapsulated_proto;
};

// Decides whether a packet matches the configured selector. Every read is
// bounds-checked against data_end; a packet too short for a field the match
// needs does not match (it goes to the kernel, which will judge it).
static __always_inline int matches(struct xdp_md *ctx, const struct match_config *m) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return 0;
    __u16 proto = bpf_ntohs(eth->h_proto);
    void *cursor = eth + 1;
    if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
        struct vlan_header *vlan = cursor;
        if ((void *)(vlan + 1) > data_end)
            return 0;
        proto = bpf_ntohs(vlan->encapsulated_proto);
        cursor = vlan + 1;
    }
    if (m->ethertype && proto != m->ethertype)
        return 0;
    if (!m->ip_protocol && !m->port_min && !m->port_max)
        return 1;

    __u8 l4 = 0;
    if (proto == ETH_P_IP) {
        struct iphdr *ip = cursor;
        if ((void *)(ip + 1) > data_end || ip->ihl < 5)
            return 0;
        l4 = ip->protocol;
        // Only the first fragment carries ports.
        if (ip->frag_off & bpf_htons(0x1FFF))
            return (m->port_min || m->port_max) ? 0 : l4 == m->ip_protocol;
        cursor = (void *)ip + ip->ihl * 4;
    } else if (proto == ETH_P_IPV6) {
        struct ipv6hdr *ip6 = cursor;
        if ((void *)(ip6 + 1) > data_end)
            return 0;
        l4 = ip6->nexthdr;
        cursor = ip6 + 1;
    } else {
        return 0;
    }
    if (m->ip_protocol && l4 != m->ip_protocol)
        return 0;
    if (!m->port_min && !m->port_max)
        return 1;
    if (l4 != IPPROTO_UDP && l4 != IPPROTO_TCP)
        return 0;
    // UDP and TCP both start with source port, destination port.
    __be16 *ports = cursor;
    if ((void *)(ports + 2) > data_end)
        return 0;
    __u16 port = bpf_ntohs(ports[1]);
    return port >= m->port_min && port <= m->port_max;
}

// Router mode: a packet goes to userspace only if the kernel's own FIB says it
// would be forwarded and its next hop's MAC is known (bpf_fib_lookup SUCCESS);
// ARP, ND, traffic for this host, packets with no route or no neighbor, and
// expiring TTLs go to the kernel, which resolves neighbors and sends ICMP.
static __always_inline int forwardable(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return 0;
    struct bpf_fib_lookup fib = {};
    fib.ifindex = ctx->ingress_ifindex;
    __u16 proto = bpf_ntohs(eth->h_proto);
    if (proto == ETH_P_IP) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->ttl <= 1)
            return 0;
        fib.family = 2; // AF_INET
        fib.tos = ip->tos;
        fib.l4_protocol = ip->protocol;
        fib.tot_len = bpf_ntohs(ip->tot_len);
        fib.ipv4_src = ip->saddr;
        fib.ipv4_dst = ip->daddr;
    } else if (proto == ETH_P_IPV6) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1)
            return 0;
        // ND, and extension headers the userspace parser leaves to the kernel.
        __u8 next = ip6->nexthdr;
        if (next == 58 /* ICMPv6 */ || next == 0 || next == 43 || next == 44 || next == 60 || next == 50 || next == 51)
            return 0;
        fib.family = 10; // AF_INET6
        fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0FFFFFFF);
        fib.l4_protocol = next;
        fib.tot_len = bpf_ntohs(ip6->payload_len);
        __builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
        __builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
    } else {
        return 0;
    }
    if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
        return 0;
    // On success the lookup left the next hop (gateway, or the destination
    // itself when directly connected) in the dst fields, and the output
    // interface in ifindex.
    struct next_hop_key key = {};
    key.ifindex = fib.ifindex;
    key.family = fib.family;
    if (fib.family == 2)
        __builtin_memcpy(key.address, &fib.ipv4_dst, 4);
    else
        __builtin_memcpy(key.address, fib.ipv6_dst, 16);
    return bpf_map_lookup_elem(&known_next_hops, &key) != 0;
}

// The decision shared by every entry point below.
static __always_inline int redirect_queues(struct xdp_md *ctx) {
    __u32 zero = 0;
    __u32 queue = ctx->rx_queue_index;
    const struct match_config *m = bpf_map_lookup_elem(&match_config, &zero);
    if (m && m->router && !forwardable(ctx)) {
        count(COUNTER_ROUTER_PASSED);
        return XDP_PASS;
    }
    if (m && !m->router && m->enabled && !matches(ctx, m)) {
        count(COUNTER_PASSED);
        return XDP_PASS;
    }
    if (!bpf_map_lookup_elem(&xsks, &queue)) {
        // Referencing `owner` here (a rare path) ties the map to the program,
        // so another process can find it from the program id.
        if (!bpf_map_lookup_elem(&owner, &zero))
            return XDP_PASS;
        if (m && m->pass_without_socket) {
            count(COUNTER_PASSED_NO_SOCKET);
            return XDP_PASS;
        }
        count(COUNTER_DROPPED_NO_SOCKET);
        return XDP_DROP;
    }
    count(COUNTER_REDIRECTED);
    return bpf_redirect_map(&xsks, queue, XDP_DROP);
}

SEC("xdp")
int xdp_redirect_queues(struct xdp_md *ctx) {
    return redirect_queues(ctx);
}

// The same program for multi-buffer packets (BPF_F_XDP_HAS_FRAGS): attachable
// in native mode to a device whose MTU exceeds a page (veth with MTU 9000).
// Only the first buffer is parsed; headers always sit there.
SEC("xdp.frags")
int xdp_redirect_queues_frags(struct xdp_md *ctx) {
    return redirect_queues(ctx);
}

// ---- RX metadata -------------------------------------------------------------
// The XDP metadata kfuncs (6.3+), declared exactly as the kernel's BTF has
// them (libbpf refuses the object otherwise). A program calling them must be
// device-bound (loaded with the interface's index and BPF_F_XDP_DEV_BOUND_ONLY)
// and runs in native mode only; userspace loads it only when asked.
enum xdp_rss_hash_type {
    XDP_RSS_TYPE_NONE = 0,
};

extern int bpf_xdp_metadata_rx_timestamp(const struct xdp_md *ctx, __u64 *timestamp) __ksym;
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, __u32 *hash,
                                    enum xdp_rss_hash_type *rss_type) __ksym;
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto,
                                        __u16 *vlan_tci) __ksym;

// In front of the packet (data_meta .. data), 32 bytes, the kernel's maximum.
// Mirrored by RXMetadata in Swift (XDP/RXMetadata.swift).
#define RX_META_MAGIC 0x58444D31 /* "XDM1" */
#define RX_META_TIMESTAMP (1 << 0)
#define RX_META_HASH (1 << 1)
#define RX_META_VLAN (1 << 2)
struct xdp_rx_meta {
    __u64 timestamp;   // ns, when RX_META_TIMESTAMP
    __u32 hash;        // when RX_META_HASH
    __u32 hash_type;   // enum xdp_rss_hash_type
    __u16 vlan_tci;    // when RX_META_VLAN
    __be16 vlan_proto;
    __u32 present;     // RX_META_* bits
    __u32 reserved;
    __u32 magic;       // RX_META_MAGIC, last: right before the packet
};

SEC("xdp.frags")
int xdp_redirect_queues_meta(struct xdp_md *ctx) {
    // No room for the metadata: the packet cannot carry it, so it goes to
    // the kernel (counted as passed) rather than to a socket without it.
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xdp_rx_meta))) {
        count(COUNTER_PASSED);
        return XDP_PASS;
    }
    struct xdp_rx_meta *meta = (void *)(long)ctx->data_meta;
    if ((void *)(meta + 1) > (void *)(long)ctx->data) {
        count(COUNTER_PASSED);
        return XDP_PASS;
    }
    __u64 timestamp = 0;
    __u32 hash = 0;
    enum xdp_rss_hash_type hash_type = XDP_RSS_TYPE_NONE;
    __be16 vlan_proto = 0;
    __u16 vlan_tci = 0;
    __u32 present = 0;
    // A zero timestamp is the device saying it has none (veth gives the skb's
    // hardware timestamp, 0 without one): reported absent, not as time 0.
    if (!bpf_xdp_metadata_rx_timestamp(ctx, &timestamp) && timestamp)
        present |= RX_META_TIMESTAMP;
    if (!bpf_xdp_metadata_rx_hash(ctx, &hash, &hash_type))
        present |= RX_META_HASH;
    if (!bpf_xdp_metadata_rx_vlan_tag(ctx, &vlan_proto, &vlan_tci))
        present |= RX_META_VLAN;
    meta->timestamp = timestamp;
    meta->hash = hash;
    meta->hash_type = hash_type;
    meta->vlan_tci = vlan_tci;
    meta->vlan_proto = vlan_proto;
    meta->present = present;
    meta->reserved = 0;
    meta->magic = RX_META_MAGIC;
    return redirect_queues(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
