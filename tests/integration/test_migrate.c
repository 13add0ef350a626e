// SPDX-License-Identifier: MIT
/*
 * Live migration through the vhost-user device-state interface, with the
 * test frontend playing both QEMUs: the source daemon's state is saved
 * (rings stopped, SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE), loaded into a
 * second daemon on the same share, and the nodeids, open files, the
 * half-read directory and the lock the guest held keep working through the
 * second daemon. Also: a file renamed or replaced on the host between save
 * and load (per mode and error policy), a stream from a newer vufsd, a
 * garbage stream, and the dirty log compared with the pages a READ wrote.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NLIST 40

static void opts_mig(struct fe_opts *o)
{
	fe_opts_default(o);
	o->protocol_mask |= (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
			    (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE);
}

/* The backend template without the source's options (the destination gets its own). */
static char base_tmpl[4096];

/* The source: h's backend with @extra options, FUSE_INIT'ed. */
static void start_src(struct h *h, const char *extra)
{
	struct fe_opts o;
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	snprintf(base_tmpl, sizeof(base_tmpl), "%s", h->tmpl);
	if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	opts_mig(&o);
	h_start(h, &o, true);
}

struct dst {
	struct fe_backend *be;
	struct fe *fe;
};

/* A second daemon on the same share (@extra options), connected, not INIT'ed, rings stopped. */
static void start_dst(struct h *h, const char *extra, struct dst *d)
{
	struct fe_opts o;
	char *t;
	int err;

	if (asprintf(&t, "%s %s", base_tmpl, extra) < 0)
		fail_msg("out of memory");
	opts_mig(&o);
	err = fe_backend_start(t, h->share, 10000, &d->be);
	free(t);
	if (err)
		fail_msg("second backend: %s", strerror(-err));
	assert_int_equal(fe_create(&o, &d->fe), 0);
	if (fe_connect(d->fe, fe_backend_socket(d->be), 10000) || fe_vu_setup(d->fe))
		fail_msg("second backend setup: %s", fe_strerror(d->fe));
	for (unsigned q = 0; q < o.nqueues; q++)
		assert_int_equal(fe_vu_ring_stop(d->fe, q, NULL), 0);
}

static void rings_start(struct fe *fe)
{
	for (unsigned q = 0; q < fe_get_opts(fe)->nqueues; q++)
		assert_int_equal(fe_vu_ring_start(fe, q, 0), 0);
}

/* Stop the source's rings and save its state. */
static void save(struct h *h, uint8_t **buf, size_t *len)
{
	for (unsigned q = 0; q < h->opts.nqueues; q++)
		H_OK(h, fe_vu_ring_stop(h->fe, q, NULL));
	H_OK(h, fe_vu_state_save(h->fe, buf, len));
	assert_true(*len > 16);
	assert_memory_equal(*buf, "VUFSMIGR", 8);
}

/* The source hangs up (as QEMU does after the switch) and must exit cleanly. */
static void src_exit(struct h *h)
{
	fe_disconnect(h->fe);
	assert_int_equal(fe_backend_wait(h->be, 10000), 0);
}

/* Hand the destination to the harness, whose teardown checks it like the source. */
static void adopt(struct h *h, struct dst *d)
{
	fe_backend_free(h->be);
	fe_close(h->fe);
	h->be = d->be;
	h->fe = d->fe;
}

static int setlk_ex(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t owner, uint32_t type,
		    uint64_t start, uint64_t end, uint32_t lk_flags)
{
	struct fuse_lk_in in = { .fh = fh, .owner = owner, .lk_flags = lk_flags,
				 .lk = { .start = start, .end = end, .type = type, .pid = 42 } };

	return fe_fuse_raw(fe, FE_QUEUE_REQUEST, FUSE_SETLK, nodeid, &in, sizeof(in), NULL, 0,
			   NULL);
}

static int setlk(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t owner, uint32_t type,
		 uint64_t start, uint64_t end)
{
	return setlk_ex(fe, nodeid, fh, owner, type, start, end, 0);
}

/* Is @path flock()ed by someone (a non-blocking try from this process)? */
static bool flocked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held;

	assert_true(fd >= 0);
	held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* Read a directory from @off to the end; names appended to @seen (count in *@n). */
static void list_from(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off,
		      char seen[][32], int *n, uint32_t bufsize, bool once, uint64_t *next)
{
	char buf[4096];

	for (;;) {
		struct fe_dirent de;
		size_t pos = 0;
		int len = fe_fuse_readdir(fe, nodeid, fh, off, buf, bufsize);

		assert_true(len >= 0);
		if (len == 0)
			break;
		while (fe_dirent_next(buf, (size_t)len, &pos, false, &de) > 0) {
			off = de.off;
			if (strcmp(de.name, ".") && strcmp(de.name, "..")) {
				assert_true(*n < NLIST + 2);
				snprintf(seen[(*n)++], 32, "%.31s", de.name);
			}
		}
		if (once)
			break;
	}
	if (next)
		*next = off;
}

static void test_migrate_session(void **state, const char *mode)
{
	struct h *h = *state;
	struct fuse_entry_out ed, ea, ea2, el, ef;
	struct fuse_open_out oa, ol, of;
	struct fuse_attr_out at;
	struct dst d;
	char seen[NLIST + 2][32], data[8192], back[8192], name[32], opt[96];
	uint8_t *st;
	size_t stlen;
	uint64_t next;
	int n = 0;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1 };
	int fd;

	snprintf(opt, sizeof(opt), "--migration-mode=%s", mode); /* both daemons */
	start_src(h, opt);
	h_mkdir(h, "d", 0755);
	h_pattern(data, sizeof(data), 7);
	h_write_file(h, "d/a.txt", data, sizeof(data));
	h_mkdir(h, "list", 0755);
	for (int i = 0; i < NLIST; i++) {
		snprintf(name, sizeof(name), "list/entry-%02d", i);
		h_write_file(h, name, "x", 1);
	}

	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "d", &ed));
	H_OK(h, fe_fuse_lookup(h->fe, ed.nodeid, "a.txt", &ea));
	H_OK(h, fe_fuse_lookup(h->fe, ed.nodeid, "a.txt", &ea2)); /* two lookups held */
	assert_int_equal(ea.nodeid, ea2.nodeid);
	H_OK(h, fe_fuse_open(h->fe, ea.nodeid, O_RDWR | O_APPEND, &oa));
	H_OK(h, setlk(h->fe, ea.nodeid, oa.fh, 0x77, F_WRLCK, 0, 4095));
	h_write_file(h, "d/f.txt", "flock", 5);
	H_OK(h, fe_fuse_lookup(h->fe, ed.nodeid, "f.txt", &ef));
	H_OK(h, fe_fuse_open(h->fe, ef.nodeid, O_RDONLY, &of));
	H_OK(h, setlk_ex(h->fe, ef.nodeid, of.fh, 0x78, F_WRLCK, 0, 0, FUSE_LK_FLOCK));
	assert_true(flocked(h_path(h, "d/f.txt")));
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "list", &el));
	H_OK(h, fe_fuse_opendir(h->fe, el.nodeid, 0, &ol));
	/* Half-list: one small buffer's worth. */
	list_from(h->fe, el.nodeid, ol.fh, 0, seen, &n, 256, true, &next);
	assert_true(n > 0 && n < NLIST);

	save(h, &st, &stlen);
	start_dst(h, opt, &d);
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), 0);
	free(st);
	rings_start(d.fe);

	/* The same nodeids and handles work through the destination, without INIT. */
	assert_int_equal(fe_fuse_getattr(d.fe, ea.nodeid, NULL, &at), 0);
	assert_int_equal(at.attr.size, sizeof(data));
	assert_int_equal(fe_fuse_read(d.fe, ea.nodeid, oa.fh, 0, back, sizeof(back)), sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	/* Opened with O_APPEND: a write at 0 lands at the end. */
	assert_int_equal(fe_fuse_write(d.fe, ea.nodeid, oa.fh, 0, "tail", 4), 4);
	assert_int_equal(h_read_file(h, "d/a.txt", back, sizeof(back)), sizeof(data));
	{
		char all[sizeof(data) + 16];

		assert_int_equal(h_read_file(h, "d/a.txt", all, sizeof(all)), sizeof(data) + 4);
		assert_memory_equal(all + sizeof(data), "tail", 4);
	}
	/* The directory continues where the guest stopped: every entry exactly once. */
	list_from(d.fe, el.nodeid, ol.fh, next, seen, &n, 4096, false, NULL);
	assert_int_equal(n, NLIST);
	for (int i = 0; i < NLIST; i++) {
		int hits = 0;

		snprintf(name, sizeof(name), "entry-%02d", i);
		for (int j = 0; j < n; j++)
			hits += !strcmp(seen[j], name);
		assert_int_equal(hits, 1);
	}
	/* New lookups under a restored parent. */
	h_write_file(h, "d/new.txt", "n", 1);
	assert_int_equal(fe_fuse_lookup(d.fe, ed.nodeid, "new.txt", &ea2), 0);
	assert_int_not_equal(ea2.nodeid, ea.nodeid);
	assert_int_equal(fe_fuse_lookup(d.fe, ed.nodeid, "a.txt", &ea2), 0);
	assert_int_equal(ea2.nodeid, ea.nodeid);

	/*
	 * The lock: the source daemon still holds it until it exits; then the
	 * destination takes it again. A host process sees it held throughout.
	 */
	fd = open(h_path(h, "d/a.txt"), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
	assert_int_equal(fl.l_type, F_WRLCK);
	src_exit(h);
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100,
				     .l_len = 1 };
		assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
		if (fl.l_type == F_WRLCK)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(fl.l_type, F_WRLCK);
	close(fd);
	/* The flock too (the helper took it again once the source let go). */
	for (int i = 0; i < 300 && !flocked(h_path(h, "d/f.txt")); i++)
		usleep(10 * 1000);
	assert_true(flocked(h_path(h, "d/f.txt")));
	assert_int_equal(setlk_ex(d.fe, ef.nodeid, of.fh, 0x78, F_UNLCK, 0, 0, FUSE_LK_FLOCK), 0);
	assert_false(flocked(h_path(h, "d/f.txt")));
	assert_int_equal(fe_fuse_release(d.fe, ef.nodeid, of.fh, 0), 0);
	/* The guest's owner can release it through the destination. */
	assert_int_equal(setlk(d.fe, ea.nodeid, oa.fh, 0x77, F_UNLCK, 0, 4095), 0);
	assert_int_equal(fe_fuse_release(d.fe, ea.nodeid, oa.fh, 0), 0);
	assert_int_equal(fe_fuse_releasedir(d.fe, el.nodeid, ol.fh), 0);
	assert_int_equal(fe_fuse_forget(d.fe, ea.nodeid, 3), 0);
	adopt(h, &d);
}

static void test_migrate_find_paths(void **state)
{
	test_migrate_session(state, "find-paths");
}

static void test_migrate_file_handles(void **state)
{
	test_migrate_session(state, "file-handles");
}

/*
 * The guest holds a.txt; on the host it is renamed to b.txt and a new
 * a.txt appears before the destination loads. @src_opts/@dst_opts pick the
 * mode and policy; @want_load is whether the load succeeds; @want_same
 * whether the nodeid then names the renamed file (ESTALE if lost).
 */
static void renamed(void **state, const char *src_opts, const char *dst_opts, bool want_load,
		    int want_getattr)
{
	struct h *h = *state;
	struct fuse_entry_out ea, ec;
	struct fuse_attr_out at;
	struct dst d;
	uint8_t *st;
	size_t stlen;

	start_src(h, src_opts);
	h_write_file(h, "a.txt", "original", 8);
	h_write_file(h, "c.txt", "other", 5);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "a.txt", &ea));
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "c.txt", &ec));
	save(h, &st, &stlen);
	assert_int_equal(rename(h_path(h, "a.txt"), h_path(h, "b.txt")), 0);
	h_write_file(h, "a.txt", "impostor!", 9);
	start_dst(h, dst_opts, &d);
	if (fe_vu_state_load(d.fe, st, stlen) != (want_load ? 0 : -EIO)) {
		fe_backend_dump_log(d.be, 4096);
		fail_msg("the load %s", want_load ? "failed" : "succeeded");
	}
	free(st);
	rings_start(d.fe);
	if (!want_load) {
		/* Nothing was kept: the destination starts over with a fresh INIT. */
		assert_int_equal(fe_fuse_init(d.fe), 0);
		assert_int_equal(fe_fuse_getattr(d.fe, ea.nodeid, NULL, &at), -ESTALE);
	} else {
		int r = fe_fuse_getattr(d.fe, ea.nodeid, NULL, &at);

		assert_int_equal(r, want_getattr);
		if (!r)
			assert_int_equal(at.attr.size, 8); /* the renamed original, not the impostor */
		/* The untouched file migrated either way. */
		assert_int_equal(fe_fuse_getattr(d.fe, ec.nodeid, NULL, &at), 0);
		assert_int_equal(at.attr.size, 5);
	}
	src_exit(h);
	adopt(h, &d);
}

/* find-paths on the same share: (dev, ino) tells the impostor from the original. */
static void test_renamed_same_share(void **state)
{
	renamed(state, "", "", false, 0);
}

/* With --migration-verify-handles the file handles tell. */
static void test_renamed_verify_abort(void **state)
{
	renamed(state, "--migration-verify-handles", "", false, 0);
}

static void test_renamed_verify_guest_error(void **state)
{
	renamed(state, "--migration-verify-handles", "--migration-on-error=guest-error", true,
		-ESTALE);
}

/* file-handles follows the file to its new name. */
static void test_renamed_file_handles(void **state)
{
	renamed(state, "--migration-mode=file-handles", "--migration-mode=file-handles", true, 0);
}

/* A destination that does not use file handles refuses a stream of handles (clearly). */
static void test_handles_to_find_paths(void **state)
{
	renamed(state, "--migration-mode=file-handles", "", false, 0);
}

/* --migration-confirm-paths notices a rename that happened before the save. */
static void test_confirm_paths(void **state)
{
	struct h *h = *state;
	struct fuse_entry_out ea;
	struct fuse_attr_out at;
	struct dst d;
	uint8_t *st;
	size_t stlen;

	start_src(h, "--migration-confirm-paths");
	h_write_file(h, "a.txt", "original", 8);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "a.txt", &ea));
	/* Deleted on the host while the guest holds it: no path leads there any more. */
	assert_int_equal(unlink(h_path(h, "a.txt")), 0);
	save(h, &st, &stlen);
	start_dst(h, "--migration-on-error=guest-error", &d);
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), 0);
	free(st);
	rings_start(d.fe);
	assert_int_equal(fe_fuse_getattr(d.fe, ea.nodeid, NULL, &at), -ESTALE);
	assert_int_equal(fe_fuse_getattr(d.fe, FUSE_ROOT_ID, NULL, &at), 0);
	src_exit(h);
	adopt(h, &d);
}

/*
 * A SETLKW waiting when the rings stop is answered (EINTR) before
 * GET_VRING_BASE returns: nothing popped stays unanswered across the switch.
 */
static void test_waiting_lock_answered(void **state)
{
	struct h *h = *state;
	struct fuse_entry_out ea;
	struct fuse_open_out oa;
	struct fe_fuse_call c;
	struct fuse_lk_in in = { .lk = { .start = 0, .end = 9, .type = F_WRLCK, .pid = 42 } };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	struct dst d;
	uint8_t *st;
	size_t stlen;
	int fd;

	start_src(h, "");
	h_write_file(h, "a.txt", "0123456789", 10);
	/* A host process holds it (close-on-exec: the daemons started later must not share it). */
	fd = open(h_path(h, "a.txt"), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "a.txt", &ea));
	H_OK(h, fe_fuse_open(h->fe, ea.nodeid, O_RDWR, &oa));
	in.fh = oa.fh;
	in.owner = 0x99;
	fe_fuse_call_init(&c, FUSE_SETLKW, ea.nodeid);
	c.in[0] = (struct fe_fuse_buf){ &in, sizeof(in) };
	c.nin = 1;
	H_OK(h, fe_fuse_submit(h->fe, &c));
	usleep(200 * 1000);
	assert_false(c.done);
	save(h, &st, &stlen);
	/* Answered while the rings still ran: already in the used ring. */
	assert_int_equal(fe_fuse_wait(h->fe, &c, 2000), -EINTR);
	start_dst(h, "", &d);
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), 0);
	free(st);
	rings_start(d.fe);
	/* The guest retries on the destination: still held by the host process. */
	assert_int_equal(setlk(d.fe, ea.nodeid, oa.fh, 0x99, F_WRLCK, 0, 9), -EAGAIN);
	close(fd);
	assert_int_equal(setlk(d.fe, ea.nodeid, oa.fh, 0x99, F_WRLCK, 0, 9), 0);
	src_exit(h);
	adopt(h, &d);
}

/* A stream from a newer vufsd, a corrupted one, and one into a live session are refused. */
static void test_refused_streams(void **state)
{
	struct h *h = *state;
	struct fuse_entry_out ea;
	struct dst d;
	uint8_t *st;
	size_t stlen;
	char log[8192];
	FILE *f;
	size_t n;

	start_src(h, "");
	h_write_file(h, "a.txt", "x", 1);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "a.txt", &ea));
	save(h, &st, &stlen);
	start_dst(h, "", &d);
	st[8] = 99; /* major version */
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), -EIO);
	st[8] = 1;
	st[stlen / 2] ^= 0x40;
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), -EIO);
	assert_int_equal(fe_vu_state_load(d.fe, (const uint8_t *)"garbage", 7), -EIO);
	assert_int_equal(fe_vu_state_load(d.fe, st, 0), -EIO);
	st[stlen / 2] ^= 0x40;
	/* The intact stream still loads, but only once: then the session is live. */
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), 0);
	assert_int_equal(fe_vu_state_load(d.fe, st, stlen), -EIO);
	free(st);
	f = fopen(fe_backend_log(d.be), "r");
	assert_non_null(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	assert_non_null(strstr(log, "newer, incompatible vufsd"));
	assert_non_null(strstr(log, "checksum mismatch"));
	src_exit(h);
	adopt(h, &d);
}

/* --- dirty log --- */

#define MEMSZ (16u << 20)
#define LOGSZ ((8ull << 30) / 4096 / 8)

static bool marked(const uint8_t *log, uint64_t gpa)
{
	uint64_t p = gpa / 4096;

	return log[p / 8] & (1u << (p % 8));
}

/*
 * READs with logging on: every guest page that holds the data read (a
 * pattern unique to each read) is marked; the log holds little else; with
 * logging off nothing is marked.
 */
static void dirty_log(void **state, const char *extra)
{
	struct h *h = *state;
	struct fuse_entry_out ea;
	struct fuse_open_out oa;
	struct fe_opts o;
	static char data[256 * 1024], back[256 * 1024];
	int logfd;
	uint8_t *log;
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	opts_mig(&o);
	o.mem_size = MEMSZ;
	h_start(h, &o, true);
	logfd = memfd_create("log", MFD_CLOEXEC);
	assert_true(logfd >= 0);
	assert_int_equal(ftruncate(logfd, LOGSZ), 0);
	log = mmap(NULL, LOGSZ, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	assert_true(log != MAP_FAILED);
	H_OK(h, fe_vu_log_start(h->fe, logfd, LOGSZ));

	for (uint32_t seed = 1; seed <= 3; seed++) {
		size_t data_pages = 0, total = 0, unmarked = 0;
		char fname[16];

		snprintf(fname, sizeof(fname), "f%u", seed);
		h_pattern(data, sizeof(data), seed * 1000);
		h_write_file(h, fname, data, sizeof(data));
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, fname, &ea));
		H_OK(h, fe_fuse_open(h->fe, ea.nodeid, O_RDONLY, &oa));
		memset(log, 0, LOGSZ);
		assert_int_equal(fe_fuse_read(h->fe, ea.nodeid, oa.fh, 0, back, sizeof(back)),
				 sizeof(back));
		assert_memory_equal(back, data, sizeof(data));
		/* Which guest pages hold this read's data? (4 KiB-aligned chunks of it.) */
		for (uint64_t gpa = 0; gpa < MEMSZ; gpa += 4096) {
			const char *p = fe_guest_ptr(h->fe, gpa, 4096);

			if (!p)
				continue;
			for (size_t off = 0; off + 64 <= sizeof(data); off += 4096) {
				/* The page may hold the chunk at any 64-byte alignment. */
				if (memmem(p, 4096, data + off, 64)) {
					data_pages++;
					unmarked += !marked(log, gpa);
					break;
				}
			}
		}
		for (uint64_t i = 0; i < LOGSZ; i++)
			total += (size_t)__builtin_popcount(log[i]);
		assert_true(data_pages >= sizeof(data) / 4096);
		assert_int_equal(unmarked, 0);
		/* Data, reply header, used ring (and a page boundary or two): nothing else. */
		assert_true(total <= data_pages + 4);
		H_OK(h, fe_fuse_release(h->fe, ea.nodeid, oa.fh, 0));
	}
	H_OK(h, fe_vu_log_stop(h->fe));
	memset(log, 0, LOGSZ);
	H_OK(h, fe_fuse_open(h->fe, ea.nodeid, O_RDONLY, &oa));
	assert_int_equal(fe_fuse_read(h->fe, ea.nodeid, oa.fh, 0, back, sizeof(back)),
			 sizeof(back));
	for (uint64_t i = 0; i < LOGSZ; i++)
		assert_int_equal(log[i], 0);
	H_OK(h, fe_fuse_release(h->fe, ea.nodeid, oa.fh, 0));
	munmap(log, LOGSZ);
	close(logfd);
}

static void test_dirty_log(void **state)
{
	dirty_log(state, "");
}

/* Replies written by pool workers (--thread-pool-size) are logged too. */
static void test_dirty_log_pool(void **state)
{
	dirty_log(state, "--thread-pool-size=2");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_migrate_find_paths),
		T(test_migrate_file_handles),
		T(test_renamed_same_share),
		T(test_renamed_verify_abort),
		T(test_renamed_verify_guest_error),
		T(test_renamed_file_handles),
		T(test_handles_to_find_paths),
		T(test_confirm_paths),
		T(test_waiting_lock_answered),
		T(test_refused_streams),
		T(test_dirty_log),
		T(test_dirty_log_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
