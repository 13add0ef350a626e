// SPDX-License-Identifier: MIT
/* Connection lifecycle, error reporting and small helpers. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fe_priv.h"

void fe_opts_default(struct fe_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->mem_size = FE_DEFAULT_MEM_SIZE;
	opts->mem_regions = 1;
	opts->nqueues = 2;
	opts->queue_size = FE_DEFAULT_QUEUE_SIZE;
	opts->feature_mask = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			     (1ull << VIRTIO_RING_F_EVENT_IDX) |
			     (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	opts->protocol_mask = (1ull << VHOST_USER_PROTOCOL_F_MQ) |
			      (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			      (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	opts->ack_all = true;
	opts->indirect = FE_INDIRECT_AUTO;
	opts->seg_size = FE_DEFAULT_SEG_SIZE;
	opts->timeout_ms = FE_DEFAULT_TIMEOUT_MS;
}

int fe_err(struct fe *fe, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe->errbuf, sizeof(fe->errbuf), fmt, ap);
	va_end(ap);
	if (fe->debug)
		fprintf(stderr, "[fe] error %d: %s\n", err, fe->errbuf);
	return err;
}

int fe_fail(struct fe *fe, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe->errbuf, sizeof(fe->errbuf), fmt, ap);
	va_end(ap);
	if (!fe->broken)
		fe->broken = err;
	if (fe->debug)
		fprintf(stderr, "[fe] connection broken (%d): %s\n", err, fe->errbuf);
	return err;
}

void fe_dbg(const struct fe *fe, const char *fmt, ...)
{
	va_list ap;

	if (!fe->debug)
		return;
	va_start(ap, fmt);
	fputs("[fe] ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

uint64_t fe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t fe_deadline(const struct fe *fe, int timeout_ms)
{
	if (timeout_ms < 0)
		timeout_ms = fe->opts.timeout_ms;
	return fe_now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

int fe_ms_left(uint64_t deadline_ns)
{
	uint64_t now = fe_now_ns();

	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999) / 1000000);
}

static int check_opts(const struct fe_opts *o)
{
	if (o->mem_regions < 1 || o->mem_regions > FE_MAX_REGIONS)
		return -EINVAL;
	if (o->mem_size < (4ull << 20) || o->mem_size % (2ull << 20) ||
	    o->mem_size / o->mem_regions > FE_REGION1_GPA)
		return -EINVAL;
	if (o->nqueues < 1 || o->nqueues > FE_MAX_QUEUES)
		return -EINVAL;
	if (o->queue_size < 2 || o->queue_size > 32768 || (o->queue_size & (o->queue_size - 1)))
		return -EINVAL;
	if (o->seg_size && (o->seg_size < 512 || (o->seg_size & (o->seg_size - 1))))
		return -EINVAL;
	if (o->timeout_ms <= 0)
		return -EINVAL;
	return 0;
}

int fe_create(const struct fe_opts *opts, struct fe **out)
{
	struct fe_opts def;
	struct fe *fe;
	const char *dbg = getenv("FE_DEBUG");
	int err;

	if (!opts) {
		fe_opts_default(&def);
		opts = &def;
	}
	err = check_opts(opts);
	if (err)
		return err;
	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return -ENOMEM;
	fe->opts = *opts;
	fe->sock = -1;
	fe->memfd = -1;
	for (unsigned int i = 0; i < FE_MAX_QUEUES; i++) {
		fe->vq[i].kickfd = -1;
		fe->vq[i].callfd = -1;
	}
	fe->debug = dbg && *dbg && strcmp(dbg, "0");
	fe->unique = 0;
	fe->pid = (uint32_t)getpid();
	err = fe_mem_init(fe);
	for (unsigned int q = 0; !err && q < opts->nqueues; q++)
		err = fe_vq_init(fe, q);
	if (err) {
		if (fe->debug)
			fprintf(stderr, "[fe] create: %s\n", fe->errbuf);
		fe_close(fe);
		return err;
	}
	*out = fe;
	return 0;
}

int fe_connect(struct fe *fe, const char *sock_path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = fe_deadline(fe, timeout_ms);
	unsigned int delay_us = 1000;

	if (fe->sock >= 0)
		return fe_err(fe, -EISCONN, "already connected");
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return fe_err(fe, -ENAMETOOLONG, "socket path too long: %s", sock_path);
	strcpy(sa.sun_path, sock_path);
	for (;;) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int err;

		if (s < 0)
			return fe_err(fe, -errno, "socket: %s", strerror(errno));
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fe->sock = s;
			fe->broken = 0;
			fe_dbg(fe, "connected to %s", sock_path);
			return 0;
		}
		err = -errno;
		close(s);
		if ((err != -ENOENT && err != -ECONNREFUSED) || fe_ms_left(deadline) == 0)
			return fe_err(fe, err, "connect %s: %s", sock_path, strerror(-err));
		usleep(delay_us);
		if (delay_us < 20000)
			delay_us *= 2;
	}
}

int fe_open(const char *sock_path, const struct fe_opts *opts, struct fe **out)
{
	struct fe *fe;
	int err;

	err = fe_create(opts, &fe);
	if (err)
		return err;
	err = fe_connect(fe, sock_path, -1);
	if (!err)
		err = fe_vu_setup(fe);
	if (err) {
		fprintf(stderr, "vufsfe: %s: %s\n", sock_path, fe->errbuf);
		fe_close(fe);
		return err;
	}
	*out = fe;
	return 0;
}

void fe_set_spin(struct fe *fe, unsigned int spin_us)
{
	fe->opts.spin_us = spin_us;
}

void fe_disconnect(struct fe *fe)
{
	if (fe && fe->sock >= 0) {
		close(fe->sock);
		fe->sock = -1;
		if (!fe->broken)
			fe->broken = -ENOTCONN;
	}
}

void fe_close(struct fe *fe)
{
	if (!fe)
		return;
	fe_disconnect(fe);
	for (unsigned int q = 0; q < FE_MAX_QUEUES; q++)
		fe_vq_fini(fe, q);
	fe_mem_fini(fe);
	free(fe);
}

int fe_broken(const struct fe *fe)
{
	return fe->broken;
}

const char *fe_strerror(const struct fe *fe)
{
	if (!fe)
		return "no connection";
	return fe->errbuf[0] ? fe->errbuf : "no error recorded";
}

uint64_t fe_features(const struct fe *fe)
{
	return fe->features;
}

uint64_t fe_backend_features(const struct fe *fe)
{
	return fe->backend_features;
}

uint64_t fe_protocol_features(const struct fe *fe)
{
	return fe->protocol;
}

uint64_t fe_backend_protocol_features(const struct fe *fe)
{
	return fe->backend_protocol;
}

uint64_t fe_queue_num(const struct fe *fe)
{
	return fe->queue_num;
}

uint64_t fe_max_mem_slots(const struct fe *fe)
{
	return fe->max_mem_slots;
}

const struct fe_opts *fe_get_opts(const struct fe *fe)
{
	return &fe->opts;
}

int fe_timeout(const struct fe *fe)
{
	return fe->opts.timeout_ms;
}

int fe_socket_fd(const struct fe *fe)
{
	return fe->sock;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fe_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno ? -errno : -EIO;
	return 0;
}
