/* SPDX-License-Identifier: MIT */
/*
 * fe_shm - the VMM's side of the device's shared memory window (virtio-fs
 * DAX cache), served the way QEMU 11 does it, so that DAX can be tested
 * without a VM.
 *
 * fe_shm_start() reserves the window in this process, hands the backend a
 * backend channel (SET_BACKEND_REQ_FD) and serves it from a thread:
 * SHMEM_MAP/SHMEM_UNMAP (QEMU 11) or FS_MAP/FS_UNMAP (cloud-hypervisor)
 * mmap the file into the window / unmap it. As QEMU does, a mapping longer
 * than the file (even within its last page) or not writable is refused, and each
 * mapping is announced to the backend as a guest memory region: after the
 * MAP reply ADD_MEM_REG, and for an unmap REM_MEM_REG, acknowledged,
 * *before* the UNMAP reply (the order that deadlocks a backend which stops
 * its queues to change its memory table).
 *
 * The thread sends ADD/REM_MEM_REG on the vhost-user socket: the caller
 * must not send vhost-user messages itself while DAX requests are in
 * flight (FUSE requests use the rings and are fine).
 */
#ifndef VUFS_FE_SHM_H
#define VUFS_FE_SHM_H

#include <stdbool.h>
#include <stdint.h>

struct fe;
struct fe_shm;

enum fe_shm_form {
	FE_SHM_SHMEM, /* VHOST_USER_BACKEND_SHMEM_MAP/UNMAP (needs PROTOCOL_F_SHMEM) */
	FE_SHM_FS,    /* VHOST_USER_BACKEND_FS_MAP/FS_UNMAP */
};

struct fe_shm_opts {
	uint64_t window;        /* bytes */
	enum fe_shm_form form;
	bool announce;          /* ADD_MEM_REG/REM_MEM_REG per mapping (QEMU does) */
	uint64_t gpa;           /* guest-physical address of the window (default 1 TiB) */
	bool refuse_all;        /* answer every request with failure status 1 */
	bool silent;            /* never answer (the backend must time out) */
};

struct fe_shm_stats {
	uint64_t maps, unmaps, refused, requests;
	unsigned mapped;        /* mappings now */
	unsigned max_mapped;
	uint64_t bad_requests;  /* malformed backend requests */
};

void fe_shm_opts_default(struct fe_shm_opts *o, uint64_t window);
/* Needs BACKEND_REQ and BACKEND_SEND_FD negotiated (fe_opts.protocol_mask). */
int fe_shm_start(struct fe *fe, const struct fe_shm_opts *o, struct fe_shm **out);
void fe_shm_stop(struct fe_shm *s);
/* Our mapping of the window: a byte the backend mapped reads as the file's. */
uint8_t *fe_shm_window(struct fe_shm *s);
/* Is [off, off + len) of the window mapped (backed by a file) now? */
bool fe_shm_mapped(struct fe_shm *s, uint64_t off, uint64_t len);
void fe_shm_get_stats(struct fe_shm *s, struct fe_shm_stats *st);

#endif /* VUFS_FE_SHM_H */
