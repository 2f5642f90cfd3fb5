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

// Router mode: the interfaces the daemon serves with sockets (written by
// userspace at setup). A packet the FIB forwards out of any other interface
// stays with the kernel, which forwards it.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);   // ifindex
    __type(value, __u32); // 1
} served_ports SEC(".maps");

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
    COUNTER_ROUTER_PASSED = 4,     // router mode: for the kernel, any reason below (the sum of 5...14)
    // Router mode, why a packet went to the kernel (mirrored by RedirectCounters.RouterReason in Swift):
    COUNTER_ROUTER_NOT_IP = 5,        // ARP, ND, VLAN-tagged, other ethertypes, hop-by-hop, malformed IP
    COUNTER_ROUTER_TTL = 6,           // TTL / hop limit <= 1 (the kernel sends time exceeded)
    COUNTER_ROUTER_NOT_FORWARDED = 7, // FIB: local destination, or no route (NOT_FWDED)
    COUNTER_ROUTER_UNREACHABLE = 8,   // FIB: blackhole, unreachable, prohibit routes
    COUNTER_ROUTER_NO_NEIGHBOR = 9,   // FIB: next hop MAC unknown (the kernel resolves it)
    COUNTER_ROUTER_FRAG_NEEDED = 10,  // FIB: longer than the egress MTU
    COUNTER_ROUTER_FWD_DISABLED = 11, // FIB: forwarding disabled on the ingress interface
    COUNTER_ROUTER_UNSERVED = 12,     // FIB success, egress not a served port (the kernel forwards it)
    COUNTER_ROUTER_OTHER = 13,        // FIB: any other answer; or no room for the metadata
    COUNTER_ROUTER_IP_OPTIONS = 14,   // IPv4 source route or router alert option (the kernel's settings decide)
    COUNTER_COUNT = 15,
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

// IPv4 options whose handling depends on more than the FIB: a source route
// (loose 0x83, strict 0x89: accept_source_route decides) or a router alert
// (0x94: a local socket may claim the packet). Returns 1 when the `length`
// bytes of options after a plain Ethernet + IPv4 header carry one, or
// cannot be walked (left to the kernel to judge); other options (record
// route, timestamp, NOP...) ride along. A global function: the verifier
// checks it once, on its own, and the walk runs over a copy on the stack.
__noinline int ipv4_kernel_options(struct xdp_md *ctx, __u32 length) {
    __u8 options[40] = {};
    if (length == 0)
        return 0;
    if (length > sizeof(options))
        return 1;
    if (bpf_xdp_load_bytes(ctx, sizeof(struct ethhdr) + sizeof(struct iphdr), options, length))
        return 1;
    __u32 offset = 0;
    for (int i = 0; i < 40; i++) {
        if (offset >= length)
            return 0;
        __u8 type = options[offset];
        if (type == 0) // end of options
            return 0;
        if (type == 1) { // no operation
            offset += 1;
            continue;
        }
        if (type == 0x83 || type == 0x89 || type == 0x94 || offset + 1 >= length)
            return 1;
        __u8 size = options[offset + 1];
        if (size < 2)
            return 1;
        offset += size;
    }
    return 0;
}

// Router mode: the FIB's answer for a packet going to userspace, written in
// front of the packet (data_meta .. data), 20 bytes. Mirrored by FIBMetadata
// in Swift (XDP/FIBMetadata.swift). dmac and smac come first, in the order of
// an Ethernet header, so the rewrite is one 12-byte copy. The magic is last,
// right before the packet, where RX_META_MAGIC of `xdp_rx_meta` also sits:
// the two are exclusive (userspace refuses router mode with RX metadata) and
// each reader checks its own magic.
#define FIB_META_MAGIC 0x58444631 /* "XDF1": format version 1 */
struct xdp_fib_meta {
    __u8 dmac[6];    // next hop's MAC (fib.dmac)
    __u8 smac[6];    // egress interface's MAC (fib.smac)
    __u32 ifindex;   // egress interface (fib.ifindex)
    __u32 magic;     // FIB_META_MAGIC, last: right before the packet
};

// Router mode: a packet goes to userspace only if the kernel's FIB says it
// would be forwarded to a known neighbor (bpf_fib_lookup SUCCESS) out of an
// interface the daemon serves; the answer travels with it as xdp_fib_meta, so
// userspace never decides again. Everything else goes to the kernel, counted
// by reason: ARP, ND, hop-by-hop options, traffic for this host, no route,
// no neighbor (the kernel resolves it), too big for the egress MTU (the
// kernel fragments or sends ICMP), forwarding disabled, and expiring TTLs.
// Returns 0 when the packet should go to a socket, else the counter to bump.
static __always_inline __u32 route(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return COUNTER_ROUTER_NOT_IP;
    struct bpf_fib_lookup fib = {};
    fib.ifindex = ctx->ingress_ifindex;
    __u16 proto = bpf_ntohs(eth->h_proto);
    __u8 l4;
    void *l4_header;
    if (proto == ETH_P_IP) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->version != 4)
            return COUNTER_ROUTER_NOT_IP;
        if (ip->ttl <= 1)
            return COUNTER_ROUTER_TTL;
        if (ip->ihl > 5 && ipv4_kernel_options(ctx, ip->ihl * 4 - sizeof(struct iphdr)))
            return COUNTER_ROUTER_IP_OPTIONS;
        fib.family = 2; // AF_INET
        fib.tos = ip->tos;
        fib.l4_protocol = ip->protocol;
        fib.tot_len = bpf_ntohs(ip->tot_len);
        fib.ipv4_src = ip->saddr;
        fib.ipv4_dst = ip->daddr;
        l4 = ip->protocol;
        // Ports (for an L4 multipath hash) only in a first or only fragment.
        l4_header = (ip->frag_off & bpf_htons(0x1FFF)) ? 0 : (void *)ip + ip->ihl * 4;
    } else if (proto == ETH_P_IPV6) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
            return COUNTER_ROUTER_NOT_IP;
        if (ip6->hop_limit <= 1)
            return COUNTER_ROUTER_TTL;
        __u8 next = ip6->nexthdr;
        // Hop-by-hop options are for every router on the path: the kernel's.
        if (next == 0)
            return COUNTER_ROUTER_NOT_IP;
        // Neighbor discovery (router/neighbor solicitation and advertisement,
        // redirect: ICMPv6 133-137) is the kernel's; other ICMPv6 (echo,
        // errors) is forwarded like any packet.
        if (next == 58) {
            __u8 *type = (void *)(ip6 + 1);
            if ((void *)(type + 1) > data_end || (*type >= 133 && *type <= 137))
                return COUNTER_ROUTER_NOT_IP;
        }
        fib.family = 10; // AF_INET6
        fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0FFFFFFF);
        fib.l4_protocol = next;
        // The whole IP packet: the MTU check compares it with the egress MTU.
        fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(struct ipv6hdr);
        __builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
        __builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
        l4 = next;
        l4_header = ip6 + 1;
    } else {
        return COUNTER_ROUTER_NOT_IP;
    }
    if (l4_header && (l4 == IPPROTO_UDP || l4 == IPPROTO_TCP)) {
        __be16 *ports = l4_header;
        if ((void *)(ports + 2) <= data_end) {
            fib.sport = ports[0];
            fib.dport = ports[1];
        }
    }
    switch (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0)) {
    case BPF_FIB_LKUP_RET_SUCCESS:
        break;
    case BPF_FIB_LKUP_RET_NOT_FWDED:
        return COUNTER_ROUTER_NOT_FORWARDED;
    case BPF_FIB_LKUP_RET_BLACKHOLE:
    case BPF_FIB_LKUP_RET_UNREACHABLE:
    case BPF_FIB_LKUP_RET_PROHIBIT:
        return COUNTER_ROUTER_UNREACHABLE;
    case BPF_FIB_LKUP_RET_NO_NEIGH:
        return COUNTER_ROUTER_NO_NEIGHBOR;
    case BPF_FIB_LKUP_RET_FRAG_NEEDED:
        return COUNTER_ROUTER_FRAG_NEEDED;
    case BPF_FIB_LKUP_RET_FWD_DISABLED:
        return COUNTER_ROUTER_FWD_DISABLED;
    default:
        return COUNTER_ROUTER_OTHER;
    }
    // On success the lookup left the egress interface in ifindex and the
    // MACs to write in smac (the egress's) and dmac (the next hop's).
    __u32 egress = fib.ifindex;
    if (!bpf_map_lookup_elem(&served_ports, &egress))
        return COUNTER_ROUTER_UNSERVED;
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xdp_fib_meta)))
        return COUNTER_ROUTER_OTHER;
    // adjust_meta invalidated every packet pointer: check again.
    struct xdp_fib_meta *meta = (void *)(long)ctx->data_meta;
    if ((void *)(meta + 1) > (void *)(long)ctx->data)
        return COUNTER_ROUTER_OTHER;
    __builtin_memcpy(meta->dmac, fib.dmac, 6);
    __builtin_memcpy(meta->smac, fib.smac, 6);
    meta->ifindex = egress;
    meta->magic = FIB_META_MAGIC;
    return 0;
}

// The decision shared by every entry point below.
static __always_inline int redirect_queues(struct xdp_md *ctx) {
    __u32 zero = 0;
    __u32 queue = ctx->rx_queue_index;
    const struct match_config *m = bpf_map_lookup_elem(&match_config, &zero);
    if (m && m->router) {
        __u32 reason = route(ctx);
        if (reason) {
            count(COUNTER_ROUTER_PASSED);
            count(reason);
            return XDP_PASS;
        }
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
