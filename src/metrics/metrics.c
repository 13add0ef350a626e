// SPDX-License-Identifier: MIT
/* Per-thread counter blocks, their sum, and the Prometheus text exposition. */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One thread's counters. Aligned and padded to whole cache lines: no false sharing. */
struct metrics_block {
	uint64_t count[METRICS_MAX_OP];
	uint64_t op_errors[METRICS_MAX_OP];
	uint64_t sum_ns[METRICS_MAX_OP];
	uint64_t hist[METRICS_MAX_OP][METRICS_BUCKETS];
	uint64_t errors[METRICS_MAX_ERRNO];
	uint64_t read_bytes;
	uint64_t written_bytes;
	/* Registry list: set once before the block is published, never changed. */
	struct metrics_block *next;
	bool in_use; /* protected by metrics.lock */
} __attribute__((aligned(64)));

struct metrics {
	pthread_mutex_t lock;         /* block allocation only, never the request path */
	struct metrics_block *blocks; /* atomic (acquire/release): head of the list */
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	struct metrics_block *b, *next;

	if (!m)
		return;
	for (b = m->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

struct metrics_block *metrics_block_get(struct metrics *m)
{
	struct metrics_block *b;

	pthread_mutex_lock(&m->lock);
	for (b = m->blocks; b; b = b->next) {
		if (!b->in_use)
			break;
	}
	if (!b) {
		b = aligned_alloc(64, sizeof(*b));
		if (b) {
			memset(b, 0, sizeof(*b));
			b->next = m->blocks;
			__atomic_store_n(&m->blocks, b, __ATOMIC_RELEASE);
		}
	}
	if (b)
		b->in_use = true;
	pthread_mutex_unlock(&m->lock);
	return b;
}

void metrics_block_put(struct metrics *m, struct metrics_block *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&m->lock);
	b->in_use = false;
	pthread_mutex_unlock(&m->lock);
}

unsigned metrics_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000 + (ns % 1000 != 0); /* rounded up */
	unsigned i;

	if (us <= 1)
		return 0;
	i = 64u - (unsigned)__builtin_clzll(us - 1); /* smallest i with 2^i >= us */
	return i < METRICS_BUCKETS - 1 ? i : METRICS_BUCKETS - 1;
}

/* Single writer: a relaxed load and store, no read-modify-write instruction. */
static inline void bump(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

void metrics_record(struct metrics_block *b, uint32_t op, int error, uint64_t rbytes,
		    uint64_t wbytes, uint64_t ns)
{
	unsigned o = op < METRICS_MAX_OP ? op : 0;

	bump(&b->count[o], 1);
	bump(&b->sum_ns[o], ns);
	bump(&b->hist[o][metrics_bucket(ns)], 1);
	if (error < 0) {
		bump(&b->op_errors[o], 1);
		bump(&b->errors[-error < METRICS_MAX_ERRNO ? -error : 0], 1);
	}
	if (rbytes)
		bump(&b->read_bytes, rbytes);
	if (wbytes)
		bump(&b->written_bytes, wbytes);
}

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void metrics_snapshot(struct metrics *m, struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	for (struct metrics_block *b = __atomic_load_n(&m->blocks, __ATOMIC_ACQUIRE); b;
	     b = b->next) {
		for (unsigned o = 0; o < METRICS_MAX_OP; o++) {
			s->count[o] += get(&b->count[o]);
			s->op_errors[o] += get(&b->op_errors[o]);
			s->sum_ns[o] += get(&b->sum_ns[o]);
			for (unsigned i = 0; i < METRICS_BUCKETS; i++)
				s->hist[o][i] += get(&b->hist[o][i]);
		}
		for (unsigned e = 0; e < METRICS_MAX_ERRNO; e++)
			s->errors[e] += get(&b->errors[e]);
		s->read_bytes += get(&b->read_bytes);
		s->written_bytes += get(&b->written_bytes);
	}
}

/* A growing text buffer; on allocation failure it stays failed. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3))) put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n + 1;
		char *nb = realloc(t->buf, cap);

		if (!nb) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

static const char *op_label(metrics_op_name_fn name, unsigned o, char *tmp, size_t size)
{
	const char *s = o && name ? name(o) : NULL;

	if (s)
		return s;
	if (!o)
		return "unknown";
	snprintf(tmp, size, "OP%u", o);
	return tmp;
}

static const char *errno_label(unsigned e, char *tmp, size_t size)
{
	const char *s = e ? strerrorname_np((int)e) : NULL;

	if (s)
		return s;
	snprintf(tmp, size, e ? "E%u" : "other", e);
	return tmp;
}

int metrics_format(const struct metrics_snapshot *s, metrics_op_name_fn name, char **out,
		   size_t *len)
{
	struct text t = { .cap = 16384 };
	char tmp[32];

	t.buf = malloc(t.cap);
	if (!t.buf)
		return -ENOMEM;
	t.buf[0] = '\0';

	put(&t, "# HELP vufsd_requests_total FUSE requests served, by opcode.\n"
		"# TYPE vufsd_requests_total counter\n");
	for (unsigned o = 0; o < METRICS_MAX_OP; o++) {
		if (s->count[o])
			put(&t, "vufsd_requests_total{op=\"%s\"} %llu\n",
			    op_label(name, o, tmp, sizeof(tmp)), (unsigned long long)s->count[o]);
	}
	put(&t, "# HELP vufsd_request_errors_total FUSE requests answered with an error, by "
		"opcode.\n"
		"# TYPE vufsd_request_errors_total counter\n");
	for (unsigned o = 0; o < METRICS_MAX_OP; o++) {
		if (s->op_errors[o])
			put(&t, "vufsd_request_errors_total{op=\"%s\"} %llu\n",
			    op_label(name, o, tmp, sizeof(tmp)),
			    (unsigned long long)s->op_errors[o]);
	}
	put(&t, "# HELP vufsd_errors_total Error replies, by errno.\n"
		"# TYPE vufsd_errors_total counter\n");
	for (unsigned e = 0; e < METRICS_MAX_ERRNO; e++) {
		if (s->errors[e])
			put(&t, "vufsd_errors_total{errno=\"%s\"} %llu\n",
			    errno_label(e, tmp, sizeof(tmp)), (unsigned long long)s->errors[e]);
	}
	put(&t, "# HELP vufsd_read_bytes_total Bytes READ requests returned to the guest.\n"
		"# TYPE vufsd_read_bytes_total counter\n"
		"vufsd_read_bytes_total %llu\n",
	    (unsigned long long)s->read_bytes);
	put(&t, "# HELP vufsd_written_bytes_total Bytes WRITE requests stored for the guest.\n"
		"# TYPE vufsd_written_bytes_total counter\n"
		"vufsd_written_bytes_total %llu\n",
	    (unsigned long long)s->written_bytes);
	put(&t, "# HELP vufsd_request_duration_seconds Time from taking a request off the "
		"queue to its reply, by opcode.\n"
		"# TYPE vufsd_request_duration_seconds histogram\n");
	for (unsigned o = 0; o < METRICS_MAX_OP; o++) {
		const char *op;
		uint64_t cum = 0;

		if (!s->count[o])
			continue;
		op = op_label(name, o, tmp, sizeof(tmp));
		for (unsigned i = 0; i < METRICS_BUCKETS - 1; i++) {
			cum += s->hist[o][i];
			put(&t, "vufsd_request_duration_seconds_bucket{op=\"%s\",le=\"%.6f\"} %llu\n",
			    op, (double)(1ull << i) * 1e-6, (unsigned long long)cum);
		}
		cum += s->hist[o][METRICS_BUCKETS - 1];
		put(&t, "vufsd_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n", op,
		    (unsigned long long)cum);
		put(&t, "vufsd_request_duration_seconds_sum{op=\"%s\"} %.9f\n", op,
		    (double)s->sum_ns[o] * 1e-9);
		/* The +Inf bucket, not count[]: a snapshot taken mid-request must stay consistent. */
		put(&t, "vufsd_request_duration_seconds_count{op=\"%s\"} %llu\n", op,
		    (unsigned long long)cum);
	}
	if (t.failed) {
		free(t.buf);
		return -ENOMEM;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
