// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"

#define POISON 0xa5
#define GUARD 4096u

void hx_args(struct h *h, const char *vufsd, const char *rust, const char *legacy)
{
	const char *a = NULL;
	char *t;

	if (h_is(h, "vufsd"))
		a = vufsd;
	else if (h_is(h, "rust"))
		a = rust;
	else if (h_is(h, "legacy"))
		a = legacy;
	if (!a || !*a)
		return;
	if (asprintf(&t, "%s %s", h->tmpl, a) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
}

void hx_start(struct h *h, const char *vufsd, const char *rust, const char *legacy,
	      const struct fe_opts *opts, bool init)
{
	hx_args(h, vufsd, rust, legacy);
	h_start(h, opts, init);
}

void hx_vu_alive(struct h *h)
{
	struct vhost_user_msg reply;
	uint32_t rsize = 0;
	char desc[128];
	int err;

	if (fe_backend_alive(h->be) != 0) {
		fe_backend_dump_log(h->be, 8192);
		fail_msg("backend %s died: %s", h->backend,
			 fe_backend_describe(h->be, desc, sizeof(desc)));
	}
	err = fe_vu_send(h->fe, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, NULL, 0, NULL, 0,
			 &reply, &rsize);
	if (err || rsize != sizeof(uint64_t))
		HX_FAIL(h, "GET_FEATURES after the fault: %d (%s), %u payload bytes", err,
			fe_strerror(h->fe), rsize);
}

void hx_alive(struct h *h)
{
	struct fuse_attr_out ao;
	char desc[128];
	int err;

	if (fe_backend_alive(h->be) != 0) {
		fe_backend_dump_log(h->be, 8192);
		fail_msg("backend %s died: %s", h->backend,
			 fe_backend_describe(h->be, desc, sizeof(desc)));
	}
	err = fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, &ao);
	if (err)
		HX_FAIL(h, "liveness: GETATTR of the root = %d (%s); front-end: %s", err,
			strerror(-err), fe_strerror(h->fe));
	if (!S_ISDIR(ao.attr.mode))
		fail_msg("liveness: the root is not a directory (mode 0%o)", ao.attr.mode);
}

int hx_err_eventfd(struct h *h, unsigned int q)
{
	uint64_t v = q;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int err;

	if (fd < 0)
		fail_msg("eventfd: %s", strerror(errno));
	err = fe_vu_request(h->fe, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), &fd, 1);
	if (err) {
		close(fd);
		if (!h_is(h, "vufsd")) {
			print_message("%s: SET_VRING_ERR refused (%s): error eventfd not checked\n",
				      h->backend, fe_strerror(h->fe));
			return -1;
		}
		HX_FAIL(h, "SET_VRING_ERR: %d (%s)", err, fe_strerror(h->fe));
	}
	return fd;
}

bool hx_err_signalled(int errfd, int ms)
{
	struct pollfd pfd = { .fd = errfd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0 && (pfd.revents & POLLIN);
}

void *hx_galloc(struct h *h, size_t len)
{
	void *p = fe_guest_alloc(h->fe, len ? len : 1);

	if (!p)
		fail_msg("out of guest memory (%zu bytes)", len);
	memset(p, 0, len);
	return p;
}

uint64_t hx_gpa(struct h *h, const void *p, size_t len)
{
	uint64_t gpa;

	if (fe_guest_gpa(h->fe, p, len ? len : 1, &gpa))
		fail_msg("%p+%zu is not guest memory", p, len);
	return gpa;
}

uint64_t hx_mem_end(struct h *h)
{
	uint64_t gpa, size;

	if (fe_guest_region(h->fe, 0, &gpa, &size, NULL, NULL))
		fail_msg("no guest memory region");
	return gpa + size;
}

void hx_raw(struct h *h, unsigned int q, struct fe_vq_raw *r)
{
	if (fe_vq_raw(h->fe, q, r))
		fail_msg("queue %u is not set up", q);
}

void hx_desc(const struct fe_vq_raw *r, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next)
{
	struct vring_desc *d = &r->desc[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void hx_push(struct h *h, unsigned int q, uint16_t head)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (fe_vq_raw_push(h->fe, q, head) || fe_vq_kick(h->fe, q, true))
		fail_msg("cannot publish head %u on queue %u: %s", head, q, fe_strerror(h->fe));
}

int hx_used(struct h *h, unsigned int q, struct vring_used_elem *e, int ms)
{
	return fe_vq_raw_get(h->fe, q, e, ms);
}

uint16_t hx_used_idx(struct h *h, unsigned int q)
{
	struct fe_vq_raw r;

	hx_raw(h, q, &r);
	return __atomic_load_n(&r.used->idx, __ATOMIC_ACQUIRE);
}

uint64_t hx_unique(void)
{
	static uint64_t u = 1ull << 40;

	u += 2;
	return u;
}

size_t hx_build(void *buf, uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len)
{
	struct fuse_in_header ih = {
		.len = (uint32_t)(sizeof(ih) + args_len),
		.opcode = opcode,
		.unique = hx_unique(),
		.nodeid = nodeid,
		.uid = 0,
		.gid = 0,
		.pid = (uint32_t)getpid(),
	};

	memcpy(buf, &ih, sizeof(ih));
	if (args_len)
		memcpy((char *)buf + sizeof(ih), args, args_len);
	return sizeof(ih) + args_len;
}

static void send_ms(struct h *h, unsigned int q, const void *req, uint32_t req_len,
		    uint32_t out_room, struct hx_reply *rep, int ms)
{
	struct vring_used_elem e;
	struct fe_vq_raw r;
	uint8_t *in = NULL, *out;
	unsigned int n = 0;

	memset(rep, 0, sizeof(*rep));
	if (!req_len && !out_room)
		fail_msg("empty chain");
	if (fe_vq_inflight(h->fe, q))
		fail_msg("queue %u is not idle", q);
	hx_raw(h, q, &r);
	if (req_len >= sizeof(struct fuse_in_header))
		memcpy(&rep->unique, (const uint8_t *)req + offsetof(struct fuse_in_header, unique),
		       sizeof(rep->unique));
	if (req_len) {
		in = hx_galloc(h, req_len);
		memcpy(in, req, req_len);
		hx_desc(&r, n, hx_gpa(h, in, req_len), req_len,
			out_room ? VRING_DESC_F_NEXT : 0, (uint16_t)(n + 1));
		n++;
	}
	out = hx_galloc(h, (size_t)out_room + GUARD);
	memset(out, POISON, (size_t)out_room + GUARD);
	if (out_room)
		hx_desc(&r, n, hx_gpa(h, out, out_room), out_room, VRING_DESC_F_WRITE, 0);
	hx_push(h, q, 0);
	rep->rc = hx_used(h, q, &e, ms);
	if (rep->rc)
		return; /* the device may still write there: leave the buffers allocated */
	if (e.id != 0)
		HX_FAIL(h, "used element has id %u, the only chain in flight is 0", e.id);
	if (e.len > out_room)
		HX_FAIL(h, "used length %u exceeds the %u writable bytes", e.len, out_room);
	for (size_t i = e.len; i < (size_t)out_room + GUARD; i++) {
		if (out[i] != POISON)
			HX_FAIL(h, "device wrote at byte %zu of a %u-byte writable buffer, used length %u%s",
				i, out_room, e.len, i >= out_room ? " (PAST THE BUFFER)" : "");
	}
	rep->used = e.len;
	if (e.len >= sizeof(rep->oh))
		memcpy(&rep->oh, out, sizeof(rep->oh));
	if (e.len > sizeof(rep->oh)) {
		rep->body_len = e.len - (uint32_t)sizeof(rep->oh);
		rep->body = malloc(rep->body_len);
		if (!rep->body)
			fail_msg("out of memory");
		memcpy(rep->body, out + sizeof(rep->oh), rep->body_len);
	}
	if (in)
		fe_guest_free(h->fe, in);
	fe_guest_free(h->fe, out);
}

void hx_send(struct h *h, unsigned int q, const void *req, uint32_t req_len, uint32_t out_room,
	     struct hx_reply *rep)
{
	send_ms(h, q, req, req_len, out_room, rep, HX_REPLY_MS);
}

void hx_reply_free(struct hx_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
}

int hx_req(struct h *h, uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len,
	   int64_t len_delta, void *out, uint32_t out_size, uint32_t *out_len)
{
	size_t len = sizeof(struct fuse_in_header) + args_len;
	uint8_t *req = malloc(len);
	struct fuse_in_header ih;
	struct hx_reply rep;
	int err;

	if (!req)
		fail_msg("out of memory");
	hx_build(req, opcode, nodeid, args, args_len);
	memcpy(&ih, req, sizeof(ih));
	ih.len = (uint32_t)((int64_t)ih.len + len_delta);
	memcpy(req, &ih, sizeof(ih));
	hx_send(h, FE_QUEUE_REQUEST, req, (uint32_t)len, out_size + (uint32_t)sizeof(rep.oh), &rep);
	free(req);
	if (rep.rc)
		HX_FAIL(h, "%s (opcode %u) nodeid 0x%llx: no reply: %s", fe_fuse_opname(opcode), opcode,
			(unsigned long long)nodeid, strerror(-rep.rc));
	if (rep.used < sizeof(rep.oh))
		HX_FAIL(h, "%s (opcode %u): used length %u, no fuse_out_header", fe_fuse_opname(opcode),
			opcode, rep.used);
	if (rep.oh.len != rep.used || rep.oh.unique != rep.unique)
		HX_FAIL(h, "%s: reply out.len %u (used %u), unique %llu (sent %llu)", fe_fuse_opname(opcode),
			rep.oh.len, rep.used, (unsigned long long)rep.oh.unique,
			(unsigned long long)rep.unique);
	if (rep.oh.error > 0 || rep.oh.error <= -512 || (rep.oh.error && rep.body_len))
		HX_FAIL(h, "%s: malformed reply: error %d with %u body bytes", fe_fuse_opname(opcode),
			rep.oh.error, rep.body_len);
	if (out && rep.body_len)
		memcpy(out, rep.body, rep.body_len < out_size ? rep.body_len : out_size);
	if (out_len)
		*out_len = rep.body_len;
	err = rep.oh.error;
	hx_reply_free(&rep);
	return err;
}

void hx_expect_broken(struct h *h, unsigned int q, int errfd, uint16_t used_before)
{
	static unsigned int seq;
	struct fuse_mkdir_in mi = { .mode = S_IFDIR | 0755 };
	uint8_t args[128], req[256];
	struct hx_reply rep;
	char name[48];
	bool signalled = true;
	size_t n;

	if (errfd >= 0) {
		signalled = hx_err_signalled(errfd, HX_REPLY_MS);
		close(errfd);
	}
	hx_vu_alive(h);
	if (!signalled)
		HX_FAIL(h, "the malformed chain did not signal the vring error eventfd");
	if (hx_used_idx(h, q) != used_before)
		HX_FAIL(h, "the malformed chain was used (used->idx %u -> %u)", used_before,
			hx_used_idx(h, q));
	/* Broken means stopped: a well-formed request sent now has no effect at all. */
	snprintf(name, sizeof(name), "after-break-%u", seq++);
	n = hx_cat(args, 0, &mi, sizeof(mi));
	n = hx_cat_str(args, n, name);
	n = hx_build(req, FUSE_MKDIR, FUSE_ROOT_ID, args, n);
	send_ms(h, q, req, (uint32_t)n, 256, &rep, HX_QUIET_MS);
	if (rep.rc == 0)
		HX_FAIL(h, "a request after the break was served (used length %u)", rep.used);
	hx_reply_free(&rep);
	usleep(50 * 1000);
	if (h_exists(h, name))
		HX_FAIL(h, "a MKDIR after the break was executed on the host");
	hx_vu_alive(h);
}

const char *hx_reset_name(enum fe_reset_mode mode)
{
	switch (mode) {
	case FE_RESET_RINGS:
		return "every ring stopped and restarted";
	case FE_RESET_STATUS:
		return "SET_STATUS 0, rings restarted";
	case FE_RESET_DEVICE:
		return "RESET_DEVICE";
	case FE_RESET_OWNER:
		return "RESET_OWNER";
	}
	return "?";
}

static pid_t idle_pid;
static int idle_fds = -1;

void hx_mark_idle(struct h *h)
{
	idle_pid = hx_serving_pid(h);
	idle_fds = hx_count_fds(idle_pid);
}

/* After a reset: the daemon's fds settle back at the idle value (the old session is gone). */
static void check_idle_fds(struct h *h, enum fe_reset_mode mode)
{
	pid_t pid = hx_serving_pid(h);
	int errfd, n;

	if (pid != idle_pid || idle_fds < 0)
		return;
	/* RESET_DEVICE/OWNER dropped the error eventfd, the others kept it: register one again. */
	errfd = hx_err_eventfd(h, FE_QUEUE_REQUEST);
	if (errfd >= 0)
		close(errfd);
	n = hx_count_fds(pid);
	for (int i = 0; i < 100 && n != idle_fds; i++) {
		usleep(20 * 1000);
		n = hx_count_fds(pid);
	}
	if (n != idle_fds)
		HX_FAIL(h, "after the reset (%s) the daemon has %d fds, %d when idle", hx_reset_name(mode),
			n, idle_fds);
	idle_fds = -1;
}

/* A file written on the host reads back through the (new) session. */
static int read_back(struct h *h, const char *name)
{
	static const char text[] = "served after the reset\n";
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	char buf[64];
	int n, err;

	h_write_file(h, name, text, sizeof(text) - 1);
	err = fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &eo);
	if (err)
		return err;
	err = fe_fuse_open(h->fe, eo.nodeid, O_RDONLY, &oo);
	if (err)
		return err;
	n = fe_fuse_read(h->fe, eo.nodeid, oo.fh, 0, buf, sizeof(buf));
	err = fe_fuse_release(h->fe, eo.nodeid, oo.fh, O_RDONLY);
	if (n < 0)
		return n;
	if (n != (int)sizeof(text) - 1 || memcmp(buf, text, sizeof(text) - 1))
		return -EIO;
	return err;
}

/* Entries a request of the broken incarnation would have created. */
static int leftovers(struct h *h)
{
	struct dirent *e;
	DIR *d = opendir(h->share);
	int n = 0;

	if (!d)
		fail_msg("opendir %s: %s", h->share, strerror(errno));
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "after-break-", 12) || !strncmp(e->d_name, "ring-mkdir-", 11))
			n++;
	}
	closedir(d);
	return n;
}

void hx_expect_recovery(struct h *h, enum fe_reset_mode mode)
{
	bool strict = h_is(h, "vufsd");
	struct fuse_attr_out ao;
	int err, n;

	err = fe_reset_device(h->fe, mode);
	if (!err)
		err = fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, &ao);
	if (!err && strict)
		check_idle_fds(h, mode);
	if (!err)
		err = read_back(h, "after-reset.txt");
	if (err && !strict) {
		print_message("%s: no service after the reset (%s): %d (%s)\n", h->backend,
			      hx_reset_name(mode), err, fe_strerror(h->fe));
		return;
	}
	if (err)
		HX_FAIL(h, "no service after the reset (%s): %d (%s); front-end: %s", hx_reset_name(mode),
			err, strerror(-err), fe_strerror(h->fe));
	usleep(50 * 1000);
	if (leftovers(h))
		HX_FAIL(h, "a request of the broken rings ran after the reset (%s)", hx_reset_name(mode));
	hx_vu_alive(h);
	if (!strict)
		return;
	n = hx_log_count(h, "device broken");
	if (n != 1)
		HX_FAIL(h, "the break was logged %d times, expected once", n);
	if (hx_log_count(h, "serving again") != 1)
		HX_FAIL(h, "the daemon did not log its recovery (%s)", hx_reset_name(mode));
}

int hx_log_count(struct h *h, const char *needle)
{
	char line[1024];
	FILE *f = fopen(fe_backend_log(h->be), "re");
	int n = 0;

	if (!f)
		fail_msg("cannot read the backend log: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

pid_t hx_serving_pid(struct h *h)
{
	pid_t pid = fe_backend_pid(h->be);
	char path[64];
	FILE *f;
	int child = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child > 0 ? (pid_t)child : pid;
}

int hx_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
