// CXDP rtnetlink readers: route, neighbour and address dumps and change
// notifications. See cxdp_rtnl.h. Self-contained: system headers only
// (Debian 12's 6.1 UAPI is enough), no libnl/libmnl.
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
#include <sys/time.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/neighbour.h>
#include <linux/if_addr.h>

#include "cxdp_rtnl.h"


/// Receive buffer. The kernel sizes dump datagrams from the reader's buffer
/// but never above 32 KiB (netlink_recvmsg caps max_recvmsg_len), so 64 KiB
/// holds any dump datagram, and any single notification, with room to spare.
#define RTNL_BUFSIZE 65536
/// Socket receive buffer asked for on the subscription socket.
#define RTNL_SUB_RCVBUF (4 * 1024 * 1024)
/// Most datagrams one cxdp_rtnl_read_changes call reads.
#define RTNL_MAX_DATAGRAMS 256

// ---- attribute helpers --------------------------------------------------------

/// NLMSG_OK with an unsigned length (the macro compares a __u32 with the
/// caller's int, which -Wsign-compare flags under clang).
static bool rtnl_msg_ok(const struct nlmsghdr *nlh, size_t len)
{
    return len >= sizeof(struct nlmsghdr) && nlh->nlmsg_len >= sizeof(struct nlmsghdr) &&
           nlh->nlmsg_len <= len;
}

/// NLMSG_NEXT with an unsigned length that never wraps.
static const struct nlmsghdr *rtnl_msg_next(const struct nlmsghdr *nlh, size_t *len)
{
    size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
    if (step > *len)
        step = *len;
    *len -= step;
    return (const struct nlmsghdr *)((const char *)nlh + step);
}

/// Copies an address attribute into out[16] when its length is exactly the
/// family's address length. Returns whether it did.
static bool rtnl_copy_addr(uint8_t out[16], int family, const struct rtattr *rta)
{
    size_t want = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    if (want == 0 || RTA_PAYLOAD(rta) != want)
        return false;
    memset(out, 0, 16);
    memcpy(out, RTA_DATA(rta), want);
    return true;
}

static bool rtnl_get_u32(uint32_t *out, const struct rtattr *rta)
{
    if (RTA_PAYLOAD(rta) < sizeof(uint32_t))
        return false;
    memcpy(out, RTA_DATA(rta), sizeof(uint32_t));
    return true;
}

/// Length of the attribute area that follows a fixed header of hdrlen bytes,
/// or -1 when the message is too short to hold that header.
static int rtnl_attr_len(const struct nlmsghdr *nlh, size_t hdrlen)
{
    if (nlh->nlmsg_len < NLMSG_SPACE(hdrlen))
        return -1;
    return (int)(nlh->nlmsg_len - NLMSG_SPACE(hdrlen));
}

static const struct rtattr *rtnl_first_attr(const struct nlmsghdr *nlh, size_t hdrlen)
{
    return (const struct rtattr *)((const char *)NLMSG_DATA(nlh) + NLMSG_ALIGN(hdrlen));
}

/// Reads an IPv4 route's RTA_VIA (struct rtvia: 16-bit family, address).
static bool rtnl_copy_via(struct cxdp_route *r, const struct rtattr *rta)
{
    size_t len = RTA_PAYLOAD(rta);
    uint16_t fam;
    if (len < sizeof(fam))
        return false;
    memcpy(&fam, RTA_DATA(rta), sizeof(fam));
    size_t want = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;
    if (want == 0 || len - sizeof(fam) != want)
        return false;
    memset(r->gateway, 0, sizeof(r->gateway));
    memcpy(r->gateway, (const uint8_t *)RTA_DATA(rta) + sizeof(fam), want);
    r->gateway_family = (uint8_t)fam;
    r->has_gateway = true;
    return true;
}

/// RTA_GATEWAY: a next hop of the route's own family.
static void rtnl_copy_gateway(struct cxdp_route *r, const struct rtattr *rta)
{
    if (rtnl_copy_addr(r->gateway, r->family, rta)) {
        r->has_gateway = true;
        r->gateway_family = r->family;
    }
}

// ---- message parsers ------------------------------------------------------------

/// Bounds-checked walk over RTA_MULTIPATH's struct rtnexthop list. Calls emit
/// (when non-NULL) for each nexthop; returns the number of nexthops.
static int rtnl_walk_multipath(const struct rtattr *mp, struct cxdp_route *base,
                               cxdp_route_callback cb, void *ctx, int total)
{
    const struct rtnexthop *nh = (const struct rtnexthop *)RTA_DATA(mp);
    int len = (int)RTA_PAYLOAD(mp);
    int n = 0;

    while (len >= (int)sizeof(struct rtnexthop) &&
           nh->rtnh_len >= sizeof(struct rtnexthop) &&
           (int)nh->rtnh_len <= len) {
        if (cb) {
            struct cxdp_route r = *base;
            r.has_gateway = false;
            r.gateway_family = 0;
            memset(r.gateway, 0, sizeof(r.gateway));
            r.output_ifindex = nh->rtnh_ifindex;
            r.nexthop_index = (uint16_t)n;
            r.nexthop_count = (uint16_t)total;

            const struct rtattr *rta = RTNH_DATA(nh);
            int alen = (int)nh->rtnh_len - (int)RTNH_LENGTH(0);
            for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
                switch (rta->rta_type) {
                case RTA_GATEWAY:
                    rtnl_copy_gateway(&r, rta);
                    break;
                case RTA_VIA:
                    rtnl_copy_via(&r, rta);
                    break;
                default:
                    break;
                }
            }
            cb(&r, ctx);
        }
        n++;
        int step = (int)RTNH_ALIGN(nh->rtnh_len);
        if (step >= len)
            break;
        len -= step;
        nh = (const struct rtnexthop *)((const char *)nh + step);
    }
    return n;
}

/// RTM_NEWROUTE / RTM_DELROUTE. Returns true when the message was a route
/// message (reported or deliberately skipped), false when malformed.
static bool rtnl_parse_route(const struct nlmsghdr *nlh, cxdp_route_callback cb, void *ctx)
{
    int alen = rtnl_attr_len(nlh, sizeof(struct rtmsg));
    if (alen < 0)
        return false;
    const struct rtmsg *rtm = NLMSG_DATA(nlh);
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
        return true;
    if (rtm->rtm_flags & RTM_F_CLONED)
        return true;
    if (rtm->rtm_dst_len > (rtm->rtm_family == AF_INET ? 32 : 128))
        return false;

    struct cxdp_route r;
    memset(&r, 0, sizeof(r));
    r.family = rtm->rtm_family;
    r.prefix_length = rtm->rtm_dst_len;
    r.type = rtm->rtm_type;
    r.table = rtm->rtm_table;
    r.is_delete = nlh->nlmsg_type == RTM_DELROUTE;
    r.nexthop_count = 1;

    const struct rtattr *multipath = NULL;
    const struct rtattr *rta = rtnl_first_attr(nlh, sizeof(struct rtmsg));
    for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
        uint32_t v;
        switch (rta->rta_type) {
        case RTA_DST:
            rtnl_copy_addr(r.destination, r.family, rta);
            break;
        case RTA_GATEWAY:
            rtnl_copy_gateway(&r, rta);
            break;
        case RTA_VIA:
            rtnl_copy_via(&r, rta);
            break;
        case RTA_OIF:
            if (rtnl_get_u32(&v, rta))
                r.output_ifindex = (int32_t)v;
            break;
        case RTA_PRIORITY:
            if (rtnl_get_u32(&v, rta))
                r.priority = v;
            break;
        case RTA_TABLE:
            if (rtnl_get_u32(&v, rta))
                r.table = v <= 255 ? (uint8_t)v : 0;
            break;
        case RTA_MULTIPATH:
            multipath = rta;
            break;
        default:
            break;
        }
    }

    if (!cb)
        return true;
    if (multipath) {
        int total = rtnl_walk_multipath(multipath, &r, NULL, NULL, 0);
        if (total > 0) {
            if (total > UINT16_MAX)
                total = UINT16_MAX;
            rtnl_walk_multipath(multipath, &r, cb, ctx, total);
            return true;
        }
    }
    cb(&r, ctx);
    return true;
}

/// RTM_NEWNEIGH / RTM_DELNEIGH.
static bool rtnl_parse_neigh(const struct nlmsghdr *nlh, cxdp_neighbor_callback cb, void *ctx)
{
    int alen = rtnl_attr_len(nlh, sizeof(struct ndmsg));
    if (alen < 0)
        return false;
    const struct ndmsg *ndm = NLMSG_DATA(nlh);
    if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6)
        return true;
    if (ndm->ndm_flags & NTF_PROXY)
        return true;

    struct cxdp_neighbor n;
    memset(&n, 0, sizeof(n));
    n.family = ndm->ndm_family;
    n.ifindex = ndm->ndm_ifindex;
    n.state = ndm->ndm_state;
    n.is_delete = nlh->nlmsg_type == RTM_DELNEIGH;

    bool has_dst = false;
    const struct rtattr *rta = rtnl_first_attr(nlh, sizeof(struct ndmsg));
    for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
        switch (rta->rta_type) {
        case NDA_DST:
            has_dst = rtnl_copy_addr(n.address, n.family, rta);
            break;
        case NDA_LLADDR:
            if (RTA_PAYLOAD(rta) == sizeof(n.lladdr)) {
                memcpy(n.lladdr, RTA_DATA(rta), sizeof(n.lladdr));
                n.has_lladdr = true;
            }
            break;
        default:
            break;
        }
    }
    if (!has_dst)
        return true;
    if (cb)
        cb(&n, ctx);
    return true;
}

/// RTM_NEWADDR / RTM_DELADDR.
static bool rtnl_parse_addr(const struct nlmsghdr *nlh, cxdp_address_callback cb, void *ctx)
{
    int alen = rtnl_attr_len(nlh, sizeof(struct ifaddrmsg));
    if (alen < 0)
        return false;
    const struct ifaddrmsg *ifa = NLMSG_DATA(nlh);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        return true;
    if (ifa->ifa_prefixlen > (ifa->ifa_family == AF_INET ? 32 : 128))
        return false;

    struct cxdp_address a;
    memset(&a, 0, sizeof(a));
    a.family = ifa->ifa_family;
    a.prefix_length = ifa->ifa_prefixlen;
    a.ifindex = (int32_t)ifa->ifa_index;
    a.is_delete = nlh->nlmsg_type == RTM_DELADDR;

    uint8_t local[16], address[16];
    bool has_local = false, has_address = false;
    const struct rtattr *rta = rtnl_first_attr(nlh, sizeof(struct ifaddrmsg));
    for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
        switch (rta->rta_type) {
        case IFA_LOCAL:
            has_local = rtnl_copy_addr(local, a.family, rta);
            break;
        case IFA_ADDRESS:
            has_address = rtnl_copy_addr(address, a.family, rta);
            break;
        default:
            break;
        }
    }
    if (has_local)
        memcpy(a.address, local, sizeof(a.address));
    else if (has_address)
        memcpy(a.address, address, sizeof(a.address));
    else
        return true;
    if (cb)
        cb(&a, ctx);
    return true;
}

/// The three callbacks and their context, for dispatch.
struct rtnl_sink {
    cxdp_route_callback on_route;
    cxdp_neighbor_callback on_neighbor;
    cxdp_address_callback on_address;
    void *context;
};

/// Dispatches one route/neigh/addr message. Returns 1 when it was one of
/// those types, 0 otherwise.
static int rtnl_dispatch(const struct nlmsghdr *nlh, const struct rtnl_sink *s)
{
    switch (nlh->nlmsg_type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        rtnl_parse_route(nlh, s->on_route, s->context);
        return 1;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
        rtnl_parse_neigh(nlh, s->on_neighbor, s->context);
        return 1;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        rtnl_parse_addr(nlh, s->on_address, s->context);
        return 1;
    default:
        return 0;
    }
}

// ---- sockets ----------------------------------------------------------------------

/// A NETLINK_ROUTE socket on the calling thread's namespace, bound (so the
/// port id is known), CLOEXEC, 1 s SO_RCVTIMEO. Returns fd or -errno.
static int rtnl_open(int extra_type_flags, uint32_t *port_id)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | extra_type_flags, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;

    struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
    struct sockaddr_nl sa;
    socklen_t salen = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (salen < sizeof(sa) || sa.nl_family != AF_NETLINK) {
        close(fd);
        return -EPROTO;
    }
    if (port_id)
        *port_id = sa.nl_pid;
    return fd;
}

/// recvmsg into buf, retrying EINTR. Returns bytes, or -errno (-EMSGSIZE on
/// truncation). *from_kernel says whether the sender was the kernel.
static ssize_t rtnl_recv(int fd, void *buf, size_t size, int flags, bool *from_kernel)
{
    struct sockaddr_nl sa;
    struct iovec iov = { .iov_base = buf, .iov_len = size };
    struct msghdr msg;
    for (;;) {
        memset(&sa, 0, sizeof(sa));
        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &sa;
        msg.msg_namelen = sizeof(sa);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n = recvmsg(fd, &msg, flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (msg.msg_flags & MSG_TRUNC)
            return -EMSGSIZE;
        *from_kernel = msg.msg_namelen >= sizeof(sa) && sa.nl_family == AF_NETLINK &&
                       sa.nl_pid == 0;
        return n;
    }
}

/// Sends one dump request (type, fixed header hdr of hdrlen bytes, family set
/// by the caller in hdr) and feeds every reply message to the sink until
/// NLMSG_DONE. Returns 0 or -errno.
static int rtnl_dump(uint16_t type, const void *hdr, size_t hdrlen, const struct rtnl_sink *sink)
{
    union {
        struct nlmsghdr nh;
        unsigned char bytes[NLMSG_SPACE(64)];
    } req;
    if (hdrlen > 64)
        return -EINVAL;

    uint32_t port = 0;
    int fd = rtnl_open(0, &port);
    if (fd < 0)
        return fd;

    unsigned char *buf = malloc(RTNL_BUFSIZE);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }

    const uint32_t seq = 1;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
    req.nh.nlmsg_type = type;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = seq;
    req.nh.nlmsg_pid = 0;
    memcpy(NLMSG_DATA(&req.nh), hdr, hdrlen);

    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;

    int err = 0;
    bool interrupted = false;
    ssize_t sent;
    do {
        sent = sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        err = -errno;
        goto out;
    }
    if ((size_t)sent != req.nh.nlmsg_len) {
        err = -EIO;
        goto out;
    }

    for (;;) {
        bool from_kernel = false;
        ssize_t n = rtnl_recv(fd, buf, RTNL_BUFSIZE, 0, &from_kernel);
        if (n < 0) {
            err = (n == -EAGAIN || n == -EWOULDBLOCK) ? -ETIMEDOUT : (int)n;
            goto out;
        }
        if (n == 0) {
            err = -EIO;
            goto out;
        }
        if (!from_kernel)
            continue;

        size_t len = (size_t)n;
        for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; rtnl_msg_ok(nlh, len);
             nlh = rtnl_msg_next(nlh, &len)) {
            if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != port)
                continue; /* not an answer to this request */
            if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                interrupted = true;

            if (nlh->nlmsg_type == NLMSG_DONE) {
                /* DONE carries the dump's final status as an int. */
                if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                    int status;
                    memcpy(&status, NLMSG_DATA(nlh), sizeof(status));
                    if (status < 0) {
                        err = status;
                        goto out;
                    }
                }
                err = interrupted ? -EINTR : 0;
                goto out;
            }
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                    err = -EPROTO;
                    goto out;
                }
                const struct nlmsgerr *e = NLMSG_DATA(nlh);
                if (e->error != 0) {
                    err = e->error < 0 ? e->error : -e->error;
                    goto out;
                }
                continue; /* an ACK: not expected for a dump, harmless */
            }
            if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN)
                continue;
            rtnl_dispatch(nlh, sink);
        }
        if (len != 0) {
            err = -EPROTO; /* trailing bytes that are not a whole message */
            goto out;
        }
    }

out:
    free(buf);
    close(fd);
    return err;
}

// ---- public API ---------------------------------------------------------------------

static bool rtnl_family_ok(int family)
{
    return family == AF_INET || family == AF_INET6 || family == AF_UNSPEC;
}

int cxdp_dump_routes(int family, cxdp_route_callback callback, void *context)
{
    if (!rtnl_family_ok(family))
        return -EAFNOSUPPORT;
    if (!callback)
        return -EINVAL;
    struct rtmsg rtm;
    memset(&rtm, 0, sizeof(rtm));
    rtm.rtm_family = (unsigned char)family;
    struct rtnl_sink s = { .on_route = callback, .context = context };
    return rtnl_dump(RTM_GETROUTE, &rtm, sizeof(rtm), &s);
}

int cxdp_dump_neighbors(int family, cxdp_neighbor_callback callback, void *context)
{
    if (!rtnl_family_ok(family))
        return -EAFNOSUPPORT;
    if (!callback)
        return -EINVAL;
    struct ndmsg ndm;
    memset(&ndm, 0, sizeof(ndm));
    ndm.ndm_family = (uint8_t)family;
    struct rtnl_sink s = { .on_neighbor = callback, .context = context };
    return rtnl_dump(RTM_GETNEIGH, &ndm, sizeof(ndm), &s);
}

int cxdp_dump_addresses(int family, cxdp_address_callback callback, void *context)
{
    if (!rtnl_family_ok(family))
        return -EAFNOSUPPORT;
    if (!callback)
        return -EINVAL;
    struct ifaddrmsg ifa;
    memset(&ifa, 0, sizeof(ifa));
    ifa.ifa_family = (uint8_t)family;
    struct rtnl_sink s = { .on_address = callback, .context = context };
    return rtnl_dump(RTM_GETADDR, &ifa, sizeof(ifa), &s);
}

int cxdp_rtnl_subscribe(void)
{
    int fd = rtnl_open(SOCK_NONBLOCK, NULL);
    if (fd < 0)
        return fd;

    /* As large a buffer as allowed: FORCE (CAP_NET_ADMIN) ignores rmem_max,
       plain SO_RCVBUF is clamped to it. Failure of both is not fatal. */
    int rcvbuf = RTNL_SUB_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

    static const int groups[] = {
        RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_NEIGH,
        RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
    };
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        int g = groups[i];
        if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
    }
    return fd;
}

int cxdp_rtnl_read_changes(int fd,
                           cxdp_route_callback on_route,
                           cxdp_neighbor_callback on_neighbor,
                           cxdp_address_callback on_address,
                           void *context)
{
    if (fd < 0)
        return -EBADF;
    unsigned char *buf = malloc(RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;

    struct rtnl_sink s = {
        .on_route = on_route, .on_neighbor = on_neighbor,
        .on_address = on_address, .context = context,
    };
    int handled = 0;
    int err = 0;
    for (int d = 0; d < RTNL_MAX_DATAGRAMS; d++) {
        bool from_kernel = false;
        ssize_t n = rtnl_recv(fd, buf, RTNL_BUFSIZE, MSG_DONTWAIT, &from_kernel);
        if (n < 0) {
            if (n == -EAGAIN || n == -EWOULDBLOCK)
                break; /* drained */
            err = (int)n;
            break;
        }
        if (n == 0 || !from_kernel)
            continue;
        size_t len = (size_t)n;
        for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; rtnl_msg_ok(nlh, len);
             nlh = rtnl_msg_next(nlh, &len)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                /* Not expected on a pure listener; report the kernel's error. */
                if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                    const struct nlmsgerr *e = NLMSG_DATA(nlh);
                    if (e->error != 0 && err == 0)
                        err = e->error < 0 ? e->error : -e->error;
                }
                continue;
            }
            handled += rtnl_dispatch(nlh, &s);
        }
        if (err)
            break;
    }
    free(buf);
    return err ? err : handled;
}
