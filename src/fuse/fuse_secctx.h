/* SPDX-License-Identifier: MIT */
/*
 * FUSE_SECURITY_CTX (--security-label): the security context a guest LSM
 * (SELinux, Smack) wants on a new inode rides at the end of CREATE, MKDIR,
 * MKNOD, SYMLINK and TMPFILE, after the names:
 *
 *	struct fuse_secctx_header { size (of the whole block), nr_secctx }
 *	nr_secctx times, each padded to 8 bytes:
 *		struct fuse_secctx { size (of the value), padding }
 *		name (NUL-terminated xattr name), value (size bytes)
 *
 * Linux sends the block as its own argument (5.17 to 6.2) or as a request
 * extension (6.3 on, counted in fuse_in_header.total_extlen); either way
 * it is the bytes that follow the names, unaligned.
 */
#ifndef VUFS_FUSE_SECCTX_H
#define VUFS_FUSE_SECCTX_H

#include <stddef.h>
#include <stdint.h>

#define FUSE_SECCTX_NAME_MAX 255    /* XATTR_NAME_MAX */
#define FUSE_SECCTX_VALUE_MAX 65536 /* XATTR_SIZE_MAX */

struct fuse_secctx_item {
	const char *name;  /* NULL: the guest sent no context */
	const void *value; /* points into the parsed buffer */
	uint32_t size;
};

/*
 * Parse the block of exactly @len bytes at @buf (which must stay valid as
 * long as *@out is used). The first context is returned; further ones are
 * checked but not used (Linux sends at most one). Returns 0, or -EINVAL
 * for anything malformed (sizes that disagree, a name not NUL-terminated,
 * empty or too long, a value over FUSE_SECCTX_VALUE_MAX, trailing bytes).
 */
int fuse_secctx_parse(const void *buf, size_t len, struct fuse_secctx_item *out);

#endif /* VUFS_FUSE_SECCTX_H */
