/* SPDX-License-Identifier: MIT */
/*
 * The files vufsd keeps beside its socket, as the Rust virtiofsd does:
 * a locked pid file PATH.pid (a second daemon on the same socket fails
 * instead of stealing it) and the socket's group for --socket-group.
 */
#ifndef VUFS_RUNFILES_H
#define VUFS_RUNFILES_H

#include <stddef.h>

/*
 * Create or open @socket_path.pid (0600), take an exclusive flock on it
 * and write our pid. The lock lives as long as the returned fd (and its
 * copies in forked children): keep it open until exit. Returns the fd, or
 * -EBUSY if another process holds the lock (logged with its pid), or
 * another -errno (logged).
 */
int run_pidfile_lock(const char *socket_path, char *path_out, size_t path_size);

/*
 * --socket-group: listen on @socket_path like vu_sock_listen, but with the
 * socket given to group @gid and open to it (0660) before it appears under
 * its name: it is made under a temporary name, chgrp'ed and chmod'ed, then
 * renamed into place, so no client ever sees it with the wrong group or
 * mode. Returns the listening fd or -errno (logged).
 */
int run_listen_group(const char *socket_path, unsigned gid);

#endif /* VUFS_RUNFILES_H */
