// SPDX-License-Identifier: MIT
/* FUSE_SECURITY_CTX block parser: see fuse_secctx.h. */
#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

#include "fuse_secctx.h"

/* Records are padded to 8 bytes (the kernel's FUSE_REC_ALIGN). */
static size_t rec_align(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int fuse_secctx_parse(const void *buf, size_t len, struct fuse_secctx_item *out)
{
	const unsigned char *p = buf;
	struct fuse_secctx_header hdr;
	size_t pos;

	out->name = NULL;
	out->value = NULL;
	out->size = 0;
	if (len < sizeof(hdr))
		return -EINVAL;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.size != len || hdr.nr_secctx > FUSE_MAX_NR_SECCTX)
		return -EINVAL;
	pos = sizeof(hdr);
	for (uint32_t i = 0; i < hdr.nr_secctx; i++) {
		struct fuse_secctx ctx;
		const char *name;
		size_t namelen, rec;

		if (len - pos < sizeof(ctx))
			return -EINVAL;
		memcpy(&ctx, p + pos, sizeof(ctx));
		if (ctx.size > FUSE_SECCTX_VALUE_MAX)
			return -EINVAL;
		name = (const char *)p + pos + sizeof(ctx);
		namelen = strnlen(name, len - pos - sizeof(ctx));
		if (namelen == len - pos - sizeof(ctx) || !namelen ||
		    namelen > FUSE_SECCTX_NAME_MAX)
			return -EINVAL; /* no NUL inside the block, empty or too long */
		rec = sizeof(ctx) + namelen + 1;
		if (ctx.size > len - pos - rec)
			return -EINVAL;
		if (!out->name) {
			out->name = name;
			out->value = p + pos + rec;
			out->size = ctx.size;
		}
		rec += ctx.size;
		/* Every record, the last included, is padded (the kernel counts it so). */
		if (rec_align(rec) > len - pos)
			return -EINVAL;
		pos += rec_align(rec);
	}
	return pos == len ? 0 : -EINVAL;
}
