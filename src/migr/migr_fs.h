/* SPDX-License-Identifier: MIT */
/*
 * Live migration of the FUSE session and the passthrough filesystem's
 * guest-visible state: what the guest holds (nodeids with their lookup
 * counts, open file and directory handles, POSIX locks, the negotiated
 * INIT) is saved on the source into a migr_state stream and recreated on
 * the destination under the same ids, so the guest carries on without
 * noticing.
 *
 * How the destination finds each inode (--migration-mode, the Rust
 * virtiofsd's meanings):
 *   find-paths    the source sends each inode's path relative to the share
 *                 (read back from its fd); the destination opens it again.
 *                 Works across hosts whose shares have the same tree.
 *   file-handles  the source sends file handles; the destination opens them
 *                 (open_by_handle_at, CAP_DAC_READ_SEARCH). Only when both
 *                 sides see the same filesystem.
 * --migration-verify-handles (source): attach file handles in find-paths
 *   mode too; the destination refuses a path that now names another file.
 * --migration-confirm-paths (source): check each path right before sending
 *   (stat it again); a path that no longer names the inode counts as lost.
 * --migration-on-error (destination): abort (the load fails; QEMU aborts
 *   the migration and the source carries on) or guest-error (the lost
 *   inode's nodeid and its handles give the guest ESTALE/EBADF; everything
 *   else migrates).
 * The destination always checks the file type, and with handles the
 * handle, so a file renamed or replaced on the host between save and load
 * is never confused with another.
 *
 * Locks (POSIX byte ranges and flock) are taken again on the destination;
 * one the source daemon still holds (same host: until it exits) is retried
 * by a helper thread for 30 s. Waiting lock requests are answered with
 * EINTR before the rings stop (fuse_session_quiesce). Not migrated: DAX
 * mappings (QEMU refuses to migrate a device with shared memory regions).
 */
#ifndef VUFS_MIGR_FS_H
#define VUFS_MIGR_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migr_state.h"

struct pt_fs;
struct fuse_session;


/* What the last save/load did (logs, tests, the numbers tool). */
struct migr_stats {
	size_t inodes, handles, locks;
	size_t lost_inodes, lost_handles, lost_locks;
	size_t bytes;
};

/*
 * Source: serialise the state (every ring stopped, so nothing changes).
 * Returns 0 with *@buf (free()) of *@len bytes, or -errno (logged).
 */
int migr_fs_save(struct pt_fs *fs, struct fuse_session *se, const struct migr_conf *conf,
		 uint8_t **buf, size_t *len, struct migr_stats *stats);

/*
 * Destination: load an untrusted stream into a daemon that holds nothing
 * yet (no INIT). Returns 0 or -errno with the reason logged: -EBADMSG (a
 * malformed stream), -EPROTONOSUPPORT (from a newer, incompatible vufsd),
 * -EBUSY (this daemon already serves a session), -ENOENT/-ESTALE/-EEXIST
 * (an inode could not be found again, with --migration-on-error=abort).
 * On failure everything loaded is dropped again.
 */
int migr_fs_load(struct pt_fs *fs, struct fuse_session *se, const struct migr_conf *conf,
		 const uint8_t *buf, size_t len, struct migr_stats *stats);

/* Stop the helper that takes locks again (before the filesystem is freed). */
void migr_fs_fini(void);

#endif /* VUFS_MIGR_FS_H */
