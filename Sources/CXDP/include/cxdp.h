// CXDP: the C shim under swift-xdp. Kernel UAPI and libxdp/libbpf headers,
// and the handful of helpers Swift cannot call directly (macros, variadic
// calls, _GNU_SOURCE functions). Nothing on the per-packet path lives here.
#ifndef CXDP_H
#define CXDP_H

#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <poll.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/bpf.h>
#include <xdp/xsk.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "cxdp_xsk.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

/// The eight ring headers of one AF_XDP socket, kept at a stable address for
/// libxdp (it keeps pointers to them and munmaps through them on delete).
struct cxdp_ring_set {
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons completion;
};

/// AF_XDP and BPF constants newer than Debian 12's 6.1 UAPI headers (values
/// from the kernel's include/uapi/linux/if_xdp.h and bpf.h, stable ABI).
static const uint16_t cxdp_xdp_use_sg = 1 << 4;               /* XDP_USE_SG, bind flag (6.6) */
static const uint32_t cxdp_xdp_pkt_contd = 1 << 0;            /* XDP_PKT_CONTD, descriptor option (6.6) */
static const uint32_t cxdp_xdp_tx_metadata = 1 << 1;          /* XDP_TX_METADATA, descriptor option (6.8) */
static const uint32_t cxdp_xdp_umem_tx_sw_csum = 1 << 1;      /* XDP_UMEM_TX_SW_CSUM, UMEM flag (6.8) */
static const uint32_t cxdp_xdp_umem_tx_metadata_len = 1 << 2; /* XDP_UMEM_TX_METADATA_LEN, UMEM flag (6.8) */
static const uint32_t cxdp_bpf_f_xdp_has_frags = 1U << 5;     /* BPF_F_XDP_HAS_FRAGS, program flag (5.18) */
static const uint32_t cxdp_bpf_f_xdp_dev_bound_only = 1U << 6; /* BPF_F_XDP_DEV_BOUND_ONLY, program flag (6.3) */

/// Constants that are macros with casts or expressions Swift cannot import.
static const uint32_t cxdp_ring_need_wakeup = XDP_RING_NEED_WAKEUP;
static const uint32_t cxdp_packet_headroom = 256; /* XDP_PACKET_HEADROOM */
static const uint32_t cxdp_libxdp_inhibit_prog_load = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;

/// libbpf calls whose options structs must be zeroed with LIBBPF_OPTS (Swift
/// leaves struct padding undefined, and libbpf rejects non-zero padding).
struct bpf_object *cxdp_open_object(const void *bytes, size_t size, const char *name);
int cxdp_xdp_detach(int ifindex, uint32_t flags, int expected_prog_fd);
/// The kernel id of a loaded program, or 0.
uint32_t cxdp_program_id(int prog_fd);
/// The (kernel-truncated, 15-byte) name of the loaded program with this id, "" if unknown.
void cxdp_program_name(uint32_t id, char *out, size_t size);
/// Whether the loaded program with this id has this (kernel-truncated, 15-byte) name.
bool cxdp_program_is_named(uint32_t id, const char *name);
/// Reads entry `key` of the program's map named `name` (4-byte keys,
/// `value_size`-byte values) into `value`: 0, -ENOENT without such a map, or -errno.
int cxdp_program_map_value(uint32_t id, const char *name, uint32_t key, void *value, uint32_t value_size);
/// The pid in the program's "owner" array map, or -1 when it has none.
int64_t cxdp_program_owner(uint32_t id);
/// The id of the XDP program attached to ifindex in any mode, 0 if none, or -errno.
/// Detaches the program with this id from the interface, in whichever mode
/// it is attached, and only if it is still the one attached there.
/// 0, -ENOENT when it is not, or -errno.
int cxdp_xdp_detach_id(int ifindex, uint32_t id);

int64_t cxdp_xdp_attached_id(int ifindex);

/// How the XDP program on ifindex is attached: XDP_ATTACHED_NONE, _DRV,
/// _SKB, _HW or _MULTI (bpf_xdp_query's attach_mode), or -errno.
int cxdp_xdp_attached_mode(int ifindex);

/// Routes libbpf/libxdp log lines: warnings to stderr unless quiet, debug never.
void cxdp_set_library_logging(bool quiet);

/// The last libbpf/libxdp warning line seen (for error hints), or "".
const char *cxdp_last_library_message(void);

/// Attaches a loaded tc (SCHED_CLS) program to ifindex's egress in
/// direct-action mode, creating the clsact qdisc when absent. 0 or -errno.
int cxdp_tc_attach_egress(int ifindex, int prog_fd);

/// pthread_setaffinity_np for the calling thread (needs _GNU_SOURCE).
int cxdp_pin_current_thread(int cpu);
/// Gives `thread` the SCHED_FIFO policy at `priority` (1-99); 0 or an errno.
int cxdp_set_thread_fifo(unsigned long thread, int priority);

/// sched_getcpu (needs _GNU_SOURCE).
int cxdp_current_cpu(void);

/// Number of CPUs in the calling thread's affinity mask, and the CPU at a rank.
int cxdp_allowed_cpus(int *cpus, int capacity);

/// setns(fd, CLONE_NEWNET) for the calling thread.
int cxdp_enter_network_namespace(int fd);

/// The soft RLIMIT_MEMLOCK in bytes (UINT64_MAX when unlimited).
uint64_t cxdp_memlock_limit(void);

/// Clears the given capabilities (bit numbers, e.g. 1ull << CAP_NET_ADMIN)
/// from the calling thread's effective set; the permitted set is unchanged,
/// so cxdp_restore_effective_capabilities can bring them back. 0 or -errno.
int cxdp_drop_effective_capabilities(uint64_t mask);

/// Makes the calling thread's effective set equal its permitted set again.
int cxdp_restore_effective_capabilities(void);

/// The symbolic name of an errno ("EADDRINUSE"), or NULL when glibc has none.
const char *cxdp_errno_name(int error);

/// Keeps only `keep` in the calling thread's permitted and effective sets,
/// clears inheritable and ambient, shrinks the bounding set when allowed, and
/// sets no_new_privs. Per thread: call it while the process has one thread.
/// 0 or -errno.
int cxdp_limit_capabilities(uint64_t keep);

/// The calling thread's permitted capability set as a bit mask.
uint64_t cxdp_permitted_capabilities(void);

/// The number of threads in this process (/proc/self/task), or -errno.
int cxdp_thread_count(void);

/// Sets the soft RLIMIT_MEMLOCK (process-wide); 0 or -errno.
int cxdp_set_memlock_limit(uint64_t bytes);

/// Names the calling thread (pthread_setname_np; 15 bytes kept).
void cxdp_set_thread_name(const char *name);



/// Whether `path` is on a BPF filesystem (bpffs).
bool cxdp_is_bpffs(const char *path);

#endif
