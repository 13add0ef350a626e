/* SPDX-License-Identifier: MIT */
/*
 * The backend channel (SET_BACKEND_REQ_FD): requests we send to the
 * frontend, such as mapping a file into the DAX window.
 *
 * One request at a time (the channel has no request ids), sent from any
 * thread; with REPLY_ACK negotiated each carries NEED_REPLY and we wait for
 * the frontend's u64 status under a timeout. A frontend that fails, closes
 * the channel or stays silent gives the caller a precise errno, never a
 * hung queue:
 *   -EOPNOTSUPP  no channel (the frontend never sent SET_BACKEND_REQ_FD)
 *   -ETIMEDOUT   no reply in time; the channel is then out of step and
 *                every later request fails with -EIO until a new one is set
 *   -EIO         malformed reply, or the frontend refused the request
 *                (status != 0; QEMU sends 1 for every failure)
 *   -EPIPE       the frontend closed the channel
 *
 * The waiting request holds only this channel's lock: nothing on the
 * control thread waits for it (see vu_mem for how memory-table changes
 * avoid waiting for a request that waits here).
 */
#ifndef VUFS_VU_BACKEND_H
#define VUFS_VU_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

/* How long a request waits for the frontend's reply by default. */
#define VU_BACKEND_TIMEOUT_MS 5000

struct vu_backend {
	pthread_mutex_t req_lock; /* one request on the channel at a time */
	pthread_mutex_t fd_lock;  /* @fd, @dead, @reply_ack */
	int fd;                   /* -1: none */
	bool dead;                /* out of step after a lost or malformed reply */
	bool reply_ack;           /* ask for (NEED_REPLY) and await a status */
	int timeout_ms;
	/* Counters (atomic). */
	uint64_t nrequests, nfailed;
};

void vu_backend_init(struct vu_backend *b);
void vu_backend_fini(struct vu_backend *b);
/* A new channel (@fd owned; -1 to drop it). An in-flight request keeps its own copy. */
void vu_backend_set_fd(struct vu_backend *b, int fd);
void vu_backend_set_reply_ack(struct vu_backend *b, bool on);
void vu_backend_set_timeout(struct vu_backend *b, int timeout_ms);
bool vu_backend_connected(struct vu_backend *b);

/*
 * Send request @req with @size payload bytes and, if @fd >= 0, that fd
 * (not consumed), and wait for its status. Returns 0 or a negative errno
 * as above.
 */
int vu_backend_request(struct vu_backend *b, uint32_t req, const void *payload, uint32_t size,
		       int fd);

/*
 * Check a reply to request @req: header @hdr and its @len payload bytes.
 * Returns 0 (status 0), -EIO (frontend failure status) or -EPROTO
 * (malformed: wrong request, flags, size). Pure: the fuzz target's entry.
 */
int vu_backend_check_reply(const struct vhost_user_header *hdr, const void *payload,
			   uint32_t len, uint32_t req);

#endif /* VUFS_VU_BACKEND_H */
