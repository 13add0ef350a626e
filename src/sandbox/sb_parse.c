// SPDX-License-Identifier: MIT
/* Command-line values of the sandbox options. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cap-ng.h>
#include <linux/capability.h>

#include "log.h"
#include "sandbox.h"
#include "sb_i.h"

static const char *const mode_names[] = {
	[SB_NAMESPACE] = "namespace",
	[SB_CHROOT] = "chroot",
	[SB_NONE] = "none",
};

static const char *const seccomp_names[] = {
	[SB_SECCOMP_KILL] = "kill",
	[SB_SECCOMP_TRAP] = "trap",
	[SB_SECCOMP_LOG] = "log",
	[SB_SECCOMP_NONE] = "none",
};

int sb_mode_parse(const char *s, enum sb_mode *out)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*out = (enum sb_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sb_mode_name(enum sb_mode mode)
{
	if ((unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]))
		return mode_names[mode];
	return "?";
}

enum sb_mode sb_mode_default(bool is_root)
{
#ifdef SB_SANITIZER
	/* LeakSanitizer's exit check needs /proc: sanitizer builds opt in explicitly. */
	(void)is_root;
	return SB_NONE;
#else
	return is_root ? SB_NAMESPACE : SB_NONE;
#endif
}

int sb_seccomp_parse(const char *s, enum sb_seccomp *out)
{
	for (unsigned i = 0; i < sizeof(seccomp_names) / sizeof(seccomp_names[0]); i++) {
		if (!strcmp(s, seccomp_names[i])) {
			*out = (enum sb_seccomp)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sb_seccomp_name(enum sb_seccomp action)
{
	if ((unsigned)action < sizeof(seccomp_names) / sizeof(seccomp_names[0]))
		return seccomp_names[action];
	return "?";
}

uint64_t sb_default_caps(void)
{
	/* What a passthrough file server acting as its callers needs, and no more. */
	static const int keep[] = {
		CAP_CHOWN,        /* chown to the guest's uid/gid (SETATTR, creation) */
		CAP_DAC_OVERRIDE, /* act on any file: the guest's own checks already ran */
		CAP_FOWNER,       /* chmod/utimes/xattrs on files the daemon does not own */
		CAP_FSETID,       /* keep setuid/setgid bits the guest sets (chmod as root) */
		CAP_SETGID,       /* per-thread setresgid/setfsgid/setgroups to the caller */
		CAP_SETUID,       /* per-thread setresuid/setfsuid to the caller */
		CAP_MKNOD,        /* MKNOD of FIFOs/sockets as root (devices are refused) */
		CAP_SETFCAP,      /* security.capability xattrs set by the guest */
	};
	uint64_t mask = 0;

	for (unsigned i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		mask |= 1ull << keep[i];
	return mask;
}

/* One "+name" or "-name" item of @len bytes. */
static int parse_item(const char *item, size_t len, struct sb_modcaps *out)
{
	char name[64];
	const char *p = item + 1;
	size_t n = len - 1;
	int cap;

	if (len < 2 || (item[0] != '+' && item[0] != '-'))
		goto bad;
	if (n > 4 && !strncasecmp(p, "cap_", 4)) {
		p += 4;
		n -= 4;
	}
	if (n >= sizeof(name))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!isalnum(c) && c != '_')
			goto bad;
		name[i] = (char)tolower(c);
	}
	name[n] = '\0';
	/* Names only: libcap-ng would also take a number. */
	if (!n || isdigit((unsigned char)name[0]))
		goto bad;
	cap = capng_name_to_capability(name);
	if (cap < 0 || cap > CAP_LAST_CAP || cap >= 64)
		goto bad;
	if (item[0] == '+') {
		out->add |= 1ull << cap;
		out->drop &= ~(1ull << cap);
	} else {
		out->drop |= 1ull << cap;
		out->add &= ~(1ull << cap);
	}
	return 0;

bad:
	log_err("--modcaps: bad item '%.*s': want +name or -name with a capability name such as "
		"sys_admin or cap_chown", (int)(len > 64 ? 64 : len), item);
	return -EINVAL;
}

int sb_modcaps_parse(const char *s, struct sb_modcaps *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return 0;
	while (*s) {
		size_t len = strcspn(s, ":,");
		int err = parse_item(s, len, out);

		if (err)
			return err;
		s += len;
		if (*s) {
			s++;
			if (!*s) {
				log_err("--modcaps: empty item at the end");
				return -EINVAL;
			}
		}
	}
	return 0;
}

int sb_idmap_parse(const char *s, struct sb_idmap *out)
{
	size_t len = strlen(s);
	uint32_t v[3];
	const char *p;
	char sep;

	if (len < 2 || isalnum((unsigned char)s[len - 1]) || s[0] != s[len - 1])
		return -EINVAL;
	sep = s[0];
	p = s + 1;
	for (int i = 0; i < 3; i++) {
		char *end;
		unsigned long x;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		x = strtoul(p, &end, 10);
		if (errno || x > UINT32_MAX || *end != sep)
			return -EINVAL;
		v[i] = (uint32_t)x;
		p = end + 1;
	}
	if (*p || !v[2])
		return -EINVAL;
	out->inside = v[0];
	out->outside = v[1];
	out->count = v[2];
	return 0;
}
