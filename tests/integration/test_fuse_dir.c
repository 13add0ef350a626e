// SPDX-License-Identifier: MIT
/* Directory opcodes: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NENTRIES 2500

static void make_entries(struct h *h, const char *dir, int n)
{
	char rel[64];

	h_mkdir(h, dir, 0755);
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%s/e%04d", dir, i);
		h_write_file(h, rel, rel, (size_t)(i % 50));
	}
}

/* Index of "eNNNN", or -1. */
static int entry_index(const char *name)
{
	char *end;
	long v;

	if (name[0] != 'e' || strlen(name) != 5)
		return -1;
	v = strtol(name + 1, &end, 10);
	return *end || v < 0 || v >= NENTRIES ? -1 : (int)v;
}

struct listing {
	int count[NENTRIES];
	int dot, dotdot, other, requests, records;
};

/* Read a whole directory with buffers of bufsize, following d_off. */
static void list_dir(struct h *h, uint64_t dir, bool plus, uint32_t bufsize, struct listing *l,
		     const char *reldir)
{
	uint8_t *buf = malloc(bufsize);
	struct fuse_open_out oo;
	uint64_t off = 0;

	assert_non_null(buf);
	memset(l, 0, sizeof(*l));
	H_OK(h, fe_fuse_opendir(h->fe, dir, O_RDONLY, &oo));
	for (;;) {
		struct fuse_forget_one forget[256];
		uint32_t nforget = 0;
		struct fe_dirent d;
		size_t pos = 0;
		int n, r, in_reply = 0;

		n = plus ? fe_fuse_readdirplus(h->fe, dir, oo.fh, off, buf, bufsize) :
			   fe_fuse_readdir(h->fe, dir, oo.fh, off, buf, bufsize);
		H_OK(h, n);
		l->requests++;
		if (l->requests > 100000)
			fail_msg("directory listing does not end (offset %llu)", (unsigned long long)off);
		if (n == 0)
			break;
		while ((r = fe_dirent_next(buf, (size_t)n, &pos, plus, &d)) == 1) {
			int idx = entry_index(d.name);

			in_reply++;
			l->records++;
			off = d.off;
			if (!strcmp(d.name, "."))
				l->dot++;
			else if (!strcmp(d.name, ".."))
				l->dotdot++;
			else if (idx >= 0)
				l->count[idx]++;
			else
				l->other++;
			if (plus && d.entry.nodeid) {
				if (strcmp(d.name, ".") && strcmp(d.name, "..")) {
					/* A real lookup: the attributes are the host's. */
					char rel[FE_FUSE_NAME_MAX + 80];
					struct stat st;

					snprintf(rel, sizeof(rel), "%s/%s", reldir, d.name);
					if (lstat(h_path(h, rel), &st) < 0)
						fail_msg("host lstat %s: %s", rel, strerror(errno));
					assert_int_equal(d.entry.attr.ino, st.st_ino);
					assert_int_equal(d.entry.attr.mode, st.st_mode);
					assert_int_equal(d.entry.attr.size, st.st_size);
					assert_int_equal(d.ino, st.st_ino);
				}
				forget[nforget].nodeid = d.entry.nodeid;
				forget[nforget].nlookup = 1;
				if (++nforget == 256) {
					H_OK(h, fe_fuse_batch_forget(h->fe, forget, nforget));
					nforget = 0;
				}
			}
			if (d.type != DT_UNKNOWN && strcmp(d.name, ".") && strcmp(d.name, ".."))
				assert_int_equal(d.type, idx >= 0 ? DT_REG : d.type);
		}
		if (r < 0)
			fail_msg("malformed %s reply (%d bytes) at record %d", plus ? "READDIRPLUS" : "READDIR",
				 n, in_reply);
		if (in_reply == 0)
			fail_msg("%d-byte reply without a record", n);
		if (nforget)
			H_OK(h, fe_fuse_batch_forget(h->fe, forget, nforget));
	}
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
	free(buf);
}

static void check_listing(const struct listing *l)
{
	for (int i = 0; i < NENTRIES; i++)
		if (l->count[i] != 1)
			fail_msg("entry e%04d seen %d times", i, l->count[i]);
	assert_int_equal(l->other, 0);
	assert_true(l->dot <= 1 && l->dotdot <= 1);
}

static void test_readdirplus_many(void **state)
{
	struct h *h = H_STATE(state);
	struct listing *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	make_entries(h, "big", NENTRIES);
	list_dir(h, h_lookup(h, "big", NULL), true, 4096, l, "big");
	check_listing(l);
	/* ~150 bytes a record: 2500 entries need dozens of 4 KiB replies. */
	assert_true(l->requests > 20);
	/* And once more with large buffers. */
	list_dir(h, h_lookup(h, "big", NULL), true, 64 << 10, l, "big");
	check_listing(l);
	free(l);
}

static void test_readdir_many(void **state)
{
	struct h *h = H_STATE(state);
	struct listing *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	make_entries(h, "big", NENTRIES);
	/* An odd buffer size: records must never be split across replies. */
	list_dir(h, h_lookup(h, "big", NULL), false, 3000, l, "big");
	check_listing(l);
	assert_true(l->requests > 10);
	free(l);
}

static void test_readdir_resume(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t buf[4096], buf2[4096];
	char names[64][FE_FUSE_NAME_MAX + 1];
	uint64_t offs[64];
	struct fuse_open_out oo;
	struct fe_dirent d;
	uint64_t dir;
	size_t pos = 0;
	int n, count = 0;

	make_entries(h, "d", 200);
	dir = h_lookup(h, "d", NULL);
	H_OK(h, fe_fuse_opendir(h->fe, dir, O_RDONLY, &oo));
	n = fe_fuse_readdir(h->fe, dir, oo.fh, 0, buf, sizeof(buf));
	H_OK(h, n);
	while (count < 64 && fe_dirent_next(buf, (size_t)n, &pos, false, &d) == 1) {
		strcpy(names[count], d.name);
		offs[count] = d.off;
		count++;
	}
	assert_true(count > 20);
	/* Resuming at the 10th entry's offset yields the 11th entry next. */
	n = fe_fuse_readdir(h->fe, dir, oo.fh, offs[9], buf2, sizeof(buf2));
	H_OK(h, n);
	pos = 0;
	assert_int_equal(fe_dirent_next(buf2, (size_t)n, &pos, false, &d), 1);
	assert_string_equal(d.name, names[10]);
	/* Rewinding to 0 starts over, in a fresh handle too. */
	n = fe_fuse_readdir(h->fe, dir, oo.fh, 0, buf2, sizeof(buf2));
	H_OK(h, n);
	pos = 0;
	assert_int_equal(fe_dirent_next(buf2, (size_t)n, &pos, false, &d), 1);
	assert_string_equal(d.name, names[0]);
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
}

static void test_readdir_empty(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t buf[4096];
	struct fuse_open_out oo;
	struct fe_dirent d;
	uint64_t dir, last = 0;
	size_t pos = 0;
	int n, records = 0;

	h_mkdir(h, "empty", 0755);
	dir = h_lookup(h, "empty", NULL);
	H_OK(h, fe_fuse_opendir(h->fe, dir, O_RDONLY, &oo));
	n = fe_fuse_readdirplus(h->fe, dir, oo.fh, 0, buf, sizeof(buf));
	H_OK(h, n);
	while (fe_dirent_next(buf, (size_t)n, &pos, true, &d) == 1) {
		assert_true(!strcmp(d.name, ".") || !strcmp(d.name, ".."));
		last = d.off;
		records++;
	}
	assert_true(records <= 2);
	if (records) {
		/* Past the end: nothing more. */
		assert_int_equal(fe_fuse_readdirplus(h->fe, dir, oo.fh, last, buf, sizeof(buf)), 0);
	}
	H_OK(h, fe_fuse_fsyncdir(h->fe, dir, oo.fh, false));
	H_OK(h, fe_fuse_fsyncdir(h->fe, dir, oo.fh, true));
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
}

static void test_readdirplus_types(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t buf[8192];
	struct fuse_open_out oo;
	struct fe_dirent d;
	uint64_t dir;
	size_t pos = 0;
	int n, found = 0;

	h_mkdir(h, "t", 0755);
	h_write_file(h, "t/file", "0123456789", 10);
	h_mkdir(h, "t/sub", 0700);
	if (symlink("file", h_path(h, "t/link")) < 0 || mkfifo(h_path(h, "t/fifo"), 0600) < 0)
		fail_msg("host: %s", strerror(errno));
	dir = h_lookup(h, "t", NULL);
	H_OK(h, fe_fuse_opendir(h->fe, dir, O_RDONLY, &oo));
	n = fe_fuse_readdirplus(h->fe, dir, oo.fh, 0, buf, sizeof(buf));
	H_OK(h, n);
	while (fe_dirent_next(buf, (size_t)n, &pos, true, &d) == 1) {
		char rel[FE_FUSE_NAME_MAX + 8];
		struct stat st;
		unsigned int want;

		if (!strcmp(d.name, ".") || !strcmp(d.name, ".."))
			continue;
		snprintf(rel, sizeof(rel), "t/%s", d.name);
		if (lstat(h_path(h, rel), &st) < 0)
			fail_msg("unexpected entry %s", d.name);
		want = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR :
		       S_ISLNK(st.st_mode) ? DT_LNK : DT_FIFO;
		assert_int_equal(d.type, want);
		assert_int_equal(d.ino, st.st_ino);
		if (d.entry.nodeid) {
			assert_int_equal(d.entry.attr.mode, st.st_mode);
			assert_int_equal(d.entry.attr.ino, st.st_ino);
			assert_int_equal(d.entry.attr.nlink, st.st_nlink);
			if (!S_ISDIR(st.st_mode))
				assert_int_equal(d.entry.attr.size, st.st_size);
			H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
		}
		found++;
	}
	assert_int_equal(found, 4);
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
}

static void test_dir_errors(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint8_t buf[4096];
	uint64_t f, dir;

	h_write_file(h, "f", "x", 1);
	h_mkdir(h, "d", 0755);
	f = h_lookup(h, "f", NULL);
	dir = h_lookup(h, "d", NULL);
	H_ERR(h, fe_fuse_opendir(h->fe, f, O_RDONLY, &oo), ENOTDIR);
	H_ANY_ERR(h, fe_fuse_opendir(h->fe, 0xdeadbeefull, O_RDONLY, &oo));
	H_ANY_ERR(h, fe_fuse_readdir(h->fe, dir, 0xdeadbeefull, 0, buf, sizeof(buf)));
	H_ANY_ERR(h, fe_fuse_readdirplus(h->fe, dir, 0xdeadbeefull, 0, buf, sizeof(buf)));
	/* The directory goes away under an open handle: listing it is empty or an error. */
	H_OK(h, fe_fuse_opendir(h->fe, dir, O_RDONLY, &oo));
	H_OK(h, fe_fuse_rmdir(h->fe, FUSE_ROOT_ID, "d"));
	{
		int n = fe_fuse_readdir(h->fe, dir, oo.fh, 0, buf, sizeof(buf));

		assert_int_equal(fe_broken(h->fe), 0);
		if (n > 0) {
			struct fe_dirent d;
			size_t pos = 0;

			while (fe_dirent_next(buf, (size_t)n, &pos, false, &d) == 1)
				assert_true(!strcmp(d.name, ".") || !strcmp(d.name, ".."));
		}
	}
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_readdirplus_many),
		T(test_readdir_many),
		T(test_readdir_resume),
		T(test_readdir_empty),
		T(test_readdirplus_types),
		T(test_dir_errors),
	};

	return cmocka_run_group_tests_name("fuse_dir", tests, NULL, NULL);
}
