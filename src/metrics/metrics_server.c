// SPDX-License-Identifier: MIT
/*
 * The metrics socket: one thread accepts a connection, writes a snapshot
 * in Prometheus text format and closes it. Nothing is read from the
 * client; a client that does not read gets a bounded wait, then is dropped.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

/* How long one client may keep the thread waiting to take its data. */
#define METRICS_SEND_TIMEOUT_MS 2000

struct metrics_server {
	struct metrics *m;
	metrics_op_name_fn name;
	int listen_fd;
	int stop_fd; /* eventfd: written by metrics_server_stop */
	pthread_t thread;
};

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int r = poll(&p, 1, METRICS_SEND_TIMEOUT_MS);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -ETIMEDOUT;
			continue;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

static void serve_one(struct metrics_server *srv, int fd)
{
	struct metrics_snapshot *s = malloc(sizeof(*s));
	char *text = NULL;
	size_t len = 0;
	int err = -ENOMEM;

	if (s) {
		metrics_snapshot(srv->m, s);
		err = metrics_format(s, srv->name, &text, &len);
	}
	if (!err)
		err = send_all(fd, text, len);
	if (err)
		log_warn("metrics: cannot answer a client: %s", strerror(-err));
	free(text);
	free(s);
}

static void *server_main(void *arg)
{
	struct metrics_server *srv = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = srv->listen_fd, .events = POLLIN },
			{ .fd = srv->stop_fd, .events = POLLIN },
		};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("metrics: poll: %m; the metrics socket stops answering");
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
				log_warn("metrics: accept: %m");
			continue;
		}
		serve_one(srv, fd);
		close(fd);
	}
	return NULL;
}

int metrics_server_start(struct metrics *m, int listen_fd, metrics_op_name_fn name,
			 struct metrics_server **out)
{
	struct metrics_server *srv = calloc(1, sizeof(*srv));
	int err;

	if (!srv)
		return -ENOMEM;
	srv->m = m;
	srv->name = name;
	srv->listen_fd = listen_fd;
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (srv->stop_fd < 0) {
		err = -errno;
		goto err_free;
	}
	err = -pthread_create(&srv->thread, NULL, server_main, srv);
	if (err)
		goto err_close;
	*out = srv;
	return 0;

err_close:
	close(srv->stop_fd);
err_free:
	free(srv);
	log_err("metrics: cannot start the server thread: %s", strerror(-err));
	return err;
}

void metrics_server_stop(struct metrics_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (write(srv->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("metrics: cannot signal the server thread: %m");
	pthread_join(srv->thread, NULL);
	close(srv->stop_fd);
	free(srv);
}
