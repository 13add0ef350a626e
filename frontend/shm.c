// SPDX-License-Identifier: MIT
/* The VMM's side of the DAX window (see fe_shm.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_priv.h"
#include "fe_shm.h"

#define SHM_MAX_MAPPINGS 1024

struct shm_map {
	uint64_t off, len, foffset;
	int fd;
};

struct fe_shm {
	struct fe *fe;
	struct fe_shm_opts o;
	uint8_t *win;
	int chan;    /* our end of the backend channel */
	int stopfd;  /* eventfd */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* maps, stats */
	struct shm_map maps[SHM_MAX_MAPPINGS];
	unsigned nmaps;
	struct fe_shm_stats st;
};

void fe_shm_opts_default(struct fe_shm_opts *o, uint64_t window)
{
	memset(o, 0, sizeof(*o));
	o->window = window;
	o->form = FE_SHM_SHMEM;
	o->announce = true;
	o->gpa = 1ull << 40;
}

uint8_t *fe_shm_window(struct fe_shm *s)
{
	return s->win;
}

bool fe_shm_mapped(struct fe_shm *s, uint64_t off, uint64_t len)
{
	bool r = true;

	pthread_mutex_lock(&s->lock);
	/* Every page of the range is in some mapping. */
	for (uint64_t p = off & ~(uint64_t)(FE_PAGE_SIZE - 1); r && p < off + len; p += FE_PAGE_SIZE) {
		bool in = false;

		for (unsigned i = 0; i < s->nmaps && !in; i++)
			in = p >= s->maps[i].off && p - s->maps[i].off < s->maps[i].len;
		r = in;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void fe_shm_get_stats(struct fe_shm *s, struct fe_shm_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	st->mapped = s->nmaps;
	pthread_mutex_unlock(&s->lock);
}

/* Announce a mapping to the backend as guest memory (ADD) or withdraw it (REM). */
static int announce(struct fe_shm *s, const struct shm_map *m, bool add)
{
	struct vhost_user_mem_reg reg = { 0 };

	if (!s->o.announce)
		return 0;
	reg.region.guest_phys_addr = s->o.gpa + m->off;
	reg.region.memory_size = m->len;
	reg.region.userspace_addr = (uint64_t)(uintptr_t)(s->win + m->off);
	reg.region.mmap_offset = m->foffset;
	return fe_vu_request(s->fe, add ? VHOST_USER_ADD_MEM_REG : VHOST_USER_REM_MEM_REG, &reg,
			     sizeof(reg), add ? &m->fd : NULL, add ? 1 : 0);
}

/* Map one range as QEMU would. Returns 0 or -errno (the status is then 1). */
static int map_one(struct fe_shm *s, int fd, uint64_t foffset, uint64_t off, uint64_t len,
		   struct shm_map *out)
{
	struct stat st;
	void *p;

	if (!len || (off | len | foffset) % FE_PAGE_SIZE || off >= s->o.window ||
	    len > s->o.window - off)
		return -EINVAL;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	/* QEMU 11.1: "backing store size ... is too small for 'size' option", even within a page. */
	if ((uint64_t)st.st_size < foffset || (uint64_t)st.st_size - foffset < len)
		return -EINVAL;
	for (unsigned i = 0; i < s->nmaps; i++) {
		if (s->maps[i].off < off + len && off < s->maps[i].off + s->maps[i].len)
			return -EEXIST;
	}
	if (s->nmaps >= SHM_MAX_MAPPINGS)
		return -ENOSPC;
	/* Writable whatever the flags say, as QEMU 11.1 does: an O_RDONLY fd fails here. */
	p = mmap(s->win + off, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)foffset);
	if (p == MAP_FAILED)
		return -errno;
	out->off = off;
	out->len = len;
	out->foffset = foffset;
	out->fd = dup(fd);
	s->maps[s->nmaps++] = *out;
	s->st.maps++;
	if (s->nmaps > s->st.max_mapped)
		s->st.max_mapped = s->nmaps;
	return 0;
}

/* Unmap exactly [off, +len), withdrawing it from the backend first. */
static int unmap_one(struct fe_shm *s, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < s->nmaps; i++) {
		struct shm_map m = s->maps[i];
		int err;

		if (m.off != off || m.len != len)
			continue;
		/* QEMU's order: the region goes (REM_MEM_REG, acknowledged) before the reply. */
		pthread_mutex_unlock(&s->lock);
		err = announce(s, &m, false);
		pthread_mutex_lock(&s->lock);
		if (err)
			return err;
		mmap(s->win + off, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		close(m.fd);
		s->maps[i] = s->maps[--s->nmaps];
		s->st.unmaps++;
		return 0;
	}
	return -ENOENT;
}

static int reply(struct fe_shm *s, const struct vhost_user_header *h, uint64_t status)
{
	struct {
		struct vhost_user_header h;
		uint64_t status;
	} __attribute__((packed)) r = { { h->request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, 8 },
					status };

	if (!(h->flags & VHOST_USER_NEED_REPLY_MASK))
		return 0;
	return send(s->chan, &r, sizeof(r), MSG_NOSIGNAL) == sizeof(r) ? 0 : -errno;
}

/* Receive one request; returns payload size or -errno (-ECONNRESET at EOF). */
static int recv_req(struct fe_shm *s, struct vhost_user_msg *msg, int *fd)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = { &msg->hdr, sizeof(msg->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	ssize_t r;

	*fd = -1;
	r = recvmsg(s->chan, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (r == 0)
		return -ECONNRESET;
	if (r != (ssize_t)sizeof(msg->hdr))
		return r < 0 ? -errno : -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[VHOST_USER_MAX_FDS];

			memcpy(fds, CMSG_DATA(c), n * sizeof(int));
			for (size_t i = 0; i < n; i++) {
				if (i == 0 && *fd < 0)
					*fd = fds[i];
				else
					close(fds[i]);
			}
		}
	}
	if (msg->hdr.size > sizeof(msg->payload))
		return -EPROTO;
	if (msg->hdr.size &&
	    recv(s->chan, &msg->payload, msg->hdr.size, MSG_WAITALL) != (ssize_t)msg->hdr.size)
		return -EPROTO;
	return (int)msg->hdr.size;
}

static void serve(struct fe_shm *s, struct vhost_user_msg *msg, int fd)
{
	uint32_t req = msg->hdr.request;
	int err = 0;
	struct shm_map added[VHOST_USER_FS_BACKEND_ENTRIES];
	unsigned nadded = 0;

	pthread_mutex_lock(&s->lock);
	s->st.requests++;
	if (s->o.refuse_all) {
		err = -EPERM;
	} else if (s->o.form == FE_SHM_SHMEM && (req == VHOST_USER_BACKEND_SHMEM_MAP ||
						   req == VHOST_USER_BACKEND_SHMEM_UNMAP)) {
		struct vhost_user_shmem_map m;

		memcpy(&m, &msg->payload.shmem_map, sizeof(m));
		if (msg->hdr.size != sizeof(m) || m.shmid != 0)
			err = -EINVAL;
		else if (req == VHOST_USER_BACKEND_SHMEM_MAP)
			err = map_one(s, fd, m.fd_offset, m.shm_offset, m.len, &added[nadded]);
		else
			err = unmap_one(s, m.shm_offset, m.len);
		if (!err && req == VHOST_USER_BACKEND_SHMEM_MAP)
			nadded++;
	} else if (s->o.form == FE_SHM_FS && (req == VHOST_USER_BACKEND_FS_MAP ||
						req == VHOST_USER_BACKEND_FS_UNMAP)) {
		struct vhost_user_fs_backend_msg m;

		memcpy(&m, &msg->payload.fs_map, sizeof(m));
		if (msg->hdr.size != sizeof(m))
			err = -EINVAL;
		for (unsigned i = 0; !err && i < VHOST_USER_FS_BACKEND_ENTRIES; i++) {
			if (!m.len[i])
				continue;
			if (req == VHOST_USER_BACKEND_FS_UNMAP) {
				err = unmap_one(s, m.cache_offset[i], m.len[i]);
			} else if (!(m.flags[i] & VHOST_USER_FS_FLAG_MAP_R)) {
				err = -EINVAL;
			} else {
				err = map_one(s, fd, m.fd_offset[i], m.cache_offset[i], m.len[i],
					      &added[nadded]);
				if (!err)
					nadded++;
			}
		}
	} else {
		err = -EOPNOTSUPP;
	}
	if (err) {
		s->st.refused++;
		if (err == -EINVAL || err == -EOPNOTSUPP)
			s->st.bad_requests++;
		fe_dbg(s->fe, "shm: %s refused: %s", vhost_user_backend_request_name(req),
		       strerror(-err));
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
	if (s->o.silent)
		return;
	reply(s, &msg->hdr, err ? 1 : 0);
	/* QEMU's order: the reply, then the new region. */
	for (unsigned i = 0; i < nadded; i++)
		announce(s, &added[i], true);
}

static void *shm_thread(void *arg)
{
	struct fe_shm *s = arg;
	struct vhost_user_msg *msg = malloc(sizeof(*msg));

	while (msg) {
		struct pollfd p[2] = { { s->chan, POLLIN, 0 }, { s->stopfd, POLLIN, 0 } };
		int fd, r;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		r = recv_req(s, msg, &fd);
		if (r < 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		serve(s, msg, fd);
	}
	free(msg);
	return NULL;
}

int fe_shm_start(struct fe *fe, const struct fe_shm_opts *o, struct fe_shm **out)
{
	uint64_t need = (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
			(1ull << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD);
	struct fe_shm *s;
	int sv[2], err;

	if ((fe_protocol_features(fe) & need) != need)
		return fe_err(fe, -EOPNOTSUPP, "shm: BACKEND_REQ/BACKEND_SEND_FD not negotiated");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fe = fe;
	s->o = *o;
	s->chan = s->stopfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->win = mmap(NULL, o->window, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->win == MAP_FAILED) {
		s->win = NULL;
		err = -errno;
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto fail;
	}
	s->chan = sv[0];
	err = fe_vu_request(fe, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
	close(sv[1]);
	if (err)
		goto fail;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	if (s->stopfd < 0) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&s->thread, NULL, shm_thread, s);
	if (err)
		goto fail;
	s->running = true;
	*out = s;
	return 0;
fail:
	fe_shm_stop(s);
	return err;
}

void fe_shm_stop(struct fe_shm *s)
{
	if (!s)
		return;
	if (s->running) {
		eventfd_write(s->stopfd, 1);
		pthread_join(s->thread, NULL);
	}
	for (unsigned i = 0; i < s->nmaps; i++)
		close(s->maps[i].fd);
	if (s->win)
		munmap(s->win, s->o.window);
	if (s->chan >= 0)
		close(s->chan);
	if (s->stopfd >= 0)
		close(s->stopfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
