/* SPDX-License-Identifier: MIT */
/*
 * vhost-user socket framing: one message is a 12-byte header, up to
 * sizeof(union vhost_user_payload) bytes of payload and up to
 * VHOST_USER_MAX_FDS file descriptors (SCM_RIGHTS, on the header).
 */
#ifndef VUFS_VU_SOCK_H
#define VUFS_VU_SOCK_H

#include "vhost_user.h"

/*
 * Create, bind and listen on a UNIX socket at @path (replacing a stale one),
 * mode 0600 or narrower (the process umask applies on top). Returns fd or -errno.
 */
int vu_sock_listen(const char *path);

/* Accept one pending connection on @listen_fd and close it at once, logging who it was. */
void vu_sock_refuse(int listen_fd);

/*
 * Receive one message. The fds that came with it are stored in @fds
 * (*@nfds of them, all O_CLOEXEC; the caller owns them).
 * Returns 0, -ECONNRESET when the peer closed the connection, -EPROTO for
 * a message that cannot be framed (bad version, oversized payload,
 * truncated ancillary data: the stream cannot be trusted after it) or
 * another negative errno.
 */
int vu_sock_recv(int sock, struct vhost_user_msg *msg, int *fds, unsigned *nfds);

/* Send @msg (header + hdr.size bytes of payload), with @nfds fds. Returns 0 or -errno. */
int vu_sock_send(int sock, const struct vhost_user_msg *msg, const int *fds, unsigned nfds);

/* Close the first @nfds entries of @fds that are >= 0 and set them to -1. */
void vu_close_fds(int *fds, unsigned nfds);

#endif /* VUFS_VU_SOCK_H */
