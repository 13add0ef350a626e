// SPDX-License-Identifier: MIT
/* Capabilities: the one-time drop, and the per-thread CAP_FSETID switch. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>
#include <linux/capability.h>
#include <linux/securebits.h>

#include "log.h"
#include "sandbox.h"
#include "sb_i.h"

/* The fsuid the daemon acts as when it is not acting for a guest user. */
static uid_t daemon_fsuid;

static int get_caps(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static int set_caps(const struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static uint64_t caps64(uint32_t lo, uint32_t hi)
{
	return (uint64_t)hi << 32 | lo;
}

int sb_drop_caps(const char *modcaps)
{
	return sb_drop_caps_keep(modcaps, 0);
}

int sb_drop_caps_keep(const char *modcaps, uint64_t extra)
{
	struct __user_cap_data_struct data[2];
	struct sb_modcaps mod;
	bool root = geteuid() == 0;
	bool can_bound;
	uint64_t keep, eff, prm;
	int secbits, err;

	err = sb_modcaps_parse(modcaps, &mod);
	if (err)
		return err;
	keep = ((root ? sb_default_caps() | extra : 0) | mod.add) & ~mod.drop;

	/*
	 * Credential switching relies on the kernel clearing the effective
	 * set when a thread's euid leaves 0; SECBIT_NO_SETUID_FIXUP turns
	 * that off, and a guest user's requests would run with our caps.
	 */
	secbits = prctl(PR_GET_SECUREBITS);
	if (secbits < 0) {
		err = -errno;
		log_err("sandbox: cannot read the securebits: %s", strerror(-err));
		return err;
	}
	if (root && (secbits & SECBIT_NO_SETUID_FIXUP)) {
		log_err("sandbox: SECBIT_NO_SETUID_FIXUP is set: switching to a guest user's "
			"uid would keep our capabilities; refusing to run");
		return -EPERM;
	}

	/* CVE-2022-0358: no thread may act with root's supplementary groups. */
	if (root && !sb_setgroups_denied && setgroups(0, NULL) < 0) {
		err = -errno;
		log_err("sandbox: cannot drop the supplementary groups: %s", strerror(-err));
		return err;
	}

	/*
	 * Clearing the bounding set needs CAP_SETPCAP, which a non-root daemon
	 * lacks. (capget, not capng_get_caps_process: that reads /proc, which
	 * is gone after pivot_root.)
	 */
	err = get_caps(data);
	if (err) {
		log_err("sandbox: capget: %s", strerror(-err));
		return err;
	}
	can_bound = data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	for (unsigned cap = 0; cap <= CAP_LAST_CAP && cap < 64; cap++) {
		if (!(keep & (1ull << cap)))
			continue;
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, cap)) {
			log_err("sandbox: capability %u unknown to libcap-ng", cap);
			return -EINVAL;
		}
	}
	/* Bounding set and ambient set are empty after capng_clear. */
	err = capng_apply(can_bound ? CAPNG_SELECT_ALL : CAPNG_SELECT_CAPS);
	if (err) {
		/* -4/-5: capset refused: asked to keep a capability we do not have. */
		log_err("sandbox: cannot set our capabilities (libcap-ng error %d): was a "
			"--modcaps addition not granted to the daemon?", err);
		return -EPERM;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		err = -errno;
		log_err("sandbox: cannot clear the ambient capabilities: %s", strerror(-err));
		return err;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_err("sandbox: cannot set no_new_privs: %s", strerror(-err));
		return err;
	}

	/* Check what the kernel now says, not what we asked for. */
	err = get_caps(data);
	if (err) {
		log_err("sandbox: capget: %s", strerror(-err));
		return err;
	}
	eff = caps64(data[0].effective, data[1].effective);
	prm = caps64(data[0].permitted, data[1].permitted);
	if (eff != keep || prm != keep || data[0].inheritable || data[1].inheritable) {
		log_err("sandbox: capabilities are eff=%#llx prm=%#llx after the drop, want %#llx",
			(unsigned long long)eff, (unsigned long long)prm, (unsigned long long)keep);
		return -EPERM;
	}
	daemon_fsuid = geteuid();
	log_info("sandbox: capabilities reduced to %#llx%s", (unsigned long long)keep,
		 can_bound ? ", bounding set empty" : "");
	return 0;
}

/* abort() if the kernel refuses: this thread's capabilities would be wrong. */
static void fsetid_fail(const char *what, int err)
{
	log_err("sandbox: cannot %s CAP_FSETID for this thread: %s", what, strerror(-err));
	abort();
}

void sb_drop_fsetid(void)
{
	struct __user_cap_data_struct data[2];
	int err = get_caps(data);

	if (err)
		fsetid_fail("drop", err);
	/* Only ever lowers the effective set: safe whatever the thread's ids are. */
	if (!(data[CAP_TO_INDEX(CAP_FSETID)].effective & CAP_TO_MASK(CAP_FSETID)))
		return;
	data[CAP_TO_INDEX(CAP_FSETID)].effective &= ~CAP_TO_MASK(CAP_FSETID);
	err = set_caps(data);
	if (err)
		fsetid_fail("drop", err);
}

void sb_restore_fsetid(void)
{
	struct __user_cap_data_struct data[2];
	const unsigned i = CAP_TO_INDEX(CAP_FSETID);
	const uint32_t bit = CAP_TO_MASK(CAP_FSETID);
	int err = get_caps(data);

	if (err)
		fsetid_fail("restore", err);
	if ((data[i].effective & bit) || !(data[i].permitted & bit))
		return;
	/*
	 * Raise it only while the thread acts as the daemon: setfsuid with an
	 * invalid id changes nothing and returns the current fsuid, which
	 * follows the euid (setresuid) or was set on its own (setfsuid).
	 */
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != daemon_fsuid)
		return;
	data[i].effective |= bit;
	err = set_caps(data);
	if (err)
		fsetid_fail("restore", err);
}
