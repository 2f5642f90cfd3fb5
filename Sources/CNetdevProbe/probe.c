// CXDP probes: netdev generic-netlink XDP features, ethtool driver/channels,
// link basics. See cxdp_probe.h. Self-contained: system headers only, and
// the netdev family's constants are spelled out here because Debian 12's
// kernel headers (6.1) predate <linux/netdev.h>.
#define _GNU_SOURCE

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <linux/sockios.h>
#include <linux/ethtool.h>

#include "cxdp_probe.h"

// ---- constants newer than the build machine's headers ----------------------

#ifndef NETDEV_FAMILY_NAME
#define NETDEV_FAMILY_NAME "netdev"
#endif
#ifndef NETDEV_FAMILY_VERSION
#define NETDEV_FAMILY_VERSION 1
#endif
#ifndef NETDEV_CMD_DEV_GET
#define NETDEV_CMD_DEV_GET 1
#endif
#ifndef NETDEV_A_DEV_IFINDEX
#define NETDEV_A_DEV_IFINDEX 1
#endif
#ifndef NETDEV_A_DEV_PAD
#define NETDEV_A_DEV_PAD 2
#endif
#ifndef NETDEV_A_DEV_XDP_FEATURES
#define NETDEV_A_DEV_XDP_FEATURES 3
#endif
#ifndef NETDEV_A_DEV_XDP_ZC_MAX_SEGS
#define NETDEV_A_DEV_XDP_ZC_MAX_SEGS 4
#endif
#ifndef NETDEV_A_DEV_XDP_RX_METADATA_FEATURES
#define NETDEV_A_DEV_XDP_RX_METADATA_FEATURES 5
#endif
#ifndef NETDEV_A_DEV_XSK_FEATURES
#define NETDEV_A_DEV_XSK_FEATURES 6
#endif
#ifndef NLA_TYPE_MASK
#define NLA_TYPE_MASK 0x3fff  /* ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) */
#endif

// ---- netlink plumbing -------------------------------------------------------

#define CXDP_NL_RCVBUF 16384  /* >= 8 KiB, as asked; one reply is far smaller */
#define CXDP_NL_REQBUF 256

/// Builds requests in place: one nlmsghdr + genlmsghdr + a few attributes.
struct cxdp_nl_req {
    union {
        struct nlmsghdr nh;
        unsigned char bytes[CXDP_NL_REQBUF];
    } u;
};

static void nl_req_init(struct cxdp_nl_req *r, uint16_t type, uint16_t flags,
                        uint32_t seq, uint8_t cmd, uint8_t version)
{
    memset(r, 0, sizeof(*r));
    r->u.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    r->u.nh.nlmsg_type = type;
    r->u.nh.nlmsg_flags = flags;
    r->u.nh.nlmsg_seq = seq;
    r->u.nh.nlmsg_pid = 0;
    struct genlmsghdr *g = (struct genlmsghdr *)NLMSG_DATA(&r->u.nh);
    g->cmd = cmd;
    g->version = version;
}

/// Appends one attribute; -EMSGSIZE when the request buffer would overflow.
static int nl_req_put(struct cxdp_nl_req *r, uint16_t type,
                      const void *data, size_t len)
{
    size_t at = NLMSG_ALIGN(r->u.nh.nlmsg_len);
    size_t alen = NLA_HDRLEN + len;
    if (len > UINT16_MAX - NLA_HDRLEN || at + NLA_ALIGN(alen) > sizeof(r->u.bytes))
        return -EMSGSIZE;
    struct nlattr *a = (struct nlattr *)(r->u.bytes + at);
    a->nla_len = (uint16_t)alen;
    a->nla_type = type;
    if (len)
        memcpy(r->u.bytes + at + NLA_HDRLEN, data, len);
    // Zero the alignment tail (memset in init already did, but be explicit).
    memset(r->u.bytes + at + alen, 0, NLA_ALIGN(alen) - alen);
    r->u.nh.nlmsg_len = (uint32_t)(at + NLA_ALIGN(alen));
    return 0;
}

static int nl_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0)
        return -errno;
    struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct sockaddr_nl local;
    memset(&local, 0, sizeof(local));
    local.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/// Called for every reply message that is not NLMSG_ERROR / NLMSG_DONE /
/// NLMSG_NOOP. Receives the genetlink payload (after genlmsghdr) as bounded
/// attribute bytes. Returns 0 to go on, -errno to fail the transaction.
typedef int (*nl_msg_fn)(const unsigned char *attrs, size_t len, void *ctx);

/// Sends one request and reads replies until the kernel's ack (or error).
/// Returns 0 on ack, the kernel's -errno on an error reply, -ETIMEDOUT when
/// nothing comes within SO_RCVTIMEO, or a local -errno.
static int nl_transact(int fd, struct cxdp_nl_req *req, uint16_t want_type,
                       nl_msg_fn fn, void *ctx)
{
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;

    const uint32_t seq = req->u.nh.nlmsg_seq;
    ssize_t sent;
    do {
        sent = sendto(fd, req->u.bytes, req->u.nh.nlmsg_len, 0,
                      (struct sockaddr *)&kernel, sizeof(kernel));
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -errno;
    if ((size_t)sent != req->u.nh.nlmsg_len)
        return -EIO;

    // Aligned for struct nlmsghdr.
    union {
        struct nlmsghdr nh;
        unsigned char bytes[CXDP_NL_RCVBUF];
    } buf;

    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = { .iov_base = buf.bytes, .iov_len = sizeof(buf.bytes) };
        struct msghdr mh;
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = &from;
        mh.msg_namelen = sizeof(from);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;

        ssize_t n = recvmsg(fd, &mh, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -ETIMEDOUT;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        if (mh.msg_flags & MSG_TRUNC)
            return -EMSGSIZE;
        if (mh.msg_namelen < sizeof(struct sockaddr_nl) || from.nl_pid != 0)
            continue;  // not from the kernel

        size_t left = (size_t)n;
        for (struct nlmsghdr *nh = &buf.nh; NLMSG_OK(nh, left);
             nh = NLMSG_NEXT(nh, left)) {
            if (nh->nlmsg_seq != seq)
                continue;  // stale answer to something else
            if (nh->nlmsg_type == NLMSG_NOOP)
                continue;
            if (nh->nlmsg_type == NLMSG_DONE)
                return 0;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                    return -EIO;
                const struct nlmsgerr *err = (const struct nlmsgerr *)NLMSG_DATA(nh);
                // error 0 is the ack; otherwise a negative errno.
                if (err->error > 0)
                    return -EIO;
                return err->error;
            }
            if (nh->nlmsg_type != want_type)
                continue;
            if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
                return -EIO;
            const unsigned char *attrs =
                (const unsigned char *)NLMSG_DATA(nh) + GENL_HDRLEN;
            size_t alen = nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
            int rc = fn(attrs, alen, ctx);
            if (rc < 0)
                return rc;
        }
        // A partial message at the tail would be a kernel bug; NLMSG_OK
        // stops before it and we read on (the ack is still to come).
    }
}

/// Walks attributes in [p, p+len) with full bounds checks.
/// Calls back (type, payload, payload_len) for each well-formed one.
typedef void (*nla_fn)(uint16_t type, const unsigned char *data, size_t len,
                       void *ctx);

static int nla_walk(const unsigned char *p, size_t len, nla_fn fn, void *ctx)
{
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        memcpy(&a, p, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
            return -EIO;
        fn((uint16_t)(a.nla_type & NLA_TYPE_MASK), p + NLA_HDRLEN,
           (size_t)a.nla_len - NLA_HDRLEN, ctx);
        size_t step = NLA_ALIGN(a.nla_len);
        if (step >= len)
            break;
        p += step;
        len -= step;
    }
    return 0;
}

/// Reads an unsigned integer attribute of 1/2/4/8 bytes ("uint" attributes
/// in newer kernels may be sent as 4 bytes). Returns false on another size.
static bool nla_get_uint(const unsigned char *data, size_t len, uint64_t *v)
{
    switch (len) {
    case 1: { uint8_t x; memcpy(&x, data, 1); *v = x; return true; }
    case 2: { uint16_t x; memcpy(&x, data, 2); *v = x; return true; }
    case 4: { uint32_t x; memcpy(&x, data, 4); *v = x; return true; }
    case 8: { uint64_t x; memcpy(&x, data, 8); *v = x; return true; }
    default: return false;
    }
}

// ---- CTRL_CMD_GETFAMILY -----------------------------------------------------

struct family_ctx {
    bool found;
    uint16_t id;
};

static void family_attr(uint16_t type, const unsigned char *data, size_t len,
                        void *vctx)
{
    struct family_ctx *c = vctx;
    if (type == CTRL_ATTR_FAMILY_ID && len >= sizeof(uint16_t)) {
        uint16_t id;
        memcpy(&id, data, sizeof(id));
        c->id = id;
        c->found = true;
    }
}

static int family_msg(const unsigned char *attrs, size_t len, void *ctx)
{
    return nla_walk(attrs, len, family_attr, ctx);
}

/// Returns the family id (> 0), -ENOENT when there is no such family, or
/// another -errno.
static int nl_family_id(int fd, const char *name, uint32_t seq)
{
    struct cxdp_nl_req req;
    nl_req_init(&req, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq,
                CTRL_CMD_GETFAMILY, 1);
    int rc = nl_req_put(&req, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
    if (rc < 0)
        return rc;
    struct family_ctx ctx = { .found = false, .id = 0 };
    rc = nl_transact(fd, &req, GENL_ID_CTRL, family_msg, &ctx);
    if (rc < 0)
        return rc;
    if (!ctx.found || ctx.id == 0)
        return -ENOENT;
    return ctx.id;
}

// ---- NETDEV_CMD_DEV_GET -----------------------------------------------------

struct devget_ctx {
    struct cxdp_xdp_features *out;
    bool ifindex_ok;
    uint32_t ifindex;
};

static void devget_attr(uint16_t type, const unsigned char *data, size_t len,
                        void *vctx)
{
    struct devget_ctx *c = vctx;
    struct cxdp_xdp_features *o = c->out;
    uint64_t v;
    switch (type) {
    case NETDEV_A_DEV_IFINDEX:
        if (nla_get_uint(data, len, &v)) {
            c->ifindex_ok = true;
            c->ifindex = (uint32_t)v;
        }
        break;
    case NETDEV_A_DEV_XDP_FEATURES:
        if (nla_get_uint(data, len, &v))
            o->xdp_features = v;
        break;
    case NETDEV_A_DEV_XDP_ZC_MAX_SEGS:
        if (nla_get_uint(data, len, &v)) {
            o->has_zc_max_segs = true;
            o->xdp_zc_max_segs = (uint32_t)v;
        }
        break;
    case NETDEV_A_DEV_XDP_RX_METADATA_FEATURES:
        if (nla_get_uint(data, len, &v)) {
            o->has_rx_metadata = true;
            o->xdp_rx_metadata_features = v;
        }
        break;
    case NETDEV_A_DEV_XSK_FEATURES:
        if (nla_get_uint(data, len, &v)) {
            o->has_xsk_features = true;
            o->xsk_features = v;
        }
        break;
    default:
        break;  // NETDEV_A_DEV_PAD and anything newer
    }
}

static int devget_msg(const unsigned char *attrs, size_t len, void *vctx)
{
    struct devget_ctx *c = vctx;
    int rc = nla_walk(attrs, len, devget_attr, vctx);
    if (rc < 0)
        return rc;
    c->out->reported = true;
    return 0;
}

int cxdp_probe_xdp_features(int ifindex, struct cxdp_xdp_features *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (ifindex <= 0)
        return -EINVAL;

    int fd = nl_open();
    if (fd < 0)
        return fd;

    int rc = nl_family_id(fd, NETDEV_FAMILY_NAME, 1);
    if (rc == -ENOENT) {
        close(fd);
        return 0;  // kernel without the netdev family (< 6.3)
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    uint16_t family = (uint16_t)rc;

    struct cxdp_nl_req req;
    nl_req_init(&req, family, NLM_F_REQUEST | NLM_F_ACK, 2,
                NETDEV_CMD_DEV_GET, NETDEV_FAMILY_VERSION);
    uint32_t idx = (uint32_t)ifindex;
    rc = nl_req_put(&req, NETDEV_A_DEV_IFINDEX, &idx, sizeof(idx));
    if (rc == 0) {
        struct devget_ctx ctx = { .out = out, .ifindex_ok = false, .ifindex = 0 };
        rc = nl_transact(fd, &req, family, devget_msg, &ctx);
    }
    close(fd);

    if (rc == -ENODEV || rc == -ENOENT) {
        // No such device in this namespace: not reported.
        memset(out, 0, sizeof(*out));
        return 0;
    }
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    return 0;
}

// ---- ioctls -----------------------------------------------------------------

/// Fills ifr_name; -EINVAL for NULL/empty, -ENAMETOOLONG when it cannot fit.
static int ifreq_name(struct ifreq *ifr, const char *ifname)
{
    memset(ifr, 0, sizeof(*ifr));
    if (!ifname || !ifname[0])
        return -EINVAL;
    size_t n = strnlen(ifname, IFNAMSIZ);
    if (n >= IFNAMSIZ)
        return -ENAMETOOLONG;
    memcpy(ifr->ifr_name, ifname, n);
    ifr->ifr_name[n] = '\0';
    return 0;
}

/// One ioctl on a throwaway AF_INET datagram socket of the calling thread
/// (so it answers for that thread's network namespace).
static int ioctl_once(unsigned long req, struct ifreq *ifr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = ioctl(fd, req, ifr);
    int e = errno;
    close(fd);
    return rc < 0 ? -e : 0;
}

static void copy_str(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n = strnlen(src, srclen);
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    memset(dst + n, 0, dstlen - n);
}

/// One SIOCETHTOOL request on `ifname`; `request` starts with its ethtool cmd.
static int ethtool_request(const char *ifname, void *request)
{
    struct ifreq ifr;
    int rc = ifreq_name(&ifr, ifname);
    if (rc < 0)
        return rc;
    ifr.ifr_data = (char *)request;
    return ioctl_once(SIOCETHTOOL, &ifr);
}

int cxdp_probe_driver(const char *ifname, struct cxdp_driver_info *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    struct ethtool_drvinfo di;
    memset(&di, 0, sizeof(di));
    di.cmd = ETHTOOL_GDRVINFO;
    int rc = ethtool_request(ifname, &di);
    if (rc < 0)
        return rc;
    copy_str(out->driver, sizeof(out->driver), di.driver, sizeof(di.driver));
    copy_str(out->version, sizeof(out->version), di.version, sizeof(di.version));
    copy_str(out->firmware, sizeof(out->firmware), di.fw_version, sizeof(di.fw_version));
    copy_str(out->bus, sizeof(out->bus), di.bus_info, sizeof(di.bus_info));
    return 0;
}

int cxdp_probe_veth_peer(const char *ifname)
{
    struct ethtool_drvinfo di;
    memset(&di, 0, sizeof(di));
    di.cmd = ETHTOOL_GDRVINFO;
    int rc = ethtool_request(ifname, &di);
    if (rc < 0)
        return rc;
    if (strncmp(di.driver, "veth", sizeof(di.driver)) != 0 || di.n_stats == 0 || di.n_stats > 4096)
        return 0;
    size_t count = di.n_stats;
    struct ethtool_gstrings *names = calloc(1, sizeof(*names) + count * ETH_GSTRING_LEN);
    struct ethtool_stats *stats = calloc(1, sizeof(*stats) + count * sizeof(__u64));
    int peer = 0;
    if (!names || !stats) {
        peer = -ENOMEM;
        goto done;
    }
    names->cmd = ETHTOOL_GSTRINGS;
    names->string_set = ETH_SS_STATS;
    names->len = count;
    stats->cmd = ETHTOOL_GSTATS;
    stats->n_stats = count;
    if ((rc = ethtool_request(ifname, names)) < 0 || (rc = ethtool_request(ifname, stats)) < 0) {
        peer = rc;
        goto done;
    }
    for (size_t i = 0; i < count && i < names->len && i < stats->n_stats; i++) {
        if (strncmp((const char *)names->data + i * ETH_GSTRING_LEN, "peer_ifindex", ETH_GSTRING_LEN) == 0) {
            peer = (int)stats->data[i];
            break;
        }
    }
done:
    free(names);
    free(stats);
    return peer;
}

int cxdp_probe_channels(const char *ifname, struct cxdp_channels *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    struct ethtool_channels ch;
    memset(&ch, 0, sizeof(ch));
    ch.cmd = ETHTOOL_GCHANNELS;
    int rc = ethtool_request(ifname, &ch);
    if (rc < 0)
        return rc;
    out->max_rx = ch.max_rx;
    out->max_tx = ch.max_tx;
    out->max_other = ch.max_other;
    out->max_combined = ch.max_combined;
    out->rx = ch.rx_count;
    out->tx = ch.tx_count;
    out->other = ch.other_count;
    out->combined = ch.combined_count;
    return 0;
}

int cxdp_set_channels(const char *ifname, const struct cxdp_channels *wanted)
{
    if (!wanted)
        return -EINVAL;
    struct ethtool_channels ch;
    memset(&ch, 0, sizeof(ch));
    ch.cmd = ETHTOOL_SCHANNELS;
    ch.rx_count = wanted->rx;
    ch.tx_count = wanted->tx;
    ch.other_count = wanted->other;
    ch.combined_count = wanted->combined;
    return ethtool_request(ifname, &ch);
}

int cxdp_probe_link(const char *ifname, struct cxdp_link *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    struct ifreq ifr;
    int rc = ifreq_name(&ifr, ifname);
    if (rc < 0)
        return rc;

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;

    int ifindex = 0, mtu = 0;
    short flags = 0;
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
        goto fail;
    ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
        goto fail;
    mtu = ifr.ifr_mtu;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        goto fail;
    flags = ifr.ifr_flags;
    close(fd);

    out->ifindex = ifindex;
    out->mtu = mtu;
    out->up = (flags & IFF_UP) != 0;
    out->running = (flags & IFF_RUNNING) != 0;
    return 0;

fail:
    rc = -errno;
    close(fd);
    return rc;
}

int cxdp_interface_queue_count(const char *ifname) {
    struct ethtool_channels channels = { .cmd = ETHTOOL_GCHANNELS };
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
    request.ifr_data = (void *)&channels;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = ioctl(fd, SIOCETHTOOL, &request);
    int saved = errno;
    close(fd);
    if (rc != 0) return -saved;
    unsigned rx = channels.rx_count + channels.combined_count;
    unsigned tx = channels.tx_count + channels.combined_count;
    return (int)(rx > tx ? rx : tx);
}

int cxdp_interface_mac(const char *ifname, uint8_t *mac) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = ioctl(fd, SIOCGIFHWADDR, &request);
    int saved = errno;
    close(fd);
    if (rc != 0) return -saved;
    memcpy(mac, request.ifr_hwaddr.sa_data, 6);
    return 0;
}
