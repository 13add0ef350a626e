// SPDX-License-Identifier: MIT
#include "vu_state.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

void vu_state_init(struct vu_state *st)
{
	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->result = -ENODATA; /* CHECK before any transfer */
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * The frontend reads or writes the other end while we stream; one that
 * stops for this long has gone away (a CHECK_DEVICE_STATE waiting for us
 * must not hang the control thread for ever).
 */
#define VU_STATE_IDLE_MS 60000

/* Wait until @fd is ready for @events. 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, VU_STATE_IDLE_MS);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n;
		int err = wait_fd(fd, POLLOUT);

		if (err)
			return err;
		/* A pipe that polls writable takes PIPE_BUF bytes without blocking. */
		n = write(fd, p, len < 4096 ? len : 4096);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t **out, size_t *outlen)
{
	size_t len = 0, cap = 0;
	uint8_t *buf = NULL;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb;

			if (cap >= VU_STATE_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		n = wait_fd(fd, POLLIN);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static void *xfer_thread(void *arg)
{
	struct vu_state *st = arg;
	double t0 = now_ms();

	if (st->direction == VU_STATE_SAVE) {
		st->result = write_all(st->fd, st->buf, st->len);
		free(st->buf);
		st->buf = NULL;
	} else {
		st->result = read_all(st->fd, &st->buf, &st->len);
	}
	/* End of file tells the frontend the state is complete. */
	close(st->fd);
	st->fd = -1;
	st->io_ms = now_ms() - t0;
	return NULL;
}

static void join(struct vu_state *st)
{
	if (!st->active)
		return;
	pthread_join(st->thread, NULL);
	st->active = false;
}

void vu_state_fini(struct vu_state *st)
{
	if (st->active && st->fd >= 0)
	join(st);
	free(st->buf);
	st->buf = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

int vu_state_start(struct vu_state *st, const struct vu_state_ops *ops, void *opaque,
		   uint32_t direction, int fd)
{
	int err;

	if (st->active) {
		log_warn("device state: a new transfer replaces one that was never checked");
		join(st);
	}
	free(st->buf);
	st->buf = NULL;
	st->len = 0;
	st->result = -EINPROGRESS;
	if (!ops || !ops->save || !ops->load) {
		close(fd);
		return -EOPNOTSUPP;
	}
	if (direction == VU_STATE_SAVE) {
		double t0 = now_ms();

		err = ops->save(opaque, &st->buf, &st->len);
		if (err) {
			log_err("device state: cannot serialise the state: %s", strerror(-err));
			st->result = err;
			close(fd);
			return err;
		}
		log_info("device state: %zu bytes serialised in %.1f ms", st->len, now_ms() - t0);
	}
	st->fd = fd;
	st->direction = (int)direction;
	err = pthread_create(&st->thread, NULL, xfer_thread, st);
	if (err) {
		log_err("device state: cannot start the transfer thread: %s", strerror(err));
		close(fd);
		st->fd = -1;
		free(st->buf);
		st->buf = NULL;
		st->result = -err;
		return -err;
	}
	st->active = true;
	return 0;
}

int vu_state_check(struct vu_state *st, const struct vu_state_ops *ops, void *opaque)
{
	double t0;

	join(st);
	if (st->result) {
		if (st->result != -ENODATA)
			log_err("device state: %s failed: %s",
				st->direction == VU_STATE_SAVE ? "sending" : "receiving",
				strerror(-st->result));
		return st->result;
	}
	if (st->direction == VU_STATE_SAVE) {
		log_info("device state sent (%.1f ms)", st->io_ms);
		return 0;
	}
	if (!st->buf)
		return 0; /* already loaded by an earlier CHECK */
	t0 = now_ms();
	st->result = ops->load(opaque, st->buf, st->len);
	log_info("device state: %zu bytes received in %.1f ms, loaded in %.1f ms: %s", st->len,
		 st->io_ms, now_ms() - t0, st->result ? strerror(-st->result) : "ok");
	free(st->buf);
	st->buf = NULL;
	return st->result;
}
