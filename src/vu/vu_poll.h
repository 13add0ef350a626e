/* SPDX-License-Identifier: MIT */
/*
 * Adaptive polling of a request ring: how long a queue thread keeps looking
 * at the avail ring after it ran out of work, before it sleeps on the kick
 * eventfd. Pure policy (no clock, no threads): the queue thread measures,
 * this module decides, so the rules are unit-testable.
 *
 * The interval starts at VU_POLL_START_NS and adapts to the gaps between
 * requests (the idea of QEMU's iothread poll-max-ns and of vhost-net's
 * busyloop, our own rules):
 *  - polling caught the next request: keep the interval;
 *  - the thread slept and the next request came less than @max_ns after
 *    the ring ran dry: polling longer would have caught it, double the
 *    interval (from 0 it restarts at VU_POLL_START_NS), up to @max_ns;
 *  - the next request came later than @max_ns (the guest went quiet, or
 *    its requests are far apart): polling was wasted, halve the interval,
 *    and below VU_POLL_START_NS stop polling at all.
 *  - the poller lost its CPU while polling (another runnable thread, e.g. a
 *    vCPU, got it: the host is overcommitted, and every cycle spent polling
 *    is taken from someone who has work): stop polling; it restarts from
 *    VU_POLL_START_NS once requests come close together again.
 * An idle queue therefore stops polling after a few quiet periods, and a
 * queue never polls except right after it served something.
 */
#ifndef VUFS_VU_POLL_H
#define VUFS_VU_POLL_H

#include <stdbool.h>
#include <stdint.h>

/* Default bound (--poll-max-us) and the smallest interval worth polling. */
#define VU_POLL_DEFAULT_MAX_US 64
#define VU_POLL_START_NS 4000u
/* A pause this long between two looks at the ring means we were descheduled. */
#define VU_POLL_PREEMPTED_NS 20000u
/* Largest bound we accept: polling longer than this is a busy loop, not a poll. */
#define VU_POLL_MAX_US_LIMIT 10000u

struct vu_poll {
	uint32_t max_ns; /* 0: polling disabled */
	uint32_t ns;     /* current interval */
	/* Statistics, for the exit log and tests. */
	uint64_t caught; /* requests polling found */
	uint64_t slept;  /* times the thread went to sleep */
	uint64_t preempted; /* polls cut short because the CPU was taken */
};

/* Start with polling bounded by @max_ns (0 disables it). */
void vu_poll_init(struct vu_poll *p, uint32_t max_ns);

/* How long to poll now, in nanoseconds (0: sleep at once). */
static inline uint32_t vu_poll_budget(const struct vu_poll *p)
{
	return p->ns;
}

/* Polling found a request: the interval was long enough. */
void vu_poll_caught(struct vu_poll *p);

/* Polling was descheduled (a gap of VU_POLL_PREEMPTED_NS or more between looks). */
void vu_poll_preempted(struct vu_poll *p);

/*
 * The thread slept and woke up for work @gap_ns after the ring ran dry
 * (polling time included). Not for wake-ups without work (stop, enable).
 */
void vu_poll_woke(struct vu_poll *p, uint64_t gap_ns);

#endif /* VUFS_VU_POLL_H */
