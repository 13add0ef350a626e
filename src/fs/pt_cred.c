// SPDX-License-Identifier: MIT
/*
 * Per-thread credentials. glibc's setresuid() and friends change every
 * thread of the process (they are broadcast with a signal), so the raw
 * system calls are used: in the kernel, credentials are per thread.
 *
 * Only the effective ids are changed, so the thread can switch back; the
 * kernel drops the effective capabilities while the euid is non-zero and
 * restores them when it returns to 0. Supplementary groups are not mapped
 * yet: the daemon's own (root's) stay in effect.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "pt_i.h"

int pt_cred_enter(struct pt_fs *fs, const struct pt_ctx *ctx, struct pt_cred_saved *saved)
{
	saved->switched = false;
	if (!fs->switch_creds || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	/* Group first: after the uid changes we may no longer change it. */
	if (syscall(SYS_setresgid, -1, ctx->gid, -1) < 0) {
		int err = -errno;

		log_err("cannot switch to gid %u: %m", ctx->gid);
		return err;
	}
	if (syscall(SYS_setresuid, -1, ctx->uid, -1) < 0) {
		int err = -errno;

		log_err("cannot switch to uid %u: %m", ctx->uid);
		if (syscall(SYS_setresgid, -1, 0, -1) < 0)
			abort(); /* cannot get back to our own credentials */
		return err;
	}
	saved->switched = true;
	return 0;
}

void pt_cred_leave(struct pt_cred_saved *saved)
{
	if (!saved->switched)
		return;
	/*
	 * Failing to become root again would leave this thread acting as a
	 * guest user for every later request: an internal invariant, not
	 * something the guest controls.
	 */
	if (syscall(SYS_setresuid, -1, 0, -1) < 0 || syscall(SYS_setresgid, -1, 0, -1) < 0) {
		log_err("cannot restore the daemon's credentials: %m");
		abort();
	}
	saved->switched = false;
}
