/* SPDX-License-Identifier: MIT */
/* Helpers shared by the libFuzzer targets (header-only). */
#ifndef VUFS_FUZZ_COMMON_H
#define VUFS_FUZZ_COMMON_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Called before a harness aborts (e.g. to remove a scratch directory). */
static void (*fuzz_cleanup_hook)(void);

/* An invariant broke: report it and crash so libFuzzer keeps the input. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FUZZ INVARIANT: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (fuzz_cleanup_hook)
		fuzz_cleanup_hook();
	abort();
}

#define FUZZ_CHECK(cond, ...)                                                                  \
	do {                                                                                   \
		if (!(cond))                                                                   \
			fuzz_fail(__VA_ARGS__);                                                \
	} while (0)

/* Daemon logging off unless VUFS_FUZZ_LOG=debug|info|warn|error. */
static inline void fuzz_log_init(void)
{
	const char *s = getenv("VUFS_FUZZ_LOG");
	enum log_level lvl = LOG_LVL_OFF;

	if (s)
		log_level_parse(s, &lvl);
	log_init(lvl, false);
}

/* VUFS_FUZZ_TRACE=1: say what each input does (to check seeds and reproducers). */
static inline bool fuzz_trace(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("VUFS_FUZZ_TRACE") != NULL;
	return on;
}

#define FUZZ_TRACE(...)                                                                        \
	do {                                                                                   \
		if (fuzz_trace())                                                              \
			fprintf(stderr, "trace: " __VA_ARGS__);                                \
	} while (0)

/* Open fds of this process. */
static inline int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		fuzz_fail("cannot list /proc/self/fd");
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* List the open fds on stderr (to explain a leak). */
static inline void fuzz_dump_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

/* A cursor over the fuzzer's input; reads past the end give zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t v = fuzz_u8(in);

	return (uint16_t)(v | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = fuzz_u16(in);

	return v | (uint32_t)fuzz_u16(in) << 16;
}

/* Take up to @len bytes; returns how many were available. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(dst, in->p, n);
	in->p += n;
	in->left -= n;
	return n;
}

#endif /* VUFS_FUZZ_COMMON_H */
