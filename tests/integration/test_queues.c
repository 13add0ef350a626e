// SPDX-License-Identifier: MIT
/*
 * The request path under load: the worker pool (--thread-pool-size), adaptive
 * polling of the rings (--poll-max-us), several request queues, and an idle
 * daemon's CPU use. vufsd only (the options are its own).
 *
 * A deterministic slow host operation: the test holds a write lease on a file
 * (F_SETLEASE); the daemon's OPEN of it for reading blocks in the host's
 * open() until the test gives the lease up (or lease-break-time passes).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Start vufsd with extra options (appended to the template). */
static bool start_with(struct h *h, const char *args, const struct fe_opts *opts)
{
	char *t;

	if (h_is(h, "legacy") || h_is(h, "rust")) { /* custom: a vufsd build with options */
		print_message("skipped: vufsd options\n");
		return false;
	}
	assert_true(asprintf(&t, "%s %s", h->tmpl, args) > 0);
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, opts, true);
	return true;
}

static void lookup_init(struct fe_fuse_call *c, unsigned q, const char *name,
			struct fuse_entry_out *out)
{
	fe_fuse_call_init(c, FUSE_LOOKUP, FUSE_ROOT_ID);
	c->queue = q;
	c->in[c->nin++] = (struct fe_fuse_buf){ name, (uint32_t)strlen(name) + 1 };
	c->out = out;
	c->out_size = sizeof(*out);
}

/* Hold a write lease on share/rel: a reading open() of it blocks until lease_release. */
static int lease_take(struct h *h, const char *rel)
{
	int fd;

	signal(SIGIO, SIG_IGN); /* the break notice; we give the lease up when we choose */
	fd = open(h_path(h, rel), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
		fail_msg("F_SETLEASE: %s", strerror(errno));
	return fd;
}

static void lease_release(int fd)
{
	assert_int_equal(fcntl(fd, F_SETLEASE, F_UNLCK), 0);
	close(fd);
}

/*
 * OPEN of the leased file on queue 1, then LOOKUPs on the same queue.
 * Returns how many LOOKUPs completed while the OPEN was still blocked.
 */
static int lookups_during_slow_open(struct h *h, int want, int wait_ms)
{
	struct fe_fuse_call open_c, lk;
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	struct fuse_entry_out e;
	uint64_t node;
	int lease = -1, done = 0;

	h_write_file(h, "leased", "leased", 6);
	h_write_file(h, "other", "x", 1);
	node = h_lookup(h, "leased", NULL);
	/* The lease after our own LOOKUP's O_PATH open (which does not break it). */
	lease = lease_take(h, "leased");
	fe_fuse_call_init(&open_c, FUSE_OPEN, node);
	open_c.in[open_c.nin++] = (struct fe_fuse_buf){ &oi, sizeof(oi) };
	open_c.out = &oo;
	open_c.out_size = sizeof(oo);
	H_OK(h, fe_fuse_submit(h->fe, &open_c));
	for (int i = 0; i < want; i++) {
		lookup_init(&lk, FE_QUEUE_REQUEST, "other", &e);
		H_OK(h, fe_fuse_submit(h->fe, &lk));
		/* A raw wait does not break the connection when it times out. */
		if (fe_vq_wait(h->fe, FE_QUEUE_REQUEST, wait_ms) == -ETIMEDOUT)
			break;
		H_OK(h, fe_fuse_wait(h->fe, &lk, 10000));
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
		if (open_c.done)
			fail_msg("the OPEN finished while the lease was held");
		done++;
	}
	lease_release(lease);
	if (done < want) /* the LOOKUP still waits behind the OPEN */
		H_OK(h, fe_fuse_wait(h->fe, &lk, 10000));
	H_OK(h, fe_fuse_wait(h->fe, &open_c, 10000));
	if (done < want)
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_release(h->fe, node, oo.fh, O_RDONLY));
	return done;
}

/* With workers, a request stuck in the host does not hold up its queue. */
static void test_pool_slow_request_does_not_block_queue(void **state)
{
	struct h *h = *state;

	if (!start_with(h, "--thread-pool-size=2", NULL))
		return;
	assert_int_equal(lookups_during_slow_open(h, 50, 5000), 50);
}

/* Without (the default), the queue thread itself waits: the same LOOKUPs wait with it. */
static void test_inline_slow_request_blocks_queue(void **state)
{
	struct h *h = *state;

	if (!start_with(h, "--thread-pool-size=0", NULL))
		return;
	assert_int_equal(lookups_during_slow_open(h, 1, 500), 0);
}

/* Spin for about @ns (the gaps must be finer than a sleep). */
static void spin_ns(uint64_t ns)
{
	uint64_t end = fe_now_ns() + ns;

	while (fe_now_ns() < end)
		;
}

/*
 * Requests submitted right around the moment the queue thread gives up
 * polling and goes to sleep: every one must complete (a request made
 * available while kicks were off, and missed by the last look before
 * sleeping, would wait forever: the fe timeout catches it).
 */
static void poll_sleep_race(struct h *h, unsigned iters)
{
	uint64_t rng = 88172645463325252ull;

	for (unsigned i = 0; i < iters; i++) {
		struct fe_fuse_call a, b;
		struct fuse_entry_out ea, eb;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* Gaps from 0 to 3x the 16 us bound cover polling, the re-check and sleep. */
		spin_ns(rng % 48000);
		lookup_init(&a, FE_QUEUE_REQUEST, "f", &ea);
		H_OK(h, fe_fuse_submit(h->fe, &a));
		if (i % 3 == 0) {
			spin_ns((rng >> 20) % 20000);
			lookup_init(&b, FE_QUEUE_REQUEST, "f", &eb);
			H_OK(h, fe_fuse_submit(h->fe, &b));
			H_OK(h, fe_fuse_wait(h->fe, &b, 2000));
			H_OK(h, fe_fuse_forget(h->fe, eb.nodeid, 1));
		}
		H_OK(h, fe_fuse_wait(h->fe, &a, 2000));
		H_OK(h, fe_fuse_forget(h->fe, ea.nodeid, 1));
	}
}

static void test_poll_sleep_no_stranding_event_idx(void **state)
{
	struct h *h = *state;

	h_write_file(h, "f", "x", 1);
	if (!start_with(h, "--poll-max-us=16", NULL))
		return;
	poll_sleep_race(h, 3000);
}

static void test_poll_sleep_no_stranding_flags(void **state)
{
	struct h *h = *state;
	struct fe_opts o;

	fe_opts_default(&o);
	o.feature_mask &= ~(1ull << VIRTIO_RING_F_EVENT_IDX); /* VRING_USED_F_NO_NOTIFY path */
	h_write_file(h, "f", "x", 1);
	if (!start_with(h, "--poll-max-us=16", &o))
		return;
	poll_sleep_race(h, 3000);
}

static void test_poll_sleep_no_stranding_pool(void **state)
{
	struct h *h = *state;

	h_write_file(h, "f", "x", 1);
	if (!start_with(h, "--poll-max-us=16 --thread-pool-size=2", NULL))
		return;
	poll_sleep_race(h, 2000);
}

/* Every request queue serves, each with its own thread (and pool). */
static void multi_queue(struct h *h, const char *args)
{
	struct fe_opts o;
	struct fe_fuse_call c[4][8];
	struct fuse_entry_out e[4][8];

	fe_opts_default(&o);
	o.nqueues = 5; /* hiprio + 4 request queues */
	h_write_file(h, "f", "x", 1);
	if (!start_with(h, args, &o))
		return;
	for (int round = 0; round < 50; round++) {
		for (unsigned q = 0; q < 4; q++)
			for (int i = 0; i < 8; i++) {
				lookup_init(&c[q][i], 1 + q, "f", &e[q][i]);
				H_OK(h, fe_fuse_submit(h->fe, &c[q][i]));
			}
		for (unsigned q = 0; q < 4; q++)
			for (int i = 0; i < 8; i++) {
				H_OK(h, fe_fuse_wait(h->fe, &c[q][i], 5000));
				assert_int_equal(c[q][i].error, 0);
				H_OK(h, fe_fuse_forget(h->fe, e[q][i].nodeid, 1));
			}
	}
	for (unsigned q = 0; q <= 4; q++) {
		struct fe_vq_stats st;

		H_OK(h, fe_vq_stats(h->fe, q, &st));
		assert_true(st.used >= (q ? 400u : 1600u)); /* FORGETs on hiprio */
	}
}

static void test_four_queues(void **state)
{
	multi_queue(*state, "--thread-pool-size=0");
}

static void test_four_queues_pool(void **state)
{
	multi_queue(*state, "--thread-pool-size=2");
}

static uint64_t cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	assert_non_null(p);
	/* After "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
	return ut + st;
}

/* A daemon whose guest went quiet uses no measurable CPU, polling or not. */
static void test_idle_cpu(void **state)
{
	struct h *h = *state;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t t0, t1;
	struct timespec two = { 2, 0 }, three = { 3, 0 };

	h_write_file(h, "f", "x", 1);
	/* No sandbox: the process we spawned is the one that serves. */
	if (!start_with(h, "--sandbox=none", NULL))
		return;
	poll_sleep_race(h, 2000); /* a burst: polling is tuned up */
	nanosleep(&two, NULL);
	t0 = cpu_ticks(fe_backend_pid(h->be));
	nanosleep(&three, NULL);
	t1 = cpu_ticks(fe_backend_pid(h->be));
	print_message("idle: %llu ticks in 3 s (%ld ticks/s)\n", (unsigned long long)(t1 - t0), hz);
	/* Under 1% of a core over 3 s. */
	assert_true((double)(t1 - t0) < 0.01 * 3 * (double)hz);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pool_slow_request_does_not_block_queue),
		T(test_inline_slow_request_blocks_queue),
		T(test_poll_sleep_no_stranding_event_idx),
		T(test_poll_sleep_no_stranding_flags),
		T(test_poll_sleep_no_stranding_pool),
		T(test_four_queues),
		T(test_four_queues_pool),
		T(test_idle_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
