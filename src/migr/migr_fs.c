// SPDX-License-Identifier: MIT
#include "migr_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuse_i.h"
#include "log.h"
#include "pt_i.h"

/* ---- source ---- */

struct save_ctx {
	struct pt_fs *fs;
	const struct migr_conf *conf;
	struct migr_state *st;
	struct migr_stats *stats;
	char root[PATH_MAX];
	size_t rootlen;
	int err;
};

/* What /proc/self/fd says @fd is (an absolute path in our mount namespace). */
static int fd_path(struct pt_fs *fs, int fd, char *buf, size_t size)
{
	char name[16];
	ssize_t n;

	snprintf(name, sizeof(name), "%d", fd);
	n = readlinkat(fs->proc_fd, name, buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

/* @in's path relative to the share into @rel, or a negative errno (why it has none). */
static int inode_rel_path(struct save_ctx *c, const struct pt_inode *in, int fd, char *rel,
			  size_t size)
{
	char path[PATH_MAX];
	const char *r;
	struct stat st;
	int err = fd_path(c->fs, fd, path, sizeof(path));

	if (err)
		return err;
	if (fstat(fd, &st) == 0 && st.st_nlink == 0 && in->type != S_IFDIR)
		return -ENOENT; /* deleted while the guest holds it: no path leads to it */
	if (c->rootlen == 1) {
		r = path + 1;
	} else {
		if (strncmp(path, c->root, c->rootlen) || path[c->rootlen] != '/')
			return -EXDEV; /* not under the share (a disconnected path) */
		r = path + c->rootlen + 1;
	}
	if (strlen(r) >= size || !migr_path_ok(r, strlen(r)))
		return -EINVAL;
	if (c->conf->confirm_paths) {
		if (fstatat(c->fs->root->fd, r, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (st.st_dev != in->dev || st.st_ino != in->ino)
			return -ESTALE; /* the path names another file now */
	}
	strcpy(rel, r);
	return 0;
}

static void save_inode(void *obj, uint64_t id, void *arg)
{
	struct save_ctx *c = arg;
	struct pt_inode *in = obj;
	struct migr_inode mi = { 0 };
	struct pt_fh *fh = NULL;
	char rel[PATH_MAX];
	uint64_t mnt;
	int fd = in->fd, tmp = -1, err;

	if (c->err || id == PT_ROOT_ID || !in->nlookup)
		return;
	mi.nodeid = id;
	mi.nlookup = in->nlookup;
	mi.mode = in->type;
	mi.dev = in->dev;
	mi.ino = in->ino;
	mi.mnt_id = in->mnt_id;
	if (in->unhashed) {
		/*
		 * Deleted, its number reused: nothing leads to it. Sent without a
		 * way back, so the destination applies its error policy and never
		 * hands this nodeid out for another file.
		 */
		log_warn("migration: nodeid 0x%llx (ino %llu) was deleted on the host",
			 (unsigned long long)id, (unsigned long long)in->ino);
		c->stats->lost_inodes++;
		c->err = migr_state_add_inode(c->st, &mi);
		c->stats->inodes++;
		return;
	}
	if (fd < 0 && in->fh) {
		tmp = pt_mounts_open(&c->fs->mounts, in->mnt_id, in->fh, 0);
		fd = tmp;
	}
	if ((c->conf->mode == MIGR_MODE_FILE_HANDLES || c->conf->verify_handles) &&
	    c->conf->handles_allowed) {
		if (in->fh) {
			memcpy(mi.fh, in->fh->data, in->fh->bytes);
			mi.fh_bytes = in->fh->bytes;
			mi.fh_type = in->fh->type;
		} else if (fd >= 0 && pt_fh_from_fd(fd, &fh, &mnt) == 0) {
			memcpy(mi.fh, fh->data, fh->bytes);
			mi.fh_bytes = fh->bytes;
			mi.fh_type = fh->type;
			free(fh);
		}
		if (mi.fh_bytes)
			mi.flags |= MIGR_INODE_HAS_FH;
	}
	if (c->conf->mode == MIGR_MODE_FIND_PATHS) {
		err = fd >= 0 ? inode_rel_path(c, in, fd, rel, sizeof(rel)) : fd;
		if (err) {
			log_warn("migration: nodeid 0x%llx (ino %llu) has no path in the share: %s; "
				 "the destination applies its --migration-on-error",
				 (unsigned long long)id, (unsigned long long)in->ino, strerror(-err));
			c->stats->lost_inodes++;
		} else {
			mi.path = rel;
		}
	} else if (!mi.fh_bytes) {
		log_warn("migration: nodeid 0x%llx (ino %llu) has no file handle",
			 (unsigned long long)id, (unsigned long long)in->ino);
		c->stats->lost_inodes++;
	}
	if (tmp >= 0)
		close(tmp);
	c->err = migr_state_add_inode(c->st, &mi);
	c->stats->inodes++;
}

static void save_handle(void *obj, uint64_t id, void *arg)
{
	struct save_ctx *c = arg;
	struct pt_handle *h = obj;
	struct migr_handle mh = { .fh = id, .nodeid = h->inode->nodeid, .is_dir = h->is_dir };
	int fl;

	if (c->err)
		return;
	fl = fcntl(h->fd, F_GETFL);
	mh.open_flags = fl < 0 ? O_RDONLY : (uint32_t)fl;
	pthread_mutex_lock(&h->dir_lock);
	if (h->is_dir && h->dir_valid)
		mh.dir_off = h->dir_next;
	for (unsigned i = 0; i < h->nlocks && !c->err; i++) {
		const struct pt_lock_rec *r = &h->locks[i];
		struct migr_lock ml = { .fh = id, .kind = MIGR_LOCK_POSIX, .type = (uint32_t)r->type,
					.start = r->start, .end = r->end, .owner = r->owner,
					.pid = r->pid };

		c->err = migr_state_add_lock(c->st, &ml);
		c->stats->locks++;
	}
	if (h->flock_held && !c->err) {
		struct migr_lock ml = { .fh = id, .kind = MIGR_LOCK_FLOCK,
					.type = h->flock_held == LOCK_EX ? F_WRLCK : F_RDLCK,
					.end = UINT64_MAX };

		c->err = migr_state_add_lock(c->st, &ml);
		c->stats->locks++;
	}
	pthread_mutex_unlock(&h->dir_lock);
	if (!c->err)
		c->err = migr_state_add_handle(c->st, &mh);
	c->stats->handles++;
}

int migr_fs_save(struct pt_fs *fs, struct fuse_session *se, const struct migr_conf *conf,
		 uint8_t **buf, size_t *len, struct migr_stats *stats)
{
	struct migr_stats dummy;
	struct migr_state st;
	struct save_ctx c = { .fs = fs, .conf = conf, .st = &st };
	int err;

	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	c.stats = stats;
	migr_state_init(&st);
	err = fd_path(fs, fs->root->fd, c.root, sizeof(c.root));
	if (err) {
		log_err("migration: cannot find the share's own path: %s", strerror(-err));
		return err;
	}
	c.rootlen = strlen(c.root);
	pthread_mutex_lock(&se->init_lock);
	st.session.initialized = __atomic_load_n(&se->initialized, __ATOMIC_ACQUIRE);
	st.session.minor = se->proto_minor;
	st.session.flags = se->conn_flags;
	st.session.max_write = se->max_write;
	st.session.mode = conf->mode;
	st.session.share_dev = fs->root->dev;
	st.session.share_ino = fs->root->ino;
	pthread_mutex_unlock(&se->init_lock);

	pthread_mutex_lock(&fs->inode_lock);
	idtable_foreach(&fs->inodes, save_inode, &c);
	pthread_mutex_unlock(&fs->inode_lock);
	pthread_mutex_lock(&fs->handle_lock);
	idtable_foreach(&fs->handles, save_handle, &c);
	pthread_mutex_unlock(&fs->handle_lock);
	err = c.err;
	if (!err)
		err = migr_state_encode(&st, buf, len);
	if (!err)
		stats->bytes = *len;
	migr_state_free(&st);
	if (err)
		log_err("migration: cannot serialise the state: %s", strerror(-err));
	else
		log_info("migration: saved %zu inodes, %zu handles, %zu locks (%zu bytes; "
			 "%zu inodes without a way back)", stats->inodes, stats->handles,
			 stats->locks, stats->bytes, stats->lost_inodes);
	return err;
}

/* ---- destination ---- */

struct load_ctx {
	struct pt_fs *fs;
	const struct migr_conf *conf;
	const struct migr_state *st;
	struct migr_stats *stats;
	int mount_fd; /* the share, O_RDONLY: open_by_handle_at's mount fd */
	bool same_fs; /* the source served this very directory: (dev, ino) must match */
};

static int open_path(int root, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
	};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static int open_handle(struct load_ctx *c, const struct migr_inode *mi)
{
	struct file_handle *fh = malloc(sizeof(*fh) + mi->fh_bytes);
	int fd;

	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = mi->fh_bytes;
	fh->handle_type = mi->fh_type;
	memcpy(fh->f_handle, mi->fh, mi->fh_bytes);
	fd = open_by_handle_at(c->mount_fd, fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	free(fh);
	return fd < 0 ? -errno : fd;
}

/* Open the inode @mi names and check it is the same file. Returns an O_PATH fd or -errno. */
static int find_inode(struct load_ctx *c, const struct migr_inode *mi, const char **why)
{
	struct stat st;
	int fd;

	if (mi->flags & MIGR_INODE_HAS_PATH) {
		fd = open_path(c->fs->root->fd, mi->path);
		*why = "its path cannot be opened";
	} else if ((mi->flags & MIGR_INODE_HAS_FH) && !c->conf->handles_allowed) {
		*why = "it comes as a file handle, and this vufsd does not use handles (start it "
		       "with --migration-mode=file-handles)";
		return -EPERM;
	} else if ((mi->flags & MIGR_INODE_HAS_FH) && c->mount_fd >= 0) {
		fd = open_handle(c, mi);
		*why = "its file handle cannot be opened";
	} else {
		*why = "the source could not say where it is";
		return -ENOENT;
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		*why = "it cannot be examined";
		close(fd);
		return err;
	}
	if ((st.st_mode & S_IFMT) != mi->mode) {
		*why = "it is a different type of file now (renamed or replaced on the host)";
		close(fd);
		return -ESTALE;
	}
	if ((mi->flags & MIGR_INODE_HAS_PATH) && (mi->flags & MIGR_INODE_HAS_FH) &&
	    c->conf->handles_allowed) {
		struct pt_fh *fh = NULL;
		uint64_t mnt;
		int err = pt_fh_from_fd(fd, &fh, &mnt);
		bool same = !err && fh->bytes == mi->fh_bytes && fh->type == mi->fh_type &&
			    !memcmp(fh->data, mi->fh, mi->fh_bytes);

		free(fh);
		if (!same) {
			*why = "its path names another file now (file handles differ)";
			close(fd);
			return -ESTALE;
		}
	} else if ((c->same_fs || c->conf->verify_handles) &&
		   (st.st_dev != mi->dev || st.st_ino != mi->ino)) {
		*why = "its path names another file now (device and inode number differ)";
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* A saved object could not be recreated: abort, or retire its id (guest-error). */
static int lost(struct load_ctx *c, struct idtable *t, pthread_mutex_t *lock, uint64_t id,
		const char *what, const char *path, const char *why, int err)
{
	if (c->conf->on_error == MIGR_ON_ERROR_ABORT) {
		log_err("migration: %s 0x%llx%s%s%s: %s (%s); aborting the migration "
			"(--migration-on-error=abort)", what, (unsigned long long)id,
			path ? " (" : "", path ? path : "", path ? ")" : "", why, strerror(-err));
		return err;
	}
	log_warn("migration: %s 0x%llx%s%s%s: %s (%s); the guest gets an error for it", what,
		 (unsigned long long)id, path ? " (" : "", path ? path : "", path ? ")" : "", why,
		 strerror(-err));
	pthread_mutex_lock(lock);
	err = idtable_retire(t, id);
	pthread_mutex_unlock(lock);
	if (err == -EEXIST)
		return 0; /* already in use: restored under another record, nothing to retire */
	return err;
}

static int load_inodes(struct load_ctx *c)
{
	for (size_t i = 0; i < c->st->ninodes; i++) {
		const struct migr_inode *mi = &c->st->inodes[i];
		struct pt_entry e;
		const char *why = "";
		int fd = find_inode(c, mi, &why), err;

		if (fd >= 0) {
			err = pt_inode_insert_id(c->fs, fd, mi->nodeid, mi->nlookup, &e);
			if (err == -EEXIST)
				why = "it resolves to a file already restored under another nodeid";
			else if (err)
				why = "it cannot be added";
		} else {
			err = fd;
		}
		if (err) {
			c->stats->lost_inodes++;
			err = lost(c, &c->fs->inodes, &c->fs->inode_lock, mi->nodeid, "inode",
				   mi->path, why, err);
			if (err)
				return err;
			continue;
		}
		c->stats->inodes++;
	}
	return 0;
}

static int add_lock_rec(struct pt_handle *h, const struct migr_lock *ml)
{
	struct pt_lock_rec *v;

	pthread_mutex_lock(&h->dir_lock);
	if (ml->kind == MIGR_LOCK_FLOCK) {
		h->flock_held = ml->type == F_WRLCK ? LOCK_EX : LOCK_SH;
		pthread_mutex_unlock(&h->dir_lock);
		return 0;
	}
	v = realloc(h->locks, (h->nlocks + 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&h->dir_lock);
		return -ENOMEM;
	}
	h->locks = v;
	v[h->nlocks++] = (struct pt_lock_rec){ .start = ml->start, .end = ml->end,
					       .type = (short)ml->type, .pid = ml->pid,
					       .owner = ml->owner };
	pthread_mutex_unlock(&h->dir_lock);
	return 0;
}

static int take_lock(int fd, const struct migr_lock *ml)
{
	if (ml->kind == MIGR_LOCK_FLOCK) {
		int op = (ml->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB;

		if (flock(fd, op) < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return 0;
	}

	struct flock fl = {
		.l_type = (short)ml->type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)ml->start,
		.l_len = ml->end == UINT64_MAX ? 0 : (off_t)(ml->end - ml->start + 1),
	};

	if (ml->start > INT64_MAX || (ml->end != UINT64_MAX && ml->end > INT64_MAX))
		return -EINVAL;
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/*
 * Locks the source still holds (on the same host it lets go only when it
 * exits) are taken again by a helper thread that retries for a while.
 */
struct relock {
	struct pt_fs *fs;
	struct migr_lock *v;
	size_t n;
};

static pthread_mutex_t relock_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t relock_thread;
static bool relock_running, relock_stop;

#define RELOCK_TRIES 3000 /* every 10 ms: 30 s */

static void *relock_main(void *arg)
{
	struct relock *r = arg;
	size_t left = r->n;

	for (int t = 0; t < RELOCK_TRIES && left; t++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (__atomic_load_n(&relock_stop, __ATOMIC_ACQUIRE))
			break;
		for (size_t i = 0; i < r->n; i++) {
			struct migr_lock *ml = &r->v[i];
			struct pt_handle *h;
			int err;

			if (!ml->fh)
				continue;
			h = pt_handle_get(r->fs, ml->fh, false);
			if (!h) { /* closed by the guest meanwhile */
				ml->fh = 0;
				left--;
				continue;
			}
			err = take_lock(h->fd, ml);
			if (!err)
				err = add_lock_rec(h, ml);
			pt_handle_put(r->fs, h);
			if (err == -EAGAIN || err == -EACCES)
				continue;
			if (err)
				log_err("migration: cannot take a lock again on handle 0x%llx: %s",
					(unsigned long long)ml->fh, strerror(-err));
			else
				log_info("migration: lock on handle 0x%llx [%llu, %llu] taken again",
					 (unsigned long long)ml->fh, (unsigned long long)ml->start,
					 (unsigned long long)ml->end);
			ml->fh = 0;
			left--;
		}
		if (left)
			nanosleep(&ts, NULL);
	}
	if (left)
		log_err("migration: %zu locks are still held by someone else; the guest lost them",
			left);
	free(r->v);
	free(r);
	return NULL;
}

/* Wait for a lock helper of an earlier load (device reset or exit). */
static void relock_join(void)
{
	pthread_mutex_lock(&relock_mu);
	if (relock_running) {
		__atomic_store_n(&relock_stop, true, __ATOMIC_RELEASE);
		pthread_join(relock_thread, NULL);
		relock_running = false;
		relock_stop = false;
	}
	pthread_mutex_unlock(&relock_mu);
}

static int load_handles(struct load_ctx *c, struct relock *pending)
{
	int keep = O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC | O_NOATIME | O_NONBLOCK;

	if (c->fs->cfg.direct_io_allowed)
		keep |= O_DIRECT;
	for (size_t i = 0; i < c->st->nhandles; i++) {
		const struct migr_handle *mh = &c->st->handles[i];
		struct pt_inode *in = pt_inode_get(c->fs, mh->nodeid);
		const char *why = "its inode was lost";
		uint64_t fh = mh->fh;
		char name[16];
		int fd = -ESTALE, err;

		if (in) {
			why = "it cannot be opened again";
			if (mh->is_dir != (in->type == S_IFDIR) ||
			    (!mh->is_dir && in->type != S_IFREG)) {
				fd = -EBADMSG;
				why = "its inode is of the wrong type";
			} else {
				snprintf(name, sizeof(name), "%d", in->fd);
				fd = openat(c->fs->proc_fd, name,
					    (mh->is_dir ? O_RDONLY | O_DIRECTORY
							: ((int)mh->open_flags & keep)) |
						    O_CLOEXEC | O_LARGEFILE);
				if (fd < 0)
					fd = -errno;
			}
		}
		err = fd < 0 ? fd : pt_handle_add_id(c->fs, fd, in, mh->is_dir, &fh);
		if (fd >= 0 && err)
			close(fd);
		if (in)
			pt_inode_put(c->fs, in);
		if (err) {
			c->stats->lost_handles++;
			err = lost(c, &c->fs->handles, &c->fs->handle_lock, mh->fh, "handle", NULL,
				   why, err);
			if (err)
				return err;
			continue;
		}
		c->stats->handles++;
		for (size_t j = 0; j < c->st->nlocks; j++) {
			const struct migr_lock *ml = &c->st->locks[j];

			if (ml->fh != mh->fh)
				continue;
			if (ml->type == F_UNLCK) {
				c->stats->lost_locks++;
				continue;
			}
			err = take_lock(fd, ml);
			if (!err) {
				struct pt_handle *h = pt_handle_get(c->fs, fh, mh->is_dir);

				err = h ? add_lock_rec(h, ml) : -ESTALE;
				pt_handle_put(c->fs, h);
			}
			if (err == -EAGAIN || err == -EACCES) {
				/* Held by someone else (the source daemon, until it exits). */
				pending->v[pending->n++] = *ml;
				err = 0;
			}
			if (err) {
				c->stats->lost_locks++;
				log_err("migration: a lock on handle 0x%llx cannot be taken again: %s",
					(unsigned long long)mh->fh, strerror(-err));
				continue;
			}
			c->stats->locks++;
		}
	}
	return 0;
}

static int load_session(struct fuse_session *se, const struct migr_session *s)
{
	if (!s->initialized)
		return 0;
	if (s->minor > FUSE_KERNEL_MINOR_VERSION || s->max_write > FUSE_SESSION_MAX_WRITE ||
	    s->max_write < 4096) {
		log_err("migration: the source negotiated FUSE 7.%u with max_write %u; this vufsd "
			"speaks up to 7.%u with max_write %u", s->minor, s->max_write,
			FUSE_KERNEL_MINOR_VERSION, FUSE_SESSION_MAX_WRITE);
		return -EPROTONOSUPPORT;
	}
	pthread_mutex_lock(&se->init_lock);
	se->proto_minor = s->minor;
	se->conn_flags = s->flags;
	se->max_write = s->max_write;
	pt_fs_set_guest_submounts(se->fs, s->flags & FUSE_SUBMOUNTS);
	__atomic_store_n(&se->initialized, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&se->init_lock);
	return 0;
}

int migr_fs_load(struct pt_fs *fs, struct fuse_session *se, const struct migr_conf *conf,
		 const uint8_t *buf, size_t len, struct migr_stats *stats)
{
	struct migr_stats dummy;
	struct migr_state st;
	struct load_ctx c = { .fs = fs, .conf = conf, .st = &st, .mount_fd = -1 };
	struct relock *pending = NULL;
	char why[256] = "";
	char name[16];
	int err;

	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	c.stats = stats;
	stats->bytes = len;
	relock_join();
	if (__atomic_load_n(&se->initialized, __ATOMIC_ACQUIRE) || pt_inode_count(fs) > 1 ||
	    pt_handle_count(fs)) {
		log_err("migration: refusing to load a state into a daemon that already serves a "
			"guest session");
		return -EBUSY;
	}
	err = migr_state_decode(buf, len, &st, why, sizeof(why));
	if (err) {
		log_err("migration: refusing the incoming state: %s", why);
		goto out;
	}
	c.same_fs = st.session.share_ino && st.session.share_dev == fs->root->dev &&
		    st.session.share_ino == fs->root->ino;
	snprintf(name, sizeof(name), "%d", fs->root->fd);
	c.mount_fd = openat(fs->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pending = calloc(1, sizeof(*pending));
	if (pending && st.nlocks)
		pending->v = calloc(st.nlocks, sizeof(*pending->v));
	if (!pending || (st.nlocks && !pending->v)) {
		err = -ENOMEM;
		goto out;
	}
	pending->fs = fs;
	err = load_inodes(&c);
	if (!err)
		err = load_handles(&c, pending);
	if (!err)
		err = load_session(se, &st.session);
	if (err) {
		log_err("migration: loading the state failed: %s; nothing of it is kept",
			strerror(-err));
		pt_fs_reset(fs);
		goto out;
	}
	log_info("migration: loaded %zu inodes, %zu handles, %zu locks (%zu waiting for their "
		 "holder); lost %zu inodes, %zu handles, %zu locks", stats->inodes,
		 stats->handles, stats->locks, pending->n, stats->lost_inodes,
		 stats->lost_handles, stats->lost_locks);
	if (pending->n) {
		pthread_mutex_lock(&relock_mu);
		if (pthread_create(&relock_thread, NULL, relock_main, pending) == 0) {
			relock_running = true;
			pending = NULL;
		} else {
			log_err("migration: cannot start the lock helper; %zu locks are lost",
				pending->n);
		}
		pthread_mutex_unlock(&relock_mu);
	}
out:
	if (pending) {
		free(pending->v);
		free(pending);
	}
	if (c.mount_fd >= 0)
		close(c.mount_fd);
	migr_state_free(&st);
	return err;
}

void migr_fs_fini(void)
{
	relock_join();
}
