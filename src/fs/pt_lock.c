// SPDX-License-Identifier: MIT
/* Locks on file handles: POSIX (host OFD) locks with per-handle records for F_GETLK, and flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>

#include "pt_i.h"

/*
 * Lock records: host OFD locks know which open file holds a range, not
 * which guest process; F_GETLK must name the process. Each file handle
 * keeps the ranges it was granted with the guest pid, mirroring what the
 * host applied (a new lock replaces the handle's own overlapping ranges,
 * as POSIX does for one owner).
 */
#define PT_MAX_LOCK_RECS 1024

static uint64_t flock_end(const struct flock *fl)
{
	return fl->l_len ? (uint64_t)(fl->l_start + fl->l_len - 1) : UINT64_MAX;
}

/*
 * Record that @h now holds @type (F_UNLCK: nothing) on [s, e] for guest
 * process @pid. A handle's ranges never overlap, so at most one splits in
 * two. On allocation failure the records are dropped (pids then read 0).
 * Caller holds h->dir_lock.
 */
static void lock_recs_apply(struct pt_handle *h, uint64_t s, uint64_t e, short type,
			    uint32_t pid, uint64_t owner)
{
	unsigned max = h->nlocks + 2, n = 0;
	struct pt_lock_rec *v = malloc(max * sizeof(*v));

	if (!v || max > PT_MAX_LOCK_RECS) {
		free(v);
		v = NULL;
		goto out;
	}
	for (unsigned i = 0; i < h->nlocks; i++) {
		struct pt_lock_rec r = h->locks[i];

		if (r.end < s || r.start > e) {
			v[n++] = r;
			continue;
		}
		if (r.start < s) {
			v[n] = r;
			v[n++].end = s - 1;
		}
		if (r.end > e) {
			v[n] = r;
			v[n++].start = e + 1;
		}
	}
	if (type != F_UNLCK)
		v[n++] = (struct pt_lock_rec){
			.start = s, .end = e, .type = type, .pid = pid, .owner = owner
		};
out:
	free(h->locks);
	h->locks = v;
	h->nlocks = v ? n : 0;
	h->cap_locks = v ? max : 0;
}

struct lock_owner_search {
	struct pt_fs *fs;
	const struct pt_handle *self;
	const struct pt_inode *inode;
	uint64_t start, end;
	uint32_t pid;
};

/* idtable_foreach callback, under handle_lock: a record of another open of the inode. */
static void find_lock_owner(void *obj, uint64_t id, void *arg)
{
	struct lock_owner_search *q = arg;
	struct pt_handle *h = obj;

	(void)id;
	if (q->pid || h == q->self || h->is_dir || h->inode != q->inode)
		return;
	pthread_mutex_lock(&h->dir_lock);
	for (unsigned i = 0; i < h->nlocks; i++) {
		if (h->locks[i].start <= q->end && h->locks[i].end >= q->start) {
			q->pid = h->locks[i].pid;
			break;
		}
	}
	pthread_mutex_unlock(&h->dir_lock);
}

int pt_getlk(struct pt_fs *fs, uint64_t fh, struct flock *fl)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	struct lock_owner_search q = { .fs = fs };
	int err;

	if (!h)
		return -EBADF;
	fl->l_pid = 0; /* required for OFD locks */
	err = fcntl(h->fd, F_OFD_GETLK, fl) < 0 ? -errno : 0;
	if (!err && fl->l_type != F_UNLCK) {
		/* Which guest process holds it, if any (a host process: pid 0). */
		q.self = h;
		q.inode = h->inode;
		q.start = (uint64_t)fl->l_start;
		q.end = flock_end(fl);
		pthread_mutex_lock(&fs->handle_lock);
		idtable_foreach(&fs->handles, find_lock_owner, &q);
		pthread_mutex_unlock(&fs->handle_lock);
	}
	if (!err)
		fl->l_pid = (pid_t)q.pid;
	pt_handle_put(fs, h);
	return err;
}

int pt_setlk(struct pt_fs *fs, uint64_t fh, const struct flock *fl, uint64_t owner, bool wait)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	struct flock l = *fl;
	int err;

	if (!h)
		return -EBADF;
	l.l_pid = 0;
	err = fcntl(h->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &l) < 0 ? -errno : 0;
	if (!err) {
		pthread_mutex_lock(&h->dir_lock);
		lock_recs_apply(h, (uint64_t)fl->l_start, flock_end(fl), fl->l_type,
				(uint32_t)fl->l_pid, owner);
		pthread_mutex_unlock(&h->dir_lock);
	}
	pt_handle_put(fs, h);
	return err;
}

int pt_flock(struct pt_fs *fs, uint64_t fh, int op)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	int err;

	if (!h)
		return -EBADF;
	err = flock(h->fd, op) < 0 ? -errno : 0;
	if (!err) {
		/* Remembered so that a live migration can take it again (src/migr). */
		pthread_mutex_lock(&h->dir_lock);
		h->flock_held = op & (LOCK_SH | LOCK_EX);
		pthread_mutex_unlock(&h->dir_lock);
	}
	pt_handle_put(fs, h);
	return err;
}
