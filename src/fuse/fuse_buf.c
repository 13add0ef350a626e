// SPDX-License-Identifier: MIT
#include "fuse_buf.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int fuse_buf_take(struct fuse_buf *b, size_t len, const void **out)
{
	if (len > b->size - b->pos)
		return -EINVAL;
	*out = b->data + b->pos;
	b->pos += len;
	return 0;
}

int fuse_buf_take_copy(struct fuse_buf *b, void *dst, size_t len)
{
	const void *p;
	int err = fuse_buf_take(b, len, &p);

	if (!err)
		memcpy(dst, p, len);
	return err;
}

int fuse_buf_take_str(struct fuse_buf *b, size_t max, const char **out)
{
	size_t left = b->size - b->pos;
	const uint8_t *start = b->data + b->pos;
	const uint8_t *nul;

	/* Look at most max + 1 bytes (the string and its NUL); max may be SIZE_MAX. */
	nul = memchr(start, '\0', max < left ? max + 1 : left);
	if (!nul)
		return -EINVAL; /* unterminated, or longer than @max */
	*out = (const char *)start;
	b->pos += (size_t)(nul - start) + 1;
	return 0;
}

int fuse_buf_take_name(struct fuse_buf *b, int dots, const char **out)
{
	size_t save = b->pos;
	const char *name;
	int err;

	err = fuse_buf_take_str(b, b->size - b->pos, &name);
	if (err)
		return err;
	if (strlen(name) > NAME_MAX) {
		b->pos = save;
		return -ENAMETOOLONG;
	}
	if (!name[0] || strchr(name, '/') ||
	    (!dots && (!strcmp(name, ".") || !strcmp(name, "..")))) {
		b->pos = save;
		return -EINVAL;
	}
	*out = name;
	return 0;
}
