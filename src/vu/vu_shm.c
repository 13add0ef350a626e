// SPDX-License-Identifier: MIT
#include "vu_shm.h"

#include <string.h>

#include "vu_dev.h"

static bool shmem_form(struct vu_dev *d)
{
	return vu_dev_has_protocol_feature(d, VHOST_USER_PROTOCOL_F_SHMEM);
}

int vu_shm_map(struct vu_dev *d, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
	       bool writable)
{
	if (shmem_form(d)) {
		struct vhost_user_shmem_map m;

		memset(&m, 0, sizeof(m));
		m.shmid = 0;
		m.fd_offset = foffset;
		m.shm_offset = moffset;
		m.len = len;
		m.flags = writable ? VHOST_USER_SHMEM_MAP_RW : 0;
		return vu_dev_backend_request(d, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), fd);
	} else {
		struct vhost_user_fs_backend_msg m;

		memset(&m, 0, sizeof(m));
		m.fd_offset[0] = foffset;
		m.cache_offset[0] = moffset;
		m.len[0] = len;
		m.flags[0] = VHOST_USER_FS_FLAG_MAP_R | (writable ? VHOST_USER_FS_FLAG_MAP_W : 0);
		return vu_dev_backend_request(d, VHOST_USER_BACKEND_FS_MAP, &m, sizeof(m), fd);
	}
}

int vu_shm_unmap(struct vu_dev *d, uint64_t moffset, uint64_t len)
{
	if (shmem_form(d)) {
		struct vhost_user_shmem_map m;

		memset(&m, 0, sizeof(m));
		m.shm_offset = moffset;
		m.len = len;
		return vu_dev_backend_request(d, VHOST_USER_BACKEND_SHMEM_UNMAP, &m, sizeof(m), -1);
	} else {
		struct vhost_user_fs_backend_msg m;

		memset(&m, 0, sizeof(m));
		m.cache_offset[0] = moffset;
		m.len[0] = len;
		return vu_dev_backend_request(d, VHOST_USER_BACKEND_FS_UNMAP, &m, sizeof(m), -1);
	}
}
