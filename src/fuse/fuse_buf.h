/* SPDX-License-Identifier: MIT */
/*
 * Bounded input cursor over a FUSE request's arguments. The bytes are the
 * daemon's private copy of what the guest sent, so a value checked here
 * cannot change afterwards. Every take either returns a pointer inside the
 * buffer and advances, or fails with -EINVAL and does not move.
 */
#ifndef VUFS_FUSE_BUF_H
#define VUFS_FUSE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct fuse_buf {
	const uint8_t *data;
	size_t size;
	size_t pos;
};

static inline void fuse_buf_init(struct fuse_buf *b, const void *data, size_t size)
{
	b->data = data;
	b->size = size;
	b->pos = 0;
}

static inline size_t fuse_buf_left(const struct fuse_buf *b)
{
	return b->size - b->pos;
}

/* Take @len bytes. */
int fuse_buf_take(struct fuse_buf *b, size_t len, const void **out);
/* Take a NUL-terminated string of at most @max bytes (without the NUL). */
int fuse_buf_take_str(struct fuse_buf *b, size_t max, const char **out);
/*
 * Take a file name: one path component, NUL-terminated, 1..NAME_MAX bytes,
 * no '/'. "." and ".." are accepted only if @dots (LOOKUP); everywhere
 * else they are -EINVAL.
 */
int fuse_buf_take_name(struct fuse_buf *b, int dots, const char **out);

/* Copy a fixed-size struct: FUSE_BUF_TAKE_OBJ(b, &obj) */
#define FUSE_BUF_TAKE_OBJ(b, objp) fuse_buf_take_copy((b), (objp), sizeof(*(objp)))
int fuse_buf_take_copy(struct fuse_buf *b, void *dst, size_t len);

#endif /* VUFS_FUSE_BUF_H */
