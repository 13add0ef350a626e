// SPDX-License-Identifier: MIT
/*
 * --posix-acl: FUSE_POSIX_ACL, FUSE_DONT_MASK and FUSE_SETXATTR_EXT are
 * offered together (or not at all); under DONT_MASK the daemon applies the
 * guest's umask unless the parent has a default ACL (the host decides);
 * system.posix_acl_* pass through; chmod updates the host ACL's mask;
 * FUSE_SETXATTR_ACL_KILL_SGID clears set-group-ID. Checked on the host.
 * vufsd only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define ACL_FLAGS ((uint64_t)FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT)
#define ACCESS "system.posix_acl_access"
#define DEFAULT "system.posix_acl_default"

/* The kernel's posix_acl_xattr format (version 2). */
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};
struct acl {
	uint32_t version;
	struct acl_entry e[5];
};
enum { USER_OBJ = 1, USER = 2, GROUP_OBJ = 4, GROUP = 8, MASK = 0x10, OTHER = 0x20 };

static size_t acl_make(struct acl *a, unsigned u, unsigned named_uid, unsigned g, unsigned m,
		       unsigned o)
{
	unsigned n = 0;

	a->version = 2;
	a->e[n++] = (struct acl_entry){ USER_OBJ, (uint16_t)u, (uint32_t)-1 };
	if (named_uid)
		a->e[n++] = (struct acl_entry){ USER, 7, named_uid };
	a->e[n++] = (struct acl_entry){ GROUP_OBJ, (uint16_t)g, (uint32_t)-1 };
	if (named_uid)
		a->e[n++] = (struct acl_entry){ MASK, (uint16_t)m, (uint32_t)-1 };
	a->e[n++] = (struct acl_entry){ OTHER, (uint16_t)o, (uint32_t)-1 };
	return 4 + n * sizeof(struct acl_entry);
}

/* SETXATTR with the extended (FUSE_SETXATTR_EXT) struct. */
static int set_xattr_ext(struct h *h, uint64_t nodeid, const char *name, const void *val,
			 uint32_t len, uint32_t setxattr_flags)
{
	struct fuse_setxattr_in si = { .size = len, .setxattr_flags = setxattr_flags };
	struct h_xbuf in[3] = {
		{ &si, sizeof(si) },
		{ name, (uint32_t)strlen(name) + 1 },
		{ val, len },
	};

	return h_xreq(h, FUSE_SETXATTR, nodeid, in, 3, NULL, 0, NULL);
}

static int get_xattr(struct h *h, uint64_t nodeid, const char *name, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct h_xbuf in[2] = { { &gi, sizeof(gi) }, { name, (uint32_t)strlen(name) + 1 } };
	uint32_t len = 0;
	int r = h_xreq(h, FUSE_GETXATTR, nodeid, in, 2, buf, size, &len);

	return r ? r : (int)len;
}

static uint64_t granted(struct h *h)
{
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);

	return (uint64_t)c->flags | ((uint64_t)c->flags2 << 32);
}

/* Start vufsd (+ @extra) and INIT with @flags on top of the defaults. */
static void acl_start(struct h *h, const char *extra, uint64_t flags)
{
	struct fuse_init_out o;

	if (!h_is(h, "vufsd"))
		skip();
	if (extra) {
		char *t;

		if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
			fail_msg("out of memory");
		free(h->tmpl);
		h->tmpl = t;
	}
	h_start(h, NULL, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				FE_FUSE_INIT_FLAGS | flags, &o));
}

static mode_t host_mode(struct h *h, const char *rel)
{
	struct stat st;

	if (lstat(h_path(h, rel), &st) < 0)
		fail_msg("host: lstat %s: %s", rel, strerror(errno));
	return st.st_mode & 07777;
}

/* Does the share's host filesystem keep ACLs? */
static bool host_has_acls(struct h *h)
{
	struct acl a;
	size_t len = acl_make(&a, 7, 0, 5, 0, 5);

	h_mkdir(h, "probe", 0755);
	if (setxattr(h_path(h, "probe"), DEFAULT, &a, len, 0) < 0) {
		print_message("host filesystem without POSIX ACLs: %s\n", strerror(errno));
		return false;
	}
	return true;
}

static void test_negotiation(void **state)
{
	struct h *h = H_STATE(state);

	acl_start(h, NULL, ACL_FLAGS);
	assert_int_equal(granted(h) & ACL_FLAGS, 0);
}

static void test_negotiation_all_or_none(void **state)
{
	struct h *h = H_STATE(state);

	/* A guest without SETXATTR_EXT (before Linux 5.17) gets none of them. */
	acl_start(h, "--posix-acl", FUSE_POSIX_ACL | FUSE_DONT_MASK);
	assert_int_equal(granted(h) & ACL_FLAGS, 0);
}

static void test_umask(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	bool acls;

	h_mkdir(h, "pub", 0777);
	acls = host_has_acls(h);
	acl_start(h, "--posix-acl", ACL_FLAGS);
	assert_int_equal(granted(h) & ACL_FLAGS, ACL_FLAGS);
	fe_fuse_set_umask(h->fe, 027);
	/* No default ACL: the guest's umask applies on the host. */
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", 0777, &e));
	assert_int_equal(host_mode(h, "d"), 0750);
	assert_int_equal(e.attr.mode & 07777, 0750);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "f", O_WRONLY | O_CREAT | O_EXCL,
			       S_IFREG | 0666, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_int_equal(host_mode(h, "f"), 0640);
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "p", S_IFIFO | 0666, 0, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_int_equal(host_mode(h, "p"), 0640);
	/* Other threads and later requests keep the daemon's own umask (0). */
	fe_fuse_set_umask(h->fe, 0);
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d0", 0777, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_int_equal(host_mode(h, "d0"), 0777);
	if (!acls)
		return;
	/* Under a default ACL the host ignores the umask: the ACL decides. */
	fe_fuse_set_umask(h->fe, 077);
	uint64_t probe = h_lookup(h, "probe", NULL);
	H_OK(h, fe_fuse_mkdir(h->fe, probe, "sub", 0777, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_int_equal(host_mode(h, "probe/sub"), 0755);
	H_OK(h, fe_fuse_forget(h->fe, probe, 1));
}

static void test_acl_passthrough(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in si;
	struct acl a, got;
	size_t len;
	uint64_t f;
	int n;

	h_write_file(h, "f", "", 0);
	if (!host_has_acls(h))
		skip();
	acl_start(h, "--posix-acl", ACL_FLAGS);
	f = h_lookup(h, "f", NULL);
	/* user::rw- user:1000:rwx group::r-- mask::rwx other::--- */
	len = acl_make(&a, 6, 1000, 4, 7, 0);
	H_OK(h, set_xattr_ext(h, f, ACCESS, &a, (uint32_t)len, 0));
	n = (int)getxattr(h_path(h, "f"), ACCESS, &got, sizeof(got));
	assert_int_equal(n, (int)len);
	assert_memory_equal(&got, &a, len);
	assert_int_equal(host_mode(h, "f"), 0670); /* group bits show the mask */
	n = get_xattr(h, f, ACCESS, &got, sizeof(got));
	assert_int_equal(n, (int)len);
	assert_memory_equal(&got, &a, len);
	/* chmod g=r-x changes the ACL's mask on the host. */
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_MODE;
	si.mode = 0650;
	H_OK(h, fe_fuse_setattr(h->fe, f, &si, NULL));
	n = (int)getxattr(h_path(h, "f"), ACCESS, &got, sizeof(got));
	assert_int_equal(n, (int)len);
	assert_int_equal(got.e[3].tag, MASK);
	assert_int_equal(got.e[3].perm, 5);
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

static void test_acl_kill_sgid(void **state)
{
	struct h *h = H_STATE(state);
	struct acl a;
	size_t len;
	uint64_t f, g;

	h_write_file(h, "f", "", 0);
	h_write_file(h, "g", "", 0);
	if (!host_has_acls(h))
		skip();
	if (chmod(h_path(h, "f"), 02775) < 0 || chmod(h_path(h, "g"), 02775) < 0)
		fail_msg("host chmod: %s", strerror(errno));
	acl_start(h, "--posix-acl", ACL_FLAGS);
	f = h_lookup(h, "f", NULL);
	g = h_lookup(h, "g", NULL);
	len = acl_make(&a, 7, 1000, 7, 7, 5);
	H_OK(h, set_xattr_ext(h, f, ACCESS, &a, (uint32_t)len, FUSE_SETXATTR_ACL_KILL_SGID));
	assert_int_equal(host_mode(h, "f") & S_ISGID, 0);
	H_OK(h, set_xattr_ext(h, g, ACCESS, &a, (uint32_t)len, 0));
	assert_int_equal(host_mode(h, "g") & S_ISGID, S_ISGID);
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
	H_OK(h, fe_fuse_forget(h->fe, g, 1));
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_negotiation),
		TL(test_negotiation_all_or_none),
		TL(test_umask),
		TL(test_acl_passthrough),
		TL(test_acl_kill_sgid),
	};

	return cmocka_run_group_tests_name("fuse_acl", tests, NULL, NULL);
}
