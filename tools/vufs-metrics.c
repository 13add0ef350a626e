// SPDX-License-Identifier: MIT
/*
 * vufs-metrics: read vufsd's request metrics (--metrics=PATH).
 *
 *   vufs-metrics SOCKET               the raw Prometheus text
 *   vufs-metrics -s SOCKET|FILE       a summary: requests, errors, bytes, mean latency per opcode
 *   vufs-metrics -t SOCKET|FILE       the total request count only (for scripts)
 *   vufs-metrics -d BEFORE AFTER      what happened between two snapshots (saved raw
 *                                     output files or a live socket): requests per opcode,
 *                                     errors, bytes; the first line is the total
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SERIES 256

struct series {
	char name[48];  /* metric name */
	char label[48]; /* the op or errno label value, "" if none */
	double value;
};

struct snap {
	struct series s[MAX_SERIES];
	unsigned n;
};

static char *read_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 65536;
	char *buf;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vufs-metrics: path too long: %s\n", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vufs-metrics: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc(cap);
	for (;;) {
		ssize_t n;

		if (!buf)
			break;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "vufs-metrics: read %s: %s\n", path, strerror(errno));
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	return buf;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "vufs-metrics: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/* A live socket or a saved snapshot. */
static char *fetch(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return read_socket(path);
	return read_file(path);
}

/* Keep the series the summaries use; histogram buckets are left out. */
static int parse(const char *text, struct snap *sn)
{
	const char *line = text;

	sn->n = 0;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[256], *sp, *brace, *q;
		struct series *s;

		if (len && line[0] != '#' && len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			sp = strrchr(buf, ' ');
			if (!sp || strstr(buf, "_bucket{"))
				goto next;
			*sp = '\0';
			if (sn->n == MAX_SERIES) {
				fprintf(stderr, "vufs-metrics: more than %d series\n", MAX_SERIES);
				return -E2BIG;
			}
			s = &sn->s[sn->n];
			memset(s, 0, sizeof(*s));
			s->value = strtod(sp + 1, NULL);
			brace = strchr(buf, '{');
			if (brace) {
				*brace = '\0';
				q = strchr(brace + 1, '"');
				if (q) {
					char *q2 = strchr(q + 1, '"');

					if (q2)
						*q2 = '\0';
					snprintf(s->label, sizeof(s->label), "%.47s", q + 1);
				}
			}
			if (strlen(buf) >= sizeof(s->name))
				goto next; /* not one of ours */
			memcpy(s->name, buf, strlen(buf) + 1);
			sn->n++;
		}
next:
		line = end ? end + 1 : NULL;
	}
	return 0;
}

static double value(const struct snap *sn, const char *name, const char *label)
{
	for (unsigned i = 0; i < sn->n; i++) {
		if (!strcmp(sn->s[i].name, name) && !strcmp(sn->s[i].label, label))
			return sn->s[i].value;
	}
	return 0;
}

static double total(const struct snap *sn)
{
	double t = 0;

	for (unsigned i = 0; i < sn->n; i++) {
		if (!strcmp(sn->s[i].name, "vufsd_requests_total"))
			t += sn->s[i].value;
	}
	return t;
}

/* Print @after (minus @before, if given). */
static void report(const struct snap *after, const struct snap *before)
{
	const struct snap empty = { .n = 0 };
	const struct snap *b = before ? before : &empty;

	printf("requests %.0f\n", total(after) - total(b));
	for (unsigned i = 0; i < after->n; i++) {
		const struct series *s = &after->s[i];
		double d = s->value - value(b, s->name, s->label);

		if (!strcmp(s->name, "vufsd_requests_total") && d > 0) {
			double sum = value(after, "vufsd_request_duration_seconds_sum", s->label) -
				     value(b, "vufsd_request_duration_seconds_sum", s->label);
			double errs = value(after, "vufsd_request_errors_total", s->label) -
				      value(b, "vufsd_request_errors_total", s->label);

			printf("  %-16s %10.0f  errors %8.0f  mean %9.1f us\n", s->label, d, errs,
			       sum / d * 1e6);
		}
	}
	for (unsigned i = 0; i < after->n; i++) {
		const struct series *s = &after->s[i];
		double d = s->value - value(b, s->name, s->label);

		if (!strcmp(s->name, "vufsd_errors_total") && d > 0)
			printf("errno %-16s %10.0f\n", s->label, d);
	}
	printf("read_bytes %.0f\nwritten_bytes %.0f\n",
	       value(after, "vufsd_read_bytes_total", "") - value(b, "vufsd_read_bytes_total", ""),
	       value(after, "vufsd_written_bytes_total", "") -
		       value(b, "vufsd_written_bytes_total", ""));
}

static int load(const char *path, struct snap *sn)
{
	char *text = fetch(path);
	int err;

	if (!text)
		return -1;
	err = parse(text, sn);
	free(text);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vufs-metrics SOCKET\n"
		   "       vufs-metrics -s SOCKET|FILE     summary\n"
		   "       vufs-metrics -t SOCKET|FILE     total requests\n"
		   "       vufs-metrics -d BEFORE AFTER    difference of two snapshots\n");
}

int main(int argc, char **argv)
{
	static struct snap a, b;

	if (argc == 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help")) {
		char *text = fetch(argv[1]);

		if (!text)
			return 1;
		fputs(text, stdout);
		free(text);
		return 0;
	}
	if (argc == 3 && (!strcmp(argv[1], "-s") || !strcmp(argv[1], "-t"))) {
		if (load(argv[2], &a))
			return 1;
		if (argv[1][1] == 't')
			printf("%.0f\n", total(&a));
		else
			report(&a, NULL);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "-d")) {
		if (load(argv[2], &b) || load(argv[3], &a))
			return 1;
		report(&a, &b);
		return 0;
	}
	usage(argc == 2 ? stdout : stderr);
	return argc == 2 ? 0 : 2;
}
