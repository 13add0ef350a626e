// SPDX-License-Identifier: MIT
/*
 * src/metrics: bucket boundaries, per-thread blocks summed by the reader
 * (from real threads), and the exposition checked against the Prometheus
 * text format (0.0.4): every line is a HELP/TYPE comment or a sample
 * `name{label="value",...} number`, every sample's family was TYPEd first,
 * histogram buckets are cumulative with ascending le and end in +Inf equal
 * to _count.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static const char *names(uint32_t op)
{
	switch (op) {
	case 1:
		return "LOOKUP";
	case 15:
		return "READ";
	case 16:
		return "WRITE";
	default:
		return NULL;
	}
}

static void test_buckets(void **state)
{
	(void)state;
	assert_int_equal(metrics_bucket(0), 0);
	assert_int_equal(metrics_bucket(1000), 0);     /* <= 1 us */
	assert_int_equal(metrics_bucket(1001), 1);     /* <= 2 us */
	assert_int_equal(metrics_bucket(2000), 1);
	assert_int_equal(metrics_bucket(2001), 2);     /* <= 4 us */
	assert_int_equal(metrics_bucket(1024000), 10); /* 1024 us */
	assert_int_equal(metrics_bucket(1024001), 11);
	assert_int_equal(metrics_bucket(UINT64_MAX), METRICS_BUCKETS - 1);
	assert_int_equal(metrics_bucket((1ull << 22) * 1000), METRICS_BUCKETS - 2);
	assert_int_equal(metrics_bucket((1ull << 22) * 1000 + 1), METRICS_BUCKETS - 1);
}

struct worker {
	struct metrics *m;
	unsigned n;
};

/* One request thread: its own block, n LOOKUPs (every third ENOENT), n READs of 10 bytes. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct metrics_block *b = metrics_block_get(w->m);

	assert_non_null(b);
	for (unsigned i = 0; i < w->n; i++) {
		metrics_record(b, 1, i % 3 == 0 ? -ENOENT : 0, 0, 0, 1500);
		metrics_record(b, 15, 0, 10, 0, 3000);
	}
	metrics_block_put(w->m, b);
	return NULL;
}

static void test_threads_summed(void **state)
{
	struct metrics *m;
	struct metrics_snapshot *s = malloc(sizeof(*s));
	struct worker w[4];
	pthread_t th[4];
	struct metrics_block *b;

	(void)state;
	assert_non_null(s);
	assert_int_equal(metrics_new(&m), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .m = m, .n = 3000 };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* A later thread reuses a block; the counts of the old threads stay. */
	b = metrics_block_get(m);
	metrics_record(b, 16, -EIO, 0, 100, 10);
	metrics_record(b, 99, -9999, 0, 0, 10); /* out-of-range opcode and errno */
	metrics_snapshot(m, s);
	assert_int_equal(s->count[1], 12000);
	assert_int_equal(s->op_errors[1], 4000);
	assert_int_equal(s->errors[ENOENT], 4000);
	assert_int_equal(s->count[15], 12000);
	assert_int_equal(s->read_bytes, 120000);
	assert_int_equal(s->written_bytes, 100);
	assert_int_equal(s->errors[EIO], 1);
	assert_int_equal(s->count[0], 1);
	assert_int_equal(s->errors[0], 1);
	assert_int_equal(s->hist[1][1], 12000); /* 1.5 us: the 2 us bucket */
	assert_int_equal(s->hist[15][2], 12000);
	assert_int_equal(s->sum_ns[1], 12000ull * 1500);
	metrics_block_put(m, b);
	metrics_free(m);
	free(s);
}

/* A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*; returns its length. */
static size_t name_len(const char *p)
{
	size_t n = 0;

	if (!isalpha((unsigned char)p[0]) && p[0] != '_' && p[0] != ':')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
		n++;
	return n;
}

struct family {
	char name[64];
	char type[16];
};

/* The histogram state for one op while walking its lines. */
struct hist_check {
	char op[32];
	double last_le, last_cum, inf;
	bool seen_inf;
};

/* Check one sample line; fills the label values op/le/errno when present. */
static void check_sample(const char *line, struct family *fams, unsigned nfams,
			 struct hist_check *hc)
{
	char name[64] = "", op[32] = "", le[32] = "";
	const char *p = line;
	size_t n = name_len(p);
	double v;
	char *end;
	bool typed = false;

	if (!n || n >= sizeof(name))
		fail_msg("bad metric name in: %s", line);
	memcpy(name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			char lname[32], lval[32];
			size_t ln = name_len(p), vl = 0;

			if (!ln || ln >= sizeof(lname))
				fail_msg("bad label name in: %s", line);
			memcpy(lname, p, ln);
			lname[ln] = '\0';
			p += ln;
			if (p[0] != '=' || p[1] != '"')
				fail_msg("label without =\" in: %s", line);
			p += 2;
			while (*p && *p != '"') {
				if (*p == '\\' || *p == '\n' || vl + 1 >= sizeof(lval))
					fail_msg("bad label value in: %s", line);
				lval[vl++] = *p++;
			}
			lval[vl] = '\0';
			if (*p != '"')
				fail_msg("unterminated label value in: %s", line);
			p++;
			if (!strcmp(lname, "op"))
				snprintf(op, sizeof(op), "%s", lval);
			else if (!strcmp(lname, "le"))
				snprintf(le, sizeof(le), "%s", lval);
			else if (strcmp(lname, "errno"))
				fail_msg("unexpected label %s in: %s", lname, line);
			if (*p == ',')
				p++;
			else if (*p != '}')
				fail_msg("bad label list in: %s", line);
		}
		p++;
	}
	if (*p != ' ')
		fail_msg("no space before the value in: %s", line);
	v = strtod(p + 1, &end);
	if (end == p + 1 || *end)
		fail_msg("bad value in: %s", line);
	assert_true(v >= 0);
	for (unsigned i = 0; i < nfams; i++) {
		size_t fl = strlen(fams[i].name);

		if (!strncmp(name, fams[i].name, fl) &&
		    (!name[fl] || (!strcmp(fams[i].type, "histogram") &&
				   (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
				    !strcmp(name + fl, "_count")))))
			typed = true;
	}
	if (!typed)
		fail_msg("sample before its # TYPE: %s", line);
	if (strstr(name, "_bucket")) {
		double lev;

		if (strcmp(op, hc->op)) {
			if (hc->op[0])
				assert_true(hc->seen_inf);
			memset(hc, 0, sizeof(*hc));
			snprintf(hc->op, sizeof(hc->op), "%s", op);
			hc->last_le = -1;
		}
		assert_false(hc->seen_inf);
		lev = !strcmp(le, "+Inf") ? 1e300 : strtod(le, NULL);
		assert_true(lev > hc->last_le);
		assert_true(v >= hc->last_cum);
		hc->last_le = lev;
		hc->last_cum = v;
		if (lev == 1e300) {
			hc->seen_inf = true;
			hc->inf = v;
		}
	} else if (strstr(name, "_count")) {
		assert_string_equal(op, hc->op);
		assert_true(hc->seen_inf);
		assert_true(v == hc->inf);
	}
}

static void check_exposition(const char *text, size_t len)
{
	struct family fams[16];
	struct hist_check hc = { .op = "" };
	unsigned nfams = 0;
	char *copy = strndup(text, len), *save = NULL;

	assert_non_null(copy);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			assert_true(name_len(line + 7) > 0);
		} else if (!strncmp(line, "# TYPE ", 7)) {
			size_t n = name_len(line + 7);
			const char *type = line + 7 + n + 1;

			assert_true(n > 0 && n < sizeof(fams[0].name) && line[7 + n] == ' ');
			assert_true(!strcmp(type, "counter") || !strcmp(type, "histogram") ||
				    !strcmp(type, "gauge"));
			assert_true(nfams < 16);
			memcpy(fams[nfams].name, line + 7, n);
			fams[nfams].name[n] = '\0';
			snprintf(fams[nfams].type, sizeof(fams[nfams].type), "%s", type);
			nfams++;
		} else {
			assert_true(line[0] != '#');
			check_sample(line, fams, nfams, &hc);
		}
	}
	free(copy);
}

static void test_format(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	char *text;
	size_t len;

	(void)state;
	assert_non_null(s);
	/* Empty: families only. */
	assert_int_equal(metrics_format(s, names, &text, &len), 0);
	check_exposition(text, len);
	assert_non_null(strstr(text, "vufsd_read_bytes_total 0\n"));
	free(text);

	s->count[1] = 5;
	s->hist[1][0] = 2;
	s->hist[1][3] = 3;
	s->sum_ns[1] = 20000;
	s->op_errors[1] = 2;
	s->count[15] = 1;
	s->hist[15][METRICS_BUCKETS - 1] = 1; /* over 4 s */
	s->sum_ns[15] = 5000000000ull;
	s->count[40] = 1; /* served but unnamed here */
	s->hist[40][0] = 1;
	s->count[0] = 1;
	s->hist[0][0] = 1;
	s->errors[ENOENT] = 2;
	s->errors[0] = 1;
	s->read_bytes = 4096;
	s->written_bytes = 7;
	assert_int_equal(metrics_format(s, names, &text, &len), 0);
	check_exposition(text, len);
	assert_non_null(strstr(text, "vufsd_requests_total{op=\"LOOKUP\"} 5\n"));
	assert_non_null(strstr(text, "vufsd_requests_total{op=\"OP40\"} 1\n"));
	assert_non_null(strstr(text, "vufsd_requests_total{op=\"unknown\"} 1\n"));
	assert_null(strstr(text, "op=\"WRITE\""));
	assert_non_null(strstr(text, "vufsd_request_errors_total{op=\"LOOKUP\"} 2\n"));
	assert_non_null(strstr(text, "vufsd_errors_total{errno=\"ENOENT\"} 2\n"));
	assert_non_null(strstr(text, "vufsd_errors_total{errno=\"other\"} 1\n"));
	assert_non_null(strstr(text, "vufsd_read_bytes_total 4096\n"));
	assert_non_null(strstr(text, "vufsd_written_bytes_total 7\n"));
	assert_non_null(strstr(text,
			       "vufsd_request_duration_seconds_bucket{op=\"LOOKUP\",le=\"0.000001\"} 2\n"));
	assert_non_null(strstr(text,
			       "vufsd_request_duration_seconds_bucket{op=\"LOOKUP\",le=\"0.000008\"} 5\n"));
	assert_non_null(strstr(text, "vufsd_request_duration_seconds_sum{op=\"LOOKUP\"} 0.000020000\n"));
	assert_non_null(strstr(text, "vufsd_request_duration_seconds_bucket{op=\"READ\",le=\"4.194304\"} 0\n"));
	assert_non_null(strstr(text, "vufsd_request_duration_seconds_bucket{op=\"READ\",le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(text, "vufsd_request_duration_seconds_count{op=\"READ\"} 1\n"));
	free(text);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_threads_summed),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
