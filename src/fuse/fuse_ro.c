// SPDX-License-Identifier: MIT
#include "fuse_ro.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <string.h>

int fuse_ro_check(uint32_t opcode, const void *args, size_t len)
{
	struct fuse_open_in open_in;

	switch (opcode) {
	case FUSE_SETATTR:
	case FUSE_SYMLINK:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_WRITE:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
		return -EROFS;
	case FUSE_OPEN:
		/* Too short: let the decoder reject it with its own error. */
		if (len < sizeof(open_in))
			return 0;
		memcpy(&open_in, args, sizeof(open_in));
		if ((open_in.flags & O_ACCMODE) != O_RDONLY || (open_in.flags & O_TRUNC))
			return -EROFS;
		return 0;
	default:
		return 0;
	}
}
