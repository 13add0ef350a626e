// SPDX-License-Identifier: MIT
/*
 * Inode and handle tables.
 *
 * Lookup counting rule (FUSE): each reply that gives the guest an entry
 * (LOOKUP, CREATE, MKDIR, MKNOD, SYMLINK, LINK, READDIRPLUS) adds one to
 * nlookup; FORGET/BATCH_FORGET subtract the guest's count. Separately,
 * refs counts requests using the inode right now. The inode (and its fd)
 * goes when both are zero; the root is never freed.
 *
 * File-handle inodes (--inode-file-handles=prefer|mandatory): an inode
 * whose filesystem has handles keeps its handle instead of an O_PATH fd.
 * pt_inode_get opens the fd by handle when the inode has none, and the fd
 * stays valid until the matching pt_inode_put; after that the inode goes
 * to a small LRU cache of open fds (PT_FD_CACHE), whose oldest entry's fd
 * is closed when it overflows. So the fds held are: the root, one per
 * mount met (pt_mounts), the cache, those in use by requests, and open
 * files, whatever the number of inodes the guest knows. Only inodes that
 * hold their fd for good (no handle) count against --fd-limit.
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
	struct pt_inode **p;

	if (in->unhashed)
		return;
	p = &fs->hash[hash_key(fs, in->dev, in->ino, in->mnt_id)];
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
	pt_mounts_init(&fs->mounts, -1);
	fs->fh_mode = PT_FH_NEVER;
	pthread_mutex_init(&fs->ino_lock, NULL);
	fs->fold_ino = true; /* until INIT says the guest mounts announced submounts */
	fs->hash_size = 1024;
	fs->hash = calloc(fs->hash_size, sizeof(*fs->hash));
	return fs->hash ? 0 : -ENOMEM;
}

/*
 * --inode-file-handles: check on the share's root that handles can be
 * made and opened again (the filesystem has them; we hold
 * CAP_DAC_READ_SEARCH). mandatory fails here with the reason; prefer
 * falls back to O_PATH fds for everything.
 */
static int handles_setup(struct pt_fs *fs, int root_fd, uint64_t root_mnt)
{
	enum pt_fh_mode mode = fs->cfg.inode_file_handles;
	struct pt_fh *fh = NULL;
	const char *why;
	uint64_t mnt;
	int fd, err;

	fs->mounts.proc_fd = fs->proc_fd;
	if (mode == PT_FH_NEVER)
		return 0;
	why = "the filesystem cannot make file handles (name_to_handle_at)";
	err = pt_fh_from_fd(root_fd, &fh, &mnt);
	if (!err) {
		why = "cannot open the shared directory as a mount fd";
		err = pt_mounts_add(&fs->mounts, root_mnt, root_fd, true);
	}
	if (!err) {
		why = "cannot open a file handle (open_by_handle_at needs CAP_DAC_READ_SEARCH "
		      "in the initial user namespace)";
		fd = pt_mounts_open(&fs->mounts, root_mnt, fh, 0);
		if (fd < 0)
			err = fd;
		else
			close(fd);
	}
	free(fh);
	if (!err) {
		fs->fh_mode = mode;
		log_info("inode file handles: %s", pt_fh_mode_name(mode));
		return 0;
	}
	if (mode == PT_FH_MANDATORY) {
		log_err("--inode-file-handles=mandatory: %s for %s: %s", why, fs->cfg.root,
			strerror(-err));
		return -EOPNOTSUPP;
	}
	log_warn("--inode-file-handles=prefer: %s for %s (%s): using O_PATH fds", why,
		 fs->cfg.root, strerror(-err));
	return 0;
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
		err = handles_setup(fs, fd, in->mnt_id);
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
	fs->devs[0] = st.st_dev; /* the share's filesystem keeps its numbers */
	__atomic_store_n(&fs->ndevs, 1, __ATOMIC_RELEASE);
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

/* The fd cache. Caller holds inode_lock. */
static void lru_unlink(struct pt_fs *fs, struct pt_inode *in)
{
	if (!in->in_lru)
		return;
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		fs->lru_head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		fs->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	in->in_lru = false;
	fs->lru_n--;
}

/*
 * Cache unreferenced file-handle inode @in's fd. Returns an fd the caller
 * must close after dropping inode_lock (the evicted one), or -1.
 */
static int lru_push(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_inode *old;
	int fd;

	in->lru_prev = NULL;
	in->lru_next = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lru_prev = in;
	else
		fs->lru_tail = in;
	fs->lru_head = in;
	in->in_lru = true;
	if (++fs->lru_n <= PT_FD_CACHE)
		return -1;
	old = fs->lru_tail;
	lru_unlink(fs, old);
	fd = old->fd;
	old->fd = -1;
	return fd;
}

/* Take @in out of every table (caller holds inode_lock); inode_close() finishes it. */
static void inode_detach(struct pt_fs *fs, struct pt_inode *in)
{
	hash_remove(fs, in);
	lru_unlink(fs, in);
	idtable_remove(&fs->inodes, in->nodeid);
	if (in->fh)
		fs->fh_inodes--;
}

/*
 * Close and free a detached inode, without inode_lock where the caller can:
 * the last close of a file the guest unlinked frees it on the host
 * (milliseconds), and every request needs that lock. NULL is fine.
 */
static void inode_close(struct pt_fs *fs, struct pt_inode *in)
{
	if (!in)
		return;
	if (in->fd >= 0)
		close(in->fd);
	if (in != fs->root && !in->fh)
		pt_fd_release(fs);
	free(in->fh);
	free(in);
}

/* Caller holds inode_lock (teardown paths only: this closes under it). */
static void inode_free(struct pt_fs *fs, struct pt_inode *in)
{
	inode_detach(fs, in);
	inode_close(fs, in);
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
	inode_detach(fs, in);
	return in;
}

static void free_one(void *obj, uint64_t id, void *arg)
{
	(void)id;
	inode_free(arg, obj);
}

void pt_inode_table_fini(struct pt_fs *fs)
{
	/* Through the id table: inodes whose number was reused are off the hash. */
	if (fs->hash)
		idtable_foreach(&fs->inodes, free_one, fs);
	free(fs->hash);
	fs->hash = NULL;
	idtable_destroy(&fs->inodes);
	idtable_destroy(&fs->handles);
	pt_mounts_fini(&fs->mounts);
	free(fs->syn);
	fs->syn = NULL;
	pthread_mutex_destroy(&fs->ino_lock);
	pthread_mutex_destroy(&fs->inode_lock);
	pthread_mutex_destroy(&fs->handle_lock);
}

struct pt_inode *pt_inode_get(struct pt_fs *fs, uint64_t nodeid)
{
	struct pt_inode *in;
	int fd, err = 0;

	pthread_mutex_lock(&fs->inode_lock);
	in = idtable_get(&fs->inodes, nodeid);
	if (!in) {
		pthread_mutex_unlock(&fs->inode_lock);
		return NULL;
	}
	in->refs++;
	lru_unlink(fs, in); /* referenced now: its fd stays until the last put */
	if (in->fd >= 0 || !in->fh) {
		pthread_mutex_unlock(&fs->inode_lock);
		return in;
	}
	pthread_mutex_unlock(&fs->inode_lock);

	/* A file-handle inode without an fd: open it (no lock held across the syscall). */
	fd = pt_mounts_open(&fs->mounts, in->mnt_id, in->fh, 0);
	pthread_mutex_lock(&fs->inode_lock);
	if (in->fd < 0 && fd >= 0) {
		in->fd = fd; /* else another request opened it meanwhile */
		fd = -1;
	}
	if (in->fd < 0) {
		err = fd;
		fd = -1;
		in->refs--;
		inode_maybe_free(fs, in);
		in = NULL;
	}
	pthread_mutex_unlock(&fs->inode_lock);
	if (fd >= 0)
		close(fd);
	if (err)
		log_guest(LOG_LVL_DEBUG, "nodeid 0x%llx: cannot open its file handle: %s",
			  (unsigned long long)nodeid, strerror(-err));
	return in;
}

void pt_inode_put(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_inode *gone;
	int fd = -1;

	if (!in)
		return;
	pthread_mutex_lock(&fs->inode_lock);
	in->refs--;
	if (in->refs == 0 && in->fh && in->fd >= 0 && in->nlookup > 0)
		fd = lru_push(fs, in);
	gone = inode_maybe_detach(fs, in);
	pthread_mutex_unlock(&fs->inode_lock);
	if (fd >= 0)
		close(fd);
	inode_close(fs, gone);
}

/* Inode numbers for the guest: see pt_guest_ino in pt_i.h. */
#define INO_SHIFT 56
#define INO_LOW_MASK ((1ull << INO_SHIFT) - 1)
#define INO_OVERFLOW ((uint64_t)(PT_INO_DEVS) << INO_SHIFT) /* prefix 0xff */

void pt_fs_set_guest_submounts(struct pt_fs *fs, bool guest_automounts)
{
	bool fold = !(fs->cfg.announce_submounts && guest_automounts);

	__atomic_store_n(&fs->fold_ino, fold, __ATOMIC_RELAXED);
	log_info("submounts: %s", fs->cfg.announce_submounts ?
		 (guest_automounts ? "announced (each host filesystem has its own st_dev)" :
				     "the guest does not mount them: inode numbers get a device prefix") :
		 "not announced: inode numbers of other filesystems get a device prefix");
}

/* Caller holds ino_lock. The number in the overflow space for (@dev, @ino). */
static uint64_t syn_number(struct pt_fs *fs, dev_t dev, uint64_t ino)
{
	size_t i, mask;

	if (fs->syn_n * 2 >= fs->syn_cap) {
		size_t cap = fs->syn_cap ? fs->syn_cap * 2 : 64;
		struct pt_ino_syn *n = calloc(cap, sizeof(*n));

		if (!n)
			return INO_OVERFLOW; /* out of memory: one shared number, logged */
		for (i = 0; i < fs->syn_cap; i++) {
			struct pt_ino_syn *o = &fs->syn[i];
			size_t j;

			if (!o->num)
				continue;
			for (j = (size_t)((o->ino ^ o->dev) * 0x9e3779b97f4a7c15ull) & (cap - 1);
			     n[j].num; j = (j + 1) & (cap - 1))
				;
			n[j] = *o;
		}
		free(fs->syn);
		fs->syn = n;
		fs->syn_cap = cap;
	}
	mask = fs->syn_cap - 1;
	for (i = (size_t)((ino ^ dev) * 0x9e3779b97f4a7c15ull) & mask; fs->syn[i].num;
	     i = (i + 1) & mask) {
		if (fs->syn[i].dev == dev && fs->syn[i].ino == ino)
			return fs->syn[i].num;
	}
	fs->syn[i].dev = dev;
	fs->syn[i].ino = ino;
	fs->syn[i].num = INO_OVERFLOW | ++fs->syn_n;
	return fs->syn[i].num;
}

uint64_t pt_guest_ino(struct pt_fs *fs, dev_t dev, uint64_t ino)
{
	unsigned n, i;
	uint64_t r;

	if (!__atomic_load_n(&fs->fold_ino, __ATOMIC_RELAXED))
		return ino;
	n = __atomic_load_n(&fs->ndevs, __ATOMIC_ACQUIRE);
	for (i = 0; i < n && fs->devs[i] != dev; i++)
		;
	if (i < n && !(ino & ~INO_LOW_MASK))
		return (uint64_t)i << INO_SHIFT | ino;
	pthread_mutex_lock(&fs->ino_lock);
	n = fs->ndevs;
	for (i = 0; i < n && fs->devs[i] != dev; i++)
		;
	if (i == n && n < PT_INO_DEVS) {
		fs->devs[n] = dev;
		__atomic_store_n(&fs->ndevs, n + 1, __ATOMIC_RELEASE);
		log_info("inode numbers of device %u:%u get the prefix %u", major(dev), minor(dev),
			 n);
	}
	if (i < fs->ndevs && !(ino & ~INO_LOW_MASK))
		r = (uint64_t)i << INO_SHIFT | ino;
	else
		r = syn_number(fs, dev, ino);
	pthread_mutex_unlock(&fs->ino_lock);
	return r;
}

void pt_stat_to_guest(struct pt_fs *fs, struct stat *st)
{
	st->st_ino = (ino_t)pt_guest_ino(fs, st->st_dev, st->st_ino);
	st->st_uid = pt_idmap_to_guest(fs->cfg.uid_map, st->st_uid);
	st->st_gid = pt_idmap_to_guest(fs->cfg.gid_map, st->st_gid);
}

static void fill_entry(struct pt_fs *fs, const struct pt_inode *in, const struct stat *st,
		       struct pt_entry *out)
{
	out->nodeid = in->nodeid;
	out->generation = in->generation;
	out->st = *st;
	out->submount = false;
	pt_stat_to_guest(fs, &out->st);
}

/*
 * The handle for new inode O_PATH @fd (@st, @mnt_id), with its mount's fd
 * cached: 0 with *@out set, or NULL in *@out when it is to hold an fd
 * (prefer on a filesystem without handles). Mandatory refuses that.
 */
static int handle_for(struct pt_fs *fs, int fd, const struct stat *st, uint64_t mnt_id,
		      struct pt_fh **out)
{
	uint64_t hmnt;
	int err;

	*out = NULL;
	if (fs->fh_mode == PT_FH_NEVER)
		return 0;
	err = pt_fh_from_fd(fd, out, &hmnt);
	if (!err)
		err = pt_mounts_add(&fs->mounts, mnt_id, fd, S_ISDIR(st->st_mode));
	if (!err)
		return 0;
	free(*out);
	*out = NULL;
	if (fs->fh_mode == PT_FH_MANDATORY) {
		log_guest(LOG_LVL_WARN, "--inode-file-handles=mandatory: no file handle for an "
			  "inode on mount %llu: %s", (unsigned long long)mnt_id, strerror(-err));
		return err == -ENOTDIR ? -EOPNOTSUPP : err;
	}
	return 0;
}

int pt_inode_insert(struct pt_fs *fs, int fd, struct pt_entry *out)
{
	return pt_inode_insert_id(fs, fd, 0, 1, out);
}

int pt_inode_insert_id(struct pt_fs *fs, int fd, uint64_t want, uint64_t nlookup,
		       struct pt_entry *out)
{
	struct pt_inode *in, *found;
	struct pt_fh *fh = NULL;
	struct stat st;
	uint64_t mnt_id;
	int evicted = -1;
	int err;

	err = pt_stat_fd(fd, &st, &mnt_id);
	if (!err)
		err = handle_for(fs, fd, &st, mnt_id, &fh);
	if (err)
		goto err_close;

	pthread_mutex_lock(&fs->inode_lock);
	found = hash_find(fs, st.st_dev, st.st_ino, mnt_id);
	if (found && found->fh && fh && !pt_fh_equal(found->fh, fh)) {
		/* Deleted and its number reused: the old node lives on only for the guest's forget. */
		hash_remove(fs, found);
		found->unhashed = true;
		found = NULL;
	}
	if (found && want) {
		/* Restoring: two saved inodes are one host inode now (renamed or replaced). */
		pthread_mutex_unlock(&fs->inode_lock);
		err = -EEXIST;
		goto err_close;
	}
	if (found) {
		found->nlookup++;
		fill_entry(fs, found, &st, out);
		if (found->fh && found->fd < 0) {
			/* No fd means no reference: keep ours in the cache, it is likely used next. */
			found->fd = fd;
			fd = -1;
			evicted = lru_push(fs, found);
		}
		pthread_mutex_unlock(&fs->inode_lock);
		if (fd >= 0)
			close(fd);
		if (evicted >= 0)
			close(evicted);
		free(fh);
		return 0;
	}
	if (!fh) {
		err = pt_fd_charge(fs);
		if (err) {
			pthread_mutex_unlock(&fs->inode_lock);
			goto err_close;
		}
	} else if (fs->cfg.max_fds && fs->fh_inodes >= fs->cfg.max_fds * PT_FH_INODES_PER_FD) {
		pthread_mutex_unlock(&fs->inode_lock);
		log_guest(LOG_LVL_WARN, "guest inode limit (%lu file-handle inodes) reached: ENFILE",
			  fs->cfg.max_fds * PT_FH_INODES_PER_FD);
		err = -ENFILE;
		goto err_close;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		pthread_mutex_unlock(&fs->inode_lock);
		if (!fh)
			pt_fd_release(fs);
		err = -ENOMEM;
		goto err_close;
	}
	if (want) {
		err = idtable_claim(&fs->inodes, want, in);
		in->nodeid = want;
	} else {
		err = idtable_alloc(&fs->inodes, in, &in->nodeid);
	}
	if (err) {
		pthread_mutex_unlock(&fs->inode_lock);
		if (!fh)
			pt_fd_release(fs);
		free(in);
		goto err_close;
	}
	in->fd = fd;
	in->fh = fh;
	if (fh)
		fs->fh_inodes++;
	in->generation = in->nodeid >> 32;
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->mnt_id = mnt_id;
	in->type = st.st_mode & S_IFMT;
	in->nlookup = nlookup;
	hash_insert(fs, in);
	hash_maybe_grow(fs);
	if (fh)
		evicted = lru_push(fs, in); /* unreferenced: its fd is only cached */
	fill_entry(fs, in, &st, out);
	pthread_mutex_unlock(&fs->inode_lock);
	if (evicted >= 0)
		close(evicted);
	return 0;

err_close:
	free(fh);
	close(fd);
	return err;
}

int pt_inode_find(struct pt_fs *fs, const struct stat *st, uint64_t mnt_id, int dirfd,
		  const char *name, struct pt_entry *out)
{
	struct pt_fh *fh = NULL;
	struct pt_inode *in;
	uint64_t hmnt;

	/*
	 * With handles, a known inode that holds no fd does not pin its
	 * number: compare handles, which carry the generation.
	 */
	if (fs->fh_mode != PT_FH_NEVER && pt_fh_from_name(dirfd, name, &fh, &hmnt))
		fh = NULL;
	pthread_mutex_lock(&fs->inode_lock);
	in = hash_find(fs, st->st_dev, st->st_ino, mnt_id);
	if (in && in->fh && in->fd < 0 && (!fh || !pt_fh_equal(in->fh, fh)))
		in = NULL; /* let pt_inode_insert sort it out */
	if (in) {
		in->nlookup++;
		fill_entry(fs, in, st, out);
	}
	pthread_mutex_unlock(&fs->inode_lock);
	free(fh);
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
	*fh = 0;
	return pt_handle_add_id(fs, fd, inode, is_dir, fh);
}

int pt_handle_add_id(struct pt_fs *fs, int fd, struct pt_inode *inode, bool is_dir,
		     uint64_t *fh)
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
	if (*fh)
		err = idtable_claim(&fs->handles, *fh, h);
	else
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
