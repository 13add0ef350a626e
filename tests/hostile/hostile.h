/* SPDX-License-Identifier: MIT */
/*
 * Hostile-guest tests: helpers on top of the integration harness
 * (tests/integration/harness.h) for what a well-behaved driver never
 * does: hand-made descriptor chains, forged FUSE headers, buffers that
 * are too small, and the checks that follow each of them.
 *
 * Two kinds of liveness:
 *  - after a malformed FUSE request, the same connection must answer a
 *    normal request (hx_alive: GETATTR of the root);
 *  - after a malformed ring the device may declare itself broken: it must
 *    then signal the vring error eventfd (if one was set), stop serving
 *    the queues (a request sent afterwards has no host-side effect and is
 *    never used), keep answering vhost-user messages, and exit with status
 *    0 when we disconnect (the harness's teardown checks the exit).
 *
 * Nothing here waits without a bound.
 */
#ifndef VUFS_HOSTILE_H
#define VUFS_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "harness.h"

/* A reply that must come: generous, the machine may be busy. */
#define HX_REPLY_MS 5000
/* How long we watch for something that must not happen. */
#define HX_QUIET_MS 200
/* Unmapped guest-physical address (default layout: one region from a low address). */
#define HX_BAD_GPA 0x7fff00000000ull

/* Append backend-specific options to the backend's command template (NULL: none). */
void hx_args(struct h *h, const char *vufsd, const char *rust, const char *legacy);
/* hx_args() then h_start(). */
void hx_start(struct h *h, const char *vufsd, const char *rust, const char *legacy,
	      const struct fe_opts *opts, bool init);

/* Liveness after a malformed request: GETATTR of the root works on the same connection. */
void hx_alive(struct h *h);
/* The backend process is alive and answers GET_FEATURES. */
void hx_vu_alive(struct h *h);

/* An eventfd registered with SET_VRING_ERR for queue q (the caller closes it). */
int hx_err_eventfd(struct h *h, unsigned int q);
/* Whether errfd is signalled within ms. */
bool hx_err_signalled(int errfd, int ms);

/*
 * After a malformed chain was published on queue q: the error eventfd
 * fires (errfd >= 0; closed here), nothing was used, vhost-user still
 * answers, and a MKDIR sent afterwards is neither used nor executed.
 */
void hx_expect_broken(struct h *h, unsigned int q, int errfd, uint16_t used_before);

/*
 * Record the daemon's fd count now as its idle value for hx_expect_recovery
 * (call it when the guest holds nothing and the request queue has its error
 * eventfd, i.e. right after hx_err_eventfd).
 */
void hx_mark_idle(struct h *h);
/* Name of a reset mode, for messages. */
const char *hx_reset_name(enum fe_reset_mode mode);
/*
 * After hx_expect_broken(): the frontend resets the device (mode, fresh
 * rings, FUSE_INIT) and it serves again: GETATTR of the root, LOOKUP, OPEN
 * and READ of a file written on the host. Nothing left on the old rings
 * ran, the daemon logged the break exactly once, and its fd count is back
 * to the value hx_mark_idle recorded (if it did). Required of vufsd;
 * for other backends the outcome is only printed.
 */
void hx_expect_recovery(struct h *h, enum fe_reset_mode mode);

/* ---- guest memory and raw rings ---- */

/* Zeroed guest memory (fails the test when full). */
void *hx_galloc(struct h *h, size_t len);
uint64_t hx_gpa(struct h *h, const void *p, size_t len);
/* First guest-physical byte past region 0. */
uint64_t hx_mem_end(struct h *h);

void hx_raw(struct h *h, unsigned int q, struct fe_vq_raw *r);
void hx_desc(const struct fe_vq_raw *r, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);
/* Publish head in the avail ring and kick. The queue must be idle. */
void hx_push(struct h *h, unsigned int q, uint16_t head);
/* Next used element of q within ms: 0, -ETIMEDOUT, or -ECONNRESET. */
int hx_used(struct h *h, unsigned int q, struct vring_used_elem *e, int ms);
uint16_t hx_used_idx(struct h *h, unsigned int q);

/* ---- FUSE requests built by hand ---- */

/* Next unique for hand-built requests (disjoint from the front-end's). */
uint64_t hx_unique(void);
/* Write a fuse_in_header (len = 40 + args_len) and the arguments into buf; returns the length. */
size_t hx_build(void *buf, uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len);

/* Result of hx_send(). */
struct hx_reply {
	int rc;			/* 0, or -ETIMEDOUT (nothing used) / -ECONNRESET */
	uint32_t used;		/* used length the device reported */
	uint64_t unique;	/* the request's */
	struct fuse_out_header oh; /* valid if used >= 16 */
	uint8_t *body;		/* reply body (malloc'ed copy, used - 16 bytes), or NULL */
	uint32_t body_len;
};

/*
 * Send req (req_len readable bytes, one descriptor) with out_room writable
 * bytes (0: no writable descriptor) as a direct chain on queue q, and wait
 * for it. The writable buffer is followed by a poisoned guard that must
 * stay intact (else the test fails: the device wrote past the buffer), as
 * must the writable bytes past the used length.
 */
void hx_send(struct h *h, unsigned int q, const void *req, uint32_t req_len, uint32_t out_room,
	     struct hx_reply *rep);
void hx_reply_free(struct hx_reply *rep);

/*
 * Request opcode/nodeid with args; header len adjusted by len_delta.
 * Expects a well-formed reply (out.len == used, unique matches, error
 * replies carry no body) and returns out.error; body (if any) is copied
 * to out (up to out_size) and its length to *out_len.
 */
int hx_req(struct h *h, uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len,
	   int64_t len_delta, void *out, uint32_t out_size, uint32_t *out_len);

/* Concatenate into a buffer: HX_CAT(buf, off, ptr, len). */
static inline size_t hx_cat(void *buf, size_t off, const void *p, size_t len)
{
	memcpy((char *)buf + off, p, len);
	return off + len;
}
/* A NUL-terminated name, NUL included. */
static inline size_t hx_cat_str(void *buf, size_t off, const char *s)
{
	return hx_cat(buf, off, s, strlen(s) + 1);
}

/* ---- host side ---- */

/* The process that serves (the namespace sandbox's child, else the spawned process). */
pid_t hx_serving_pid(struct h *h);
/* Lines of the backend's log that contain needle. */
int hx_log_count(struct h *h, const char *needle);
/* Open fds of pid (-1 if unknown). */
int hx_count_fds(pid_t pid);
/* Fail with a message after dumping the backend's log tail. */
#define HX_FAIL(h, ...)                                                                \
	do {                                                                           \
		if ((h)->be)                                                           \
			fe_backend_dump_log((h)->be, 4096);                            \
		fail_msg(__VA_ARGS__);                                                 \
	} while (0)

#endif /* VUFS_HOSTILE_H */
