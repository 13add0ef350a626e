// SPDX-License-Identifier: MIT
/*
 * Per-thread credentials. glibc's setresuid() and friends change every
 * thread of the process (they are broadcast with a signal), so the raw
 * system calls are used: in the kernel, credentials are per thread.
 *
 * Only the effective ids change (the real and saved ids stay 0), so the
 * thread can switch back. While the euid is non-zero the kernel clears the
 * thread's effective capabilities, so the host applies exactly the checks
 * it would apply to that user: permissions, sticky directories, the
 * set-group-ID rules on creation (no CAP_FSETID: CVE-2022-0358), chown.
 *
 * Supplementary groups: FUSE 7.38 does not carry the caller's, so while
 * acting for a guest user the thread has none of its own (never the
 * daemon's, which would grant e.g. group root): only the caller's primary
 * gid, plus the groups of the objects involved when the host refuses what
 * the guest kernel (which knows the caller's groups) allowed (pt_caller).
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "pt_i.h"

int pt_cred_init(struct pt_fs *fs)
{
	int n = getgroups(0, NULL);

	if (n < 0)
		return -errno;
	fs->ngroups = 0;
	if (!n)
		return 0;
	fs->groups = calloc((size_t)n, sizeof(*fs->groups));
	if (!fs->groups)
		return -ENOMEM;
	n = getgroups(n, fs->groups);
	if (n < 0)
		return -errno;
	fs->ngroups = n;
	return 0;
}

int pt_cred_enter(struct pt_fs *fs, const struct pt_ctx *ctx, const gid_t *groups, unsigned n,
		  struct pt_cred_saved *saved)
{
	uint32_t uid, gid;
	int err;

	saved->switched = false;
	saved->groups_set = false;
	saved->fs = fs;
	/* --translate-uid/--translate-gid: the caller in host ids (forbid-guest: EPERM). */
	if (pt_idmap_to_host(fs->cfg.uid_map, ctx->uid, &uid) ||
	    pt_idmap_to_host(fs->cfg.gid_map, ctx->gid, &gid)) {
		log_guest(LOG_LVL_WARN, "caller %u:%u is forbidden by --translate-uid/gid",
			  ctx->uid, ctx->gid);
		return -EPERM;
	}
	if (!fs->switch_creds)
		return 0;
	/* (uid_t)-1 means "unchanged" (still root) to setresuid/setresgid: refuse it. */
	if (uid == (uint32_t)-1 || gid == (uint32_t)-1)
		return -EOVERFLOW;
	if (uid == 0 && gid == 0)
		return 0;
	/* Groups and gid first: once the euid is not 0 they can no longer change. */
	if (n || fs->ngroups) {
		if (syscall(SYS_setgroups, n, n ? groups : NULL) < 0) {
			err = -errno;
			log_err("cannot set supplementary groups: %m");
			return err;
		}
		saved->groups_set = true;
	}
	if (syscall(SYS_setresgid, -1, gid, -1) < 0) {
		err = -errno;
		log_err("cannot switch to gid %u: %m", gid);
		goto err_groups;
	}
	if (syscall(SYS_setresuid, -1, uid, -1) < 0) {
		err = -errno;
		log_err("cannot switch to uid %u: %m", uid);
		if (syscall(SYS_setresgid, -1, 0, -1) < 0)
			abort(); /* cannot get back to our own credentials */
		goto err_groups;
	}
	saved->switched = true;
	return 0;

err_groups:
	if (saved->groups_set && syscall(SYS_setgroups, fs->ngroups, fs->groups) < 0)
		abort();
	saved->groups_set = false;
	return err;
}

void pt_cred_leave(struct pt_cred_saved *saved)
{
	struct pt_fs *fs = saved->fs;

	if (!saved->switched)
		return;
	/*
	 * Failing to become root again would leave this thread acting as a
	 * guest user for every later request: an internal invariant, not
	 * something the guest controls.
	 */
	if (syscall(SYS_setresuid, -1, 0, -1) < 0 || syscall(SYS_setresgid, -1, 0, -1) < 0 ||
	    (saved->groups_set && syscall(SYS_setgroups, fs->ngroups, fs->groups) < 0)) {
		log_err("cannot restore the daemon's credentials: %m");
		abort();
	}
	saved->switched = false;
	saved->groups_set = false;
}

void pt_caller_init(struct pt_caller *c, struct pt_fs *fs, const struct pt_ctx *ctx,
		    const gid_t *groups, unsigned n)
{
	c->fs = fs;
	c->ctx = ctx;
	c->attempt = 0;
	c->ngroups = 0;
	for (unsigned i = 0; i < n && c->ngroups < PT_CRED_MAX_GROUPS; i++) {
		if (groups[i] != ctx->gid && groups[i] != (gid_t)-1)
			c->groups[c->ngroups++] = groups[i];
	}
	c->saved.switched = false;
}

static void add_group(struct pt_caller *c, gid_t g)
{
	if (g == c->ctx->gid || c->ngroups >= PT_CRED_MAX_GROUPS)
		return;
	for (unsigned i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g)
			return;
	}
	c->groups[c->ngroups++] = g;
}

bool pt_caller_next(struct pt_caller *c, int *err, const int *obj_fds, unsigned nobj)
{
	unsigned before;
	int r;

	if (c->attempt > 0) {
		bool switched = c->saved.switched;

		pt_cred_leave(&c->saved);
		if (c->attempt > 1 || !switched || (*err != -EACCES && *err != -EPERM))
			return false;
		before = c->ngroups;
		for (unsigned i = 0; i < nobj; i++) {
			struct stat st;

			if (obj_fds[i] >= 0 &&
			    fstatat(obj_fds[i], "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
				add_group(c, st.st_gid);
		}
		if (c->ngroups == before)
			return false; /* no group we did not already try */
	}
	r = pt_cred_enter(c->fs, c->ctx, c->groups, c->ngroups, &c->saved);
	if (r) {
		*err = r;
		return false;
	}
	c->attempt++;
	return true;
}
