/* SPDX-License-Identifier: MIT */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst).
 *
 * The kernel's uapi headers describe vhost (the kernel backend) but not the
 * vhost-user socket protocol, so the message codes, flags and the payload
 * layouts that differ from vhost's are defined here, once, for the daemon,
 * the test front-end and the fuzzers. Payloads that vhost-user shares with
 * vhost (struct vhost_vring_state, struct vhost_vring_addr) come from
 * <linux/vhost_types.h>.
 */
#ifndef VUFS_VHOST_USER_H
#define VUFS_VHOST_USER_H

#include <stdint.h>
#include <linux/vhost_types.h>

enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_GET_SHARED_OBJECT = 41,
	VHOST_USER_SET_DEVICE_STATE_FD = 42,
	VHOST_USER_CHECK_DEVICE_STATE = 43,
	VHOST_USER_GET_SHMEM_CONFIG = 44, /* QEMU 11: sizes of the device's shared memory regions */
	VHOST_USER_MAX,
};

/* Backend-to-frontend requests on the backend channel (SET_BACKEND_REQ_FD). */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_NONE = 0,
	VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	/*
	 * The virtio-fs DAX draft's form, as cloud-hypervisor (the rust-vmm vhost
	 * crate) still sends and serves it: 8 entries per message, the window is
	 * the VMM's. Upstream QEMU reuses 6 for SHARED_OBJECT_LOOKUP: we send these
	 * only to a frontend that did not negotiate VHOST_USER_PROTOCOL_F_SHMEM.
	 */
	VHOST_USER_BACKEND_FS_MAP = 6,
	VHOST_USER_BACKEND_FS_UNMAP = 7,
	/* QEMU 11: map/unmap a file range into a VIRTIO shared memory region. */
	VHOST_USER_BACKEND_SHMEM_MAP = 9,
	VHOST_USER_BACKEND_SHMEM_UNMAP = 10,
	VHOST_USER_BACKEND_MAX,
};

/* Header flags. */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* Feature bit that announces the protocol-features extension (GET_FEATURES). */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
enum vhost_user_protocol_feature {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_NET_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
	VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
	VHOST_USER_PROTOCOL_F_XEN_MMAP = 17,
	VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18,
	VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19,
	/* 20, 21: not offered */
	VHOST_USER_PROTOCOL_F_SHMEM = 22, /* QEMU 11.1 (bit 20 in the patch drafts) */
};

/* SET_VRING_KICK/CALL/ERR payload: ring index in the low byte, "no fd" flag. */
#define VHOST_USER_VRING_IDX_MASK 0xffull
#define VHOST_USER_VRING_NOFD_MASK (1ull << 8)

/* At most this many fds ride on one message; at most this many regions in SET_MEM_TABLE. */
#define VHOST_USER_MAX_FDS 8
#define VHOST_USER_MEMORY_MAX_NREGIONS 8

struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* bytes of payload that follow */
} __attribute__((packed));

/*
 * vhost-user memory region. Unlike struct vhost_memory_region it carries the
 * offset into the fd that backs the region.
 */
struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* the frontend's virtual address: ring addresses use it */
	uint64_t mmap_offset;
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MEMORY_MAX_NREGIONS];
};

/* ADD_MEM_REG / REM_MEM_REG payload. */
struct vhost_user_mem_reg {
	uint64_t padding;
	struct vhost_user_mem_region region;
};

/* SET_LOG_BASE payload (with LOG_SHMFD: the log's fd rides along). */
struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* SET_DEVICE_STATE_FD payload. */
struct vhost_user_device_state {
	uint32_t direction; /* 0: save (source), 1: load (destination) */
	uint32_t phase;     /* 0: stopped, the only phase defined */
};

/* GET_CONFIG / SET_CONFIG payload: a window of the device's config space. */
#define VHOST_USER_MAX_CONFIG_SIZE 256
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
};
#define VHOST_USER_CONFIG_HDR_SIZE 12u

/* GET_SHMEM_CONFIG reply: the size of each shared memory region (shmid = index). */
#define VHOST_USER_MAX_SHMEM_REGIONS 256
struct vhost_user_shmem_config {
	uint32_t nregions;
	uint32_t padding;
	uint64_t memory_sizes[VHOST_USER_MAX_SHMEM_REGIONS];
};

/* Backend SHMEM_MAP / SHMEM_UNMAP payload (the file fd rides with MAP). */
#define VHOST_USER_SHMEM_MAP_RW (1ull << 0)
struct vhost_user_shmem_map {
	uint8_t shmid;
	uint8_t padding[7];
	uint64_t fd_offset;
	uint64_t shm_offset;
	uint64_t len;
	uint64_t flags;
};

/* Backend FS_MAP / FS_UNMAP payload (cloud-hypervisor): up to 8 ranges, one fd. */
#define VHOST_USER_FS_BACKEND_ENTRIES 8
#define VHOST_USER_FS_FLAG_MAP_R (1ull << 0)
#define VHOST_USER_FS_FLAG_MAP_W (1ull << 1)
struct vhost_user_fs_backend_msg {
	uint64_t fd_offset[VHOST_USER_FS_BACKEND_ENTRIES];
	uint64_t cache_offset[VHOST_USER_FS_BACKEND_ENTRIES];
	uint64_t len[VHOST_USER_FS_BACKEND_ENTRIES];
	uint64_t flags[VHOST_USER_FS_BACKEND_ENTRIES];
};

union vhost_user_payload {
	uint64_t u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_user_memory memory;
	struct vhost_user_mem_reg mem_reg;
	struct vhost_user_log log;
	struct vhost_user_device_state device_state;
	struct vhost_user_config config;
	struct vhost_user_shmem_config shmem_config;
	struct vhost_user_shmem_map shmem_map;
	struct vhost_user_fs_backend_msg fs_map;
};

struct vhost_user_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload payload;
} __attribute__((packed));

/* The request's name for logs ("UNKNOWN" if not a known request). */
const char *vhost_user_request_name(uint32_t request);
/* Same for a backend-channel request. */
const char *vhost_user_backend_request_name(uint32_t request);

#endif /* VUFS_VHOST_USER_H */
