/* SPDX-License-Identifier: MIT */
/*
 * Request metrics: per-opcode request and error counts, errors by errno,
 * bytes read and written, and a latency histogram per opcode.
 *
 * The request path takes no lock and shares no cache line: every request
 * thread owns one struct metrics_block (cache-line aligned, its own
 * allocation) and only that thread writes it, with relaxed atomic stores
 * (plain loads and stores, no locked instructions). A reader sums all
 * blocks (metrics_snapshot); counts of a thread that ended stay in its
 * block, which the next thread to ask for one reuses.
 *
 * Knows nothing of FUSE: opcodes are small numbers, names come from the
 * caller when formatting.
 */
#ifndef VUFS_METRICS_H
#define VUFS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Opcodes 1..63 are counted each on their own; anything else counts as opcode 0 ("unknown"). */
#define METRICS_MAX_OP 64
/* Errnos 1..511 (what a FUSE reply may carry). */
#define METRICS_MAX_ERRNO 512
/*
 * Latency buckets: bucket i (0 <= i < METRICS_BUCKETS - 1) holds requests of
 * at most 2^i microseconds (1 us .. 2^22 us, about 4.2 s); the last is +Inf.
 */
#define METRICS_BUCKETS 24

struct metrics;
struct metrics_block;

/* Totals over every thread, as of one moment per counter (not one global moment). */
struct metrics_snapshot {
	uint64_t count[METRICS_MAX_OP];
	uint64_t op_errors[METRICS_MAX_OP];
	uint64_t sum_ns[METRICS_MAX_OP];
	uint64_t hist[METRICS_MAX_OP][METRICS_BUCKETS]; /* per bucket, not cumulative */
	uint64_t errors[METRICS_MAX_ERRNO];
	uint64_t read_bytes;
	uint64_t written_bytes;
};

/* Returns 0 or -ENOMEM. */
int metrics_new(struct metrics **out);
/* Frees every block: no thread may still hold one. NULL is fine. */
void metrics_free(struct metrics *m);

/*
 * A block for the calling request thread (reuses a released one, counts
 * and all). Takes a mutex: call once per thread, not per request.
 * Returns NULL when out of memory (the thread then records nothing).
 */
struct metrics_block *metrics_block_get(struct metrics *m);
/* The thread is done with @b; NULL is fine. */
void metrics_block_put(struct metrics *m, struct metrics_block *b);

static inline uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bucket for a latency of @ns nanoseconds. */
unsigned metrics_bucket(uint64_t ns);

/*
 * Count one request of opcode @op that ended with @error (0 or a negative
 * errno) after @ns nanoseconds, moving @rbytes to and @wbytes from the
 * guest. Only the thread that owns @b may call it.
 */
void metrics_record(struct metrics_block *b, uint32_t op, int error, uint64_t rbytes,
		    uint64_t wbytes, uint64_t ns);

/* Sum every block into @s. Safe while threads record. */
void metrics_snapshot(struct metrics *m, struct metrics_snapshot *s);

/* Name of opcode @op for the exposition, NULL if it has none. */
typedef const char *(*metrics_op_name_fn)(uint32_t op);

/*
 * Prometheus text exposition (version 0.0.4) of @s into a malloc'ed,
 * NUL-terminated buffer (*@out, *@len without the NUL). Opcodes never seen
 * are left out. Returns 0 or -ENOMEM.
 */
int metrics_format(const struct metrics_snapshot *s, metrics_op_name_fn name, char **out,
		   size_t *len);

/*
 * Serve snapshots on the listening UNIX socket @listen_fd (not taken over):
 * a thread accepts each connection, writes the exposition and closes it.
 * Start it after the seccomp filter is loaded (the thread inherits it).
 * Returns 0 or -errno.
 */
struct metrics_server;
int metrics_server_start(struct metrics *m, int listen_fd, metrics_op_name_fn name,
			 struct metrics_server **out);
/* Stop and join the thread; NULL is fine. */
void metrics_server_stop(struct metrics_server *srv);

#endif /* VUFS_METRICS_H */
