// SPDX-License-Identifier: MIT
/*
 * Live migration as QEMU drives it: the dirty log (SET_FEATURES with
 * VHOST_F_LOG_ALL, SET_LOG_BASE with a memfd) and the device state
 * (SET_DEVICE_STATE_FD over a pipe, then CHECK_DEVICE_STATE).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"
#include "fe_priv.h"

/* vhost-user device-state transfer (vhost_user.h has the payload). */
#define FE_STATE_SAVE 0
#define FE_STATE_LOAD 1
#define FE_STATE_NO_FD (1ull << 8)

static int set_features(struct fe *fe, uint64_t features)
{
	return fe_vu_request(fe, VHOST_USER_SET_FEATURES, &features, sizeof(features), NULL, 0);
}

int fe_vu_log_start(struct fe *fe, int log_fd, uint64_t size)
{
	struct vhost_user_log lg = { .mmap_size = size, .mmap_offset = 0 };
	struct vhost_user_msg reply;
	uint32_t rsize = 0;
	int err;

	if (!(fe->backend_features & (1ull << VHOST_F_LOG_ALL)))
		return fe_err(fe, -EOPNOTSUPP, "backend does not offer VHOST_F_LOG_ALL");
	err = fe_vu_send(fe, VHOST_USER_SET_LOG_BASE, VHOST_USER_VERSION, &lg, sizeof(lg), &log_fd,
			 1, &reply, &rsize);
	if (err)
		return err;
	if (rsize != sizeof(uint64_t) || reply.payload.u64)
		return fe_err(fe, -EIO, "SET_LOG_BASE refused (%u bytes, status %llu)", rsize,
			      (unsigned long long)reply.payload.u64);
	return set_features(fe, fe->features | (1ull << VHOST_F_LOG_ALL));
}

int fe_vu_log_stop(struct fe *fe)
{
	return set_features(fe, fe->features);
}

static int set_state_fd(struct fe *fe, uint32_t direction, int fd)
{
	struct vhost_user_device_state ds = { .direction = direction, .phase = 0 };
	struct vhost_user_msg reply;
	uint32_t rsize = 0;
	int err;

	err = fe_vu_send(fe, VHOST_USER_SET_DEVICE_STATE_FD, VHOST_USER_VERSION, &ds, sizeof(ds),
			 &fd, 1, &reply, &rsize);
	if (err)
		return err;
	if (rsize != sizeof(uint64_t))
		return fe_err(fe, -EPROTO, "SET_DEVICE_STATE_FD: reply of %u bytes", rsize);
	if (reply.payload.u64 & 0xff)
		return fe_err(fe, -EIO, "SET_DEVICE_STATE_FD refused (0x%llx)",
			      (unsigned long long)reply.payload.u64);
	if (!(reply.payload.u64 & FE_STATE_NO_FD))
		return fe_err(fe, -EPROTO, "SET_DEVICE_STATE_FD: backend returned its own fd "
			      "(not supported by this frontend)");
	return 0;
}

int fe_vu_state_check(struct fe *fe)
{
	uint64_t v = 1;
	int err = fe_vu_get_u64(fe, VHOST_USER_CHECK_DEVICE_STATE, &v);

	if (err)
		return err;
	return v ? fe_err(fe, -EIO, "CHECK_DEVICE_STATE: the backend reports failure (%llu)",
			  (unsigned long long)v)
		 : 0;
}

int fe_vu_state_save(struct fe *fe, uint8_t **buf, size_t *len)
{
	size_t n = 0, cap = 65536;
	uint8_t *b = malloc(cap);
	int p[2], err;

	if (!b)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(b);
		return -errno;
	}
	err = set_state_fd(fe, FE_STATE_SAVE, p[1]);
	close(p[1]);
	while (!err) {
		ssize_t r;

		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			b = nb;
			cap *= 2;
		}
		r = read(p[0], b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	if (!err)
		err = fe_vu_state_check(fe);
	if (err) {
		free(b);
		return err;
	}
	*buf = b;
	*len = n;
	return 0;
}

int fe_vu_state_load(struct fe *fe, const uint8_t *buf, size_t len)
{
	int p[2], err;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	err = set_state_fd(fe, FE_STATE_LOAD, p[0]);
	close(p[0]);
	while (!err && len) {
		ssize_t r = write(p[1], buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		buf += r;
		len -= (size_t)r;
	}
	close(p[1]);
	if (!err)
		err = fe_vu_state_check(fe);
	return err;
}
