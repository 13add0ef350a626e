// SPDX-License-Identifier: MIT
/*
 * Request metrics (--metrics=PATH): the socket's mode, its removal at
 * exit, and exact counts for known requests (per opcode, errors by errno,
 * READ/WRITE bytes, the latency histogram) read from the running daemon
 * in Prometheus text format. vufsd only (the anchors have no metrics).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *metrics_path(const struct h *h)
{
	static char p[100];

	snprintf(p, sizeof(p), "%s/metrics.sock", h->tmpdir);
	return p;
}

static void start_with(struct h *h, const char *extra)
{
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s --metrics=%s %s", h->tmpl, metrics_path(h), extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, NULL, true);
}

static void start(struct h *h)
{
	start_with(h, "");
}

/* Can user nobody connect to the socket? 0 if so, else -errno. */
static int connect_as_nobody(const struct h *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int st;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", metrics_path(h));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(100);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			_exit(101);
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_true(WEXITSTATUS(st) < 100);
	return -WEXITSTATUS(st);
}

/* The whole exposition, as a client of the socket gets it. */
static char *scrape(const struct h *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	int fd;

	assert_non_null(buf);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", metrics_path(h));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", sa.sun_path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (!n)
			break;
		len += (size_t)n;
		assert_true(len < cap - 1);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The value of the sample line that starts with @series followed by a space; -1 if absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, series, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	}
	return -1;
}

static void socket_mode_and_removal(struct h *h, const char *extra)
{
	struct stat st;
	char *text;

	start_with(h, extra);
	if (lstat(metrics_path(h), &st) < 0)
		fail_msg("%s: %s", metrics_path(h), strerror(errno));
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	if (geteuid() == 0)
		assert_int_equal(connect_as_nobody(h), -EACCES);
	/* Readable more than once, before and after requests. */
	text = scrape(h);
	assert_true(sample(text, "vufsd_requests_total{op=\"INIT\"}") == 1);
	free(text);
	text = scrape(h);
	assert_non_null(strstr(text, "# TYPE vufsd_requests_total counter"));
	free(text);

	/* The daemon (or its supervisor, outside the sandbox) removes it when it exits. */
	fe_disconnect(h->fe);
	assert_int_equal(fe_backend_wait(h->be, 10000), 0);
	fe_backend_free(h->be);
	h->be = NULL;
	assert_int_equal(lstat(metrics_path(h), &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* As root the default sandbox is namespace mode: the supervisor removes the socket. */
static void test_socket_mode_and_removal(void **state)
{
	socket_mode_and_removal(H_STATE(state), "");
}

/* Unsandboxed, the daemon removes it itself. */
static void test_socket_removal_unsandboxed(void **state)
{
	socket_mode_and_removal(H_STATE(state), "--sandbox=none");
}

static void test_exact_counts(void **state)
{
	struct h *h = H_STATE(state);
	char data[1000], buf[4096];
	struct fuse_entry_out e;
	struct fuse_open_out o;
	char *before, *text;
	uint64_t nodeid;

	h_pattern(data, sizeof(data), 7);
	h_write_file(h, "f", data, sizeof(data));
	start(h);
	before = scrape(h);
	/* Only INIT so far. */
	assert_true(sample(before, "vufsd_requests_total{op=\"INIT\"}") == 1);
	assert_true(sample(before, "vufsd_requests_total{op=\"LOOKUP\"}") == -1);
	free(before);

	for (int i = 0; i < 3; i++)
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	nodeid = e.nodeid;
	for (int i = 0; i < 2; i++)
		H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "missing", &e), ENOENT);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDWR, &o));
	assert_int_equal(fe_fuse_read(h->fe, nodeid, o.fh, 0, buf, sizeof(buf)), 1000);
	assert_int_equal(fe_fuse_read(h->fe, nodeid, o.fh, 900, buf, sizeof(buf)), 100);
	assert_int_equal(fe_fuse_write(h->fe, nodeid, o.fh, 1000, data, 300), 300);
	H_ERR(h, fe_fuse_read(h->fe, nodeid, o.fh + 1000, 0, buf, 10), EBADF);
	H_OK(h, fe_fuse_release(h->fe, nodeid, o.fh, 0));

	text = scrape(h);
	assert_true(sample(text, "vufsd_requests_total{op=\"LOOKUP\"}") == 5);
	assert_true(sample(text, "vufsd_request_errors_total{op=\"LOOKUP\"}") == 2);
	assert_true(sample(text, "vufsd_requests_total{op=\"OPEN\"}") == 1);
	assert_true(sample(text, "vufsd_requests_total{op=\"READ\"}") == 3);
	assert_true(sample(text, "vufsd_request_errors_total{op=\"READ\"}") == 1);
	assert_true(sample(text, "vufsd_requests_total{op=\"WRITE\"}") == 1);
	assert_true(sample(text, "vufsd_requests_total{op=\"RELEASE\"}") == 1);
	assert_true(sample(text, "vufsd_errors_total{errno=\"ENOENT\"}") == 2);
	assert_true(sample(text, "vufsd_errors_total{errno=\"EBADF\"}") == 1);
	assert_true(sample(text, "vufsd_read_bytes_total") == 1100);
	assert_true(sample(text, "vufsd_written_bytes_total") == 300);
	/* The histogram holds every LOOKUP. */
	assert_true(sample(text, "vufsd_request_duration_seconds_count{op=\"LOOKUP\"}") == 5);
	assert_true(sample(text, "vufsd_request_duration_seconds_bucket{op=\"LOOKUP\",le=\"+Inf\"}") ==
		    5);
	assert_true(sample(text, "vufsd_request_duration_seconds_sum{op=\"LOOKUP\"}") > 0);
	free(text);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_socket_mode_and_removal),
		T(test_socket_removal_unsandboxed),
		T(test_exact_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
