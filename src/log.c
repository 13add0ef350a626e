// SPDX-License-Identifier: MIT
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_threshold = LOG_LVL_INFO;
static bool log_syslog;

/* Messages a call site may print per second before it is throttled. */
#define LOG_BURST 10

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_init(enum log_level level, bool use_syslog)
{
	log_threshold = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("vufsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!strcmp(s, "off"))
		*out = LOG_LVL_OFF;
	else if (!strcmp(s, "error"))
		*out = LOG_LVL_ERROR;
	else if (!strcmp(s, "warn") || !strcmp(s, "warning"))
		*out = LOG_LVL_WARN;
	else if (!strcmp(s, "info"))
		*out = LOG_LVL_INFO;
	else if (!strcmp(s, "debug") || !strcmp(s, "trace"))
		*out = LOG_LVL_DEBUG;
	else
		return -EINVAL;
	return 0;
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const int syslog_prio[] = {
		[LOG_LVL_ERROR] = LOG_ERR,
		[LOG_LVL_WARN] = LOG_WARNING,
		[LOG_LVL_INFO] = LOG_INFO,
		[LOG_LVL_DEBUG] = LOG_DEBUG,
	};
	char line[1024];
	struct timespec ts;
	int n;
	int saved = errno;

	if (log_syslog) {
		vsyslog(syslog_prio[level], fmt, ap);
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "[%lld.%06ld] vufsd[%d] %s: ", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000, (int)getpid(), level_names[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line; a short write to stderr is not worth retrying. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing sensible to do */
	}
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct log_ratelimit *st, enum log_level level, const char *fmt, ...)
{
	struct timespec ts;
	long now;
	unsigned missed = 0;
	va_list ap;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec;
	/* Racy counters are fine: this only decides whether to print. */
	if (__atomic_load_n(&st->window, __ATOMIC_RELAXED) != now) {
		missed = __atomic_exchange_n(&st->missed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&st->printed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&st->window, now, __ATOMIC_RELAXED);
	}
	if (__atomic_fetch_add(&st->printed, 1, __ATOMIC_RELAXED) >= LOG_BURST) {
		__atomic_fetch_add(&st->missed, 1, __ATOMIC_RELAXED);
		return;
	}
	if (missed)
		log_msg(level, "(%u similar messages suppressed)", missed);
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

const char *log_escape(const char *s, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!outsz)
		return "";
	for (size_t i = 0; i < len && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
