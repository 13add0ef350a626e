// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define EXIT_TIMEOUT_MS 10000

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static const char *backend_spec(void)
{
	const char *s = getenv("VUFSD_TEST_BACKEND");

	return s && *s ? s : "vufsd";
}

static struct h *h_new(void)
{
	const char *spec = backend_spec();
	struct h *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fds_before = count_fds();
	h->tmpl = fe_backend_template(spec);
	if (!h->tmpl) {
		print_error("unknown backend '%s' (VUFSD_TEST_BACKEND): use vufsd, legacy, rust or a template with {socket}\n",
			    spec);
		free(h);
		return NULL;
	}
	h->backend = !strcmp(spec, "vufsd") || !strcmp(spec, "legacy") || !strcmp(spec, "rust") ?
		     spec : "custom";
	strcpy(h->tmpdir, "/tmp/vufs-it-XXXXXX");
	if (!mkdtemp(h->tmpdir)) {
		print_error("mkdtemp: %s\n", strerror(errno));
		free(h->tmpl);
		free(h);
		return NULL;
	}
	snprintf(h->share, sizeof(h->share), "%s/share", h->tmpdir);
	if (mkdir(h->share, 0755) < 0) {
		print_error("mkdir %s: %s\n", h->share, strerror(errno));
		fe_rm_rf(h->tmpdir);
		free(h->tmpl);
		free(h);
		return NULL;
	}
	return h;
}

/* After this many backends in a row failed to come up, stop trying (each costs a timeout). */
#define MAX_START_FAILURES 2
static int start_failures;

static int try_start(struct h *h, const struct fe_opts *opts, bool init);

int h_try_start(struct h *h, const struct fe_opts *opts, bool init)
{
	int err;

	if (start_failures >= MAX_START_FAILURES) {
		print_error("not starting %s: the last %d attempts failed\n", h->backend, start_failures);
		return -ECANCELED;
	}
	err = try_start(h, opts, init);
	if (err && err != -EOPNOTSUPP)
		start_failures++;
	else
		start_failures = 0;
	return err;
}

static int try_start(struct h *h, const struct fe_opts *opts, bool init)
{
	int err;

	if (opts)
		h->opts = *opts;
	else
		fe_opts_default(&h->opts);
	err = fe_backend_start(h->tmpl, h->share, 10000, &h->be);
	if (err) {
		print_error("cannot start backend '%s': %s\n", h->tmpl, strerror(-err));
		return err;
	}
	err = fe_create(&h->opts, &h->fe);
	if (err) {
		print_error("fe_create: %s\n", strerror(-err));
		return err;
	}
	err = fe_connect(h->fe, fe_backend_socket(h->be), 10000);
	if (err) {
		print_error("connect: %s\n", fe_strerror(h->fe));
		return err;
	}
	err = fe_vu_setup(h->fe);
	if (err) {
		if (err != -EOPNOTSUPP)
			print_error("vhost-user setup: %s (%s)\n", strerror(-err), fe_strerror(h->fe));
		return err;
	}
	if (init) {
		err = fe_fuse_init(h->fe);
		if (err) {
			print_error("FUSE_INIT: %s (%s)\n", strerror(-err), fe_strerror(h->fe));
			return err;
		}
	}
	return 0;
}

void h_start(struct h *h, const struct fe_opts *opts, bool init)
{
	int err = h_try_start(h, opts, init);

	if (err) {
		if (h->be)
			fe_backend_dump_log(h->be, 4096);
		fail_msg("starting backend %s failed: %s (%s)", h->backend, strerror(-err),
			 h->fe ? fe_strerror(h->fe) : "-");
	}
}

int h_setup_lazy(void **state)
{
	struct h *h = h_new();

	if (!h)
		return -1;
	*state = h;
	return 0;
}

int h_setup(void **state)
{
	struct h *h = h_new();

	if (!h)
		return -1;
	*state = h;
	if (h_try_start(h, NULL, true)) {
		if (h->be)
			fe_backend_dump_log(h->be, 4096);
		/* cmocka skips the teardown of a failed setup: clean up here. */
		h_teardown(state);
		return -1;
	}
	return 0;
}

int h_teardown(void **state)
{
	struct h *h = *state;
	char desc[160];
	int rc = 0, fds;

	if (!h)
		return 0;
	if (h->be) {
		if (fe_backend_alive(h->be) != 0) {
			print_error("backend %s died during the test: %s\n", h->backend,
				    fe_backend_describe(h->be, desc, sizeof(desc)));
			fe_backend_dump_log(h->be, 8192);
			rc = -1;
		} else {
			int err;

			fe_disconnect(h->fe);
			err = fe_backend_wait(h->be, EXIT_TIMEOUT_MS);
			if (err == -ETIMEDOUT) {
				print_error("backend %s did not exit within %d ms of the disconnect\n",
					    h->backend, EXIT_TIMEOUT_MS);
				fe_backend_stop(h->be, 2000);
				fe_backend_dump_log(h->be, 8192);
				rc = -1;
			} else if (err) {
				print_error("backend %s did not exit cleanly after the disconnect: %s\n",
					    h->backend, fe_backend_describe(h->be, desc, sizeof(desc)));
				fe_backend_dump_log(h->be, 8192);
				rc = -1;
			}
		}
		fe_backend_free(h->be);
	}
	fe_close(h->fe);
	fe_rm_rf(h->tmpdir);
	free(h->tmpl);
	fds = count_fds();
	if (fds != h->fds_before) {
		print_error("fd leak: %d open before the test, %d after\n", h->fds_before, fds);
		rc = -1;
	}
	free(h);
	*state = NULL;
	return rc;
}

bool h_is(const struct h *h, const char *name)
{
	return !strcmp(h->backend, name);
}

const char *h_path(const struct h *h, const char *rel)
{
	static char bufs[4][512];
	static unsigned int n;
	char *b = bufs[n++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", h->share, rel);
	return b;
}

void h_write_file(const struct h *h, const char *rel, const void *data, size_t len)
{
	const char *p = h_path(h, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		fail_msg("host: create %s: %s", p, strerror(errno));
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		fail_msg("host: write %s: %s", p, strerror(errno));
	}
	close(fd);
}

size_t h_read_file(const struct h *h, const char *rel, void *buf, size_t size)
{
	const char *p = h_path(h, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		fail_msg("host: open %s: %s", p, strerror(errno));
	while (have < size && (n = read(fd, (char *)buf + have, size - have)) > 0)
		have += (size_t)n;
	close(fd);
	return have;
}

void h_mkdir(const struct h *h, const char *rel, unsigned int mode)
{
	const char *p = h_path(h, rel);

	if (mkdir(p, mode) < 0)
		fail_msg("host: mkdir %s: %s", p, strerror(errno));
	if (chmod(p, mode) < 0)
		fail_msg("host: chmod %s: %s", p, strerror(errno));
}

bool h_exists(const struct h *h, const char *rel)
{
	struct stat st;

	return lstat(h_path(h, rel), &st) == 0;
}

void h_pattern(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

uint64_t h_lookup(struct h *h, const char *rel, struct fuse_attr *attr)
{
	uint64_t nodeid = 0;

	H_OK(h, fe_fuse_walk(h->fe, rel, &nodeid, attr));
	return nodeid;
}

int h_xreq(struct h *h, uint32_t opcode, uint64_t nodeid, const struct h_xbuf *in,
	   unsigned int nin, void *out, uint32_t out_size, uint32_t *out_len)
{
	struct fe_fuse_call c;
	int r;

	fe_fuse_call_init(&c, opcode, nodeid);
	for (unsigned int i = 0; i < nin; i++)
		c.in[c.nin++] = (struct fe_fuse_buf){ in[i].p, in[i].len };
	c.out = out;
	c.out_size = out_size;
	c.flags |= FE_CALL_ANY_SIZE;
	r = fe_fuse_call(h->fe, &c);
	if (out_len)
		*out_len = c.out_len;
	return r;
}
