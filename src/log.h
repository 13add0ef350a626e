/* SPDX-License-Identifier: MIT */
/*
 * Logging: levels, one line per message to stderr (or syslog), and a
 * rate-limited variant for anything a guest can trigger at will.
 *
 * Thread-safe: each message is formatted into a local buffer and written
 * with one write(2), so lines from different threads never interleave.
 */
#ifndef VUFS_LOG_H
#define VUFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_OFF = -1,
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Set the threshold; messages above it are dropped. Call before threads start. */
void log_init(enum log_level level, bool use_syslog);
/* Parse "error", "warn", "info", "debug", "trace", "off"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Like log_msg but at most a burst of messages per second per call site
 * (@state is a static of the caller); the rest are counted and summarised.
 */
struct log_ratelimit {
	long window;      /* second of the current window */
	unsigned printed; /* messages printed in it */
	unsigned missed;  /* messages dropped in it */
};
void log_ratelimited(struct log_ratelimit *state, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Copy an untrusted (guest-supplied) string into @out for logging: at most
 * @len input bytes, non-printable bytes escaped as \xNN, truncated to fit.
 */
const char *log_escape(const char *s, size_t len, char *out, size_t outsz);

#define log_err(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_enabled(LOG_LVL_DEBUG))                                \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                   \
	} while (0)

/* Guest-caused problems: rate-limited per call site. */
#define log_guest(level, ...)                                                  \
	do {                                                                   \
		static struct log_ratelimit log_rl_;                           \
		log_ratelimited(&log_rl_, level, __VA_ARGS__);                 \
	} while (0)

#endif /* VUFS_LOG_H */
