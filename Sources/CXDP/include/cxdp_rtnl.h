// CXDP rtnetlink readers: the kernel's IPv4/IPv6 routes, neighbours and the
// host's own addresses, dumped once and then followed through notifications,
// so a userspace router can mirror the kernel's routing state.
//
// Every call makes its sockets on the calling thread, so it answers for the
// network namespace that thread is in (callers setns per thread). Dumps open
// and close their own socket; the subscription socket belongs to the caller,
// who closes it with close(2). Nothing here keeps global state, so calls on
// different threads do not interfere. Callbacks run synchronously on the
// calling thread, once per entry, with a pointer that is only valid for the
// duration of the call (copy what you keep).
//
// Only AF_INET and AF_INET6 entries are reported. Other families that an
// AF_UNSPEC dump returns (multicast routing tables, MPLS, bridge FDB
// entries) are skipped, and so are RTM_F_CLONED route-cache entries and
// NTF_PROXY neighbour entries.
#ifndef CXDP_RTNL_H
#define CXDP_RTNL_H

#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One route (RTM_NEWROUTE / RTM_DELROUTE).
///
/// Multipath routes (RTA_MULTIPATH) are reported once per nexthop, with the
/// same destination, table and priority, nexthop_index 0..nexthop_count-1;
/// single-path routes have nexthop_index 0 and nexthop_count 1. Routes that
/// use nexthop objects (RTA_NH_ID) carry gateway/oif only while the kernel's
/// nexthop_compat_mode sysctl is 1 (the default); otherwise they arrive with
/// has_gateway false and output_ifindex 0.
struct cxdp_route {
    uint8_t family;          ///< AF_INET or AF_INET6
    uint8_t prefix_length;   ///< rtm_dst_len
    uint8_t destination[16]; ///< network-order bytes (first 4 for IPv4); zero for a default route
    bool has_gateway;
    uint8_t gateway[16];     ///< network-order bytes, family gateway_family
    int32_t output_ifindex;  ///< RTA_OIF (or rtnh_ifindex for a multipath nexthop); 0 if absent
    uint8_t type;            ///< RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_BLACKHOLE, ...
    uint8_t table;           ///< rtm_table (RT_TABLE_MAIN=254, RT_TABLE_LOCAL=255); RTA_TABLE when
                             ///< present and <= 255; 0 when the table id is > 255
    uint32_t priority;       ///< RTA_PRIORITY (metric); 0 if absent
    bool is_delete;          ///< RTM_DELROUTE
    // ---- beyond the original brief, appended ----
    uint8_t gateway_family;  ///< AF_INET or AF_INET6 when has_gateway (AF_INET6 for an IPv4 route
                             ///< via an IPv6 gateway, RTA_VIA); 0 otherwise
    uint16_t nexthop_index;  ///< which nexthop of a multipath route this is (0 for single-path)
    uint16_t nexthop_count;  ///< how many nexthops the route has (1 for single-path)
};

/// One neighbour (ARP / NDP) entry (RTM_NEWNEIGH / RTM_DELNEIGH).
struct cxdp_neighbor {
    uint8_t family;          ///< AF_INET or AF_INET6
    uint8_t address[16];     ///< NDA_DST, network-order bytes (first 4 for IPv4)
    int32_t ifindex;
    bool has_lladdr;         ///< NDA_LLADDR present and 6 bytes long
    uint8_t lladdr[6];
    uint16_t state;          ///< NUD_* bits (NUD_REACHABLE, NUD_STALE, NUD_PERMANENT, NUD_FAILED, ...)
    bool is_delete;          ///< RTM_DELNEIGH
};

/// One of the host's own addresses (RTM_NEWADDR / RTM_DELADDR).
/// address is IFA_LOCAL when present, else IFA_ADDRESS (on point-to-point
/// links IFA_ADDRESS is the peer, IFA_LOCAL ours).
struct cxdp_address {
    uint8_t family;          ///< AF_INET or AF_INET6
    uint8_t prefix_length;
    uint8_t address[16];     ///< network-order bytes (first 4 for IPv4)
    int32_t ifindex;
    bool is_delete;          ///< RTM_DELADDR
};

typedef void (*cxdp_route_callback)(const struct cxdp_route *route, void *context);
typedef void (*cxdp_neighbor_callback)(const struct cxdp_neighbor *neighbor, void *context);
typedef void (*cxdp_address_callback)(const struct cxdp_address *address, void *context);

/// Dumps all routes of every table (family AF_INET, AF_INET6 or AF_UNSPEC
/// for both), calling callback once per route (per nexthop, see above).
/// Returns 0, or -errno: -EAFNOSUPPORT for another family, -EINVAL for a
/// NULL callback, -ETIMEDOUT when the kernel stops answering for 1 s,
/// -EMSGSIZE for a datagram larger than the receive buffer, -EINTR when the
/// kernel flagged the dump as interrupted by a concurrent change
/// (NLM_F_DUMP_INTR: everything was delivered but may be inconsistent; dump
/// again), or the kernel's NLMSG_ERROR.
int cxdp_dump_routes(int family, cxdp_route_callback callback, void *context);

/// Dumps all ARP/NDP neighbour entries; same family rules and returns as
/// cxdp_dump_routes.
int cxdp_dump_neighbors(int family, cxdp_neighbor_callback callback, void *context);

/// Dumps the host's own addresses; same family rules and returns as
/// cxdp_dump_routes.
int cxdp_dump_addresses(int family, cxdp_address_callback callback, void *context);

/// A nonblocking, close-on-exec rtnetlink socket subscribed to route,
/// neighbour and address changes (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
/// RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR), with as large a
/// receive buffer as the kernel allows (asks for 4 MiB). Returns the fd
/// (poll it for POLLIN, close it with close(2)) or -errno.
///
/// Subscribe before dumping, so that nothing falls between the dump and the
/// first notification (a change may then be seen twice, which is harmless
/// for a mirror that applies adds as upserts and deletes as removals).
/// Note: the kernel sends no RTM_DELROUTE for IPv4 routes it flushes when a
/// link goes down or an address is removed; re-dump on such address events.
int cxdp_rtnl_subscribe(void);

/// Reads the notifications pending on fd (from cxdp_rtnl_subscribe) without
/// blocking, calling the matching callback for each (any callback may be
/// NULL: those messages are read and dropped). Returns after the socket is
/// drained, or after 256 datagrams so that one call cannot run forever under
/// constant churn (fd then stays readable). Returns the number of route,
/// neighbour and address messages handled (0 if none were pending), or
/// -errno: -ENOBUFS when the socket overflowed and notifications were lost
/// (the caller must dump again), -EMSGSIZE for a datagram larger than the
/// receive buffer (lost: treat like -ENOBUFS), -EBADF etc. from recvmsg.
int cxdp_rtnl_read_changes(int fd,
                           cxdp_route_callback on_route,
                           cxdp_neighbor_callback on_neighbor,
                           cxdp_address_callback on_address,
                           void *context);

#ifdef __cplusplus
}
#endif

#endif /* CXDP_RTNL_H */
