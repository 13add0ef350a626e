// SPDX-License-Identifier: MIT
/*
 * vufs-migbench: what live migration costs the daemon. Makes N files under
 * DIR/migbench (1000 per directory; kept for the next run), walks them as a
 * guest would (READDIRPLUS, every lookup kept), opens a few, then plays
 * QEMU's switch: stops the rings, saves the device state from this daemon
 * (SET_DEVICE_STATE_FD + CHECK_DEVICE_STATE), starts a second daemon on
 * the same share and loads the state into it, and checks a nodeid and a
 * handle through the second one. Prints the state's size and the save and
 * load times as the frontend sees them (what the daemon adds to QEMU's
 * downtime).
 *
 *   vufs-migbench [-b TEMPLATE] [-n N] DIR
 *
 * TEMPLATE as in vufs-walk (default: vufsd from $VUFSD or the build tree);
 * migration options go in it, e.g. "... --migration-mode=file-handles".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fe.h"
#include "fe_fuse.h"

static unsigned long n_inodes;
static uint64_t last_file;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int walk(struct fe *fe, uint64_t dir)
{
	static char buf[128 * 1024];
	struct fuse_open_out oo;
	uint64_t off = 0, *subdirs = NULL;
	size_t nsub = 0, capsub = 0;
	int r;

	r = fe_fuse_opendir(fe, dir, 0, &oo);
	if (r < 0)
		return r;
	for (;;) {
		struct fe_dirent d;
		size_t pos = 0;
		int len = fe_fuse_readdirplus(fe, dir, oo.fh, off, buf, sizeof(buf));

		if (len <= 0) {
			r = len;
			break;
		}
		while (fe_dirent_next(buf, (size_t)len, &pos, true, &d) > 0) {
			off = d.off;
			if (!d.entry.nodeid || !strcmp(d.name, ".") || !strcmp(d.name, ".."))
				continue;
			n_inodes++;
			if ((d.entry.attr.mode & 0170000) == 0040000) {
				if (nsub == capsub) {
					capsub = capsub ? capsub * 2 : 64;
					subdirs = realloc(subdirs, capsub * sizeof(*subdirs));
					if (!subdirs)
						return -ENOMEM;
				}
				subdirs[nsub++] = d.entry.nodeid;
			} else {
				last_file = d.entry.nodeid;
			}
		}
	}
	fe_fuse_releasedir(fe, dir, oo.fh);
	for (size_t i = 0; i < nsub && !r; i++)
		r = walk(fe, subdirs[i]);
	free(subdirs);
	return r;
}

static int make_tree(const char *dir, unsigned long n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/migbench", dir);
	mkdir(path, 0755);
	for (unsigned long i = 0; i < n; i++) {
		int fd;

		if (i % 1000 == 0) {
			snprintf(path, sizeof(path), "%s/migbench/d%lu", dir, i / 1000);
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return -errno;
		}
		snprintf(path, sizeof(path), "%s/migbench/d%lu/f%lu", dir, i / 1000, i);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

static int start(const char *tmpl, const char *dir, bool init, struct fe_backend **be,
		 struct fe **fe)
{
	struct fe_opts opts;
	int r;

	fe_opts_default(&opts);
	opts.timeout_ms = 600000;
	opts.protocol_mask |= (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
			      (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE);
	r = fe_backend_start(tmpl, dir, 10000, be);
	if (!r)
		r = fe_create(&opts, fe);
	if (!r)
		r = fe_connect(*fe, fe_backend_socket(*be), 10000);
	if (!r)
		r = fe_vu_setup(*fe);
	if (!r && init)
		r = fe_fuse_init(*fe);
	if (r && *be)
		fe_backend_dump_log(*be, 4096);
	return r;
}

static void rings_stop(struct fe *fe)
{
	for (unsigned q = 0; q < fe_get_opts(fe)->nqueues; q++)
		fe_vu_ring_stop(fe, q, NULL);
}

int main(int argc, char **argv)
{
	const char *spec = "vufsd";
	struct fe_backend *be = NULL, *be2 = NULL;
	struct fe *fe = NULL, *fe2 = NULL;
	struct fuse_open_out oo;
	struct fuse_attr_out at;
	unsigned long n = 10000;
	uint8_t *st = NULL;
	size_t stlen = 0;
	double t0, t_save, t_load;
	char *tmpl, buf[16];
	int c, r;

	while ((c = getopt(argc, argv, "b:n:")) != -1) {
		if (c == 'b') {
			spec = optarg;
		} else if (c == 'n') {
			n = strtoul(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: vufs-migbench [-b TEMPLATE] [-n N] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1 || !n) {
		fprintf(stderr, "usage: vufs-migbench [-b TEMPLATE] [-n N] DIR\n");
		return 2;
	}
	tmpl = fe_backend_template(spec);
	if (!tmpl) {
		fprintf(stderr, "vufs-migbench: unknown backend '%s'\n", spec);
		return 2;
	}
	r = make_tree(argv[optind], n);
	if (r) {
		fprintf(stderr, "vufs-migbench: cannot make the tree: %s\n", strerror(-r));
		return 1;
	}
	r = start(tmpl, argv[optind], true, &be, &fe);
	if (!r)
		r = walk(fe, FUSE_ROOT_ID);
	if (!r)
		r = fe_fuse_open(fe, last_file, O_RDONLY, &oo);
	if (r) {
		fprintf(stderr, "vufs-migbench: source: %s (%s)\n", strerror(-r), fe_strerror(fe));
		return 1;
	}
	rings_stop(fe);
	t0 = now_ms();
	r = fe_vu_state_save(fe, &st, &stlen);
	t_save = now_ms() - t0;
	if (r) {
		fprintf(stderr, "vufs-migbench: save: %s\n", fe_strerror(fe));
		return 1;
	}
	r = start(tmpl, argv[optind], false, &be2, &fe2);
	if (!r) {
		rings_stop(fe2);
		t0 = now_ms();
		r = fe_vu_state_load(fe2, st, stlen);
		t_load = now_ms() - t0;
	}
	if (r) {
		fprintf(stderr, "vufs-migbench: load: %s\n", fe2 ? fe_strerror(fe2) : strerror(-r));
		return 1;
	}
	for (unsigned q = 0; q < fe_get_opts(fe2)->nqueues; q++)
		fe_vu_ring_start(fe2, q, 0);
	r = fe_fuse_getattr(fe2, last_file, NULL, &at);
	if (!r)
		r = fe_fuse_read(fe2, last_file, oo.fh, 0, buf, sizeof(buf)) < 0 ? -EIO : 0;
	printf("%lu inodes held (+%lu files in the tree): state %zu bytes (%.1f bytes/inode), "
	       "save %.1f ms, load %.1f ms; after the load: %s\n", n_inodes, n, stlen,
	       (double)stlen / (double)n_inodes, t_save, t_load, r ? "FAILED" : "nodeid and handle work");
	free(st);
	fe_close(fe);
	fe_close(fe2);
	fe_backend_wait(be, 10000);
	fe_backend_wait(be2, 10000);
	fe_backend_free(be);
	fe_backend_free(be2);
	free(tmpl);
	return r ? 1 : 0;
}
