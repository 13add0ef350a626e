// SPDX-License-Identifier: MIT
/*
 * vufsd: startup order only. Parse the command line, open the shared
 * directory, listen, wait for the frontend, serve it until it disconnects
 * or we are told to stop, then clean up.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "fuse_session.h"
#include "log.h"
#include "metrics.h"
#include "pt.h"
#include "sandbox.h"
#include "vu_dev.h"
#include "vu_sock.h"

struct daemon {
	struct vufs_config cfg;
	struct pt_fs *fs;
	struct fuse_session *se;
	struct vu_dev *dev;
	struct metrics *metrics;
};

static int vufs_handle(void *opaque, void *ctx, unsigned qidx, struct vq_elem *elem,
		       uint32_t *written)
{
	struct daemon *dm = opaque;
	int r;

	if (!ctx)
		return -ENOMEM;
	r = fuse_session_handle(dm->se, ctx, qidx, elem->head, elem->iov, elem->in_cnt,
				elem->in_len, elem->out_cnt, elem->out_len, written);
	return r == FUSE_SESSION_ASYNC ? VU_HANDLE_ASYNC : r;
}

/* A request the FUSE layer finished later (a lock that had to wait). */
static void vufs_complete(void *opaque, unsigned qidx, uint32_t token, const void *reply,
			  size_t len)
{
	struct daemon *dm = opaque;

	vu_dev_complete(dm->dev, qidx, (uint16_t)token, reply, len);
}

static void *vufs_thread_init(void *opaque, unsigned qidx)
{
	struct daemon *dm = opaque;
	struct fuse_thread *t;

	if (pt_thread_init(dm->fs))
		return NULL;
	t = fuse_thread_new(dm->se, VQ_MAX_IOV);
	if (!t)
		log_err("queue %u: out of memory for request buffers", qidx);
	return t;
}

static void vufs_thread_fini(void *opaque, void *ctx)
{
	(void)opaque;
	fuse_thread_free(ctx);
}

static void vufs_reset(void *opaque)
{
	struct daemon *dm = opaque;

	fuse_session_reset(dm->se);
}

static const struct vu_dev_ops vufs_ops = {
	.handle = vufs_handle,
	.thread_init = vufs_thread_init,
	.thread_fini = vufs_thread_fini,
	.reset = vufs_reset,
};

/* fds we keep for ourselves (sockets, eventfds, queue threads) below RLIMIT_NOFILE. */
#define FD_RESERVE 256

/* Guest-held fds: the soft RLIMIT_NOFILE minus our reserve, so the guest gets ENFILE first. */
static unsigned long default_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1000000;
	return rl.rlim_cur > 2 * FD_RESERVE ? (unsigned long)(rl.rlim_cur - FD_RESERVE)
					    : (unsigned long)rl.rlim_cur / 2;
}

/* Block the stop signals in every thread and return a signalfd for them. */
static int setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Wait for the frontend; returns the connection, 0 if stopped first, or -errno. */
static int wait_frontend(int listen_fd, int sig_fd)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = listen_fd, .events = POLLIN },
			{ .fd = sig_fd, .events = POLLIN },
		};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents & POLLIN)
			return 0;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != ECONNABORTED)
			return -errno;
	}
}

int main(int argc, char **argv)
{
	struct daemon dm = { 0 };
	struct pt_config pcfg = { 0 };
	struct fuse_conf fconf = { 0 };
	struct vu_dev *dev = NULL;
	struct sb_config sbc = { 0 };
	struct sb_result sbr = { .proc_self_fd = -1 };
	struct metrics_server *msrv = NULL;
	int listen_fd = -1, conn = -1, sig_fd = -1, metrics_fd = -1;
	int err, ret = EXIT_FAILURE;

	switch (cli_parse(argc, argv, &dm.cfg)) {
	case CLI_EXIT:
		return EXIT_SUCCESS;
	case CLI_ERROR:
		return EXIT_FAILURE;
	case CLI_RUN:
		break;
	}
	log_init(dm.cfg.log_level, dm.cfg.syslog);

	sig_fd = setup_signals();
	if (sig_fd < 0) {
		log_err("cannot set up signal handling: %s", strerror(-sig_fd));
		goto out;
	}
	/* The socket is usually outside the share: listen before entering the sandbox. */
	if (dm.cfg.fd >= 0) {
		listen_fd = dm.cfg.fd;
	} else {
		listen_fd = vu_sock_listen(dm.cfg.socket_path);
		if (listen_fd < 0)
			goto out;
	}
	/* The metrics socket too (0600): in namespace mode the serving child inherits it. */
	if (dm.cfg.metrics_path) {
		metrics_fd = vu_sock_listen(dm.cfg.metrics_path);
		if (metrics_fd < 0)
			goto out;
	}
	/*
	 * Only now that the socket exists (0600): the guest applied its umask to
	 * every mode it sends, ours must not mask again.
	 */
	umask(0);
	sbc.mode = dm.cfg.sandbox;
	sbc.shared_dir = dm.cfg.shared_dir;
	sbc.is_root = geteuid() == 0;
	sbc.rlimit_nofile = dm.cfg.rlimit_nofile;
	sbc.socket_path = dm.cfg.socket_path;
	sbc.metrics_path = dm.cfg.metrics_path;
	/* Namespace mode forks here: only the sandboxed child returns. */
	err = sb_enter(&sbc, &sbr);
	if (err)
		goto out;
	/* Before pt_fs_new: it snapshots our (now empty) supplementary groups. */
	err = sb_drop_caps(dm.cfg.modcaps);
	if (err)
		goto out;
	pcfg.root = sbr.root_dir;
	pcfg.direct_io_allowed = dm.cfg.allow_direct_io;
	pcfg.max_fds = dm.cfg.max_fds ? dm.cfg.max_fds : default_fd_limit();
	pcfg.xattr = dm.cfg.xattr;
	pcfg.proc_self_fd = sbr.proc_self_fd;
	sbr.proc_self_fd = -1; /* pt_fs owns it now, even if pt_fs_new fails */
	err = pt_fs_new(&pcfg, &dm.fs);
	if (err)
		goto out;
	fconf.cache = dm.cfg.cache;
	fconf.readdirplus = dm.cfg.readdirplus;
	fconf.xattr = dm.cfg.xattr;
	fconf.posix_locks = dm.cfg.posix_locks;
	fconf.killpriv_v2 = dm.cfg.killpriv_v2;
	fconf.writeback = dm.cfg.writeback;
	err = fuse_session_new(dm.fs, &fconf, &dm.se);
	if (err)
		goto out;
	if (metrics_fd >= 0) {
		err = metrics_new(&dm.metrics);
		if (err)
			goto out;
		fuse_session_set_metrics(dm.se, dm.metrics);
	}
	/* Last: nothing after this may need a system call outside the list. */
	err = sb_seccomp_load(dm.cfg.seccomp);
	if (err)
		goto out;
	/* Its thread inherits the filter. */
	if (metrics_fd >= 0) {
		err = metrics_server_start(dm.metrics, metrics_fd, fuse_session_op_name, &msrv);
		if (err)
			goto out;
		log_info("request metrics on %s", dm.cfg.metrics_path);
	}

	log_info("serving %s on %s", dm.cfg.shared_dir,
		 dm.cfg.socket_path ? dm.cfg.socket_path : "the given fd");
	conn = wait_frontend(listen_fd, sig_fd);
	if (conn <= 0) {
		if (conn < 0)
			log_err("accept failed: %s", strerror(-conn));
		ret = conn < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
		goto out;
	}
	/*
	 * One frontend per daemon, like every vhost-user-fs backend. The socket stays
	 * listening so that a second connection is refused and logged (vu_dev_run)
	 * rather than left queued in the backlog.
	 */
	log_info("frontend connected");

	dev = malloc(sizeof(*dev));
	if (!dev || vu_dev_init(dev, conn, VU_MAX_QUEUES, &vufs_ops, &dm)) {
		log_err("cannot set up the device");
		free(dev);
		dev = NULL;
		goto out;
	}
	dm.dev = dev;
	fuse_session_set_completion(dm.se, vufs_complete, &dm);
	err = vu_dev_run(dev, sig_fd, listen_fd);
	ret = err ? EXIT_FAILURE : EXIT_SUCCESS;

out:
	if (dev) {
		/* Waiting locks complete through the device: end them before it goes. */
		if (dm.se)
			fuse_session_reset(dm.se);
		vu_dev_fini(dev);
		free(dev);
	}
	if (conn > 0)
		close(conn);
	if (listen_fd >= 0) {
		close(listen_fd);
		if (dm.cfg.socket_path && !sbr.confined)
			unlink(dm.cfg.socket_path);
	}
	metrics_server_stop(msrv);
	if (metrics_fd >= 0) {
		close(metrics_fd);
		if (!sbr.confined)
			unlink(dm.cfg.metrics_path);
	}
	if (sbr.proc_self_fd >= 0)
		close(sbr.proc_self_fd);
	fuse_session_free(dm.se);
	metrics_free(dm.metrics); /* after the queue threads gave their blocks back */
	pt_fs_free(dm.fs);
	if (sig_fd >= 0)
		close(sig_fd);
	log_info("exiting (%s)", ret == EXIT_SUCCESS ? "clean" : "error");
	return ret;
}
