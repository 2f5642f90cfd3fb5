// See cxdp_xsk.h. The kernel side of what libxdp's xsk_umem__create and
// xsk_socket__create_shared do, with the UMEM registration libxdp 1.3
// cannot express (tx_metadata_len).
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "cxdp.h"

/// struct xdp_umem_reg as of kernel 6.8 (tx_metadata_len took the padding).
struct cxdp_umem_reg {
    uint64_t addr;
    uint64_t len;
    uint32_t chunk_size;
    uint32_t headroom;
    uint32_t flags;
    uint32_t tx_metadata_len;
};

int cxdp_xsk_socket(void) {
    int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int cxdp_xsk_register_umem(void *area, uint64_t length, uint32_t chunk_size, uint32_t headroom,
                           uint32_t flags, uint32_t tx_metadata_len) {
    int fd = cxdp_xsk_socket();
    if (fd < 0) return fd;
    struct cxdp_umem_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = (uint64_t)(uintptr_t)area;
    reg.len = length;
    reg.chunk_size = chunk_size;
    reg.headroom = headroom;
    reg.flags = flags | (tx_metadata_len ? cxdp_xdp_umem_tx_metadata_len : 0);
    reg.tx_metadata_len = tx_metadata_len;
    if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

static int set_size(int fd, int option, uint32_t size) {
    return setsockopt(fd, SOL_XDP, option, &size, sizeof size) == 0 ? 0 : -errno;
}

/// Maps one ring and fills its header (the prod and cons headers share a layout).
static int map_ring(int fd, const struct xdp_ring_offset *offset, uint32_t size, size_t entry_size, off_t page_offset,
                    struct xsk_ring_prod *ring, void **base, size_t *length) {
    *length = offset->desc + size * entry_size;
    void *map = mmap(NULL, *length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, page_offset);
    if (map == MAP_FAILED) { *base = NULL; return -errno; }
    *base = map;
    memset(ring, 0, sizeof *ring);
    ring->mask = size - 1;
    ring->size = size;
    ring->producer = (uint32_t *)((char *)map + offset->producer);
    ring->consumer = (uint32_t *)((char *)map + offset->consumer);
    ring->flags = (uint32_t *)((char *)map + offset->flags);
    ring->ring = (char *)map + offset->desc;
    ring->cached_prod = *ring->producer;
    ring->cached_cons = *ring->consumer;
    return 0;
}

int cxdp_xsk_setup_rings(int fd, uint32_t rx_size, uint32_t tx_size, uint32_t fill_size, uint32_t completion_size,
                         struct xsk_ring_cons *rx, struct xsk_ring_prod *tx,
                         struct xsk_ring_prod *fill, struct xsk_ring_cons *completion,
                         struct cxdp_ring_maps *maps) {
    memset(maps, 0, sizeof *maps);
    int rc = 0;
    if (fill_size && ((rc = set_size(fd, XDP_UMEM_FILL_RING, fill_size)) || (rc = set_size(fd, XDP_UMEM_COMPLETION_RING, completion_size))))
        return rc;
    if ((rc = set_size(fd, XDP_RX_RING, rx_size)) || (rc = set_size(fd, XDP_TX_RING, tx_size)))
        return rc;
    struct xdp_mmap_offsets offsets;
    socklen_t optlen = sizeof offsets;
    if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &offsets, &optlen) != 0) return -errno;
    if ((rc = map_ring(fd, &offsets.rx, rx_size, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING,
                       (struct xsk_ring_prod *)rx, &maps->base[0], &maps->length[0])) ||
        (rc = map_ring(fd, &offsets.tx, tx_size, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING,
                       tx, &maps->base[1], &maps->length[1])))
        goto fail;
    // The kernel's TX ring starts empty with all of it free for us.
    tx->cached_cons = *tx->consumer + tx_size;
    if (fill_size) {
        if ((rc = map_ring(fd, &offsets.fr, fill_size, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING,
                           fill, &maps->base[2], &maps->length[2])) ||
            (rc = map_ring(fd, &offsets.cr, completion_size, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING,
                           (struct xsk_ring_prod *)completion, &maps->base[3], &maps->length[3])))
            goto fail;
        fill->cached_cons = *fill->consumer + fill_size;
    }
    return 0;
fail:
    cxdp_xsk_unmap_rings(maps);
    return rc;
}

int cxdp_xsk_bind(int fd, uint32_t ifindex, uint32_t queue, uint16_t flags, int shared_umem_fd) {
    struct sockaddr_xdp address;
    memset(&address, 0, sizeof address);
    address.sxdp_family = AF_XDP;
    address.sxdp_ifindex = ifindex;
    address.sxdp_queue_id = queue;
    if (shared_umem_fd >= 0) {
        // A socket sharing a UMEM inherits the first one's modes: no other flags allowed.
        address.sxdp_flags = XDP_SHARED_UMEM;
        address.sxdp_shared_umem_fd = (uint32_t)shared_umem_fd;
    } else {
        address.sxdp_flags = flags;
    }
    return bind(fd, (struct sockaddr *)&address, sizeof address) == 0 ? 0 : -errno;
}

void cxdp_xsk_unmap_rings(struct cxdp_ring_maps *maps) {
    for (int i = 0; i < 4; i++) {
        if (maps->base[i]) munmap(maps->base[i], maps->length[i]);
        maps->base[i] = NULL;
    }
}
