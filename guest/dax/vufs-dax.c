// SPDX-License-Identifier: MIT
/*
 * vufs-dax: the guest-side helper of the DAX guest stage (built static on the
 * host, put into the initramfs). Subcommands:
 *   isdax FILE               print 1 if statx says the file is accessed with DAX, else 0
 *   mmapstore FILE OFF TEXT  store TEXT at OFF through a MAP_SHARED mapping, print
 *                            "MMAP-STORED FILE OFF TEXT" and hold the mapping (no msync,
 *                            no munmap) for 5 s so that the host can look at the file
 *   seqread FILE             read FILE with 1 MiB read()s; print "bytes seconds MB/s"
 *   mmaprand FILE N          N random 4 KiB reads through a mapping of FILE; print
 *                            "N seconds reads/s"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "isdax")) {
		struct statx stx;

		if (statx(AT_FDCWD, argv[2], 0, STATX_BASIC_STATS, &stx) < 0)
			return die("statx");
		if (!(stx.stx_attributes_mask & STATX_ATTR_DAX)) {
			printf("unknown\n");
			return 0;
		}
		printf("%d\n", (stx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "mmapstore")) {
		long off = atol(argv[3]);
		size_t n = strlen(argv[4]);
		struct stat st;
		char *p;
		int fd = open(argv[2], O_RDWR);

		if (fd < 0 || fstat(fd, &st) < 0)
			return die("open");
		if (off < 0 || (size_t)off + n > (size_t)st.st_size) {
			fprintf(stderr, "offset past the end\n");
			return 1;
		}
		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return die("mmap");
		memcpy(p + off, argv[4], n);
		printf("MMAP-STORED %s %ld %s\n", argv[2], off, argv[4]);
		fflush(stdout);
		sleep(5);
		munmap(p, (size_t)st.st_size);
		close(fd);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "seqread")) {
		static char buf[1 << 20];
		double t0 = now(), dt;
		long long total = 0;
		ssize_t r;
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0)
			return die("open");
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			total += r;
		if (r < 0)
			return die("read");
		dt = now() - t0;
		printf("%lld %.3f %.1f\n", total, dt, total / 1e6 / (dt > 0 ? dt : 1e-9));
		close(fd);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "mmaprand")) {
		long n = atol(argv[3]);
		struct stat st;
		volatile uint64_t sum = 0;
		uint64_t x = 88172645463325252ull;
		double t0, dt;
		size_t pages;
		char *p;
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4096)
			return die("open");
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return die("mmap");
		pages = (size_t)st.st_size / 4096;
		t0 = now();
		for (long i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			for (size_t k = 0; k < 4096; k += 64)
				sum += (uint8_t)p[(x % pages) * 4096 + k];
		}
		dt = now() - t0;
		printf("%ld %.3f %.0f\n", n, dt, n / (dt > 0 ? dt : 1e-9));
		munmap(p, (size_t)st.st_size);
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: vufs-dax isdax|mmapstore|seqread|mmaprand ...\n");
	return 2;
}
