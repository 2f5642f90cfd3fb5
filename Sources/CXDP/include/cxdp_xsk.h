// CXDP xsk: AF_XDP UMEM registration and socket setup done directly with the
// kernel's socket options, for what libxdp 1.3 cannot ask for: a UMEM with
// TX metadata (tx_metadata_len, kernel 6.8+; libxdp's xsk_umem_config has no
// such field). Used only for UMEMs that need it; every other UMEM and socket
// goes through libxdp.
#ifndef CXDP_XSK_H
#define CXDP_XSK_H

#include <stdint.h>
#include <stddef.h>
#include <xdp/xsk.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The mappings of one socket's rings, for cxdp_xsk_unmap_rings.
struct cxdp_ring_maps {
    void *base[4];        // rx, tx, fill, completion (NULL when not mapped)
    size_t length[4];
};

/// socket(AF_XDP) + XDP_UMEM_REG with the kernel 6.8+ layout of struct
/// xdp_umem_reg (tx_metadata_len in what older headers call padding).
/// `flags` are XDP_UMEM_* flags; XDP_UMEM_TX_METADATA_LEN is added when
/// tx_metadata_len > 0. Returns the socket fd, or -errno.
int cxdp_xsk_register_umem(void *area, uint64_t length, uint32_t chunk_size, uint32_t headroom,
                           uint32_t flags, uint32_t tx_metadata_len);

/// A new AF_XDP socket fd, or -errno.
int cxdp_xsk_socket(void);

/// Sets the ring sizes on `fd` (fill and completion only when fill_size is
/// non-zero: the first socket on an (interface, queue)), maps the rings and
/// fills the ring headers. 0 or -errno (everything mapped is unmapped again).
int cxdp_xsk_setup_rings(int fd, uint32_t rx_size, uint32_t tx_size, uint32_t fill_size, uint32_t completion_size,
                         struct xsk_ring_cons *rx, struct xsk_ring_prod *tx,
                         struct xsk_ring_prod *fill, struct xsk_ring_cons *completion,
                         struct cxdp_ring_maps *maps);

/// bind() to (ifindex, queue) with XDP_* bind flags; with shared_umem_fd >= 0
/// the socket shares that socket's UMEM (XDP_SHARED_UMEM). 0 or -errno.
int cxdp_xsk_bind(int fd, uint32_t ifindex, uint32_t queue, uint16_t flags, int shared_umem_fd);

/// Unmaps what cxdp_xsk_setup_rings mapped.
void cxdp_xsk_unmap_rings(struct cxdp_ring_maps *maps);

#ifdef __cplusplus
}
#endif

#endif /* CXDP_XSK_H */
