/* SPDX-License-Identifier: MIT */
/* libvufsfe internals shared between its source files. */
#ifndef VUFS_FE_PRIV_H
#define VUFS_FE_PRIV_H

#include <stdarg.h>

#include "fe.h"
#include "fe_fuse.h"

#define FE_PAGE_SIZE 4096u
#define FE_MAX_REGIONS 2u
/* Region 1 (when there are two) starts here in guest-physical space. */
#define FE_REGION1_GPA (4ull << 30)

struct fe_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t mmap_offset;
	uint8_t *host;
	size_t npages;
	uint64_t *bitmap;	/* 1 = page in use */
	uint32_t *alloc_len;	/* pages of the allocation starting at this page, 0 elsewhere */
	size_t hint;
	size_t used_pages;
};

struct fe_vq_slot {
	void *token;
	uint16_t ndesc;		/* ring descriptors of the chain (1 when indirect) */
	bool busy;
	uint32_t writable;	/* bytes the device may write */
	void *indirect;		/* guest allocation of the indirect table */
};

struct fe_vq {
	unsigned int index;
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *next;		/* shadow links: free list and chains */
	uint16_t free_head;
	unsigned int nfree;
	uint16_t avail_idx;	/* shadow of avail->idx */
	uint16_t kicked_idx;	/* avail_idx at the last kick decision */
	uint16_t last_used;
	unsigned int inflight;
	struct fe_vq_slot *slots;
	int kickfd;
	int callfd;
	bool started;
	bool force_kick;	/* next kick unconditional (ring just (re)started) */
	struct fe_vq_stats st;
};

struct fe {
	struct fe_opts opts;
	int sock;
	int memfd;
	unsigned int nregions;
	struct fe_region regions[FE_MAX_REGIONS];
	unsigned int alloc_rr;
	struct fe_vq vq[FE_MAX_QUEUES];

	uint64_t backend_features;
	uint64_t features;
	uint64_t backend_protocol;
	uint64_t protocol;
	uint64_t queue_num;
	uint64_t max_mem_slots;
	bool event_idx;
	bool indirect;
	bool reply_ack;
	bool setup_done;

	int broken;
	char errbuf[512];
	bool debug;

	/* FUSE layer */
	uint64_t unique;
	uint32_t uid, gid, pid;
	uint32_t umask;
	bool fuse_inited;
	struct fuse_init_out init;
	struct fe_fuse_call *done_head;	/* completed calls not yet returned by fe_fuse_wait_any() */
	struct fe_fuse_call *done_tail;
};

/* Record a failure description; returns err. */
int fe_err(struct fe *fe, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Mark the connection broken (sticky) and record why; returns err. */
int fe_fail(struct fe *fe, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fe_dbg(const struct fe *fe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int fe_mem_init(struct fe *fe);
void fe_mem_fini(struct fe *fe);
int fe_vq_init(struct fe *fe, unsigned int q);
void fe_vq_fini(struct fe *fe, unsigned int q);
/* Replace queue q's rings and eventfds by fresh ones (driver reload); chains in flight are dropped. */
int fe_vq_renew(struct fe *fe, unsigned int q);
/* Detach token from its in-flight chain: the completion will be dropped silently. */
void fe_vq_forget_token(struct fe *fe, unsigned int q, const void *token);
/* Milliseconds left until deadline_ns (>= 0). */
int fe_ms_left(uint64_t deadline_ns);
uint64_t fe_deadline(const struct fe *fe, int timeout_ms);

#endif /* VUFS_FE_PRIV_H */
