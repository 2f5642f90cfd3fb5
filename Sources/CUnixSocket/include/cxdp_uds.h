#ifndef CXDP_UDS_H
#define CXDP_UDS_H

#include <stddef.h>
#include <sys/types.h>

/* Unix-socket messages with one file descriptor in SCM_RIGHTS: the
 * Kubernetes AF_XDP device plugin's handshake (XSKMAP fd in, AF_XDP socket
 * fd out). CMSG_* are macros Swift cannot call. */

/* Sends `length` bytes as one message, with `fd` attached when fd >= 0.
 * Retries EINTR. Returns the bytes sent or -errno. */
ssize_t cxdp_uds_send(int sock, const void *message, size_t length, int fd);

/* Receives one message (at most `capacity` bytes). *fd is the descriptor it
 * carried (close-on-exec), or -1; any further descriptors are closed.
 * Retries EINTR. Returns the length, 0 when the peer closed, or -errno
 * (-EAGAIN after SO_RCVTIMEO). */
ssize_t cxdp_uds_receive(int sock, void *buffer, size_t capacity, int *fd);

#endif
