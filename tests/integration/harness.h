/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the integration tests: every test gets a fresh temp
 * share, its own backend process and a connected, FUSE_INIT'ed front-end.
 *
 * The backend is $VUFSD_TEST_BACKEND: a built-in name ("vufsd", the
 * default, found through $VUFSD; "legacy"; "rust") or an argv template
 * containing {socket} and {dir}. Teardown checks that the backend is still
 * alive, exits with status 0 once we disconnect, and that no fd leaked.
 */
#ifndef VUFS_TEST_HARNESS_H
#define VUFS_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fe.h"
#include "fe_fuse.h"

/* One argument buffer of h_xreq. */
struct h_xbuf {
	const void *p;
	uint32_t len;
};

struct h {
	char tmpdir[64];
	char share[96];
	char *tmpl;
	const char *backend;	/* "vufsd", "legacy", "rust" or "custom" */
	struct fe_backend *be;
	struct fe *fe;
	struct fe_opts opts;
	int fds_before;
};

/* cmocka setup: fixture with default options, connected and FUSE_INIT'ed. */
int h_setup(void **state);
/* cmocka setup: fixture with the share prepared but no backend yet (call h_start()). */
int h_setup_lazy(void **state);
/* cmocka teardown: liveness, clean exit on disconnect, cleanup, fd-leak check. */
int h_teardown(void **state);

/* Spawn the backend and connect with opts (NULL: defaults); FUSE_INIT if init. Fails the test on error. */
void h_start(struct h *h, const struct fe_opts *opts, bool init);
/* Like h_start() but returns the error of fe_vu_setup() instead of failing (-EOPNOTSUPP etc.). */
int h_try_start(struct h *h, const struct fe_opts *opts, bool init);

/* Backend identity, for documented legitimate differences. */
bool h_is(const struct h *h, const char *name);

/* Host-side helpers; rel is relative to the share. Each fails the test on error. */
const char *h_path(const struct h *h, const char *rel);	/* static buffer, rotating x4 */
void h_write_file(const struct h *h, const char *rel, const void *data, size_t len);
size_t h_read_file(const struct h *h, const char *rel, void *buf, size_t size);
void h_mkdir(const struct h *h, const char *rel, unsigned int mode);
bool h_exists(const struct h *h, const char *rel);
/* Deterministic test pattern. */
void h_pattern(void *buf, size_t len, uint32_t seed);

/* LOOKUP rel from the root (walk) and return the nodeid; fails the test on error. */
uint64_t h_lookup(struct h *h, const char *rel, struct fuse_attr *attr);

/* Fail with the expression, the errno and the front-end's last error. */
#define H_OK(h, expr)                                                                  \
	do {                                                                           \
		int h_r_ = (expr);                                                     \
		if (h_r_ < 0)                                                          \
			fail_msg("%s:%d: %s = %d (%s); front-end: %s", __FILE__,      \
				 __LINE__, #expr, h_r_, strerror(-h_r_),               \
				 fe_strerror((h)->fe));                                \
	} while (0)

/* Expect exactly -err. */
#define H_ERR(h, expr, err)                                                            \
	do {                                                                           \
		int h_r_ = (expr);                                                     \
		if (h_r_ != -(err))                                                    \
			fail_msg("%s:%d: %s = %d (%s), expected %d (%s); front-end: %s", \
				 __FILE__, __LINE__, #expr, h_r_,                      \
				 h_r_ < 0 ? strerror(-h_r_) : "success", -(err),       \
				 strerror(err), fe_strerror((h)->fe));                 \
	} while (0)

/* Expect some FUSE error (any negative errno), but not a transport failure. */
#define H_ANY_ERR(h, expr)                                                             \
	do {                                                                           \
		int h_r_ = (expr);                                                     \
		if (h_r_ >= 0)                                                         \
			fail_msg("%s:%d: %s succeeded (%d), expected an error",        \
				 __FILE__, __LINE__, #expr, h_r_);                     \
		if (fe_broken((h)->fe))                                                \
			fail_msg("%s:%d: %s broke the connection: %s", __FILE__,       \
				 __LINE__, #expr, fe_strerror((h)->fe));               \
	} while (0)

#define H_STATE(state) ((struct h *)*(state))

/*
 * Any opcode with up to FE_FUSE_MAX_IN argument buffers; the reply may be
 * short of @out_size (its length in *@out_len). Returns fe_fuse_call's result.
 */
int h_xreq(struct h *h, uint32_t opcode, uint64_t nodeid, const struct h_xbuf *in,
	   unsigned int nin, void *out, uint32_t out_size, uint32_t *out_len);

#endif /* VUFS_TEST_HARNESS_H */
