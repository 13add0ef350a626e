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
 * acting for a guest user the thread has none (never the daemon's own,
 * which would grant e.g. group root); only the caller's primary gid counts.
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

int pt_cred_enter(struct pt_fs *fs, const struct pt_ctx *ctx, struct pt_cred_saved *saved)
{
	int err;

	saved->switched = false;
	saved->fs = fs;
	if (!fs->switch_creds || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	/* Groups and gid first: once the euid is not 0 they can no longer change. */
	if (fs->ngroups && syscall(SYS_setgroups, 0, NULL) < 0) {
		err = -errno;
		log_err("cannot drop supplementary groups: %m");
		return err;
	}
	if (syscall(SYS_setresgid, -1, ctx->gid, -1) < 0) {
		err = -errno;
		log_err("cannot switch to gid %u: %m", ctx->gid);
		goto err_groups;
	}
	if (syscall(SYS_setresuid, -1, ctx->uid, -1) < 0) {
		err = -errno;
		log_err("cannot switch to uid %u: %m", ctx->uid);
		if (syscall(SYS_setresgid, -1, 0, -1) < 0)
			abort(); /* cannot get back to our own credentials */
		goto err_groups;
	}
	saved->switched = true;
	return 0;

err_groups:
	if (fs->ngroups && syscall(SYS_setgroups, fs->ngroups, fs->groups) < 0)
		abort();
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
	    (fs->ngroups && syscall(SYS_setgroups, fs->ngroups, fs->groups) < 0)) {
		log_err("cannot restore the daemon's credentials: %m");
		abort();
	}
	saved->switched = false;
}
