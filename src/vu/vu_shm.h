/* SPDX-License-Identifier: MIT */
/*
 * The device's shared memory window (virtio-fs: the DAX cache), served by
 * the frontend: map a file range into it, unmap a range. Two wire forms:
 *  - VHOST_USER_BACKEND_SHMEM_MAP/UNMAP (QEMU 11), when the frontend
 *    negotiated VHOST_USER_PROTOCOL_F_SHMEM; region 0 is our window;
 *  - VHOST_USER_BACKEND_FS_MAP/FS_UNMAP (cloud-hypervisor, the virtio-fs
 *    DAX draft), otherwise: one entry per message, the window is the VMM's.
 * Both go over the backend channel and wait for the frontend's status (see
 * vu_backend.h for the errnos).
 */
#ifndef VUFS_VU_SHM_H
#define VUFS_VU_SHM_H

#include <stdbool.h>
#include <stdint.h>

struct vu_dev;

/* Map [@foffset, +@len) of @fd (not consumed) at window offset @moffset. */
int vu_shm_map(struct vu_dev *d, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
	       bool writable);
int vu_shm_unmap(struct vu_dev *d, uint64_t moffset, uint64_t len);

#endif /* VUFS_VU_SHM_H */
