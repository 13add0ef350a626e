// SPDX-License-Identifier: MIT
/*
 * Device resets of a healthy device, as a rebooting guest and its VMM do
 * them (fe_reset_device: rings stopped and restarted, SET_STATUS 0,
 * RESET_DEVICE or RESET_OWNER, then fresh rings and a new FUSE_INIT).
 * The new session starts clean: every inode, open file and host lock of
 * the old one is gone (the daemon's fd count is back to its idle value),
 * the old node ids and handles mean nothing, and a lock wait of the old
 * session never answers onto the new rings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"

#define NFILES 16

/* The daemon's fd count settles at want within 2 s (fds are closed by the control thread). */
static int settle_fds(pid_t pid, int want)
{
	int n = hx_count_fds(pid);

	for (int i = 0; i < 100 && n != want; i++) {
		usleep(20 * 1000);
		n = hx_count_fds(pid);
	}
	return n;
}

/* A host process tries the whole-file OFD write lock on rel: 0 or -errno (EAGAIN: held). */
static int host_trylock(struct h *h, const char *rel)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(h_path(h, rel), O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		fail_msg("open %s: %s", rel, strerror(errno));
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* SETLK (non-blocking) of the whole file on fh, as guest process pid 4242. */
static int guest_setlk(struct h *h, uint64_t node, uint64_t fh, uint32_t type, bool wait,
		       struct fe_fuse_call *c, struct fuse_lk_in *in)
{
	memset(in, 0, sizeof(*in));
	in->fh = fh;
	in->owner = 0x4242;
	in->lk.type = type;
	in->lk.end = INT64_MAX;
	in->lk.pid = 4242;
	fe_fuse_call_init(c, wait ? FUSE_SETLKW : FUSE_SETLK, node);
	c->in[0] = (struct fe_fuse_buf){ in, sizeof(*in) };
	c->nin = 1;
	if (wait)
		return fe_fuse_submit(h->fe, c);
	return fe_fuse_call(h->fe, c);
}

/* Held state of the old session: lookups, open files, directory handles, a host lock. */
struct held {
	uint64_t nodes[NFILES];
	uint64_t fhs[NFILES];
	uint64_t dirfh;
};

static void hold_things(struct h *h, struct held *s)
{
	struct fuse_open_out oo;
	struct fe_fuse_call c;
	struct fuse_lk_in lk;
	char name[32];

	for (unsigned int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "held-%u", i);
		h_write_file(h, name, "x", 1);
		s->nodes[i] = h_lookup(h, name, NULL);
		H_OK(h, fe_fuse_open(h->fe, s->nodes[i], O_RDWR, &oo));
		s->fhs[i] = oo.fh;
	}
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &oo));
	s->dirfh = oo.fh;
	if (!h_is(h, "vufsd")) {
		/* Other backends may keep locks to themselves (or not do them at all). */
		guest_setlk(h, s->nodes[0], s->fhs[0], F_WRLCK, false, &c, &lk);
		return;
	}
	H_OK(h, guest_setlk(h, s->nodes[0], s->fhs[0], F_WRLCK, false, &c, &lk));
	if (host_trylock(h, "held-0") != -EAGAIN)
		HX_FAIL(h, "the guest's lock is not a host lock");
}

/* The old session's node ids and handles are unknown to the new one; its lock is gone. */
static void check_dropped(struct h *h, const struct held *s, const char *how)
{
	struct fuse_attr_out ao;
	char buf[8];

	if (!h_is(h, "vufsd"))
		return;
	for (unsigned int i = 0; i < NFILES; i++) {
		if (s->nodes[i] == FUSE_ROOT_ID)
			continue;
		H_ANY_ERR(h, fe_fuse_getattr(h->fe, s->nodes[i], NULL, &ao));
		H_ANY_ERR(h, fe_fuse_read(h->fe, s->nodes[i], s->fhs[i], 0, buf, sizeof(buf)));
	}
	if (host_trylock(h, "held-0"))
		HX_FAIL(h, "the old session's lock is still held on the host after %s", how);
}

/*
 * SET_STATUS, RESET_DEVICE and RESET_OWNER are sent whether negotiated or not;
 * other backends may hang up on them (the Rust virtiofsd does).
 */
static void only_vufsd_unless_rings(struct h *h, enum fe_reset_mode mode)
{
	if (mode != FE_RESET_RINGS && !h_is(h, "vufsd"))
		skip();
}

static void reset_drops_session(void **state, enum fe_reset_mode mode)
{
	struct h *h = H_STATE(state);
	pid_t pid = hx_serving_pid(h);
	int idle, busy, after;
	struct held s;

	only_vufsd_unless_rings(h, mode);
	hx_alive(h);
	idle = hx_count_fds(pid);
	hold_things(h, &s);
	busy = hx_count_fds(pid);
	H_OK(h, fe_reset_device(h->fe, mode));
	after = settle_fds(pid, idle);
	print_message("%s: %s: daemon fds idle %d, holding %d, after the reset %d\n", h->backend,
		      hx_reset_name(mode), idle, busy, after);
	if (h_is(h, "vufsd") && busy < idle + NFILES)
		HX_FAIL(h, "holding %d files took only %d fds", NFILES, busy - idle);
	if (h_is(h, "vufsd") && after != idle)
		HX_FAIL(h, "%s: %d daemon fds after the reset, %d when idle", hx_reset_name(mode), after,
			idle);
	check_dropped(h, &s, hx_reset_name(mode));
	hx_alive(h);
	/* The new session works in full: the same files, new ids. */
	hold_things(h, &s);
}

static void test_reset_rings_drops_session(void **state)
{
	reset_drops_session(state, FE_RESET_RINGS);
}

static void test_reset_status_drops_session(void **state)
{
	reset_drops_session(state, FE_RESET_STATUS);
}

static void test_reset_device_drops_session(void **state)
{
	reset_drops_session(state, FE_RESET_DEVICE);
}

static void test_reset_owner_drops_session(void **state)
{
	reset_drops_session(state, FE_RESET_OWNER);
}

/* Many reboots in a row: no fd, thread or memory growth visible as fds. */
static void test_repeated_resets(void **state)
{
	struct h *h = H_STATE(state);
	pid_t pid = hx_serving_pid(h);
	int idle, after;
	struct held s;

	hx_alive(h);
	idle = hx_count_fds(pid);
	for (unsigned int i = 0; i < 12; i++) {
		hold_things(h, &s);
		enum fe_reset_mode mode = h_is(h, "vufsd") ? (enum fe_reset_mode)(i % 4) : FE_RESET_RINGS;

		H_OK(h, fe_reset_device(h->fe, mode));
		hx_alive(h);
	}
	after = settle_fds(pid, idle);
	print_message("%s: daemon fds idle %d, after 12 resets %d\n", h->backend, idle, after);
	if (h_is(h, "vufsd") && after != idle)
		HX_FAIL(h, "%d daemon fds after 12 resets, %d when idle", after, idle);
}

/*
 * A SETLKW of the old session waits on a lock the host holds when the
 * guest reboots. When the host lets go, nothing may arrive on the new
 * rings (a stale head would corrupt the new driver's ring).
 */
static void test_reset_with_waiting_lock(void **state)
{
	struct h *h = H_STATE(state);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct fuse_open_out oo;
	struct fe_fuse_call c;
	struct fuse_lk_in lk;
	uint16_t used;
	uint64_t node;
	int hostfd;

	h_write_file(h, "lockfile", "data", 4);
	hostfd = open(h_path(h, "lockfile"), O_RDWR | O_CLOEXEC);
	if (hostfd < 0 || fcntl(hostfd, F_OFD_SETLK, &fl) < 0)
		fail_msg("host lock: %s", strerror(errno));
	node = h_lookup(h, "lockfile", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));
	H_OK(h, guest_setlk(h, node, oo.fh, F_WRLCK, true, &c, &lk));
	usleep(HX_QUIET_MS * 1000);
	if (c.done) {
		close(hostfd);
		if (!h_is(h, "vufsd"))
			skip(); /* locks not forwarded to the host: nothing waits */
		HX_FAIL(h, "SETLKW on a lock the host holds completed at once (%d)", c.error);
	}
	/* The guest reboots with the lock wait pending (the call is abandoned). */
	H_OK(h, fe_reset_device(h->fe, FE_RESET_RINGS));
	used = hx_used_idx(h, FE_QUEUE_REQUEST);
	close(hostfd);
	usleep(300 * 1000);
	if (hx_used_idx(h, FE_QUEUE_REQUEST) != used)
		HX_FAIL(h, "the old session's SETLKW was answered on the new rings");
	hx_alive(h);
	if (h_is(h, "vufsd") && host_trylock(h, "lockfile"))
		HX_FAIL(h, "the old session's lock wait still holds or took the lock");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_rings_drops_session),
		T(test_reset_status_drops_session),
		T(test_reset_device_drops_session),
		T(test_reset_owner_drops_session),
		T(test_repeated_resets),
		T(test_reset_with_waiting_lock),
	};

	return cmocka_run_group_tests_name("hostile_reset", tests, NULL, NULL);
}
