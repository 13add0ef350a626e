// SPDX-License-Identifier: MIT
/*
 * Inode and handle tables.
 *
 * Lookup counting rule (FUSE): each reply that gives the guest an entry
 * (LOOKUP, CREATE, MKDIR, MKNOD, SYMLINK, LINK, READDIRPLUS) adds one to
 * nlookup; FORGET/BATCH_FORGET subtract the guest's count. Separately,
 * refs counts requests using the inode right now. The inode (and its fd)
 * goes when both are zero; the root is never freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "pt_i.h"

int pt_stat_fd(int fd, struct stat *st, uint64_t *mnt_id)
{
	return pt_stat_at(fd, "", AT_EMPTY_PATH, st, mnt_id);
}

int pt_stat_at(int dirfd, const char *name, int flags, struct stat *st, uint64_t *mnt_id)
{
	struct statx stx;

	if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_MNT_ID, &stx) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	st->st_ino = stx.stx_ino;
	st->st_mode = stx.stx_mode;
	st->st_nlink = stx.stx_nlink;
	st->st_uid = stx.stx_uid;
	st->st_gid = stx.stx_gid;
	st->st_rdev = makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
	st->st_size = (off_t)stx.stx_size;
	st->st_blksize = stx.stx_blksize;
	st->st_blocks = (blkcnt_t)stx.stx_blocks;
	st->st_atim.tv_sec = stx.stx_atime.tv_sec;
	st->st_atim.tv_nsec = stx.stx_atime.tv_nsec;
	st->st_mtim.tv_sec = stx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = stx.stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = stx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = stx.stx_ctime.tv_nsec;
	if (mnt_id)
		*mnt_id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	return 0;
}

static size_t hash_key(const struct pt_fs *fs, dev_t dev, ino_t ino, uint64_t mnt_id)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull;

	h ^= ((uint64_t)dev + (mnt_id << 20)) * 0xff51afd7ed558ccdull;
	h ^= h >> 29;
	return (size_t)h & (fs->hash_size - 1);
}

static void hash_insert(struct pt_fs *fs, struct pt_inode *in)
{
	size_t b = hash_key(fs, in->dev, in->ino, in->mnt_id);

	in->hnext = fs->hash[b];
	fs->hash[b] = in;
}

static void hash_remove(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_inode **p = &fs->hash[hash_key(fs, in->dev, in->ino, in->mnt_id)];

	while (*p && *p != in)
		p = &(*p)->hnext;
	if (*p)
		*p = in->hnext;
}

/* Keep chains short; on allocation failure the table just stays longer-chained. */
static void hash_maybe_grow(struct pt_fs *fs)
{
	struct pt_inode **old = fs->hash;
	size_t old_size = fs->hash_size;
	struct pt_inode **nh;

	if (fs->inodes.used < old_size)
		return;
	nh = calloc(old_size * 2, sizeof(*nh));
	if (!nh)
		return;
	fs->hash = nh;
	fs->hash_size = old_size * 2;
	for (size_t i = 0; i < old_size; i++) {
		struct pt_inode *in = old[i];

		while (in) {
			struct pt_inode *next = in->hnext;

			hash_insert(fs, in);
			in = next;
		}
	}
	free(old);
}

static struct pt_inode *hash_find(struct pt_fs *fs, dev_t dev, ino_t ino, uint64_t mnt_id)
{
	struct pt_inode *in = fs->hash[hash_key(fs, dev, ino, mnt_id)];

	while (in && !(in->ino == ino && in->dev == dev && in->mnt_id == mnt_id))
		in = in->hnext;
	return in;
}

int pt_inode_table_init(struct pt_fs *fs)
{
	pthread_mutex_init(&fs->inode_lock, NULL);
	pthread_mutex_init(&fs->handle_lock, NULL);
	/* Index 0 is never a nodeid; 1 is FUSE_ROOT_ID. */
	idtable_init(&fs->inodes, PT_ROOT_ID + 1);
	idtable_init(&fs->handles, 0);
	fs->hash_size = 1024;
	fs->hash = calloc(fs->hash_size, sizeof(*fs->hash));
	return fs->hash ? 0 : -ENOMEM;
}

int pt_inode_set_root(struct pt_fs *fs, int fd)
{
	struct pt_inode *in;
	struct stat st;
	int err;

	in = calloc(1, sizeof(*in));
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	in->fd = fd;
	err = pt_stat_fd(fd, &st, &in->mnt_id);
	if (!err)
		err = idtable_set_fixed(&fs->inodes, PT_ROOT_ID, in, &in->nodeid);
	if (err) {
		close(fd);
		free(in);
		return err;
	}
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->type = S_IFDIR;
	in->nlookup = 1; /* pinned: never freed while the daemon runs */
	fs->root = in;
	hash_insert(fs, in);
	return 0;
}

int pt_fd_charge(struct pt_fs *fs)
{
	unsigned long n = __atomic_add_fetch(&fs->guest_fds, 1, __ATOMIC_RELAXED);

	if (fs->cfg.max_fds && n > fs->cfg.max_fds) {
		__atomic_sub_fetch(&fs->guest_fds, 1, __ATOMIC_RELAXED);
		log_guest(LOG_LVL_WARN, "guest fd limit (%lu) reached: ENFILE", fs->cfg.max_fds);
		return -ENFILE;
	}
	return 0;
}

void pt_fd_release(struct pt_fs *fs)
{
	__atomic_sub_fetch(&fs->guest_fds, 1, __ATOMIC_RELAXED);
}

static void inode_free(struct pt_fs *fs, struct pt_inode *in)
{
	hash_remove(fs, in);
	idtable_remove(&fs->inodes, in->nodeid);
	close(in->fd);
	if (in != fs->root)
		pt_fd_release(fs);
	free(in);
}

/* Caller holds inode_lock. */
static void inode_maybe_free(struct pt_fs *fs, struct pt_inode *in)
{
	if (in->nlookup == 0 && in->refs == 0 && in != fs->root)
		inode_free(fs, in);
}

/*
 * Caller holds inode_lock: if nothing holds @in any more, take it out of
 * the tables and return it for inode_close() after the unlock; else NULL.
 */
static struct pt_inode *inode_maybe_detach(struct pt_fs *fs, struct pt_inode *in)
{
	if (in->nlookup || in->refs || in == fs->root)
		return NULL;
	hash_remove(fs, in);
	idtable_remove(&fs->inodes, in->nodeid);
	return in;
}

/*
 * Close a detached inode, outside inode_lock: the last close of a file the
 * guest unlinked frees it on the host (milliseconds), and every request
 * needs that lock. NULL is fine.
 */
static void inode_close(struct pt_fs *fs, struct pt_inode *in)
{
	if (!in)
		return;
	close(in->fd);
	pt_fd_release(fs); /* never the root: it is never detached */
	free(in);
}

void pt_inode_table_fini(struct pt_fs *fs)
{
	for (size_t i = 0; fs->hash && i < fs->hash_size; i++) {
		while (fs->hash[i])
			inode_free(fs, fs->hash[i]);
	}
	free(fs->hash);
	fs->hash = NULL;
	idtable_destroy(&fs->inodes);
	idtable_destroy(&fs->handles);
	pthread_mutex_destroy(&fs->inode_lock);
	pthread_mutex_destroy(&fs->handle_lock);
}

struct pt_inode *pt_inode_get(struct pt_fs *fs, uint64_t nodeid)
{
	struct pt_inode *in;

	pthread_mutex_lock(&fs->inode_lock);
	in = idtable_get(&fs->inodes, nodeid);
	if (in)
		in->refs++;
	pthread_mutex_unlock(&fs->inode_lock);
	return in;
}

void pt_inode_put(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_inode *gone;

	if (!in)
		return;
	pthread_mutex_lock(&fs->inode_lock);
	in->refs--;
	gone = inode_maybe_detach(fs, in);
	pthread_mutex_unlock(&fs->inode_lock);
	inode_close(fs, gone);
}

static void fill_entry(const struct pt_inode *in, const struct stat *st, struct pt_entry *out)
{
	out->nodeid = in->nodeid;
	out->generation = in->generation;
	out->st = *st;
}

int pt_inode_insert(struct pt_fs *fs, int fd, struct pt_entry *out)
{
	struct pt_inode *in, *found;
	struct stat st;
	uint64_t mnt_id;
	int err;

	err = pt_stat_fd(fd, &st, &mnt_id);
	if (err)
		goto err_close;

	pthread_mutex_lock(&fs->inode_lock);
	found = hash_find(fs, st.st_dev, st.st_ino, mnt_id);
	if (found) {
		found->nlookup++;
		fill_entry(found, &st, out);
		pthread_mutex_unlock(&fs->inode_lock);
		close(fd);
		return 0;
	}
	err = pt_fd_charge(fs);
	if (err) {
		pthread_mutex_unlock(&fs->inode_lock);
		goto err_close;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		pthread_mutex_unlock(&fs->inode_lock);
		pt_fd_release(fs);
		err = -ENOMEM;
		goto err_close;
	}
	err = idtable_alloc(&fs->inodes, in, &in->nodeid);
	if (err) {
		pthread_mutex_unlock(&fs->inode_lock);
		pt_fd_release(fs);
		free(in);
		goto err_close;
	}
	in->fd = fd;
	in->generation = in->nodeid >> 32;
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->mnt_id = mnt_id;
	in->type = st.st_mode & S_IFMT;
	in->nlookup = 1;
	hash_insert(fs, in);
	hash_maybe_grow(fs);
	fill_entry(in, &st, out);
	pthread_mutex_unlock(&fs->inode_lock);
	return 0;

err_close:
	close(fd);
	return err;
}

int pt_inode_find(struct pt_fs *fs, const struct stat *st, uint64_t mnt_id, struct pt_entry *out)
{
	struct pt_inode *in;

	pthread_mutex_lock(&fs->inode_lock);
	in = hash_find(fs, st->st_dev, st->st_ino, mnt_id);
	if (in) {
		in->nlookup++;
		fill_entry(in, st, out);
	}
	pthread_mutex_unlock(&fs->inode_lock);
	return in ? 0 : -ENOENT;
}

void pt_inode_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n)
{
	struct pt_inode *in;

	pthread_mutex_lock(&fs->inode_lock);
	in = idtable_get(&fs->inodes, nodeid);
	if (!in) {
		pthread_mutex_unlock(&fs->inode_lock);
		log_guest(LOG_LVL_WARN, "forget of unknown nodeid 0x%llx",
			  (unsigned long long)nodeid);
		return;
	}
	if (n > in->nlookup) {
		log_guest(LOG_LVL_WARN, "forget of %llu lookups on nodeid 0x%llx that has %llu",
			  (unsigned long long)n, (unsigned long long)nodeid,
			  (unsigned long long)in->nlookup);
		n = in->nlookup;
	}
	in->nlookup -= n;
	in = inode_maybe_detach(fs, in);
	pthread_mutex_unlock(&fs->inode_lock);
	inode_close(fs, in);
}

void pt_inode_unlookup(struct pt_fs *fs, uint64_t nodeid)
{
	pt_inode_forget(fs, nodeid, 1);
}

static void forget_one(void *obj, uint64_t id, void *arg)
{
	struct pt_fs *fs = arg;
	struct pt_inode *in = obj;

	(void)id;
	if (in == fs->root)
		return;
	in->nlookup = 0;
	inode_maybe_free(fs, in);
}

void pt_inode_forget_all(struct pt_fs *fs)
{
	pthread_mutex_lock(&fs->inode_lock);
	idtable_foreach(&fs->inodes, forget_one, fs);
	pthread_mutex_unlock(&fs->inode_lock);
}

unsigned long pt_inode_count(struct pt_fs *fs)
{
	unsigned long n;

	pthread_mutex_lock(&fs->inode_lock);
	n = fs->inodes.used;
	pthread_mutex_unlock(&fs->inode_lock);
	return n;
}

/* Handles. The handle holds a ref on its inode for as long as it exists. */

int pt_handle_add(struct pt_fs *fs, int fd, struct pt_inode *inode, bool is_dir, uint64_t *fh)
{
	struct pt_handle *h;
	int err;

	err = pt_fd_charge(fs);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h) {
		pt_fd_release(fs);
		return -ENOMEM;
	}
	h->fd = fd;
	h->inode = inode;
	h->is_dir = is_dir;
	h->refs = 1; /* the table's */
	pthread_mutex_init(&h->dir_lock, NULL);
	pthread_mutex_lock(&fs->inode_lock);
	inode->refs++;
	pthread_mutex_unlock(&fs->inode_lock);

	pthread_mutex_lock(&fs->handle_lock);
	err = idtable_alloc(&fs->handles, h, fh);
	pthread_mutex_unlock(&fs->handle_lock);
	if (err) {
		pt_inode_put(fs, inode);
		pthread_mutex_destroy(&h->dir_lock);
		free(h);
		pt_fd_release(fs);
	}
	return err;
}

static void handle_free(struct pt_fs *fs, struct pt_handle *h)
{
	close(h->fd);
	pt_fd_release(fs);
	pt_inode_put(fs, h->inode);
	pthread_mutex_destroy(&h->dir_lock);
	free(h->dir_buf);
	free(h->locks);
	free(h);
}

struct pt_handle *pt_handle_get(struct pt_fs *fs, uint64_t fh, bool is_dir)
{
	struct pt_handle *h;

	pthread_mutex_lock(&fs->handle_lock);
	h = idtable_get(&fs->handles, fh);
	if (h && h->is_dir == is_dir)
		h->refs++;
	else
		h = NULL;
	pthread_mutex_unlock(&fs->handle_lock);
	return h;
}

void pt_handle_put(struct pt_fs *fs, struct pt_handle *h)
{
	bool last;

	pthread_mutex_lock(&fs->handle_lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&fs->handle_lock);
	if (last)
		handle_free(fs, h);
}

int pt_handle_remove(struct pt_fs *fs, uint64_t fh, bool is_dir)
{
	struct pt_handle *h;

	pthread_mutex_lock(&fs->handle_lock);
	h = idtable_get(&fs->handles, fh);
	if (!h || h->is_dir != is_dir) {
		pthread_mutex_unlock(&fs->handle_lock);
		return -EBADF;
	}
	idtable_remove(&fs->handles, fh);
	pthread_mutex_unlock(&fs->handle_lock);
	pt_handle_put(fs, h);
	return 0;
}

struct handle_list {
	uint64_t *ids;
	size_t n;
};

static void collect_handle(void *obj, uint64_t id, void *arg)
{
	struct handle_list *l = arg;

	(void)obj;
	l->ids[l->n++] = id;
}

void pt_handle_remove_all(struct pt_fs *fs)
{
	struct handle_list l = { 0 };

	pthread_mutex_lock(&fs->handle_lock);
	l.ids = calloc(fs->handles.used + 1, sizeof(*l.ids));
	if (l.ids)
		idtable_foreach(&fs->handles, collect_handle, &l);
	pthread_mutex_unlock(&fs->handle_lock);
	if (!l.ids) {
		log_err("out of memory releasing handles");
		return;
	}
	/* One by one, so the slots' generations move on and old fhs stay dead. */
	for (size_t i = 0; i < l.n; i++) {
		struct pt_handle *h;

		pthread_mutex_lock(&fs->handle_lock);
		h = idtable_remove(&fs->handles, l.ids[i]);
		pthread_mutex_unlock(&fs->handle_lock);
		if (h)
			pt_handle_put(fs, h);
	}
	free(l.ids);
}

unsigned long pt_handle_count(struct pt_fs *fs)
{
	unsigned long n;

	pthread_mutex_lock(&fs->handle_lock);
	n = fs->handles.used;
	pthread_mutex_unlock(&fs->handle_lock);
	return n;
}
