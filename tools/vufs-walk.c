// SPDX-License-Identifier: MIT
/*
 * vufs-walk: walk a whole share through a backend as a guest with memory
 * to spare would (READDIRPLUS of every directory, every lookup kept, none
 * forgotten), then print how many inodes the guest knows and how many fds
 * the serving process holds. Shows what --inode-file-handles saves.
 *
 *   vufs-walk [-b TEMPLATE] DIR
 *
 * TEMPLATE is a backend argv template with {socket} and {dir} (default:
 * vufsd from $VUFSD or the build tree, default options); extra vufsd
 * options go in the template, e.g.
 *   vufs-walk -b "build/src/vufsd --socket-path={socket} --shared-dir={dir}
 *                 --inode-file-handles=prefer" /tmp/tree
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"
#include "fe_fuse.h"

static unsigned long n_inodes, n_dirs;

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
	n_dirs++;
	for (;;) {
		struct fe_dirent d;
		size_t pos = 0;
		int len = fe_fuse_readdirplus(fe, dir, oo.fh, off, buf, sizeof(buf));

		if (len < 0) {
			r = len;
			break;
		}
		if (len == 0)
			break;
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
			}
		}
	}
	fe_fuse_releasedir(fe, dir, oo.fh);
	for (size_t i = 0; r >= 0 && i < nsub; i++)
		r = walk(fe, subdirs[i]);
	free(subdirs);
	return r < 0 ? r : 0;
}

/* fds of the serving process: the backend, or its sandboxed child. */
static int count_fds(pid_t pid)
{
	char path[96], line[64];
	struct dirent *e;
	FILE *f;
	DIR *d;
	int n = 0, child;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(line, sizeof(line), f) && sscanf(line, "%d", &child) == 1)
			pid = child;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *spec = "vufsd";
	struct fe_backend *be = NULL;
	struct fe_opts opts;
	struct fe *fe = NULL;
	char *tmpl;
	int c, r, before, after;

	while ((c = getopt(argc, argv, "b:")) != -1) {
		if (c != 'b') {
			fprintf(stderr, "usage: vufs-walk [-b TEMPLATE] DIR\n");
			return 2;
		}
		spec = optarg;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: vufs-walk [-b TEMPLATE] DIR\n");
		return 2;
	}
	tmpl = fe_backend_template(spec);
	if (!tmpl) {
		fprintf(stderr, "vufs-walk: unknown backend '%s'\n", spec);
		return 2;
	}
	fe_opts_default(&opts);
	opts.timeout_ms = 60000;
	r = fe_backend_start(tmpl, argv[optind], 10000, &be);
	if (!r)
		r = fe_create(&opts, &fe);
	if (!r)
		r = fe_connect(fe, fe_backend_socket(be), 10000);
	if (!r)
		r = fe_vu_setup(fe);
	if (!r)
		r = fe_fuse_init(fe);
	if (r) {
		fprintf(stderr, "vufs-walk: cannot start %s: %s\n", tmpl, strerror(-r));
		if (be)
			fe_backend_dump_log(be, 4096);
		return 1;
	}
	before = count_fds(fe_backend_pid(be));
	r = walk(fe, FUSE_ROOT_ID);
	after = count_fds(fe_backend_pid(be));
	if (r)
		fprintf(stderr, "vufs-walk: walk failed: %s\n", strerror(-r));
	printf("%lu inodes in %lu directories known to the guest; daemon fds: %d before the "
	       "walk, %d after\n", n_inodes, n_dirs, before, after);
	fe_close(fe);
	fe_backend_wait(be, 10000);
	fe_backend_stop(be, 5000);
	free(tmpl);
	return r ? 1 : 0;
}
