/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the unit tests (header-only: each test is one file).
 * Include after <cmocka.h>.
 */
#ifndef VUFS_UNIT_H
#define VUFS_UNIT_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

/* Quiet by default; VUFS_TEST_LOG=debug|info|warn|error shows the daemon's log. */
static inline void unit_log_init(void)
{
	const char *s = getenv("VUFS_TEST_LOG");
	enum log_level lvl = LOG_LVL_OFF;

	if (s)
		log_level_parse(s, &lvl);
	log_init(lvl, false);
}

/* A memfd of @size bytes (sparse). */
static inline int unit_memfd(size_t size)
{
	int fd = memfd_create("vufs-unit", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Is @fd an open file descriptor? */
static inline int unit_fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Number of open fds in this process. */
static inline int unit_count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += unit_fd_open(fd);
	return n;
}

#endif /* VUFS_UNIT_H */
