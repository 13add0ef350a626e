// SPDX-License-Identifier: MIT
/*
 * Hostile guest: regressions for the published virtiofsd vulnerabilities,
 * escape attempts and resource exhaustion.
 *
 *  CVE-2020-35517  special files: the daemon must never open a FIFO,
 *                  socket or device node (a FIFO open blocks forever, a
 *                  device open reaches host hardware); guests cannot make
 *                  device nodes.
 *  CVE-2022-0358   set-group-ID inheritance: a file created in a setgid
 *                  directory by a user outside its group must not keep
 *                  S_ISGID, whatever mode the guest sends (guest kernels
 *                  before 6.0 do not strip it at creation: the daemon must
 *                  neither create with CAP_FSETID nor in the group).
 *  CVE-2021-20263  security.capability: unprivileged guest users cannot
 *                  set file capabilities, and a write drops them.
 *  escapes         ("containment must not depend on the sandbox": run with
 *                  --sandbox=none) names with '/', "..", guest- and
 *                  host-made symlinks leading out, and a host process that
 *                  moves directories out of the share and swaps them for
 *                  symlinks while the guest works inside them.
 *  CVE-2020-10717  fd exhaustion: with --fd-limit the guest gets ENFILE,
 *                  the daemon's fd count stays bounded, and everything
 *                  works again once the guest lets go.
 *  small buffers   replies into 16- and 1-byte buffers (the Rust
 *                  virtiofsd used to crash on them): no crash, no overflow,
 *                  no leaked node or handle.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "hostile.h"

#define Q FE_QUEUE_REQUEST
/* A request on a special file must be answered within this. */
#define FAST_MS 1500

static const char *sandbox_none_vufsd = "--sandbox=none";
static const char *sandbox_none_rust = "--sandbox=none";
/* The legacy daemon has no "none": chroot is its weakest sandbox. */
static const char *sandbox_none_legacy = "-o sandbox=chroot";

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("needs root: skipped\n");
		skip();
	}
}

/* ---- calls that must not block (CVE-2020-35517) ---- */

struct fcall {
	struct fe_fuse_call c;
	union {
		struct fuse_open_in open;
		struct fuse_create_in create;
		struct fuse_setattr_in setattr;
		struct fuse_syncfs_in syncfs;
	} in;
	char name[64];
	union {
		struct fuse_open_out open;
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} create;
		struct fuse_attr_out attr;
	} out;
};

static void fc_open(struct fcall *f, uint32_t opcode, uint64_t node, uint32_t flags)
{
	memset(f, 0, sizeof(*f));
	fe_fuse_call_init(&f->c, opcode, node);
	f->in.open.flags = flags;
	f->c.nin = 1;
	f->c.in[0] = (struct fe_fuse_buf){ &f->in.open, sizeof(f->in.open) };
	f->c.out = &f->out.open;
	f->c.out_size = sizeof(f->out.open);
}

static void fc_create(struct fcall *f, uint64_t parent, const char *name, uint32_t flags)
{
	memset(f, 0, sizeof(*f));
	fe_fuse_call_init(&f->c, FUSE_CREATE, parent);
	f->in.create.flags = flags;
	f->in.create.mode = S_IFREG | 0644;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->c.nin = 2;
	f->c.in[0] = (struct fe_fuse_buf){ &f->in.create, sizeof(f->in.create) };
	f->c.in[1] = (struct fe_fuse_buf){ f->name, (uint32_t)strlen(f->name) + 1 };
	f->c.out = &f->out.create;
	f->c.out_size = sizeof(f->out.create);
}

static void fc_syncfs(struct fcall *f, uint64_t node)
{
	memset(f, 0, sizeof(*f));
	fe_fuse_call_init(&f->c, FUSE_SYNCFS, node);
	f->c.nin = 1;
	f->c.in[0] = (struct fe_fuse_buf){ &f->in.syncfs, sizeof(f->in.syncfs) };
}

static void fc_truncate(struct fcall *f, uint64_t node)
{
	memset(f, 0, sizeof(*f));
	fe_fuse_call_init(&f->c, FUSE_SETATTR, node);
	f->in.setattr.valid = FATTR_SIZE;
	f->c.nin = 1;
	f->c.in[0] = (struct fe_fuse_buf){ &f->in.setattr, sizeof(f->in.setattr) };
	f->c.out = &f->out.attr;
	f->c.out_size = sizeof(f->out.attr);
}

/*
 * Run f; if it is not answered within FAST_MS the daemon is stuck in an
 * open() of the FIFO at fifo_path: we open it from the host to let it go,
 * collect the late answer, and report the request as blocking. Returns
 * the call's result.
 */
static int fast_call(struct h *h, struct fcall *f, const char *fifo_path, bool *blocked)
{
	int err, fd = -1;

	*blocked = false;
	err = fe_fuse_submit(h->fe, &f->c);
	if (err)
		HX_FAIL(h, "submit %s: %s", fe_fuse_opname(f->c.opcode), fe_strerror(h->fe));
	err = fe_vq_wait(h->fe, f->c.queue, FAST_MS);
	if (err == -ETIMEDOUT) {
		*blocked = true;
		if (fifo_path)
			fd = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	err = fe_fuse_wait(h->fe, &f->c, HX_REPLY_MS);
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * The request on special file node (at host path fifo_path if a FIFO)
 * must fail, and fast. Handles that come back anyway are released.
 */
static void expect_fast_error(struct h *h, struct fcall *f, const char *what, const char *fifo_path,
			      char *failures, size_t fsize)
{
	bool blocked;
	int r = fast_call(h, f, fifo_path, &blocked);
	uint64_t fh = 0;
	bool got_fh = false;
	size_t l = strlen(failures);

	if (fe_broken(h->fe))
		HX_FAIL(h, "%s: connection broken: %s", what, fe_strerror(h->fe));
	if (r == 0 && (f->c.opcode == FUSE_OPEN || f->c.opcode == FUSE_OPENDIR)) {
		fh = f->out.open.fh;
		got_fh = true;
	} else if (r == 0 && f->c.opcode == FUSE_CREATE) {
		fh = f->out.create.o.fh;
		got_fh = true;
		fe_fuse_forget(h->fe, f->out.create.e.nodeid, 1);
	}
	if (got_fh) {
		if (f->c.opcode == FUSE_OPENDIR)
			fe_fuse_releasedir(h->fe, f->c.nodeid, fh);
		else
			fe_fuse_release(h->fe, f->c.nodeid, fh, 0);
	}
	if (blocked)
		snprintf(failures + l, fsize - l,
			 "\n  %s: BLOCKED the queue (%s after the host opened the FIFO)", what,
			 r ? strerror(-r) : "then succeeded");
	else if (r == 0 && (got_fh || f->c.opcode == FUSE_SETATTR))
		snprintf(failures + l, fsize - l, "\n  %s: succeeded%s", what,
			 got_fh ? " and returned a handle: the daemon opened a special file" : "");
}

/* Like expect_fast_error, for requests that may succeed but must not block. */
static void expect_fast(struct h *h, struct fcall *f, const char *what, const char *fifo_path,
			char *failures, size_t fsize)
{
	bool blocked;
	int r = fast_call(h, f, fifo_path, &blocked);
	size_t l = strlen(failures);

	if (fe_broken(h->fe))
		HX_FAIL(h, "%s: connection broken: %s", what, fe_strerror(h->fe));
	print_message("%s: %s: %d%s\n", h->backend, what, r, blocked ? " (blocked)" : "");
	if (blocked)
		snprintf(failures + l, fsize - l, "\n  %s: BLOCKED the queue (the daemon opened the FIFO)",
			 what);
}

static void special_file_requests(struct h *h, const char *name, const char *fifo_path,
				  char *failures, size_t fsize)
{
	static const uint32_t oflags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK,
					   O_WRONLY | O_TRUNC };
	struct fuse_entry_out e;
	struct fcall *f = calloc(1, sizeof(*f));
	char what[128];

	assert_non_null(f);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
	for (size_t i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++) {
		fc_open(f, FUSE_OPEN, e.nodeid, oflags[i]);
		snprintf(what, sizeof(what), "OPEN %s flags 0%o", name, oflags[i]);
		expect_fast_error(h, f, what, fifo_path, failures, fsize);
	}
	fc_open(f, FUSE_OPENDIR, e.nodeid, O_RDONLY);
	snprintf(what, sizeof(what), "OPENDIR %s", name);
	expect_fast_error(h, f, what, fifo_path, failures, fsize);
	/* CREATE of the existing name without O_EXCL opens what is there. */
	fc_create(f, FUSE_ROOT_ID, name, O_CREAT | O_WRONLY);
	snprintf(what, sizeof(what), "CREATE %s (exists, no O_EXCL, O_WRONLY)", name);
	expect_fast_error(h, f, what, fifo_path, failures, fsize);
	fc_create(f, FUSE_ROOT_ID, name, O_CREAT | O_RDONLY);
	snprintf(what, sizeof(what), "CREATE %s (exists, no O_EXCL, O_RDONLY)", name);
	expect_fast_error(h, f, what, fifo_path, failures, fsize);
	fc_truncate(f, e.nodeid);
	snprintf(what, sizeof(what), "SETATTR size 0 on %s", name);
	expect_fast_error(h, f, what, fifo_path, failures, fsize);
	fc_syncfs(f, e.nodeid);
	snprintf(what, sizeof(what), "SYNCFS on %s", name);
	expect_fast(h, f, what, fifo_path, failures, fsize);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	free(f);
	hx_alive(h);
}

static void test_cve_2020_35517_guest_fifo_socket_devices(void **state)
{
	struct h *h = H_STATE(state);
	char failures[4096] = "";
	struct fuse_entry_out e;
	struct stat st;

	need_root();
	/* The guest may make FIFOs and sockets (they are just names)... */
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "fifo", S_IFIFO | 0666, 0, &e));
	assert_true(S_ISFIFO(e.attr.mode));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "sock", S_IFSOCK | 0666, 0, &e));
	assert_true(S_ISSOCK(e.attr.mode));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	/*
	 * ...but never device nodes on the host: refused (EPERM), or (vufsd's
	 * default --device-nodes=mapped) an empty 0600 regular file that only
	 * the guest sees as a device node, and that is never opened.
	 */
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = { "chr", "blk", "zero" };
		static const uint32_t modes[] = { S_IFCHR | 0666, S_IFBLK | 0666, S_IFCHR | 0666 };
		const uint32_t rdevs[] = { makedev(1, 3), makedev(7, 0), makedev(1, 5) };
		int r = fe_fuse_mknod(h->fe, FUSE_ROOT_ID, names[i], modes[i], rdevs[i], &e);

		if (r == -EPERM) {
			assert_false(h_exists(h, names[i]));
			continue;
		}
		H_OK(h, r);
		assert_int_equal(e.attr.mode, modes[i]);
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
		assert_int_equal(lstat(h_path(h, names[i]), &st), 0);
		if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_size)
			HX_FAIL(h, "mknod %s made host mode 0%o", names[i], st.st_mode);
		special_file_requests(h, names[i], NULL, failures, sizeof(failures));
	}
	assert_int_equal(lstat(h_path(h, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* Opening them fails, and fast: a FIFO open would wait for a peer forever. */
	special_file_requests(h, "fifo", h_path(h, "fifo"), failures, sizeof(failures));
	special_file_requests(h, "sock", NULL, failures, sizeof(failures));
	if (failures[0])
		HX_FAIL(h, "CVE-2020-35517: special files were opened:%s", failures);
}

static void test_cve_2020_35517_host_fifo_socket_device(void **state)
{
	struct h *h = H_STATE(state);
	char failures[4096] = "";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool have_dev;
	int s;

	need_root();
	/* Special files made on the host side of the share. */
	if (mkfifo(h_path(h, "hfifo"), 0666) < 0)
		fail_msg("mkfifo: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_path(h, "hsock"));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("bind %s: %s", sa.sun_path, strerror(errno));
	close(s);
	have_dev = mknod(h_path(h, "hnull"), S_IFCHR | 0666, makedev(1, 3)) == 0;
	if (!have_dev)
		print_message("host mknod: %s: device node case skipped\n", strerror(errno));
	hx_start(h, NULL, NULL, NULL, NULL, true);
	special_file_requests(h, "hfifo", h_path(h, "hfifo"), failures, sizeof(failures));
	special_file_requests(h, "hsock", NULL, failures, sizeof(failures));
	if (have_dev)
		special_file_requests(h, "hnull", NULL, failures, sizeof(failures));
	if (failures[0])
		HX_FAIL(h, "CVE-2020-35517: host-made special files were opened:%s", failures);
}

/* ---- CVE-2022-0358: set-group-ID inheritance ---- */

#define GUEST_UID 1000
#define GUEST_GID 1000
#define SG_GID 2000

static void expect_sgid_cleared(struct h *h, const char *rel, const char *what)
{
	struct stat st;

	if (lstat(h_path(h, rel), &st) < 0)
		fail_msg("%s: lstat: %s", what, strerror(errno));
	print_message("%s: %s: mode 0%o uid %u gid %u\n", h->backend, what, st.st_mode & 07777,
		      st.st_uid, st.st_gid);
	if (st.st_gid != SG_GID)
		HX_FAIL(h, "%s: group %u, the setgid directory's is %u", what, st.st_gid, SG_GID);
	if (st.st_uid != GUEST_UID)
		HX_FAIL(h, "%s: owner %u, the caller was %u", what, st.st_uid, GUEST_UID);
	if (st.st_mode & S_ISGID)
		HX_FAIL(h, "CVE-2022-0358: %s kept S_ISGID (mode 0%o) although uid %u is not in group %u",
			what, st.st_mode & 07777, GUEST_UID, SG_GID);
}

static void test_cve_2022_0358_setgid_directory(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, de, ne;
	struct fuse_open_out oo;
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = S_IFREG | 02755 };
	struct stat st;
	uint64_t sg;

	need_root();
	/* Default sandbox (namespace, as root). */
	h_mkdir(h, "sg", 02777);
	if (chown(h_path(h, "sg"), 0, SG_GID) < 0 || chmod(h_path(h, "sg"), 02777) < 0)
		fail_msg("chown/chmod: %s", strerror(errno));
	hx_start(h, NULL, NULL, NULL, NULL, true);
	sg = h_lookup(h, "sg", NULL);
	fe_fuse_set_creds(h->fe, GUEST_UID, GUEST_GID, (uint32_t)getpid());
	fe_fuse_set_umask(h->fe, 0);

	H_OK(h, fe_fuse_create(h->fe, sg, "file", O_CREAT | O_EXCL | O_WRONLY, S_IFREG | 02755, &e, &oo));
	expect_sgid_cleared(h, "sg/file", "CREATE mode 02755");
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	H_OK(h, fe_fuse_mknod(h->fe, sg, "node", S_IFREG | 02755, 0, &ne));
	expect_sgid_cleared(h, "sg/node", "MKNOD S_IFREG 02755");
	/*
	 * chmod g+s by the owner who is not in the group: every guest kernel
	 * already drops S_ISGID in setattr_prepare() before sending SETATTR,
	 * so a daemon may trust it here (not asserted, only shown). Creation
	 * is different: guests before Linux 6.0 send S_ISGID unstripped
	 * (that is CVE-2022-0358), so the daemon must not let it through.
	 */
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &sa, NULL));
	assert_int_equal(lstat(h_path(h, "sg/file"), &st), 0);
	print_message("%s: SETATTR mode 02755 by the owner (informational): mode 0%o gid %u\n",
		      h->backend, st.st_mode & 07777, st.st_gid);

	/* A subdirectory inherits the group and the setgid bit (the kernel rule). */
	H_OK(h, fe_fuse_mkdir(h->fe, sg, "dir", 02755, &de));
	assert_int_equal(lstat(h_path(h, "sg/dir"), &st), 0);
	print_message("%s: MKDIR mode 02755: mode 0%o uid %u gid %u\n", h->backend, st.st_mode & 07777,
		      st.st_uid, st.st_gid);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_gid, SG_GID);
	assert_int_equal(st.st_uid, GUEST_UID);
	if (!(st.st_mode & S_ISGID))
		HX_FAIL(h, "MKDIR in a setgid directory: the subdirectory did not inherit S_ISGID");
	/* And one level down, the same rules. */
	H_OK(h, fe_fuse_create(h->fe, de.nodeid, "deep", O_CREAT | O_EXCL | O_WRONLY, S_IFREG | 02755, &e,
			       &oo));
	expect_sgid_cleared(h, "sg/dir/deep", "CREATE in the inherited setgid subdirectory");
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));

	/*
	 * O_TMPFILE as the guest user (informational: only guests of 6.x send
	 * TMPFILE, and their VFS strips S_ISGID itself).
	 */
	{
		struct fuse_create_in ci = { .flags = O_RDWR, .mode = S_IFREG | 02755 };
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} out;
		int r;

		{
			struct fe_fuse_call c;

			fe_fuse_call_init(&c, FUSE_TMPFILE, sg);
			c.nin = 1;
			c.in[0] = (struct fe_fuse_buf){ &ci, sizeof(ci) };
			c.out = &out;
			c.out_size = sizeof(out);
			r = fe_fuse_call(h->fe, &c);
			print_message("%s: TMPFILE as uid %u: %d, mode 0%o gid %u\n", h->backend, GUEST_UID,
				      r, r ? 0 : out.e.attr.mode & 07777, r ? 0 : out.e.attr.gid);
			if (!r) {
				fe_fuse_release(h->fe, out.e.nodeid, out.o.fh, O_RDWR);
				fe_fuse_forget(h->fe, out.e.nodeid, 1);
			}
		}
	}
	fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());
	hx_alive(h);
}

/* ---- CVE-2021-20263: security.capability ---- */

static int setxattr_as(struct h *h, uint32_t uid, uint64_t node, const char *name, const void *val,
		       uint32_t len)
{
	struct fuse_setxattr_in si = { .size = len };
	struct fe_fuse_call c;
	char nm[64];

	snprintf(nm, sizeof(nm), "%s", name);
	fe_fuse_call_init(&c, FUSE_SETXATTR, node);
	c.flags = FE_CALL_CREDS;
	c.uid = uid;
	c.gid = uid;
	c.pid = (uint32_t)getpid();
	c.nin = 3;
	/* Without FUSE_SETXATTR_EXT: the 8-byte compat struct. */
	c.in[0] = (struct fe_fuse_buf){ &si, FUSE_COMPAT_SETXATTR_IN_SIZE };
	c.in[1] = (struct fe_fuse_buf){ nm, (uint32_t)strlen(nm) + 1 };
	c.in[2] = (struct fe_fuse_buf){ val, len };
	return fe_fuse_call(h->fe, &c);
}

static bool host_has_xattr(struct h *h, const char *rel, const char *name)
{
	char buf[256];

	return lgetxattr(h_path(h, rel), name, buf, sizeof(buf)) >= 0;
}

static void test_cve_2021_20263_security_capability(void **state)
{
	struct h *h = H_STATE(state);
	struct vfs_cap_data cap = { 0 };
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t dir;
	int r;

	need_root();
	hx_start(h, "--xattr", "--xattr", "-o xattr", NULL, true);
	h_mkdir(h, "u", 0777);
	cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	cap.data[0].permitted = 1u << CAP_NET_RAW;
	dir = h_lookup(h, "u", NULL);
	/* An unprivileged guest user's own executable. */
	fe_fuse_set_creds(h->fe, GUEST_UID, GUEST_GID, (uint32_t)getpid());
	H_OK(h, fe_fuse_create(h->fe, dir, "bin", O_CREAT | O_EXCL | O_RDWR, S_IFREG | 0755, &e, &oo));
	H_OK(h, fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, "#!/bin/sh\n", 10));
	fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());

	r = setxattr_as(h, GUEST_UID, e.nodeid, "security.capability", &cap, sizeof(cap));
	print_message("%s: SETXATTR security.capability as uid %u: %d\n", h->backend, GUEST_UID, r);
	if (r == -ENOSYS || r == -EOPNOTSUPP)
		skip();
	if (r != -EPERM)
		HX_FAIL(h, "CVE-2021-20263: SETXATTR security.capability by uid %u gave %d, expected -EPERM",
			GUEST_UID, r);
	if (host_has_xattr(h, "u/bin", "security.capability"))
		HX_FAIL(h, "CVE-2021-20263: file capabilities set by an unprivileged guest user");
	/* The other privileged namespaces are closed to it too. */
	H_ANY_ERR(h, setxattr_as(h, GUEST_UID, e.nodeid, "trusted.x", "v", 1));
	H_ANY_ERR(h, setxattr_as(h, GUEST_UID, e.nodeid, "security.evil", "v", 1));
	assert_false(host_has_xattr(h, "u/bin", "trusted.x"));
	/* But its own user.* attributes are fine. */
	H_OK(h, setxattr_as(h, GUEST_UID, e.nodeid, "user.ok", "v", 1));

	/*
	 * Guest root: there is no xattr mapping (yet), so guest root acts as
	 * host root on the share and may set file capabilities (the daemon
	 * keeps CAP_SETFCAP). Documented, not asserted. What is asserted: a
	 * write by anyone drops them again (the host kernel's killpriv).
	 */
	r = setxattr_as(h, 0, e.nodeid, "security.capability", &cap, sizeof(cap));
	print_message("%s: SETXATTR security.capability as guest root: %d (%s); on the host: %s\n",
		      h->backend, r, r ? strerror(-r) : "allowed",
		      host_has_xattr(h, "u/bin", "security.capability") ? "set" : "absent");
	if (!r) {
		fe_fuse_set_creds(h->fe, GUEST_UID, GUEST_GID, (uint32_t)getpid());
		H_OK(h, fe_fuse_write(h->fe, e.nodeid, oo.fh, 10, "true\n", 5));
		fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());
		if (host_has_xattr(h, "u/bin", "security.capability"))
			HX_FAIL(h, "CVE-2021-20263: security.capability survived a write by uid %u",
				GUEST_UID);
	}
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	hx_alive(h);
}

/* ---- escapes (--sandbox=none: containment must not depend on the sandbox) ---- */

/* A file outside the share that nothing may read, change, link or decorate. */
struct victim {
	char path[200];
	char dir[160];		/* outside the share, must keep only the victim */
	struct stat st;
};

#define VICTIM_DATA "VICTIM-CONTENT-outside-the-share"

static void victim_make(struct h *h, struct victim *v)
{
	struct timespec ts[2] = { { .tv_sec = 1000 }, { .tv_nsec = UTIME_NOW } };

	snprintf(v->dir, sizeof(v->dir), "%s/outside", h->tmpdir);
	snprintf(v->path, sizeof(v->path), "%s/victim", v->dir);
	if (mkdir(v->dir, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", v->dir, strerror(errno));
	{
		int fd = open(v->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || write(fd, VICTIM_DATA, strlen(VICTIM_DATA)) < 0)
			fail_msg("victim: %s", strerror(errno));
		close(fd);
	}
	if (setxattr(v->path, "user.secret", "s3cret", 6, 0) < 0)
		print_message("user xattrs unsupported here: %s\n", strerror(errno));
	/* atime older than mtime: any read by the daemon would move it (relatime). */
	if (utimensat(AT_FDCWD, v->path, ts, 0) < 0 || lstat(v->path, &v->st) < 0)
		fail_msg("victim times: %s", strerror(errno));
}

static void victim_check(struct h *h, const struct victim *v)
{
	char buf[128] = "";
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd;

	if (lstat(v->path, &st) < 0)
		HX_FAIL(h, "the file outside the share is gone: %s", strerror(errno));
	if (st.st_atim.tv_sec != v->st.st_atim.tv_sec || st.st_atim.tv_nsec != v->st.st_atim.tv_nsec)
		HX_FAIL(h, "the file outside the share was read (atime moved)");
	if (st.st_mtim.tv_sec != v->st.st_mtim.tv_sec || st.st_mtim.tv_nsec != v->st.st_mtim.tv_nsec ||
	    st.st_size != v->st.st_size)
		HX_FAIL(h, "the file outside the share was written");
	if (st.st_mode != v->st.st_mode || st.st_uid != v->st.st_uid || st.st_gid != v->st.st_gid)
		HX_FAIL(h, "the file outside the share changed mode/owner (0%o %u:%u)", st.st_mode,
			st.st_uid, st.st_gid);
	if (st.st_nlink != 1)
		HX_FAIL(h, "the file outside the share got a hard link (nlink %lu)",
			(unsigned long)st.st_nlink);
	if (lgetxattr(v->path, "user.x", buf, sizeof(buf)) >= 0)
		HX_FAIL(h, "the file outside the share got an xattr");
	d = opendir(v->dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "victim"))
			HX_FAIL(h, "\"%s\" appeared next to the file outside the share", de->d_name);
	closedir(d);
	/* Our own read, last (it moves atime). */
	fd = open(v->path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strcmp(buf, VICTIM_DATA))
			HX_FAIL(h, "the file outside the share changed content: \"%s\"", buf);
	}
}

/* No entry of the share's parent directory but "share" and "outside". */
static void parent_check(struct h *h)
{
	DIR *d = opendir(h->tmpdir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "share") &&
		    strcmp(de->d_name, "outside"))
			HX_FAIL(h, "\"%s\" appeared next to the share", de->d_name);
	closedir(d);
}

/*
 * Names that are not one component. LOOKUP (read-only) gets the classic
 * ones ("/etc/passwd", "../../etc/passwd"...). Operations that change
 * something get the same shapes aimed at the test's own temp dir
 * ("<tmp>/outside/victim", "../outside/victim", "a/../../escaped"): a
 * daemon that followed them damages only files the test watches, never
 * the host's (this suite also runs against other backends).
 */
static void test_escape_names(void **state)
{
	struct h *h = H_STATE(state);
	static const char *const lookups[] = { "/etc/passwd", "../../etc/passwd", "a/../../x", "..",
					       "../x", "/x", "./..", "a/b", "/", "../outside/victim" };
	char abs_victim[256], abs_new[256];
	const char *mutating[] = { abs_victim, abs_new, "../outside/victim", "../escaped",
				   "a/../../escaped", "..", "../outside", "./..", "a/b" };
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct stat root;
	struct victim v;
	uint64_t d, parents[2];

	victim_make(h, &v);
	snprintf(abs_victim, sizeof(abs_victim), "%s", v.path);
	snprintf(abs_new, sizeof(abs_new), "%s/escaped", h->tmpdir);
	hx_start(h, sandbox_none_vufsd, sandbox_none_rust, sandbox_none_legacy, NULL, true);
	h_mkdir(h, "a", 0755);
	h_write_file(h, "x", "x", 1);
	d = h_lookup(h, "a", NULL);
	parents[0] = FUSE_ROOT_ID;
	parents[1] = d;
	assert_int_equal(stat(h->share, &root), 0);
	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		for (int p = 0; p < 2; p++) {
			int r = fe_fuse_lookup(h->fe, parents[p], lookups[i], &e);

			if (!strcmp(lookups[i], "..") && r == 0) {
				/* ".." of the root is the root; of "a" the root too. */
				if (e.attr.ino != root.st_ino)
					HX_FAIL(h, "LOOKUP .. from %s gave ino %llu, outside the share",
						p ? "a" : "the root", (unsigned long long)e.attr.ino);
				fe_fuse_forget(h->fe, e.nodeid, 1);
			} else if (r == 0) {
				HX_FAIL(h, "LOOKUP \"%s\" succeeded (ino %llu)", lookups[i],
					(unsigned long long)e.attr.ino);
			}
		}
		hx_alive(h);
	}
	for (size_t i = 0; i < sizeof(mutating) / sizeof(mutating[0]); i++) {
		const char *n = mutating[i];

		for (int p = 0; p < 2; p++) {
			H_ANY_ERR(h, fe_fuse_mkdir(h->fe, parents[p], n, 0755, &e));
			H_ANY_ERR(h, fe_fuse_create(h->fe, parents[p], n, O_CREAT | O_RDWR,
						    S_IFREG | 0644, &e, &oo));
			H_ANY_ERR(h, fe_fuse_create(h->fe, parents[p], n, O_CREAT | O_RDWR | O_TRUNC,
						    S_IFREG | 0644, &e, &oo));
			H_ANY_ERR(h, fe_fuse_mknod(h->fe, parents[p], n, S_IFREG | 0644, 0, &e));
			H_ANY_ERR(h, fe_fuse_symlink(h->fe, parents[p], n, "x", &e));
			H_ANY_ERR(h, fe_fuse_link(h->fe, h_lookup(h, "x", NULL), parents[p], n, &e));
			H_ANY_ERR(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "x", parents[p], n));
			H_ANY_ERR(h, fe_fuse_rename(h->fe, parents[p], n, FUSE_ROOT_ID, "renamed"));
			H_ANY_ERR(h, fe_fuse_unlink(h->fe, parents[p], n));
			H_ANY_ERR(h, fe_fuse_rmdir(h->fe, parents[p], n));
		}
		hx_alive(h);
		victim_check(h, &v);
		parent_check(h);
	}
	/* Up and up again from "a": never beyond the root. */
	{
		uint64_t cur = d;

		for (int i = 0; i < 6; i++) {
			H_OK(h, fe_fuse_lookup(h->fe, cur, "..", &e));
			if (e.attr.ino != root.st_ino)
				HX_FAIL(h, "repeated LOOKUP .. left the share (ino %llu)",
					(unsigned long long)e.attr.ino);
			cur = e.nodeid;
		}
	}
	assert_true(h_exists(h, "x"));
	assert_false(h_exists(h, "renamed"));
	victim_check(h, &v);
	parent_check(h);
}

/* Everything one could try on a symlink node that leads outside: nothing may follow it. */
/*
 * mutate: the link leads into the test's temp dir, so operations that would
 * change its target if followed are tried too; links to host paths (/etc,
 * /) only get the read-only checks.
 */
static void symlink_node_checks(struct h *h, const char *name, bool xattr, bool mutate)
{
	struct fuse_setattr_in sa;
	struct fuse_entry_out e, le;
	struct fuse_open_out oo;
	char buf[512];
	uint64_t s;
	int r;

	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
	if (!S_ISLNK(e.attr.mode))
		HX_FAIL(h, "LOOKUP \"%s\" gave mode 0%o, not a symlink node", name, e.attr.mode);
	s = e.nodeid;
	/* Not a directory: no lookups, creations or listings through it. */
	H_ERR(h, fe_fuse_lookup(h->fe, s, "passwd", &le), ENOTDIR);
	H_ERR(h, fe_fuse_lookup(h->fe, s, "victim", &le), ENOTDIR);
	H_ANY_ERR(h, fe_fuse_lookup(h->fe, s, "..", &le));
	H_ANY_ERR(h, fe_fuse_opendir(h->fe, s, O_RDONLY, &oo));
	/* Opening it never follows it. */
	H_ANY_ERR(h, fe_fuse_open(h->fe, s, O_RDONLY, &oo));
	if (xattr) {
		struct fuse_getxattr_in lx = { .size = sizeof(buf) };

		r = fe_fuse_raw(h->fe, Q, FUSE_LISTXATTR, s, &lx, sizeof(lx), buf, sizeof(buf), NULL);
		if (r == 0 && memmem(buf, sizeof(buf), "user.secret", 11))
			HX_FAIL(h, "LISTXATTR on the symlink node \"%s\" lists its target's attributes",
				name);
		{
			struct {
				struct fuse_getxattr_in in;
				char name[16];
			} gx = { .in = { .size = sizeof(buf) }, .name = "user.secret" };
			uint32_t len = 0;

			r = fe_fuse_raw(h->fe, Q, FUSE_GETXATTR, s, &gx, sizeof(gx), buf, sizeof(buf), &len);
			if (r == 0)
				HX_FAIL(h, "GETXATTR on the symlink node \"%s\" read its target's attribute",
					name);
		}
	}
	if (!mutate)
		goto done;
	H_ANY_ERR(h, fe_fuse_create(h->fe, s, "created", O_CREAT | O_RDWR, S_IFREG | 0644, &le, &oo));
	H_ANY_ERR(h, fe_fuse_mkdir(h->fe, s, "created", 0755, &le));
	H_ANY_ERR(h, fe_fuse_mknod(h->fe, s, "created", S_IFREG | 0644, 0, &le));
	H_ANY_ERR(h, fe_fuse_symlink(h->fe, s, "created", "x", &le));
	H_ANY_ERR(h, fe_fuse_unlink(h->fe, s, "victim"));
	H_ANY_ERR(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "plain", s, "created"));
	H_ANY_ERR(h, fe_fuse_open(h->fe, s, O_RDWR | O_TRUNC, &oo));
	/* Creating over its name does not follow it either (O_NOFOLLOW). */
	r = fe_fuse_create(h->fe, FUSE_ROOT_ID, name, O_CREAT | O_WRONLY | O_TRUNC, S_IFREG | 0644, &le, &oo);
	if (r == 0) {
		fe_fuse_release(h->fe, le.nodeid, oo.fh, 0);
		HX_FAIL(h, "CREATE over the symlink \"%s\" opened something", name);
	}
	/* Attribute changes apply to the link itself, never the target. */
	memset(&sa, 0, sizeof(sa));
	sa.valid = FATTR_SIZE;
	H_ANY_ERR(h, fe_fuse_setattr(h->fe, s, &sa, NULL));
	sa.valid = FATTR_MODE;
	sa.mode = S_IFREG | 0666;
	r = fe_fuse_setattr(h->fe, s, &sa, NULL);
	print_message("%s: SETATTR mode on symlink %s: %d\n", h->backend, name, r);
	sa.valid = FATTR_UID | FATTR_GID;
	sa.uid = 4242;
	sa.gid = 4242;
	r = fe_fuse_setattr(h->fe, s, &sa, NULL);
	print_message("%s: SETATTR chown on symlink %s: %d\n", h->backend, name, r);
	sa.valid = FATTR_ATIME | FATTR_MTIME;
	sa.atime = 5;
	sa.mtime = 5;
	r = fe_fuse_setattr(h->fe, s, &sa, NULL);
	print_message("%s: SETATTR times on symlink %s: %d\n", h->backend, name, r);
	/* A hard link of the node links the symlink, not its target. */
	snprintf(buf, sizeof(buf), "%s-link", name);
	r = fe_fuse_link(h->fe, s, FUSE_ROOT_ID, buf, &le);
	print_message("%s: LINK of symlink %s: %d\n", h->backend, name, r);
	if (r == 0) {
		struct stat st;

		assert_int_equal(lstat(h_path(h, buf), &st), 0);
		if (!S_ISLNK(st.st_mode))
			HX_FAIL(h, "LINK of the symlink node \"%s\" hard-linked its target (mode 0%o)", name,
				st.st_mode);
		fe_fuse_forget(h->fe, le.nodeid, 1);
	}
	if (xattr)
		H_ANY_ERR(h, setxattr_as(h, 0, s, "user.x", "v", 1));
done:
	H_OK(h, fe_fuse_readlink(h->fe, s, buf, sizeof(buf)));
	H_OK(h, fe_fuse_forget(h->fe, s, 1));
	hx_alive(h);
}

static void test_escape_guest_symlinks(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct victim v;
	victim_make(h, &v);
	hx_start(h, "--sandbox=none --xattr", "--sandbox=none --xattr", "-o sandbox=chroot -o xattr", NULL,
		 true);
	h_write_file(h, "plain", "p", 1);
	/* The guest makes links out: allowed (they are just text)... */
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "esc", "/etc", &e));
	assert_true(S_ISLNK(e.attr.mode));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "v", v.path, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "vrel", "../outside/victim", &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "up", "../../../../../../../..", &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "vdir", v.dir, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	/* ...but the daemon never goes through them. */
	symlink_node_checks(h, "esc", true, false);
	symlink_node_checks(h, "up", true, false);
	symlink_node_checks(h, "v", true, true);
	symlink_node_checks(h, "vrel", true, true);
	symlink_node_checks(h, "vdir", true, true);
	victim_check(h, &v);
	parent_check(h);
}

static void test_escape_host_symlinks(void **state)
{
	struct h *h = H_STATE(state);
	struct victim v;

	victim_make(h, &v);
	/* Made by the host, pointing out of the share. */
	if (symlink("/etc", h_path(h, "habs")) < 0 ||
	    symlink("../../../../../../../../../etc", h_path(h, "hrel")) < 0 ||
	    symlink(v.path, h_path(h, "hv")) < 0 || symlink("../outside/victim", h_path(h, "hvrel")) < 0 ||
	    symlink("../outside", h_path(h, "hdir")) < 0)
		fail_msg("symlink: %s", strerror(errno));
	h_write_file(h, "plain", "p", 1);
	hx_start(h, "--sandbox=none --xattr", "--sandbox=none --xattr", "-o sandbox=chroot -o xattr", NULL,
		 true);
	symlink_node_checks(h, "habs", true, false);
	symlink_node_checks(h, "hrel", true, false);
	symlink_node_checks(h, "hv", true, true);
	symlink_node_checks(h, "hvrel", true, true);
	symlink_node_checks(h, "hdir", true, true);
	/* READDIRPLUS over them looks them up as links too. */
	{
		static uint8_t buf[16384];
		struct fuse_open_out od;
		struct fe_dirent d;
		size_t pos = 0;
		int n;

		H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &od));
		n = fe_fuse_readdirplus(h->fe, FUSE_ROOT_ID, od.fh, 0, buf, sizeof(buf));
		if (n > 0) {
			while (fe_dirent_next(buf, (size_t)n, &pos, true, &d) == 1) {
				if (!d.entry.nodeid)
					continue;
				if (d.name[0] == 'h' && !S_ISLNK(d.entry.attr.mode))
					HX_FAIL(h, "READDIRPLUS: \"%s\" is not a symlink node (mode 0%o)",
						d.name, d.entry.attr.mode);
				fe_fuse_forget(h->fe, d.entry.nodeid, 1);
			}
		}
		H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, od.fh));
	}
	victim_check(h, &v);
	parent_check(h);
}

/* LOOKUP ".." from a directory the host moved out of the share. */
static void test_escape_dotdot_of_moved_directory(void **state)
{
	struct h *h = H_STATE(state);
	char out_d[200];
	struct fuse_entry_out e;
	struct stat root, outside;
	struct victim v;
	uint64_t d, sub;
	int r;

	victim_make(h, &v);
	hx_start(h, sandbox_none_vufsd, sandbox_none_rust, sandbox_none_legacy, NULL, true);
	h_mkdir(h, "d", 0755);
	h_mkdir(h, "d/sub", 0755);
	snprintf(out_d, sizeof(out_d), "%s/d", v.dir);
	assert_int_equal(stat(h->share, &root), 0);
	assert_int_equal(stat(v.dir, &outside), 0);
	d = h_lookup(h, "d", NULL);
	sub = h_lookup(h, "d/sub", NULL);
	H_OK(h, fe_fuse_lookup(h->fe, d, "..", &e));
	assert_int_equal(e.attr.ino, root.st_ino);

	/* The host moves d out of the share; the guest still holds d and d/sub. */
	if (rename(h_path(h, "d"), out_d) < 0)
		fail_msg("rename: %s", strerror(errno));
	r = fe_fuse_lookup(h->fe, d, "..", &e);
	print_message("%s: LOOKUP .. of a directory moved out of the share: %d (%s)\n", h->backend, r,
		      r ? strerror(-r) : "a node");
	if (r == 0 && e.attr.ino != root.st_ino)
		HX_FAIL(h, "LOOKUP .. of a directory moved out gave a node outside the share (ino %llu%s)",
			(unsigned long long)e.attr.ino,
			e.attr.ino == outside.st_ino ? ", the outside dir" : "");
	r = fe_fuse_lookup(h->fe, sub, "..", &e);
	print_message("%s: LOOKUP .. of its subdirectory: %d\n", h->backend, r);
	if (r == 0) {
		/* d itself is the guest's own directory; anything above it is not. */
		struct stat dst;

		assert_int_equal(stat(out_d, &dst), 0);
		if (e.attr.ino != dst.st_ino)
			HX_FAIL(h, "LOOKUP .. of d/sub gave ino %llu", (unsigned long long)e.attr.ino);
		if (h_is(h, "vufsd"))
			HX_FAIL(h, "vufsd resolved .. of a directory that is now outside the share");
	}
	/* Names below the moved directory: only what is in it. */
	H_ERR(h, fe_fuse_lookup(h->fe, d, "victim", &e), ENOENT);
	/* Back inside: ".." works again. */
	if (rename(out_d, h_path(h, "d")) < 0)
		fail_msg("rename back: %s", strerror(errno));
	H_OK(h, fe_fuse_lookup(h->fe, d, "..", &e));
	assert_int_equal(e.attr.ino, root.st_ino);
	hx_alive(h);
	victim_check(h, &v);
}

/* A host process moves a directory out and back, and swaps it for symlinks, while the guest works in it. */
struct racer {
	volatile bool stop;
	char share_d[200], tmp_d[200], out_d[200], trap[200];
	unsigned long rounds;
	int err;
	const char *step;
};

static void *race_main(void *arg)
{
	struct racer *r = arg;

	for (unsigned int i = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		switch (i % 3) {
		case 0:
			r->step = "move out";
			if (rename(r->share_d, r->out_d) < 0)
				goto fail;
			usleep(300);
			r->step = "move back";
			if (rename(r->out_d, r->share_d) < 0)
				goto fail;
			break;
		case 1:
		case 2:
			r->step = "swap for a symlink";
			if (rename(r->share_d, r->tmp_d) < 0)
				goto fail;
			if (symlink(i % 3 == 1 ? r->trap : "/etc", r->share_d) < 0)
				goto fail;
			usleep(300);
			r->step = "swap back";
			if (unlink(r->share_d) < 0 || rename(r->tmp_d, r->share_d) < 0)
				goto fail;
			break;
		}
		r->rounds++;
		usleep(200);
	}
	return NULL;
fail:
	r->err = errno;
	return NULL;
}

static void test_escape_host_race(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, fe_, ce, pe;
	struct fuse_open_out oo;
	struct stat root, dst;
	struct racer rc = { 0 };
	struct victim v;
	pthread_t t;
	char buf[64], failure[256] = "";
	char name[40];
	unsigned long ops = 0, created = 0, reads = 0, dotdots = 0, refused = 0, links = 0;
	uint64_t end, d0, sub0;
	unsigned int n = 0;

	victim_make(h, &v);
	hx_start(h, sandbox_none_vufsd, sandbox_none_rust, sandbox_none_legacy, NULL, true);
	h_mkdir(h, "d", 0755);
	h_mkdir(h, "d/sub", 0755);
	h_write_file(h, "d/f", "INSIDE", 6);
	/* The trap: what d turns into (besides /etc) is the directory of the victim. */
	snprintf(rc.trap, sizeof(rc.trap), "%s", v.dir);
	snprintf(rc.share_d, sizeof(rc.share_d), "%s", h_path(h, "d"));
	snprintf(rc.tmp_d, sizeof(rc.tmp_d), "%s", h_path(h, "d.parked"));
	snprintf(rc.out_d, sizeof(rc.out_d), "%s/moved", h->tmpdir);
	assert_int_equal(stat(h->share, &root), 0);
	assert_int_equal(stat(h_path(h, "d"), &dst), 0);
	d0 = h_lookup(h, "d", NULL);
	sub0 = h_lookup(h, "d/sub", NULL);

	if (pthread_create(&t, NULL, race_main, &rc))
		fail_msg("pthread_create");
	end = fe_now_ns() + 3000000000ull;
	while (fe_now_ns() < end && !failure[0]) {
		int r;

		ops++;
		/* Held nodes: ".." is the root (d inside) or refused; from sub: d or refused. */
		r = fe_fuse_lookup(h->fe, d0, "..", &pe);
		if (r == 0) {
			dotdots++;
			if (pe.attr.ino != root.st_ino)
				snprintf(failure, sizeof(failure),
					 "LOOKUP .. of d gave ino %llu (not the root)",
					 (unsigned long long)pe.attr.ino);
			fe_fuse_forget(h->fe, pe.nodeid, 1);
		} else {
			refused++;
		}
		r = fe_fuse_lookup(h->fe, sub0, "..", &pe);
		if (r == 0) {
			if (pe.attr.ino != dst.st_ino)
				snprintf(failure, sizeof(failure), "LOOKUP .. of d/sub gave ino %llu (not d)",
					 (unsigned long long)pe.attr.ino);
			fe_fuse_forget(h->fe, pe.nodeid, 1);
		}
		/* Whatever "d" is right now. */
		r = fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "d", &e);
		if (r)
			continue;
		if (S_ISLNK(e.attr.mode)) {
			links++;
			if (fe_fuse_lookup(h->fe, e.nodeid, "f", &fe_) == 0) {
				snprintf(failure, sizeof(failure), "LOOKUP through the symlink d succeeded");
				fe_fuse_forget(h->fe, fe_.nodeid, 1);
			}
			if (fe_fuse_open(h->fe, e.nodeid, O_RDONLY, &oo) == 0) {
				snprintf(failure, sizeof(failure), "OPEN of the symlink d succeeded");
				fe_fuse_release(h->fe, e.nodeid, oo.fh, 0);
			}
			fe_fuse_forget(h->fe, e.nodeid, 1);
			continue;
		}
		if (!S_ISDIR(e.attr.mode) || e.attr.ino != dst.st_ino) {
			snprintf(failure, sizeof(failure), "LOOKUP d gave mode 0%o ino %llu", e.attr.mode,
				 (unsigned long long)e.attr.ino);
			fe_fuse_forget(h->fe, e.nodeid, 1);
			break;
		}
		if (fe_fuse_lookup(h->fe, e.nodeid, "victim", &fe_) == 0) {
			snprintf(failure, sizeof(failure),
				 "LOOKUP d/victim found the file outside the share");
			fe_fuse_forget(h->fe, fe_.nodeid, 1);
		}
		if (fe_fuse_lookup(h->fe, e.nodeid, "f", &fe_) == 0) {
			if (fe_fuse_open(h->fe, fe_.nodeid, O_RDONLY, &oo) == 0) {
				memset(buf, 0, sizeof(buf));
				if (fe_fuse_read(h->fe, fe_.nodeid, oo.fh, 0, buf, sizeof(buf) - 1) >= 0) {
					reads++;
					if (strcmp(buf, "INSIDE"))
						snprintf(failure, sizeof(failure),
							 "read \"%s\" through d/f", buf);
				}
				fe_fuse_release(h->fe, fe_.nodeid, oo.fh, O_RDONLY);
			}
			fe_fuse_forget(h->fe, fe_.nodeid, 1);
		}
		snprintf(name, sizeof(name), "vufs-hostile-c%u", n++);
		if (fe_fuse_create(h->fe, e.nodeid, name, O_CREAT | O_EXCL | O_WRONLY, S_IFREG | 0644, &ce,
				   &oo) == 0) {
			created++;
			fe_fuse_release(h->fe, ce.nodeid, oo.fh, O_WRONLY);
			fe_fuse_forget(h->fe, ce.nodeid, 1);
		}
		snprintf(name, sizeof(name), "vufs-hostile-m%u", n++);
		if (fe_fuse_mkdir(h->fe, e.nodeid, name, 0755, &ce) == 0)
			fe_fuse_forget(h->fe, ce.nodeid, 1);
		fe_fuse_forget(h->fe, e.nodeid, 1);
		if (fe_broken(h->fe))
			break;
	}
	__atomic_store_n(&rc.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	print_message("%s: race: %lu rounds on the host, %lu guest iterations, %lu files created, %lu reads, "
		      "%lu symlink sightings, LOOKUP .. of d: %lu ok / %lu refused\n",
		      h->backend, rc.rounds, ops, created, reads, links, dotdots, refused);
	if (rc.err)
		fail_msg("host racer: %s: %s", rc.step, strerror(rc.err));
	if (fe_broken(h->fe))
		HX_FAIL(h, "connection broken during the race: %s", fe_strerror(h->fe));
	if (failure[0])
		HX_FAIL(h, "race: %s", failure);
	hx_alive(h);
	/* Nothing landed outside: not next to the victim, not in /etc, not next to the share. */
	victim_check(h, &v);
	for (unsigned int i = 0; i < n; i++) {
		char p[64];

		/* Unique names, created with O_EXCL/mkdir: never an existing file; removed if found. */
		snprintf(p, sizeof(p), "/etc/vufs-hostile-%c%u", i % 2 ? 'm' : 'c', i);
		if (access(p, F_OK) == 0) {
			if (unlink(p) < 0)
				rmdir(p);
			HX_FAIL(h, "%s was created", p);
		}
	}
	{
		DIR *dd = opendir(h->tmpdir);
		struct dirent *de;

		assert_non_null(dd);
		while ((de = readdir(dd)))
			if (de->d_name[0] != '.' && strcmp(de->d_name, "share") &&
			    strcmp(de->d_name, "outside"))
				HX_FAIL(h, "\"%s\" is next to the share after the race", de->d_name);
		closedir(dd);
	}
	assert_true(h_exists(h, "d/f"));
}

/* ---- CVE-2020-10717: fd exhaustion ---- */

#define FD_LIMIT 64
/* The daemon's own fds (socket, eventfds, /proc, log...) on top of what it holds for the guest. */
#define FD_SLACK 8

static void fd_check(struct h *h, pid_t pid, int base, const char *when)
{
	int n = hx_count_fds(pid);

	print_message("%s: daemon fds %s: %d (base %d, limit %d)\n", h->backend, when, n, base, FD_LIMIT);
	if (n < 0)
		fail_msg("cannot count the fds of pid %d", (int)pid);
	if (n > base + FD_LIMIT + FD_SLACK)
		HX_FAIL(h, "CVE-2020-10717: %d fds %s, limit %d + base %d", n, when, FD_LIMIT, base);
}

static void test_cve_2020_10717_fd_exhaustion(void **state)
{
	struct h *h = H_STATE(state);
	enum { NFILES = 120 };
	uint64_t nodes[NFILES], fhs[NFILES], fhnode[NFILES];
	unsigned int nn = 0, nh = 0, enfile = 0;
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	char name[32];
	pid_t pid;
	int base, r;

	if (!h_is(h, "vufsd")) {
		print_message("%s: no --fd-limit equivalent: skipped\n", h->backend);
		skip();
	}
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		h_write_file(h, name, "x", 1);
	}
	hx_start(h, "--fd-limit=" "64", NULL, NULL, NULL, true);
	pid = hx_serving_pid(h);
	base = hx_count_fds(pid);

	/* LOOKUP distinct files until the daemon says ENFILE (and only that). */
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		r = fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e);
		if (r == 0) {
			nodes[nn++] = e.nodeid;
		} else if (r == -ENFILE) {
			enfile++;
		} else {
			HX_FAIL(h, "LOOKUP %s: %d (%s), expected success or -ENFILE", name, r, strerror(-r));
		}
	}
	print_message("%s: %u lookups held, %u ENFILE\n", h->backend, nn, enfile);
	assert_true(enfile > 0);
	assert_true(nn <= FD_LIMIT);
	fd_check(h, pid, base, "with the inode table full");
	hx_alive(h);

	/* OPEN: free a few inode slots, open until ENFILE. */
	for (int i = 0; i < 10; i++)
		H_OK(h, fe_fuse_forget(h->fe, nodes[--nn], 1));
	for (unsigned int i = 0; i < nn; i++) {
		r = fe_fuse_open(h->fe, nodes[i], O_RDONLY, &oo);
		if (r == 0) {
			fhnode[nh] = nodes[i];
			fhs[nh++] = oo.fh;
		} else if (r != -ENFILE) {
			HX_FAIL(h, "OPEN: %d (%s), expected success or -ENFILE", r, strerror(-r));
		} else {
			enfile++;
		}
	}
	print_message("%s: %u files open\n", h->backend, nh);
	assert_true(nh >= 1 && nh <= 10);
	/* CREATE needs an inode and a handle: ENFILE now. */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		r = fe_fuse_create(h->fe, FUSE_ROOT_ID, name, O_CREAT | O_EXCL | O_RDWR, S_IFREG | 0644,
				   &e, &oo);
		if (r == 0)
			HX_FAIL(h, "CREATE with every fd slot in use succeeded");
		if (r != -ENFILE)
			HX_FAIL(h, "CREATE: %d (%s), expected -ENFILE", r, strerror(-r));
	}
	r = fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &oo);
	assert_int_equal(r, -ENFILE);
	fd_check(h, pid, base, "with inodes and handles at the limit");
	hx_alive(h);

	/* Let go of everything: the operations work again. */
	for (unsigned int i = 0; i < nh; i++)
		H_OK(h, fe_fuse_release(h->fe, fhnode[i], fhs[i], O_RDONLY));
	for (unsigned int i = 0; i < nn; i++)
		H_OK(h, fe_fuse_forget(h->fe, nodes[i], 1));
	nn = nh = 0;
	usleep(50 * 1000); /* FORGETs travel on the other queue */
	fd_check(h, pid, base, "after FORGET/RELEASE");
	assert_true(hx_count_fds(pid) <= base + 2);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%03d", 100 + i);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
		nodes[nn++] = e.nodeid;
	}
	H_OK(h, fe_fuse_open(h->fe, nodes[0], O_RDONLY, &oo));
	H_OK(h, fe_fuse_release(h->fe, nodes[0], oo.fh, O_RDONLY));
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "after", O_CREAT | O_EXCL | O_RDWR, S_IFREG | 0644,
			       &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	for (unsigned int i = 0; i < nn; i++)
		H_OK(h, fe_fuse_forget(h->fe, nodes[i], 1));
	hx_alive(h);
}

/* ---- replies into 16- and 1-byte buffers ---- */

static void small_case(struct h *h, uint32_t opcode, uint64_t node, const void *args, size_t len,
		       uint32_t room)
{
	uint8_t req[4096];
	struct hx_reply rep;
	size_t n = hx_build(req, opcode, node, args, len);

	/* hx_send fails the test if anything is written past the used length. */
	hx_send(h, Q, req, (uint32_t)n, room, &rep);
	if (rep.rc)
		HX_FAIL(h, "%s into %u bytes: no answer (%s)", fe_fuse_opname(opcode), room,
			strerror(-rep.rc));
	if (room <= 16 && rep.used != 0 && rep.used != 16)
		HX_FAIL(h, "%s into %u bytes: used length %u", fe_fuse_opname(opcode), room, rep.used);
	if (rep.used && rep.used < 16)
		HX_FAIL(h, "%s into %u bytes: a partial header (%u bytes)", fe_fuse_opname(opcode), room,
			rep.used);
	if (rep.used >= 16 && (rep.oh.len != rep.used || rep.oh.unique != rep.unique || rep.oh.error > 0 ||
			       (rep.oh.error && rep.used != 16)))
		HX_FAIL(h, "%s into %u bytes: malformed reply (used %u, len %u, error %d)",
			fe_fuse_opname(opcode), room, rep.used, rep.oh.len, rep.oh.error);
	/* A reply that fit hands out a handle or a node: give it back (the test counts fds). */
	if (rep.used >= 16 && !rep.oh.error && rep.body_len >= sizeof(struct fuse_open_out) &&
	    (opcode == FUSE_OPEN || opcode == FUSE_OPENDIR)) {
		struct fuse_open_out oo;

		memcpy(&oo, rep.body, sizeof(oo));
		if (opcode == FUSE_OPEN)
			H_OK(h, fe_fuse_release(h->fe, node, oo.fh, 0));
		else
			H_OK(h, fe_fuse_releasedir(h->fe, node, oo.fh));
	}
	if (rep.used >= 16 && !rep.oh.error && rep.body_len >= sizeof(struct fuse_entry_out) &&
	    (opcode == FUSE_LOOKUP || opcode == FUSE_MKDIR || opcode == FUSE_CREATE))
		fail_msg("%s: an entry fit in %u bytes", fe_fuse_opname(opcode), room);
	hx_reply_free(&rep);
	if (fe_backend_alive(h->be) != 0)
		HX_FAIL(h, "%s into %u bytes killed the backend", fe_fuse_opname(opcode), room);
}

static void test_small_reply_buffers(void **state)
{
	struct h *h = H_STATE(state);
	static const uint32_t rooms[] = { 16, 1, 15, 17, 100 };
	struct fuse_open_out oo, od;
	struct fuse_entry_out e;
	uint64_t file, link;
	char name[32];
	pid_t pid;
	int base;

	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "entry-%02d", i);
		h_write_file(h, name, "0123456789abcdef", 16);
	}
	if (symlink("target-of-the-link", h_path(h, "lnk")) < 0)
		fail_msg("symlink: %s", strerror(errno));
	/* A low fd limit turns any node or handle leaked by a failed reply into ENFILE below. */
	hx_start(h, "--fd-limit=64", NULL, NULL, NULL, true);
	pid = hx_serving_pid(h);
	file = h_lookup(h, "entry-00", NULL);
	link = h_lookup(h, "lnk", NULL);
	H_OK(h, fe_fuse_open(h->fe, file, O_RDONLY, &oo));
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &od));
	base = hx_count_fds(pid);

	for (int round = 0; round < 8; round++) {
		for (size_t k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
			uint32_t room = rooms[k];
			struct fuse_read_in ri = { .fh = oo.fh, .size = 4096 };
			struct fuse_read_in di = { .fh = od.fh, .size = 4096 };
			struct fuse_getattr_in gi = { 0 };
			struct fuse_getxattr_in xi = { .size = 100 };
			struct fuse_create_in ci = { .flags = O_CREAT | O_EXCL | O_RDWR,
						     .mode = S_IFREG | 0644 };
			struct fuse_mkdir_in mi = { .mode = 0755 };
			uint8_t args[128];
			size_t n;

			small_case(h, FUSE_READ, file, &ri, sizeof(ri), room);
			small_case(h, FUSE_READDIR, FUSE_ROOT_ID, &di, sizeof(di), room);
			small_case(h, FUSE_READDIRPLUS, FUSE_ROOT_ID, &di, sizeof(di), room);
			small_case(h, FUSE_GETATTR, file, &gi, sizeof(gi), room);
			small_case(h, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), room);
			snprintf(name, sizeof(name), "entry-%02d", (int)((round * 5 + k) % 30));
			small_case(h, FUSE_LOOKUP, FUSE_ROOT_ID, name, strlen(name) + 1, room);
			small_case(h, FUSE_LOOKUP, FUSE_ROOT_ID, "..", 3, room);
			small_case(h, FUSE_READLINK, link, NULL, 0, room);
			small_case(h, FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, room);
			small_case(h, FUSE_LISTXATTR, file, &xi, sizeof(xi), room);
			n = hx_cat(args, 0, &ci, sizeof(ci));
			snprintf(name, sizeof(name), "created-%d-%zu", round, k);
			n = hx_cat_str(args, n, name);
			small_case(h, FUSE_CREATE, FUSE_ROOT_ID, args, n, room);
			n = hx_cat(args, 0, &mi, sizeof(mi));
			snprintf(name, sizeof(name), "dir-%d-%zu", round, k);
			n = hx_cat_str(args, n, name);
			small_case(h, FUSE_MKDIR, FUSE_ROOT_ID, args, n, room);
			small_case(h, FUSE_OPEN, file, &(struct fuse_open_in){ .flags = O_RDONLY },
				   sizeof(struct fuse_open_in), room);
			small_case(h, FUSE_OPENDIR, FUSE_ROOT_ID, &(struct fuse_open_in){ .flags = O_RDONLY },
				   sizeof(struct fuse_open_in), room);
		}
		hx_alive(h);
	}
	/* Nothing leaked: the daemon holds what it held, and 60 fresh lookups fit under the limit. */
	print_message("%s: daemon fds before %d, after %d\n", h->backend, base, hx_count_fds(pid));
	if (h_is(h, "vufsd") && hx_count_fds(pid) > base + 2)
		HX_FAIL(h, "replies that did not fit leaked fds: %d before, %d after", base,
			hx_count_fds(pid));
	H_OK(h, fe_fuse_release(h->fe, file, oo.fh, O_RDONLY));
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, od.fh));
	H_OK(h, fe_fuse_forget(h->fe, file, 1));
	H_OK(h, fe_fuse_forget(h->fe, link, 1));
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "entry-%02d", i);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
	}
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "created-%d-0", i);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
		snprintf(name, sizeof(name), "dir-%d-0", i);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
	}
	hx_alive(h);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cve_2020_35517_guest_fifo_socket_devices),
		TL(test_cve_2020_35517_host_fifo_socket_device),
		TL(test_cve_2022_0358_setgid_directory),
		TL(test_cve_2021_20263_security_capability),
		TL(test_escape_names),
		TL(test_escape_guest_symlinks),
		TL(test_escape_host_symlinks),
		TL(test_escape_dotdot_of_moved_directory),
		TL(test_escape_host_race),
		TL(test_cve_2020_10717_fd_exhaustion),
		TL(test_small_reply_buffers),
	};

	return cmocka_run_group_tests_name("hostile_cve", tests, NULL, NULL);
}
