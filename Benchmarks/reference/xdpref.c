// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// xdpref: the C yardstick for swift-xdp's fast path.
//
// The three loops of the kernel's xdpsock sample (rxdrop, txonly, l2fwd),
// one AF_XDP socket on one queue, set up with libxdp's xsk_umem__create /
// xsk_socket__create (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD) and driven with
// libxdp's inline ring helpers. The XDP program is loaded from a BPF object
// file (bpf/xdp_redirect.bpf.c: XSKMAP `xsks`, program `xdp_redirect_queues`),
// attached by this process and detached on every exit path.
//
// Build: make -C Benchmarks/reference   (see README.md there)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define EXIT_RUNTIME 1   // setup or data path failure
#define EXIT_USAGE 2     // bad option or option value
#define EXIT_SHORT 3     // --count given and not reached (timeout or signal)

#define RING_SIZE 2048u  // RX, TX and completion rings (xdpsock's defaults)
#define DRAIN_NS 1000000000ull // at most this long to collect outstanding TX completions at the end

enum mode { MODE_RXDROP, MODE_TXONLY, MODE_L2FWD };
static const char *const mode_names[] = {"rxdrop", "txonly", "l2fwd"};

struct options {
    enum mode mode;
    const char *ifname;
    unsigned queue;
    const char *netns;
    uint64_t count;          // 0: no limit
    double duration;         // seconds
    unsigned batch;
    unsigned frame_size;
    unsigned frames;
    unsigned packet_size;
    bool attach_generic;
    bool need_wakeup;
    bool poll;
    int cpu;                 // -1: not pinned
    bool json;
    const char *bpf_object;  // NULL: default next to the executable
    bool libxdp_program;     // libxdp's own default program, as xdpsock (default)
    int poll_timeout_ms;     // -p: poll()'s timeout (xdpsock's 1000 ms)
    uint8_t src_mac[6];
    bool src_mac_set;
    uint8_t dst_mac[6];
    struct in_addr src_ip, dst_ip;
    uint16_t src_port, dst_port;
};

struct state {
    const struct options *opt;
    void *umem_area;
    size_t umem_size;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill, tx;
    struct xsk_ring_cons comp, rx;
    int fd;
    struct pollfd pfd;

    uint64_t rx_packets, rx_bytes;
    uint64_t tx_submitted, tx_completed, tx_bytes; // tx_bytes counts completed packets
    uint32_t outstanding_tx;                       // submitted, not yet completed
    uint32_t tx_frame;                             // txonly: next frame to use
    bool failed;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out) {
    fprintf(out,
        "usage: xdpref rxdrop|txonly|l2fwd -i IFACE [options]\n"
        "  -i, --interface IFACE    interface (required)\n"
        "  -q, --queue N            queue id (default 0)\n"
        "      --netns NAME         enter /run/netns/NAME before any setup\n"
        "  -n, --count N            stop after exactly N packets received (rxdrop, l2fwd)\n"
        "                           or sent (txonly)\n"
        "  -d, --duration S         stop after S seconds (default 5; always applies)\n"
        "  -b, --batch N            batch size (default 64, 1..%u)\n"
        "  -f, --frame-size N       UMEM frame size, 2048 or 4096 (default 4096)\n"
        "      --frames N           UMEM frames (default 4096)\n"
        "  -s, --packet-size N      txonly packet length in bytes, no FCS (default 64)\n"
        "      --attach MODE        native|generic (default native)\n"
        "      --no-need-wakeup     do not bind with XDP_USE_NEED_WAKEUP; kick TX always\n"
        "  -p, --poll               poll() before every RX batch, as xdpsock -p: a\n"
        "                           batch only when poll() reports ready\n"
        "      --poll-timeout MS    -p's poll() timeout (default 1000, xdpsock's)\n"
        "      --program WHICH      libxdp: libxdp's default redirect program, loaded\n"
        "                           by xsk_socket__create as xdpsock does (default);\n"
        "                           project: --bpf-object's xdp_redirect_queues\n"
        "      --cpu N              pin to CPU N\n"
        "      --json               print one JSON object on stdout at the end\n"
        "      --bpf-object PATH    BPF object with XSKMAP `xsks` and program\n"
        "                           `xdp_redirect_queues` (default: xdp_redirect.bpf.o\n"
        "                           next to the xdpref executable)\n"
        "      --src-mac MAC        txonly source MAC (default: the interface's)\n"
        "      --dst-mac MAC        txonly destination MAC (default 02:00:00:00:00:02)\n"
        "      --src-ip IP          txonly source IPv4 (default 198.18.0.1)\n"
        "      --dst-ip IP          txonly destination IPv4 (default 198.18.0.2)\n"
        "      --src-port N         txonly UDP source port (default 49152)\n"
        "      --dst-port N         txonly UDP destination port (default 9)\n"
        "  -h, --help\n",
        RING_SIZE);
}

__attribute__((format(printf, 1, 2), noreturn))
static void bad_usage(const char *fmt, ...) {
    va_list ap;
    fputs("xdpref: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(xdpref --help for usage)\n", stderr);
    exit(EXIT_USAGE);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max) {
    char *end;
    if (!*s || *s == '-' || *s == '+')
        bad_usage("%s: '%s' is not a non-negative integer", name, s);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        bad_usage("%s: '%s' is not a non-negative integer", name, s);
    if (v < min || v > max)
        bad_usage("%s: %llu is out of range %" PRIu64 "..%" PRIu64, name, v, min, max);
    return v;
}

static void parse_mac(const char *name, const char *s, uint8_t mac[6]) {
    unsigned b[6];
    char extra;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
        bad_usage("%s: '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", name, s);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
}

static void parse_ip(const char *name, const char *s, struct in_addr *addr) {
    if (inet_pton(AF_INET, s, addr) != 1)
        bad_usage("%s: '%s' is not an IPv4 address", name, s);
}

static void parse_options(int argc, char **argv, struct options *o) {
    enum {
        OPT_NETNS = 256, OPT_FRAMES, OPT_ATTACH, OPT_NO_NEED_WAKEUP, OPT_CPU, OPT_JSON,
        OPT_BPF_OBJECT, OPT_SRC_MAC, OPT_DST_MAC, OPT_SRC_IP, OPT_DST_IP, OPT_SRC_PORT,
        OPT_DST_PORT, OPT_PROGRAM, OPT_POLL_TIMEOUT,
    };
    static const struct option longopts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"queue", required_argument, NULL, 'q'},
        {"netns", required_argument, NULL, OPT_NETNS},
        {"count", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"frame-size", required_argument, NULL, 'f'},
        {"frames", required_argument, NULL, OPT_FRAMES},
        {"packet-size", required_argument, NULL, 's'},
        {"attach", required_argument, NULL, OPT_ATTACH},
        {"no-need-wakeup", no_argument, NULL, OPT_NO_NEED_WAKEUP},
        {"poll", no_argument, NULL, 'p'},
        {"cpu", required_argument, NULL, OPT_CPU},
        {"json", no_argument, NULL, OPT_JSON},
        {"bpf-object", required_argument, NULL, OPT_BPF_OBJECT},
        {"program", required_argument, NULL, OPT_PROGRAM},
        {"poll-timeout", required_argument, NULL, OPT_POLL_TIMEOUT},
        {"src-mac", required_argument, NULL, OPT_SRC_MAC},
        {"dst-mac", required_argument, NULL, OPT_DST_MAC},
        {"src-ip", required_argument, NULL, OPT_SRC_IP},
        {"dst-ip", required_argument, NULL, OPT_DST_IP},
        {"src-port", required_argument, NULL, OPT_SRC_PORT},
        {"dst-port", required_argument, NULL, OPT_DST_PORT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    *o = (struct options){
        .queue = 0, .duration = 5.0, .batch = 64, .frame_size = 4096, .frames = 4096,
        .packet_size = 64, .need_wakeup = true, .cpu = -1,
        .libxdp_program = true, .poll_timeout_ms = 1000,
        .dst_mac = {0x02, 0, 0, 0, 0, 0x02}, .src_port = 49152, .dst_port = 9,
    };
    inet_pton(AF_INET, "198.18.0.1", &o->src_ip);
    inet_pton(AF_INET, "198.18.0.2", &o->dst_ip);

    if (argc < 2)
        bad_usage("a mode is required: rxdrop, txonly or l2fwd");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        exit(0);
    }
    if (!strcmp(argv[1], "rxdrop"))
        o->mode = MODE_RXDROP;
    else if (!strcmp(argv[1], "txonly"))
        o->mode = MODE_TXONLY;
    else if (!strcmp(argv[1], "l2fwd"))
        o->mode = MODE_L2FWD;
    else
        bad_usage("unknown mode '%s' (rxdrop, txonly or l2fwd)", argv[1]);
    argc--;
    argv++;
    argv[0] = (char *)"xdpref"; // getopt's messages name the program by argv[0]

    int c;
    while ((c = getopt_long(argc, argv, "i:q:n:d:b:f:s:ph", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!*optarg || strlen(optarg) >= IFNAMSIZ)
                bad_usage("--interface: '%s' is not an interface name", optarg);
            o->ifname = optarg;
            break;
        case 'q': o->queue = (unsigned)parse_u64("--queue", optarg, 0, 65535); break;
        case OPT_NETNS:
            if (!*optarg || strchr(optarg, '/') || !strcmp(optarg, ".") || !strcmp(optarg, ".."))
                bad_usage("--netns: '%s' is not a namespace name", optarg);
            o->netns = optarg;
            break;
        case 'n': o->count = parse_u64("--count", optarg, 1, UINT64_MAX); break;
        case 'd': {
            char *end;
            errno = 0;
            double d = strtod(optarg, &end);
            if (errno || *end || !*optarg || !(d > 0) || d > 86400)
                bad_usage("--duration: '%s' is not a number of seconds in (0, 86400]", optarg);
            o->duration = d;
            break;
        }
        case 'b': o->batch = (unsigned)parse_u64("--batch", optarg, 1, RING_SIZE); break;
        case 'f':
            o->frame_size = (unsigned)parse_u64("--frame-size", optarg, 0, UINT32_MAX);
            if (o->frame_size != 2048 && o->frame_size != 4096)
                bad_usage("--frame-size: %u is not 2048 or 4096", o->frame_size);
            break;
        case OPT_FRAMES: o->frames = (unsigned)parse_u64("--frames", optarg, 1, 1u << 20); break;
        case 's': o->packet_size = (unsigned)parse_u64("--packet-size", optarg, 0, UINT32_MAX); break;
        case OPT_ATTACH:
            if (!strcmp(optarg, "native"))
                o->attach_generic = false;
            else if (!strcmp(optarg, "generic"))
                o->attach_generic = true;
            else
                bad_usage("--attach: '%s' is not native or generic", optarg);
            break;
        case OPT_NO_NEED_WAKEUP: o->need_wakeup = false; break;
        case 'p': o->poll = true; break;
        case OPT_CPU: o->cpu = (int)parse_u64("--cpu", optarg, 0, CPU_SETSIZE - 1); break;
        case OPT_JSON: o->json = true; break;
        case OPT_BPF_OBJECT:
            if (!*optarg)
                bad_usage("--bpf-object: empty path");
            o->bpf_object = optarg;
            o->libxdp_program = false;
            break;
        case OPT_PROGRAM:
            if (!strcmp(optarg, "libxdp"))
                o->libxdp_program = true;
            else if (!strcmp(optarg, "project"))
                o->libxdp_program = false;
            else
                bad_usage("--program: '%s' is not libxdp or project", optarg);
            break;
        case OPT_POLL_TIMEOUT: o->poll_timeout_ms = (int)parse_u64("--poll-timeout", optarg, 0, 60000); break;
        case OPT_SRC_MAC: parse_mac("--src-mac", optarg, o->src_mac); o->src_mac_set = true; break;
        case OPT_DST_MAC: parse_mac("--dst-mac", optarg, o->dst_mac); break;
        case OPT_SRC_IP: parse_ip("--src-ip", optarg, &o->src_ip); break;
        case OPT_DST_IP: parse_ip("--dst-ip", optarg, &o->dst_ip); break;
        case OPT_SRC_PORT: o->src_port = (uint16_t)parse_u64("--src-port", optarg, 0, 65535); break;
        case OPT_DST_PORT: o->dst_port = (uint16_t)parse_u64("--dst-port", optarg, 0, 65535); break;
        case 'h': usage(stdout); exit(0);
        default: fputs("(xdpref --help for usage)\n", stderr); exit(EXIT_USAGE);
        }
    }
    if (optind < argc)
        bad_usage("unexpected argument '%s'", argv[optind]);
    if (!o->ifname)
        bad_usage("-i IFACE is required");
    if (o->frames < o->batch)
        bad_usage("--frames (%u) must be at least --batch (%u)", o->frames, o->batch);
    if ((uint64_t)o->frames * o->frame_size > (1ull << 32))
        bad_usage("--frames %u x --frame-size %u is more than 4 GiB of UMEM", o->frames, o->frame_size);
    size_t min_packet = sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
    if (o->packet_size < min_packet || o->packet_size > o->frame_size)
        bad_usage("--packet-size: %u is out of range %zu..%u (frame size)", o->packet_size, min_packet,
                  o->frame_size);
}

// ---------------------------------------------------------------------------
// Setup

static int enter_netns(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "xdpref: --netns %s: open %s: %s\n", name, path, strerror(errno));
        return -1;
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        fprintf(stderr, "xdpref: --netns %s: setns: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

// MTU and MAC of the interface (in the current namespace).
static int interface_info(const char *ifname, int *mtu, uint8_t mac[6]) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int rc = ioctl(s, SIOCGIFMTU, &ifr);
    if (rc == 0) {
        *mtu = ifr.ifr_mtu;
        rc = ioctl(s, SIOCGIFHWADDR, &ifr);
        if (rc == 0)
            memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    }
    close(s);
    return rc;
}

static uint32_t round_up_pow2(uint32_t v) {
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

// Default BPF object: xdp_redirect.bpf.o in the executable's directory.
static char *default_bpf_object(void) {
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
    if (n <= 0)
        return "xdp_redirect.bpf.o";
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "xdp_redirect.bpf.o");
    return path;
}

static uint16_t ip_checksum(const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

// One Ethernet/IPv4/UDP packet of opt->packet_size bytes (no FCS). UDP
// checksum 0 (none), which IPv4 allows.
static void build_packet(const struct options *o, const uint8_t src_mac[6], uint8_t *pkt) {
    unsigned len = o->packet_size;
    memset(pkt, 0, len);
    struct ethhdr *eth = (struct ethhdr *)pkt;
    memcpy(eth->h_dest, o->dst_mac, 6);
    memcpy(eth->h_source, src_mac, 6);
    eth->h_proto = htons(ETH_P_IP);
    struct iphdr *ip = (struct iphdr *)(eth + 1);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons((uint16_t)(len - sizeof(*eth)));
    ip->id = 0;
    ip->frag_off = htons(0x4000); // DF
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->saddr = o->src_ip.s_addr;
    ip->daddr = o->dst_ip.s_addr;
    ip->check = ip_checksum(ip, sizeof(*ip));
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    udp->source = htons(o->src_port);
    udp->dest = htons(o->dst_port);
    udp->len = htons((uint16_t)(len - sizeof(*eth) - sizeof(*ip)));
    udp->check = 0;
    uint8_t *payload = (uint8_t *)(udp + 1);
    for (unsigned i = 0; i < len - (unsigned)(payload - pkt); i++)
        payload[i] = (uint8_t)i;
}

// ---------------------------------------------------------------------------
// The loops (after xdpsock's rx_drop, tx_only and l2fwd)

static inline void kick_tx(struct state *s) {
    if (sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
        return;
    if (errno == ENOBUFS || errno == EAGAIN || errno == EBUSY || errno == ENETDOWN || errno == EINTR)
        return;
    fprintf(stderr, "xdpref: sendto (TX kick): %s\n", strerror(errno));
    s->failed = true;
}

static inline void wake_fill(struct state *s) {
    recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static inline void wait_rx(struct state *s) {
    poll(&s->pfd, 1, 1);
}

// -p, as xdpsock: poll() before every batch, with its timeout; a batch only
// when poll() says the socket is ready.
static inline bool poll_ready(struct state *s) {
    return poll(&s->pfd, 1, s->opt->poll_timeout_ms) > 0;
}

// rxdrop: at most `budget` packets from RX straight back to the fill ring.
static inline void rx_drop(struct state *s, unsigned budget) {
    unsigned batch = s->opt->batch < budget ? s->opt->batch : budget;
    uint32_t idx_rx = 0, idx_fq = 0;

    if (s->opt->poll && !poll_ready(s))
        return;
    unsigned rcvd = xsk_ring_cons__peek(&s->rx, batch, &idx_rx);
    if (!rcvd) {
        if (xsk_ring_prod__needs_wakeup(&s->fill))
            wake_fill(s);
        if (!s->opt->poll)
            wait_rx(s);
        return;
    }
    unsigned ret = xsk_ring_prod__reserve(&s->fill, rcvd, &idx_fq);
    while (ret != rcvd) {
        if (xsk_ring_prod__needs_wakeup(&s->fill))
            wake_fill(s);
        ret = xsk_ring_prod__reserve(&s->fill, rcvd, &idx_fq);
    }
    uint64_t bytes = 0;
    for (unsigned i = 0; i < rcvd; i++) {
        const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&s->rx, idx_rx++);
        bytes += desc->len;
        *xsk_ring_prod__fill_addr(&s->fill, idx_fq++) = xsk_umem__extract_addr(desc->addr);
    }
    xsk_ring_prod__submit(&s->fill, rcvd);
    xsk_ring_cons__release(&s->rx, rcvd);
    s->rx_packets += rcvd;
    s->rx_bytes += bytes;
}

// txonly: collect completions (frames go back to the free pool).
static inline void complete_tx_only(struct state *s) {
    if (!s->outstanding_tx)
        return;
    if (!s->opt->need_wakeup || xsk_ring_prod__needs_wakeup(&s->tx))
        kick_tx(s);
    uint32_t idx_cq = 0;
    unsigned rcvd = xsk_ring_cons__peek(&s->comp, s->opt->batch, &idx_cq);
    if (rcvd) {
        xsk_ring_cons__release(&s->comp, rcvd);
        s->outstanding_tx -= rcvd;
        s->tx_completed += rcvd;
        s->tx_bytes += (uint64_t)rcvd * s->opt->packet_size;
    }
}

// txonly: at most `budget` more packets onto TX. Every frame holds the same
// pre-written packet; a frame is reused only after its completion.
static inline void tx_only(struct state *s, uint64_t budget) {
    const struct options *o = s->opt;
    uint32_t idx = 0;

    complete_tx_only(s);
    uint64_t n = o->batch;
    if (n > budget)
        n = budget;
    if (n > o->frames - s->outstanding_tx)
        n = o->frames - s->outstanding_tx;
    if (!n)
        return;
    if (xsk_ring_prod__reserve(&s->tx, (uint32_t)n, &idx) != n)
        return;
    uint32_t frame = s->tx_frame;
    for (uint32_t i = 0; i < n; i++) {
        struct xdp_desc *desc = xsk_ring_prod__tx_desc(&s->tx, idx + i);
        desc->addr = (uint64_t)frame * o->frame_size;
        desc->len = o->packet_size;
        if (++frame == o->frames)
            frame = 0;
    }
    s->tx_frame = frame;
    xsk_ring_prod__submit(&s->tx, (uint32_t)n);
    s->tx_submitted += n;
    s->outstanding_tx += (uint32_t)n;
    if (!o->need_wakeup || xsk_ring_prod__needs_wakeup(&s->tx))
        kick_tx(s);
}

// l2fwd: completions back onto the fill ring.
static inline void complete_tx_l2fwd(struct state *s) {
    if (!s->outstanding_tx)
        return;
    if (!s->opt->need_wakeup || xsk_ring_prod__needs_wakeup(&s->tx))
        kick_tx(s);
    unsigned ndescs = s->outstanding_tx > s->opt->batch ? s->opt->batch : s->outstanding_tx;
    uint32_t idx_cq = 0, idx_fq = 0;
    unsigned rcvd = xsk_ring_cons__peek(&s->comp, ndescs, &idx_cq);
    if (!rcvd)
        return;
    unsigned ret = xsk_ring_prod__reserve(&s->fill, rcvd, &idx_fq);
    while (ret != rcvd) {
        if (xsk_ring_prod__needs_wakeup(&s->fill))
            wake_fill(s);
        ret = xsk_ring_prod__reserve(&s->fill, rcvd, &idx_fq);
    }
    for (unsigned i = 0; i < rcvd; i++)
        *xsk_ring_prod__fill_addr(&s->fill, idx_fq++) = *xsk_ring_cons__comp_addr(&s->comp, idx_cq++);
    xsk_ring_prod__submit(&s->fill, rcvd);
    xsk_ring_cons__release(&s->comp, rcvd);
    s->outstanding_tx -= rcvd;
    s->tx_completed += rcvd;
}

static inline void swap_macs(uint8_t *pkt) {
    uint8_t tmp[6];
    memcpy(tmp, pkt, 6);
    memcpy(pkt, pkt + 6, 6);
    memcpy(pkt + 6, tmp, 6);
}

// l2fwd: at most `budget` packets from RX, MACs swapped, onto TX.
static inline void l2fwd(struct state *s, unsigned budget) {
    unsigned batch = s->opt->batch < budget ? s->opt->batch : budget;
    uint32_t idx_rx = 0, idx_tx = 0;

    complete_tx_l2fwd(s);
    if (s->opt->poll && !poll_ready(s))
        return;
    unsigned rcvd = xsk_ring_cons__peek(&s->rx, batch, &idx_rx);
    if (!rcvd) {
        if (xsk_ring_prod__needs_wakeup(&s->fill))
            wake_fill(s);
        if (!s->opt->poll && !s->outstanding_tx)
            wait_rx(s);
        return;
    }
    unsigned ret = xsk_ring_prod__reserve(&s->tx, rcvd, &idx_tx);
    while (ret != rcvd) {
        complete_tx_l2fwd(s);
        if (s->failed || stop_requested) {
            xsk_ring_cons__cancel(&s->rx, rcvd); // left on RX; the socket is going away
            return;
        }
        if (!s->opt->need_wakeup || xsk_ring_prod__needs_wakeup(&s->tx))
            kick_tx(s);
        ret = xsk_ring_prod__reserve(&s->tx, rcvd, &idx_tx);
    }
    uint64_t bytes = 0;
    for (unsigned i = 0; i < rcvd; i++) {
        const struct xdp_desc *rxd = xsk_ring_cons__rx_desc(&s->rx, idx_rx++);
        uint64_t addr = xsk_umem__add_offset_to_addr(rxd->addr);
        swap_macs(xsk_umem__get_data(s->umem_area, addr));
        struct xdp_desc *txd = xsk_ring_prod__tx_desc(&s->tx, idx_tx++);
        txd->addr = rxd->addr;
        txd->len = rxd->len;
        bytes += rxd->len;
    }
    xsk_ring_prod__submit(&s->tx, rcvd);
    xsk_ring_cons__release(&s->rx, rcvd);
    s->outstanding_tx += rcvd;
    s->tx_submitted += rcvd;
    s->rx_packets += rcvd;
    s->rx_bytes += bytes;
    s->tx_bytes += bytes; // l2fwd sends what it received
}

// The packets this mode counts (what --count limits and pps reports).
static inline uint64_t counted(const struct state *s) {
    return s->opt->mode == MODE_TXONLY ? s->tx_completed : s->rx_packets;
}

struct run_times {
    uint64_t start, first, last, end; // ns; first/last: first and last packet seen
};

static void run_loop(struct state *s, struct run_times *t) {
    const struct options *o = s->opt;
    const uint64_t limit = o->count ? o->count : UINT64_MAX;
    uint64_t now = now_ns();
    const uint64_t deadline = now + (uint64_t)(o->duration * 1e9);
    uint64_t next_report = now + 1000000000ull, last_report = now, reported = 0, reported_tx = 0;
    uint64_t drain_deadline = 0;
    t->start = now;
    t->first = t->last = 0;

    for (;;) {
        uint64_t before = counted(s);
        bool draining = stop_requested || now >= deadline;
        if (o->mode == MODE_TXONLY) {
            // Submission stops at the limit or the end; completions are collected until
            // everything submitted is out (or DRAIN_NS has passed).
            uint64_t budget = draining ? 0 : limit - s->tx_submitted;
            if (budget)
                tx_only(s, budget);
            else
                complete_tx_only(s);
        } else {
            uint64_t left = draining ? 0 : limit - s->rx_packets;
            unsigned budget = left > UINT_MAX ? UINT_MAX : (unsigned)left;
            if (o->mode == MODE_RXDROP) {
                if (budget)
                    rx_drop(s, budget);
            } else if (budget) {
                l2fwd(s, budget);
            } else {
                complete_tx_l2fwd(s);
            }
        }
        now = now_ns();
        if (counted(s) != before) {
            if (!t->first)
                t->first = now;
            t->last = now;
        }
        if (s->failed)
            break;
        if (now >= next_report) {
            double secs = (double)(now - last_report) / 1e9;
            uint64_t c = counted(s);
            if (o->mode == MODE_L2FWD)
                fprintf(stderr, "%s: %.2f Mpps (tx %.2f Mpps)\n", mode_names[o->mode],
                        (double)(c - reported) / secs / 1e6,
                        (double)(s->tx_completed - reported_tx) / secs / 1e6);
            else
                fprintf(stderr, "%s: %.2f Mpps\n", mode_names[o->mode], (double)(c - reported) / secs / 1e6);
            reported = c;
            reported_tx = s->tx_completed;
            last_report = now;
            next_report = now + 1000000000ull;
        }
        // Done receiving/sending: the limit reached, the time up, or a signal.
        bool done = draining || counted(s) >= limit ||
                    (o->mode == MODE_TXONLY && s->tx_submitted >= limit);
        if (done) {
            if (o->mode == MODE_RXDROP || !s->outstanding_tx)
                break;
            if (!drain_deadline)
                drain_deadline = now + DRAIN_NS;
            else if (now >= drain_deadline)
                break;
        }
    }
    t->end = now;
}

// ---------------------------------------------------------------------------

struct xdp_attachment {
    struct bpf_object *obj;
    int prog_fd;
    int ifindex;
    uint32_t flags;
    bool attached;
};

static int load_program(struct xdp_attachment *a, const char *path, int *xsks_fd) {
    a->obj = bpf_object__open_file(path, NULL);
    if (!a->obj) {
        fprintf(stderr, "xdpref: open BPF object %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Only the plain redirect program: the object also holds the frags and
     * the device-bound RX metadata entry points, which the kernel refuses to
     * load unbound. */
    struct bpf_program *each;
    bpf_object__for_each_program(each, a->obj)
        bpf_program__set_autoload(each, strcmp(bpf_program__name(each), "xdp_redirect_queues") == 0);
    int err = bpf_object__load(a->obj);
    if (err) {
        fprintf(stderr, "xdpref: load BPF object %s: %s\n", path, strerror(-err));
        return -1;
    }
    struct bpf_program *prog = bpf_object__find_program_by_name(a->obj, "xdp_redirect_queues");
    if (!prog) {
        fprintf(stderr, "xdpref: %s has no program xdp_redirect_queues\n", path);
        return -1;
    }
    a->prog_fd = bpf_program__fd(prog);
    *xsks_fd = bpf_object__find_map_fd_by_name(a->obj, "xsks");
    if (*xsks_fd < 0) {
        fprintf(stderr, "xdpref: %s has no map xsks\n", path);
        return -1;
    }
    return 0;
}

static void detach_program(struct xdp_attachment *a) {
    if (!a->attached)
        return;
    // Only our own program: XDP_FLAGS_REPLACE with old_prog_fd = ours.
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = a->prog_fd);
    int err = bpf_xdp_detach(a->ifindex, a->flags, &opts);
    if (err)
        fprintf(stderr, "xdpref: detach XDP program from ifindex %d: %s\n", a->ifindex, strerror(-err));
    a->attached = false;
}

static void print_results(const struct options *o, const struct state *s, const struct run_times *t,
                          const struct xdp_statistics *st, bool have_stats, bool zerocopy) {
    uint64_t packets = counted(s);
    uint64_t bytes = o->mode == MODE_TXONLY ? s->tx_bytes : s->rx_bytes;
    double duration = t->first && t->last > t->first ? (double)(t->last - t->first) / 1e9 : 0.0;
    double elapsed = (double)(t->end - t->start) / 1e9;
    double pps = duration > 0 ? (double)packets / duration : 0.0;
    if (o->json) {
        printf("{\"tool\":\"xdpref\",\"mode\":\"%s\",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"duration_s\":%.6f,\"pps\":%.1f,",
               mode_names[o->mode], packets, bytes, duration, pps);
        if (have_stats)
            printf("\"xdp_statistics\":{\"rx_dropped\":%llu,\"rx_invalid_descs\":%llu,"
                   "\"tx_invalid_descs\":%llu,\"rx_ring_full\":%llu,\"rx_fill_ring_empty_descs\":%llu,"
                   "\"tx_ring_empty_descs\":%llu},",
                   (unsigned long long)st->rx_dropped, (unsigned long long)st->rx_invalid_descs,
                   (unsigned long long)st->tx_invalid_descs, (unsigned long long)st->rx_ring_full,
                   (unsigned long long)st->rx_fill_ring_empty_descs,
                   (unsigned long long)st->tx_ring_empty_descs);
        else
            printf("\"xdp_statistics\":null,");
        printf("\"rx_packets\":%" PRIu64 ",\"tx_packets\":%" PRIu64 ",\"elapsed_s\":%.6f,"
               "\"interface\":\"%s\",\"queue\":%u,\"batch\":%u,\"frame_size\":%u,\"frames\":%u,"
               "\"packet_size\":%u,\"attach\":\"%s\",\"zerocopy\":%s,\"need_wakeup\":%s,\"poll\":%s,"
               "\"cpu\":%d}\n",
               s->rx_packets, s->tx_completed, elapsed, o->ifname, o->queue, o->batch, o->frame_size,
               o->frames, o->packet_size,
               o->mode == MODE_TXONLY ? "none" : (o->attach_generic ? "generic" : "native"),
               zerocopy ? "true" : "false", o->need_wakeup ? "true" : "false", o->poll ? "true" : "false",
               o->cpu);
    } else {
        printf("%s: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s: %.3f Mpps", mode_names[o->mode],
               packets, bytes, duration, pps / 1e6);
        if (o->mode == MODE_L2FWD)
            printf(", %" PRIu64 " sent", s->tx_completed);
        printf(" (%s, %s", zerocopy ? "zero-copy" : "copy",
               o->mode == MODE_TXONLY ? "no program" : (o->attach_generic ? "generic XDP" : "native XDP"));
        if (have_stats)
            printf("; rx_dropped %llu, rx_invalid_descs %llu, tx_invalid_descs %llu, rx_ring_full %llu, "
                   "rx_fill_ring_empty_descs %llu, tx_ring_empty_descs %llu",
                   (unsigned long long)st->rx_dropped, (unsigned long long)st->rx_invalid_descs,
                   (unsigned long long)st->tx_invalid_descs, (unsigned long long)st->rx_ring_full,
                   (unsigned long long)st->rx_fill_ring_empty_descs,
                   (unsigned long long)st->tx_ring_empty_descs);
        printf(")\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    struct options o;
    parse_options(argc, argv, &o);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal; // no SA_RESTART: poll() and friends return EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (err) {
            fprintf(stderr, "xdpref: --cpu %d: %s\n", o.cpu, strerror(err));
            return EXIT_USAGE;
        }
    }
    if (o.netns && enter_netns(o.netns) < 0)
        return EXIT_RUNTIME;

    int ifindex = (int)if_nametoindex(o.ifname);
    if (!ifindex) {
        fprintf(stderr, "xdpref: interface %s: %s\n", o.ifname, strerror(errno));
        return EXIT_RUNTIME;
    }
    int mtu = 0;
    uint8_t if_mac[6] = {0};
    if (interface_info(o.ifname, &mtu, if_mac) < 0) {
        fprintf(stderr, "xdpref: interface %s: %s\n", o.ifname, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (o.mode == MODE_TXONLY && o.packet_size > (unsigned)mtu + sizeof(struct ethhdr)) {
        fprintf(stderr, "xdpref: --packet-size %u is more than %s's MTU %d + 14\n", o.packet_size, o.ifname, mtu);
        return EXIT_USAGE;
    }

    int rc = EXIT_RUNTIME;
    struct state s = {.opt = &o, .fd = -1};
    struct xdp_attachment prog = {.prog_fd = -1, .ifindex = ifindex};
    struct xdp_statistics stats = {0};
    bool have_stats = false, zerocopy = false;
    struct run_times times = {0};
    int xsks_fd = -1;
    bool rx = o.mode != MODE_TXONLY, tx = o.mode != MODE_RXDROP;

    if (rx && !o.libxdp_program && load_program(&prog, o.bpf_object ? o.bpf_object : default_bpf_object(), &xsks_fd) < 0)
        goto out;

    s.umem_size = (size_t)o.frames * o.frame_size;
    s.umem_area = mmap(NULL, s.umem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (s.umem_area == MAP_FAILED) {
        s.umem_area = NULL;
        fprintf(stderr, "xdpref: mmap UMEM (%zu bytes): %s\n", s.umem_size, strerror(errno));
        goto out;
    }
    uint32_t fill_size = round_up_pow2(o.frames);
    if (fill_size < RING_SIZE)
        fill_size = RING_SIZE;
    struct xsk_umem_config ucfg = {
        .fill_size = fill_size,
        .comp_size = RING_SIZE,
        .frame_size = o.frame_size,
        .frame_headroom = 0,
        .flags = 0,
    };
    uint32_t xdp_flags = o.attach_generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    struct xsk_socket_config xcfg = {
        .rx_size = RING_SIZE,
        .tx_size = RING_SIZE,
        // libxdp's program: xsk_socket__create loads and attaches it and puts
        // the socket in its map (xdpsock's way); else ours, attached below.
        .libxdp_flags = rx && o.libxdp_program ? 0 : XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .xdp_flags = xdp_flags,
        .bind_flags = o.need_wakeup ? XDP_USE_NEED_WAKEUP : 0,
    };
    // The kernel releases a closed socket's hold on the queue asynchronously, so
    // a bind right after another socket on the queue went away can fail with
    // EBUSY for a moment. Retry with a fresh UMEM (libxdp's first socket binds
    // with the UMEM's own rings, which a failed attempt may have used).
    int err;
    for (unsigned attempt = 0;; attempt++) {
        err = xsk_umem__create(&s.umem, s.umem_area, s.umem_size, &s.fill, &s.comp, &ucfg);
        if (err) {
            fprintf(stderr, "xdpref: xsk_umem__create: %s\n", strerror(-err));
            s.umem = NULL;
            goto out;
        }
        err = xsk_socket__create(&s.xsk, o.ifname, o.queue, s.umem, rx ? &s.rx : NULL, tx ? &s.tx : NULL, &xcfg);
        if (!err) {
            if (attempt)
                fprintf(stderr, "xdpref: bound %s queue %u after %u EBUSY retr%s\n", o.ifname, o.queue, attempt,
                        attempt == 1 ? "y" : "ies");
            break;
        }
        s.xsk = NULL;
        xsk_umem__delete(s.umem);
        s.umem = NULL;
        if (err != -EBUSY || attempt == 20 || stop_requested) {
            fprintf(stderr, "xdpref: xsk_socket__create(%s, queue %u): %s%s\n", o.ifname, o.queue, strerror(-err),
                    err == -EBUSY    ? " (another AF_XDP socket holds the queue)"
                    : err == -EINVAL ? " (queue id out of range for the interface?)"
                                     : "");
            goto out;
        }
        usleep(50000);
    }
    s.fd = xsk_socket__fd(s.xsk);
    s.pfd = (struct pollfd){.fd = s.fd, .events = POLLIN};
    struct xdp_options xopt = {0};
    socklen_t xopt_len = sizeof(xopt);
    if (getsockopt(s.fd, SOL_XDP, XDP_OPTIONS, &xopt, &xopt_len) == 0)
        zerocopy = xopt.flags & XDP_OPTIONS_ZEROCOPY;

    if (o.mode == MODE_TXONLY) {
        // The packet, written once into every frame.
        uint8_t *pkt = xsk_umem__get_data(s.umem_area, 0);
        build_packet(&o, o.src_mac_set ? o.src_mac : if_mac, pkt);
        for (uint32_t i = 1; i < o.frames; i++)
            memcpy(xsk_umem__get_data(s.umem_area, (uint64_t)i * o.frame_size), pkt, o.packet_size);
    } else {
        // Every frame onto the fill ring.
        uint32_t idx = 0;
        if (xsk_ring_prod__reserve(&s.fill, o.frames, &idx) != o.frames) {
            fprintf(stderr, "xdpref: could not reserve %u fill ring entries\n", o.frames);
            goto out;
        }
        for (uint32_t i = 0; i < o.frames; i++)
            *xsk_ring_prod__fill_addr(&s.fill, idx++) = (uint64_t)i * o.frame_size;
        xsk_ring_prod__submit(&s.fill, o.frames);

        if (o.libxdp_program) // attached by xsk_socket__create; xsk_socket__delete detaches it
            goto attached;
        // Socket into xsks[queue] first, then attach: the program never runs without it.
        uint32_t key = o.queue;
        int value = s.fd;
        if (bpf_map_update_elem(xsks_fd, &key, &value, BPF_ANY)) {
            fprintf(stderr, "xdpref: xsks[%u] = socket: %s\n", o.queue, strerror(errno));
            goto out;
        }
        // UPDATE_IF_NOEXIST: never replace (and later detach) someone else's program.
        prog.flags = xdp_flags;
        err = bpf_xdp_attach(ifindex, prog.prog_fd, xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
        if (err) {
            if (err == -EBUSY || err == -EEXIST)
                fprintf(stderr, "xdpref: %s already has an XDP program attached\n", o.ifname);
            else
                fprintf(stderr, "xdpref: attach XDP program (%s) to %s: %s\n",
                        o.attach_generic ? "generic" : "native", o.ifname, strerror(-err));
            goto out;
        }
        prog.attached = true;
    }
attached:

    if (!stop_requested) {
        run_loop(&s, &times);
        if (s.failed)
            goto out;
    } else {
        times.start = times.end = now_ns();
    }

    socklen_t slen = sizeof(stats);
    if (getsockopt(s.fd, SOL_XDP, XDP_STATISTICS, &stats, &slen) == 0)
        have_stats = true;
    else
        fprintf(stderr, "xdpref: getsockopt XDP_STATISTICS: %s\n", strerror(errno));

    detach_program(&prog); // before the socket goes: no packets to a closing socket
    print_results(&o, &s, &times, &stats, have_stats, zerocopy);
    if (o.count && counted(&s) < o.count) {
        fprintf(stderr, "xdpref: stopped after %" PRIu64 " of %" PRIu64 " packets (%s)\n", counted(&s), o.count,
                stop_requested ? "signal" : "duration");
        rc = EXIT_SHORT;
    } else {
        rc = 0;
    }

out:
    detach_program(&prog);
    if (s.xsk)
        xsk_socket__delete(s.xsk);
    if (s.umem)
        xsk_umem__delete(s.umem);
    if (s.umem_area)
        munmap(s.umem_area, s.umem_size);
    if (prog.obj)
        bpf_object__close(prog.obj);
    return rc;
}
