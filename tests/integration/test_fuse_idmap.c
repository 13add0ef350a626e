// SPDX-License-Identifier: MIT
/*
 * Ids between guest and host: --translate-uid/--translate-gid (done by the
 * daemon, as root), and an unprivileged daemon in a user namespace
 * (--uid-map/--gid-map): as nobody with its own id mapped to root, and, if
 * the user "vufs-unpriv" exists with subordinate ids in /etc/subuid and
 * /etc/subgid (guest/unpriv.sh creates it), with a range through
 * newuidmap/newgidmap. Each effect is checked on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define UNPRIV_USER "vufs-unpriv"

static void start_with(struct h *h, const char *extra)
{
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, NULL, true);
}

static void host_owner(struct h *h, const char *rel, uid_t *uid, gid_t *gid)
{
	struct stat st;

	if (lstat(h_path(h, rel), &st) < 0)
		fail_msg("lstat %s: %s", rel, strerror(errno));
	*uid = st.st_uid;
	*gid = st.st_gid;
}

static void create_as(struct h *h, uint32_t uid, uint32_t gid, uint64_t dir, const char *name,
		      struct fuse_entry_out *e)
{
	struct fuse_open_out oo;

	fe_fuse_set_creds(h->fe, uid, gid, 4242);
	H_OK(h, fe_fuse_create(h->fe, dir, name, O_WRONLY, 0644, e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e->nodeid, oo.fh, 0));
	fe_fuse_set_creds(h->fe, 0, 0, 4242);
}

/* --translate-uid/gid as root: each kind of rule, both directions. */
static void idmap_translate(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_attr_out ao;
	struct fuse_setattr_in sa = { 0 };
	struct fuse_attr attr;
	uid_t u;
	gid_t g;

	if (geteuid() != 0)
		skip(); /* acting as other users needs root */
	h_mkdir(h, "pub", 01777);
	if (chmod(h_path(h, "pub"), 0777) < 0)
		fail_msg("chmod: %s", strerror(errno));
	h_write_file(h, "squashed", "x", 1);
	if (chown(h_path(h, "squashed"), 5003, 6003) < 0)
		fail_msg("chown: %s", strerror(errno));
	start_with(h, "--translate-uid=map:0:1000:1 --translate-gid=map:0:1000:1 "
		      "--translate-uid=forbid-guest:2000:10 --translate-uid=squash-host:5000:77:10 "
		      "--translate-gid=squash-host:6000:88:10 --translate-uid=guest:3000:4000:5");

	/* Guest root creates (acting as host 1000: not in the root-owned share root). */
	{
		struct fuse_open_out oo;

		H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "by-root", O_WRONLY, 0644, &e, &oo),
		      EACCES);
	}
	create_as(h, 0, 0, h_lookup(h, "pub", NULL), "by-root", &e);
	host_owner(h, "pub/by-root", &u, &g);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1000);
	assert_int_equal(e.attr.uid, 0);
	assert_int_equal(e.attr.gid, 0);
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, &ao));
	assert_int_equal(ao.attr.uid, 0);

	/* guest:3000:4000:5 is one way: host 4001 is shown as it is. */
	create_as(h, 3001, 3001, h_lookup(h, "pub", NULL), "by-3001", &e);
	host_owner(h, "pub/by-3001", &u, &g);
	assert_int_equal(u, 4001);
	assert_int_equal(g, 3001);
	assert_int_equal(e.attr.uid, 4001);

	/* squash-host: a range of host owners shows as one guest id. */
	h_lookup(h, "squashed", &attr);
	assert_int_equal(attr.uid, 77);
	assert_int_equal(attr.gid, 88);

	/* forbid-guest: the caller, or a chown to a forbidden id. */
	fe_fuse_set_creds(h->fe, 2005, 2005, 4242);
	{
		struct fuse_entry_out e2;

		H_ERR(h, fe_fuse_mkdir(h->fe, h_lookup(h, "pub", NULL), "no", 0755, &e2), EPERM);
	}
	fe_fuse_set_creds(h->fe, 0, 0, 4242);
	assert_false(h_exists(h, "pub/no"));
	sa.valid = FATTR_UID;
	sa.uid = 2001;
	H_ERR(h, fe_fuse_setattr(h->fe, h_lookup(h, "pub/by-root", NULL), &sa, &ao), EPERM);
	/*
	 * A chown to guest 0 is one to host 1000: allowed for host 1000 (the
	 * caller) on its own file, where a chown to host 0 would be refused.
	 */
	sa.uid = 0;
	H_OK(h, fe_fuse_setattr(h->fe, h_lookup(h, "pub/by-root", NULL), &sa, &ao));
	host_owner(h, "pub/by-root", &u, &g);
	assert_int_equal(u, 1000);
	assert_int_equal(ao.attr.uid, 0);
}

static void idmap_bad_options(void **state)
{
	static const char *const bad[] = {
		"--translate-uid=map:1:2", "--translate-gid=nope:1:2:3", "--uid-map=0:1:2",
		"--uid-map=:0:1:0:", "--gid-map=:a:1:1:",
	};
	const char *vufsd = getenv("VUFSD");

	(void)state;
	if (!vufsd)
		skip();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			execl(vufsd, "vufsd", "--socket-path=/nonexistent/s", "--shared-dir=/",
			      bad[i], (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
			fail_msg("%s: exit status %#x, expected 1", bad[i], status);
	}
}

/*
 * An unprivileged daemon, started by us as @uid/@gid with @maps, serving
 * h->share (handed to that user): the front-end connects to its socket.
 */
struct unpriv {
	pid_t pid;
	char sock[160], log[160];
};

static void unpriv_start(struct h *h, struct unpriv *u, uid_t uid, gid_t gid,
			 const char *const *maps)
{
	char run[128], shared[128];
	const char *argv[16];
	int n = 0, err;

	if (!h_is(h, "vufsd") || geteuid() != 0 || !getenv("VUFSD"))
		skip();
	/* The user must reach the share and a socket directory of its own. */
	snprintf(run, sizeof(run), "%s/run", h->tmpdir);
	if (chmod(h->tmpdir, 0711) < 0 || mkdir(run, 0700) < 0 || chown(run, uid, gid) < 0 ||
	    chown(h->share, uid, gid) < 0)
		fail_msg("preparing %s: %s", h->tmpdir, strerror(errno));
	snprintf(u->sock, sizeof(u->sock), "--socket-path=%s/sock", run);
	snprintf(u->log, sizeof(u->log), "%s/vufsd.log", h->tmpdir);
	snprintf(shared, sizeof(shared), "--shared-dir=%s", h->share);
	argv[n++] = "vufsd";
	argv[n++] = u->sock;
	argv[n++] = shared;
	argv[n++] = "--sandbox=namespace";
	while (*maps && n < 15)
		argv[n++] = *maps++;
	argv[n] = NULL;
	u->pid = fork();
	if (u->pid == 0) {
		int fd = open(u->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0)
			dup2(fd, 2);
		/* A sanitizer build's leak check needs the /proc the sandbox takes away. */
		setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(126);
		execv(getenv("VUFSD"), (char *const *)argv);
		_exit(127);
	}
	fe_opts_default(&h->opts);
	err = fe_create(&h->opts, &h->fe);
	if (!err)
		err = fe_connect(h->fe, u->sock + strlen("--socket-path="), 10000);
	if (!err)
		err = fe_vu_setup(h->fe);
	if (!err)
		err = fe_fuse_init(h->fe);
	if (err) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", u->log);
		if (system(cmd) < 0)
			print_error("cannot show %s\n", u->log);
		kill(u->pid, SIGKILL);
		waitpid(u->pid, NULL, 0);
		fail_msg("unprivileged vufsd did not come up: %s", strerror(-err));
	}
}

static void unpriv_stop(struct h *h, struct unpriv *u)
{
	int status;

	fe_disconnect(h->fe);
	waitpid(u->pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", u->log);
		if (system(cmd) < 0)
			print_error("cannot show %s\n", u->log);
		fail_msg("unprivileged vufsd exit status %#x", status);
	}
}

/* As nobody, its own id mapped to root in the namespace (no newuidmap needed). */
static void idmap_unpriv_own_id(void **state)
{
	static const char *const maps[] = { "--uid-map=:0:65534:1:", "--gid-map=:0:65534:1:",
					    NULL };
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct unpriv u;
	uid_t uid;
	gid_t gid;

	unpriv_start(h, &u, 65534, 65534, maps);
	create_as(h, 0, 0, FUSE_ROOT_ID, "by-guest-root", &e);
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "dir", 0755, &e));
	host_owner(h, "by-guest-root", &uid, &gid);
	assert_int_equal(uid, 65534); /* the user's, on the host */
	assert_int_equal(gid, 65534);
	assert_int_equal(e.attr.uid, 0); /* root's, in the guest */
	host_owner(h, "dir", &uid, &gid);
	assert_int_equal(uid, 65534);
	unpriv_stop(h, &u);
}

/* A user with subordinate ids: guest users other than root land in the range. */
static void idmap_unpriv_range(void **state)
{
	struct h *h = H_STATE(state);
	struct passwd *pw = getpwnam(UNPRIV_USER);
	char m1[64], m2[64], m3[64], m4[64];
	const char *maps[5] = { m1, m2, m3, m4, NULL };
	struct fuse_entry_out e;
	struct unpriv u;
	uid_t uid;
	gid_t gid;

	if (!pw || access("/usr/bin/newuidmap", X_OK)) {
		print_message("no user %s or no newuidmap (guest/unpriv.sh sets them up): "
			      "skipped\n", UNPRIV_USER);
		skip();
	}
	/* guest/unpriv.sh grants 200000..265535. */
	snprintf(m1, sizeof(m1), "--uid-map=:0:%u:1:", (unsigned)pw->pw_uid);
	snprintf(m2, sizeof(m2), "--uid-map=:1:200000:65535:");
	snprintf(m3, sizeof(m3), "--gid-map=:0:%u:1:", (unsigned)pw->pw_gid);
	snprintf(m4, sizeof(m4), "--gid-map=:1:200000:65535:");
	unpriv_start(h, &u, pw->pw_uid, pw->pw_gid, maps);
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "pub", 0777, &e));
	create_as(h, 1000, 1000, e.nodeid, "by-1000", &e);
	host_owner(h, "pub/by-1000", &uid, &gid);
	assert_int_equal(uid, 200000 + 999);
	assert_int_equal(gid, 200000 + 999);
	assert_int_equal(e.attr.uid, 1000);
	host_owner(h, "pub", &uid, &gid);
	assert_int_equal(uid, pw->pw_uid);
	unpriv_stop(h, &u);
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(idmap_translate),
		cmocka_unit_test(idmap_bad_options),
		TL(idmap_unpriv_own_id),
		TL(idmap_unpriv_range),
	};

	return cmocka_run_group_tests_name("id mapping", tests, NULL, NULL);
}
