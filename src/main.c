// SPDX-License-Identifier: MIT
/*
 * vufsd: startup order only. Parse the command line, open the shared
 * directory, listen, wait for the frontend, serve it until it disconnects
 * or we are told to stop, then clean up.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>
#include <endian.h>
#include <linux/virtio_fs.h>

#include <linux/capability.h>

#include "cli.h"
#include "fuse_session.h"
#include "log.h"
#include "metrics.h"
#include "migr_fs.h"
#include "pt.h"
#include "runfiles.h"
#include "sandbox.h"
#include "vu_dev.h"
#include "vu_shm.h"
#include "fuse_dax.h"
#include "vu_sock.h"

struct daemon {
	struct vufs_config cfg;
	struct pt_fs *fs;
	struct fuse_session *se;
	struct vu_dev *dev;
	struct fuse_dax *dax; /* --dax-window */
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

/* DAX mappings go to the frontend over the backend channel. */
static int vufs_dax_map(void *opaque, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
			bool writable)
{
	struct daemon *dm = opaque;

	return dm->dev ? vu_shm_map(dm->dev, fd, foffset, moffset, len, writable) : -ENOTCONN;
}

static int vufs_dax_unmap(void *opaque, uint64_t moffset, uint64_t len)
{
	struct daemon *dm = opaque;

	return dm->dev ? vu_shm_unmap(dm->dev, moffset, len) : -ENOTCONN;
}

static const struct fuse_dax_ops vufs_dax_ops = {
	.map = vufs_dax_map,
	.unmap = vufs_dax_unmap,
};

/* Memory slots kept for guest RAM: every DAX range may cost the VMM one more. */
#define DAX_RAM_SLOTS 16

static int dax_setup(struct daemon *dm)
{
	struct fuse_dax_conf dc = {
		.window = dm->cfg.dax_window,
		.max_ranges = VU_MEM_MAX_SLOTS - DAX_RAM_SLOTS,
		.max_regions = VU_MEM_MAX_SLOTS - DAX_RAM_SLOTS,
		.min_size = dm->cfg.dax_min_size,
	};
	int err;

	if (!dc.window)
		return 0;
	err = fuse_dax_new(&dc, &vufs_dax_ops, dm, &dm->dax);
	if (err) {
		log_err("cannot set up the DAX window: %s", strerror(-err));
		return err;
	}
	fuse_session_set_dax(dm->se, dm->dax);
	log_info("DAX window of %llu MiB, at most %u mappings held (memory slots)",
		 (unsigned long long)(dc.window >> 20), dc.max_regions);
	return 0;
}

static void vufs_quiesce(void *opaque)
{
	struct daemon *dm = opaque;

	fuse_session_quiesce(dm->se);
}

/* Live migration (src/migr): every ring is stopped when these run. */
static int vufs_state_save(void *opaque, uint8_t **buf, size_t *len)
{
	struct daemon *dm = opaque;

	return migr_fs_save(dm->fs, dm->se, &dm->cfg.migration, buf, len, NULL);
}

static int vufs_state_load(void *opaque, const uint8_t *buf, size_t len)
{
	struct daemon *dm = opaque;

	return migr_fs_load(dm->fs, dm->se, &dm->cfg.migration, buf, len, NULL);
}

static const struct vu_state_ops vufs_state_ops = {
	.save = vufs_state_save,
	.load = vufs_state_load,
};

static const struct vu_dev_ops vufs_ops = {
	.handle = vufs_handle,
	.thread_init = vufs_thread_init,
	.thread_fini = vufs_thread_fini,
	.reset = vufs_reset,
	.quiesce = vufs_quiesce,
	.state = &vufs_state_ops,
};

/* File handles are used for inodes or for migration: keep what they need. */
static bool need_file_handles(const struct vufs_config *cfg)
{
	return cfg->inode_file_handles != PT_FH_NEVER ||
	       cfg->migration.mode == MIGR_MODE_FILE_HANDLES || cfg->migration.verify_handles;
}

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

/* CPUs we may run on (sched_getaffinity: /sys may be out of the sandbox's reach). */
static unsigned online_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return (unsigned)CPU_COUNT(&set);
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
	int listen_fd = -1, conn = -1, sig_fd = -1, pid_fd = -1, metrics_fd = -1;
	char pid_path[4096];
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
	/* name_to_handle_at/open_by_handle_at are allowed (seccomp, capability) only then. */
	dm.cfg.migration.handles_allowed = need_file_handles(&dm.cfg);
	for (unsigned i = 0; i < dm.cfg.nwarnings; i++)
		log_warn("%s", dm.cfg.warnings[i]);
	log_debug("options: cache %d, timeout %d, readdirplus %d, xattr %d, posix locks %d, "
		  "flock %d, killpriv_v2 %d, readonly %d, allow_mmap %d, preserve_noatime %d, "
		  "direct_io %d, writeback %d, thread pool %d, sandbox %s, seccomp %s",
		  (int)dm.cfg.cache, dm.cfg.timeout_s, dm.cfg.readdirplus, dm.cfg.xattr,
		  dm.cfg.posix_locks, dm.cfg.flock_locks, dm.cfg.killpriv_v2, dm.cfg.readonly,
		  dm.cfg.allow_mmap, dm.cfg.preserve_noatime, dm.cfg.allow_direct_io,
		  dm.cfg.writeback, dm.cfg.thread_pool_size, sb_mode_name(dm.cfg.sandbox),
		  sb_seccomp_name(dm.cfg.seccomp));

	sig_fd = setup_signals();
	if (sig_fd < 0) {
		log_err("cannot set up signal handling: %s", strerror(-sig_fd));
		goto out;
	}
	/* The socket is usually outside the share: listen before entering the sandbox. */
	if (dm.cfg.fd >= 0) {
		listen_fd = dm.cfg.fd;
	} else {
		/* Like the Rust virtiofsd: PATH.pid, locked, so two daemons never share a socket. */
		pid_fd = run_pidfile_lock(dm.cfg.socket_path, pid_path, sizeof(pid_path));
		if (pid_fd < 0)
			goto out;
		if (dm.cfg.socket_group)
			listen_fd = run_listen_group(dm.cfg.socket_path, dm.cfg.socket_gid);
		else
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
	if (dm.cfg.rlimit_keep) {
		/* --rlimit-nofile=0: leave it as it is, i.e. set it to what it is. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			sbc.rlimit_nofile = (unsigned long)rl.rlim_cur;
	}
	sbc.socket_path = dm.cfg.socket_path;
	sbc.uid_map = dm.cfg.uid_map;
	sbc.n_uid_map = dm.cfg.n_uid_map;
	sbc.gid_map = dm.cfg.gid_map;
	sbc.n_gid_map = dm.cfg.n_gid_map;
	sbc.metrics_path = dm.cfg.metrics_path;
	/* Namespace mode forks here: only the sandboxed child returns. */
	err = sb_enter(&sbc, &sbr);
	if (err)
		goto out;
	/* Before pt_fs_new: it snapshots our (now empty) supplementary groups. */
	/* open_by_handle_at needs CAP_DAC_READ_SEARCH. */
	err = sb_drop_caps_keep(dm.cfg.modcaps, need_file_handles(&dm.cfg) ?
					       1ull << CAP_DAC_READ_SEARCH : 0);
	if (err)
		goto out;
	pcfg.root = sbr.root_dir;
	pcfg.direct_io_allowed = dm.cfg.allow_direct_io;
	pcfg.max_fds = dm.cfg.max_fds ? dm.cfg.max_fds : default_fd_limit();
	pcfg.xattr = dm.cfg.xattr;
	pcfg.preserve_noatime = dm.cfg.preserve_noatime;
	pcfg.device_nodes = dm.cfg.device_nodes;
	pcfg.xattrmap = dm.cfg.xattrmap;
	pcfg.proc_self_fd = sbr.proc_self_fd;
	pcfg.inode_file_handles = dm.cfg.inode_file_handles;
	pcfg.announce_submounts = dm.cfg.announce_submounts;
	pcfg.uid_map = pt_idmap_empty(&dm.cfg.translate_uid) ? NULL : &dm.cfg.translate_uid;
	pcfg.gid_map = pt_idmap_empty(&dm.cfg.translate_gid) ? NULL : &dm.cfg.translate_gid;
	pcfg.no_cred_switch = sbr.one_uid;
	sbr.proc_self_fd = -1; /* pt_fs owns it now, even if pt_fs_new fails */
	err = pt_fs_new(&pcfg, &dm.fs);
	if (err)
		goto out;
	fconf.cache = dm.cfg.cache;
	fconf.readdirplus = dm.cfg.readdirplus;
	fconf.xattr = dm.cfg.xattr;
	fconf.posix_locks = dm.cfg.posix_locks;
	fconf.flock_locks = dm.cfg.flock_locks;
	fconf.readonly = dm.cfg.readonly;
	fconf.allow_mmap = dm.cfg.allow_mmap;
	fconf.timeout_set = dm.cfg.timeout_s >= 0;
	fconf.timeout_s = dm.cfg.timeout_s >= 0 ? (unsigned)dm.cfg.timeout_s : 0;
	fconf.killpriv_v2 = dm.cfg.killpriv_v2;
	fconf.posix_acl = dm.cfg.posix_acl;
	fconf.security_label = dm.cfg.security_label;
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
	err = dax_setup(&dm);
	if (err)
		goto out;
	/* Last: nothing after this may need a system call outside the list. */
	err = sb_seccomp_load_flags(dm.cfg.seccomp, need_file_handles(&dm.cfg) ?
							     SB_SECCOMP_FILE_HANDLES : 0);
	if (err)
		goto out;
	/* Its thread inherits the filter. */
	if (metrics_fd >= 0) {
		err = metrics_server_start(dm.metrics, metrics_fd, fuse_session_op_name, &msrv);
		if (err)
			goto out;
		log_info("request metrics on %s", dm.cfg.metrics_path);
	}

	log_info("serving %s%s on %s", dm.cfg.shared_dir, dm.cfg.readonly ? " read-only" : "",
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
	if (dm.cfg.tag) {
		struct virtio_fs_config vc = { .num_request_queues = htole32(1) };

		/* One request queue: QEMU's generic device gives us num_vqs=2 (hiprio + 1). */
		memcpy(vc.tag, dm.cfg.tag, strlen(dm.cfg.tag)); /* <= 36 bytes (cli) */
		vu_dev_set_config(dev, &vc, sizeof(vc));
	}
	vu_dev_set_shm_size(dev, dm.cfg.dax_window);
	dev->pool_size = (unsigned)dm.cfg.thread_pool_size;
	dev->poll_max_ns = (uint32_t)dm.cfg.poll_max_us * 1000;
	dev->max_pollers = online_cpus() / 2 ? online_cpus() / 2 : 1;
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
	migr_fs_fini(); /* the lock helper of a migration uses the filesystem */
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
	if (pid_fd >= 0) {
		/* Still locked: nobody else can be using it. Inside a sandbox the name is gone. */
		if (!sbr.confined)
			unlink(pid_path);
		close(pid_fd);
	}
	if (sbr.proc_self_fd >= 0)
		close(sbr.proc_self_fd);
	fuse_session_free(dm.se);
	fuse_dax_free(dm.dax);
	metrics_free(dm.metrics); /* after the queue threads gave their blocks back */
	pt_fs_free(dm.fs);
	if (sig_fd >= 0)
		close(sig_fd);
	log_info("exiting (%s)", ret == EXIT_SUCCESS ? "clean" : "error");
	return ret;
}
