// SPDX-License-Identifier: MIT
#include "vu_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vu_sock.h"

/* Largest reply payload we read (a status is 8 bytes; anything more is malformed). */
#define REPLY_MAX 64

void vu_backend_init(struct vu_backend *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->req_lock, NULL);
	pthread_mutex_init(&b->fd_lock, NULL);
	b->fd = -1;
	b->timeout_ms = VU_BACKEND_TIMEOUT_MS;
}

void vu_backend_fini(struct vu_backend *b)
{
	vu_backend_set_fd(b, -1);
	pthread_mutex_destroy(&b->req_lock);
	pthread_mutex_destroy(&b->fd_lock);
}

void vu_backend_set_fd(struct vu_backend *b, int fd)
{
	int old;

	pthread_mutex_lock(&b->fd_lock);
	old = b->fd;
	b->fd = fd;
	b->dead = false;
	pthread_mutex_unlock(&b->fd_lock);
	if (old >= 0)
		close(old);
}

void vu_backend_set_reply_ack(struct vu_backend *b, bool on)
{
	pthread_mutex_lock(&b->fd_lock);
	b->reply_ack = on;
	pthread_mutex_unlock(&b->fd_lock);
}

void vu_backend_set_timeout(struct vu_backend *b, int timeout_ms)
{
	pthread_mutex_lock(&b->fd_lock);
	b->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&b->fd_lock);
}

bool vu_backend_connected(struct vu_backend *b)
{
	bool r;

	pthread_mutex_lock(&b->fd_lock);
	r = b->fd >= 0 && !b->dead;
	pthread_mutex_unlock(&b->fd_lock);
	return r;
}

int vu_backend_check_reply(const struct vhost_user_header *hdr, const void *payload,
			   uint32_t len, uint32_t req)
{
	uint64_t status;

	if (hdr->request != req || (hdr->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    !(hdr->flags & VHOST_USER_REPLY_MASK) || hdr->size != sizeof(status) ||
	    len != sizeof(status))
		return -EPROTO;
	memcpy(&status, payload, sizeof(status));
	return status ? -EIO : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read exactly @len bytes before @deadline; fds that arrive (a frontend has
 * no reason to send any) are closed. Returns 0, -ETIMEDOUT, -EPIPE or -errno.
 */
static int read_deadline(int fd, void *buf, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control,
			.msg_controllen = sizeof(control),
		};
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!r)
			continue; /* the deadline check above ends it */
		r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int fds[VHOST_USER_MAX_FDS];
				size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				if (n > VHOST_USER_MAX_FDS)
					n = VHOST_USER_MAX_FDS;
				memcpy(fds, CMSG_DATA(c), n * sizeof(int));
				vu_close_fds(fds, (unsigned)n);
			}
		}
		if (!r)
			return -EPIPE;
		done += (size_t)r;
	}
	return 0;
}

/* Read and check one reply. Returns 0, -EIO (refused), -EPROTO, -ETIMEDOUT, -EPIPE. */
static int await_reply(int fd, uint32_t req, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vhost_user_header hdr;
	uint8_t payload[REPLY_MAX];
	int err;

	err = read_deadline(fd, &hdr, sizeof(hdr), deadline);
	if (err)
		return err;
	if (hdr.size > sizeof(payload)) {
		log_err("backend channel: reply to %s with %u payload bytes",
			vhost_user_backend_request_name(req), hdr.size);
		return -EPROTO;
	}
	err = read_deadline(fd, payload, hdr.size, deadline);
	if (err)
		return err;
	err = vu_backend_check_reply(&hdr, payload, hdr.size, req);
	if (err == -EPROTO)
		log_err("backend channel: malformed reply (request %u, flags 0x%x, %u bytes) to %s",
			hdr.request, hdr.flags, hdr.size, vhost_user_backend_request_name(req));
	return err;
}

int vu_backend_request(struct vu_backend *b, uint32_t req, const void *payload, uint32_t size,
		       int fd)
{
	struct vhost_user_msg msg;
	int chan = -1, timeout_ms, err;
	bool reply_ack;

	if (size > sizeof(msg.payload))
		return -EINVAL;
	pthread_mutex_lock(&b->req_lock);
	pthread_mutex_lock(&b->fd_lock);
	err = b->fd < 0 ? -EOPNOTSUPP : b->dead ? -EIO : 0;
	/* Our own reference: the control thread may replace the channel meanwhile. */
	if (!err) {
		chan = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
		if (chan < 0)
			err = -errno;
	}
	reply_ack = b->reply_ack;
	timeout_ms = b->timeout_ms;
	pthread_mutex_unlock(&b->fd_lock);
	if (err)
		goto out;

	memset(&msg.hdr, 0, sizeof(msg.hdr));
	msg.hdr.request = req;
	msg.hdr.flags = VHOST_USER_VERSION | (reply_ack ? VHOST_USER_NEED_REPLY_MASK : 0);
	msg.hdr.size = size;
	memcpy(&msg.payload, payload, size);
	err = vu_sock_send(chan, &msg, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (err == -ECONNRESET)
		err = -EPIPE;
	if (!err && reply_ack)
		err = await_reply(chan, req, timeout_ms);
	if (err == -ETIMEDOUT || err == -EPROTO) {
		/* A reply may still come: the stream is out of step for good. */
		pthread_mutex_lock(&b->fd_lock);
		if (!b->dead)
			log_err("backend channel: %s to %s; no more requests on this channel",
				err == -ETIMEDOUT ? "no reply in time" : "malformed reply",
				vhost_user_backend_request_name(req));
		b->dead = true;
		pthread_mutex_unlock(&b->fd_lock);
		if (err == -EPROTO)
			err = -EIO;
	}
out:
	if (chan >= 0)
		close(chan);
	__atomic_add_fetch(&b->nrequests, 1, __ATOMIC_RELAXED);
	if (err) {
		__atomic_add_fetch(&b->nfailed, 1, __ATOMIC_RELAXED);
		log_debug("backend channel: %s failed: %s", vhost_user_backend_request_name(req),
			  strerror(-err));
	}
	pthread_mutex_unlock(&b->req_lock);
	return err;
}
