// SPDX-License-Identifier: MIT
/* File handles and the mount-fd cache (see pt_fhandle.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pt_fhandle.h"

int pt_fh_mode_parse(const char *s, enum pt_fh_mode *out)
{
	if (!strcmp(s, "never"))
		*out = PT_FH_NEVER;
	else if (!strcmp(s, "prefer") || !strcmp(s, "fallback"))
		*out = PT_FH_PREFER;
	else if (!strcmp(s, "mandatory"))
		*out = PT_FH_MANDATORY;
	else
		return -EINVAL;
	return 0;
}

const char *pt_fh_mode_name(enum pt_fh_mode mode)
{
	switch (mode) {
	case PT_FH_NEVER:
		return "never";
	case PT_FH_PREFER:
		return "prefer";
	case PT_FH_MANDATORY:
		return "mandatory";
	}
	return "?";
}

static int fh_at(int dirfd, const char *name, int flags, struct pt_fh **out, uint64_t *mnt_id)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + PT_FH_MAX_BYTES];
	} u;
	struct pt_fh *h;
	int mount_id;

	u.fh.handle_bytes = PT_FH_MAX_BYTES;
	if (name_to_handle_at(dirfd, name, &u.fh, &mount_id, flags) < 0) {
		/* EOVERFLOW: larger than MAX_HANDLE_SZ; treat it like no handles at all. */
		if (errno == EOPNOTSUPP || errno == EOVERFLOW)
			return -EOPNOTSUPP;
		return -errno;
	}
	if (u.fh.handle_bytes > PT_FH_MAX_BYTES)
		return -EOPNOTSUPP;
	h = malloc(sizeof(*h) + u.fh.handle_bytes);
	if (!h)
		return -ENOMEM;
	h->bytes = u.fh.handle_bytes;
	h->type = u.fh.handle_type;
	memcpy(h->data, u.fh.f_handle, h->bytes);
	*out = h;
	*mnt_id = (uint64_t)(unsigned)mount_id;
	return 0;
}

int pt_fh_from_fd(int fd, struct pt_fh **out, uint64_t *mnt_id)
{
	return fh_at(fd, "", AT_EMPTY_PATH, out, mnt_id);
}

int pt_fh_from_name(int dirfd, const char *name, struct pt_fh **out, uint64_t *mnt_id)
{
	/* No AT_SYMLINK_FOLLOW: a final symlink gives the link's own handle. */
	return fh_at(dirfd, name, 0, out, mnt_id);
}

bool pt_fh_equal(const struct pt_fh *a, const struct pt_fh *b)
{
	return a->bytes == b->bytes && a->type == b->type && !memcmp(a->data, b->data, a->bytes);
}

void pt_mounts_init(struct pt_mounts *m, int proc_fd)
{
	pthread_mutex_init(&m->lock, NULL);
	m->v = NULL;
	m->n = m->cap = 0;
	m->proc_fd = proc_fd;
}

void pt_mounts_fini(struct pt_mounts *m)
{
	for (unsigned i = 0; i < m->n; i++)
		close(m->v[i].fd);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
	pthread_mutex_destroy(&m->lock);
}

/* Caller holds m->lock. */
static int find_fd(const struct pt_mounts *m, uint64_t mnt_id)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (m->v[i].mnt_id == mnt_id)
			return m->v[i].fd;
	}
	return -1;
}

int pt_mounts_add(struct pt_mounts *m, uint64_t mnt_id, int path_fd, bool is_dir)
{
	char name[16];
	int fd, err = 0;

	pthread_mutex_lock(&m->lock);
	fd = find_fd(m, mnt_id);
	pthread_mutex_unlock(&m->lock);
	if (fd >= 0)
		return 0;
	/*
	 * A real open: only of a directory (a FIFO would block, a device would
	 * be opened); the first inode met on a mount is nearly always its root.
	 */
	if (!is_dir)
		return -ENOTDIR;
	snprintf(name, sizeof(name), "%d", path_fd);
	fd = openat(m->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&m->lock);
	if (find_fd(m, mnt_id) >= 0) {
		/* Another thread was first. */
	} else if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 4;
		struct pt_mount_fd *v = realloc(m->v, cap * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
		} else {
			m->v = v;
			m->cap = cap;
		}
	}
	if (!err && find_fd(m, mnt_id) < 0) {
		m->v[m->n].mnt_id = mnt_id;
		m->v[m->n].fd = fd;
		m->n++;
		fd = -1;
		log_debug("file handles: mount %llu cached", (unsigned long long)mnt_id);
	}
	pthread_mutex_unlock(&m->lock);
	if (fd >= 0)
		close(fd);
	return err;
}

int pt_mounts_open(struct pt_mounts *m, uint64_t mnt_id, const struct pt_fh *fh, int flags)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + PT_FH_MAX_BYTES];
	} u;
	int mfd, fd;

	if (fh->bytes > PT_FH_MAX_BYTES)
		return -EINVAL;
	u.fh.handle_bytes = fh->bytes;
	u.fh.handle_type = fh->type;
	memcpy(u.fh.f_handle, fh->data, fh->bytes);
	/*
	 * The mount fd stays open until pt_mounts_fini (entries are never
	 * removed), so it may be used after the lock is dropped.
	 */
	pthread_mutex_lock(&m->lock);
	mfd = find_fd(m, mnt_id);
	pthread_mutex_unlock(&m->lock);
	if (mfd < 0)
		return -ESTALE;
	fd = open_by_handle_at(mfd, &u.fh, O_PATH | O_NOFOLLOW | O_CLOEXEC | flags);
	return fd < 0 ? -errno : fd;
}

unsigned pt_mounts_count(struct pt_mounts *m)
{
	unsigned n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}
