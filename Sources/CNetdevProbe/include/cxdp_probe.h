// CNetdevProbe: what an interface can do for AF_XDP, asked of the kernel
// without libbpf. Netlink ("netdev" generic-netlink family) for the XDP
// feature bits, ethtool ioctls for driver and channel counts, plain ioctls
// for link basics.
//
// Every call makes its own throwaway socket on the calling thread, so it
// answers for the network namespace that thread is in (callers setns per
// thread), and closes every fd it opened before returning. All return 0 on
// success or a negative errno; none keeps any state.
#ifndef CXDP_PROBE_H
#define CXDP_PROBE_H

#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/// XDP capabilities from the kernel's "netdev" generic-netlink family
/// (NETDEV_CMD_DEV_GET). Fields whose has_* flag is false were not in the
/// kernel's answer (older kernels) and are zero.
struct cxdp_xdp_features {
    /// false when the kernel has no netdev family or no entry for ifindex
    bool reported;
    /// NETDEV_A_DEV_XDP_FEATURES bitmask: basic=1, redirect=2, ndo-xmit=4,
    /// xsk-zerocopy=8, hw-offload=16, rx-sg=32, ndo-xmit-sg=64
    uint64_t xdp_features;
    /// NETDEV_A_DEV_XDP_ZC_MAX_SEGS
    bool has_zc_max_segs;
    uint32_t xdp_zc_max_segs;
    /// NETDEV_A_DEV_XDP_RX_METADATA_FEATURES: timestamp=1, hash=2, vlan-tag=4
    bool has_rx_metadata;
    uint64_t xdp_rx_metadata_features;
    /// NETDEV_A_DEV_XSK_FEATURES: tx-timestamp=1, tx-checksum=2,
    /// tx-launch-time-fifo=4
    bool has_xsk_features;
    uint64_t xsk_features;
};

/// 0 on success (including "not reported": out->reported = false when the
/// kernel has no netdev family, or has no device with this ifindex in the
/// calling thread's namespace), -errno on a real failure (-ETIMEDOUT when
/// the kernel does not answer within 1 s).
int cxdp_probe_xdp_features(int ifindex, struct cxdp_xdp_features *out);

/// ETHTOOL_GDRVINFO. Strings are NUL-terminated (possibly empty).
struct cxdp_driver_info {
    char driver[32];
    char version[32];
    char firmware[32];
    char bus[32];
};
/// 0 or -errno (-ENODEV when the interface is missing).
int cxdp_probe_driver(const char *ifname, struct cxdp_driver_info *out);

/// ETHTOOL_GCHANNELS, all eight counts.
struct cxdp_channels {
    uint32_t max_rx, max_tx, max_other, max_combined;
    uint32_t rx, tx, other, combined;
};
/// 0 or -errno (-EOPNOTSUPP when the driver has no get_channels).
int cxdp_probe_channels(const char *ifname, struct cxdp_channels *out);
/// ETHTOOL_SCHANNELS: set the rx/tx/other/combined counts from `wanted`
/// (its max_* fields are ignored). 0 or -errno (-EINVAL when a count is
/// over its maximum or the combination is refused, -EOPNOTSUPP when the
/// driver has no set_channels, -EPERM without CAP_NET_ADMIN).
int cxdp_set_channels(const char *ifname, const struct cxdp_channels *wanted);

/// Link basics from ioctls: ifindex (SIOCGIFINDEX), MTU (SIOCGIFMTU),
/// IFF_UP / IFF_RUNNING (SIOCGIFFLAGS).
struct cxdp_link {
    int ifindex;
    int mtu;
    bool up;
    bool running;
};
/// 0 or -errno (-ENODEV when the interface is missing).
int cxdp_probe_link(const char *ifname, struct cxdp_link *out);

/// The ifindex of a veth's peer (its "peer_ifindex" ethtool statistic, an
/// index in the peer's own network namespace), 0 for any other driver, or -errno.
int cxdp_probe_veth_peer(const char *ifname);

/// Queue count of an interface from ETHTOOL_GCHANNELS (max of rx+combined and
/// tx+combined currently configured), or -errno (-EOPNOTSUPP when the driver
/// does not report channels).
int cxdp_interface_queue_count(const char *ifname);

/// The MAC address of an interface (SIOCGIFHWADDR) into mac[6]; 0 or -errno.
int cxdp_interface_mac(const char *ifname, uint8_t *mac);

#ifdef __cplusplus
}
#endif

#endif /* CXDP_PROBE_H */
