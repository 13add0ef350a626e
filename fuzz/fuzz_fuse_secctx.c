// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the FUSE_SECURITY_CTX block parser (src/fuse/fuse_secctx.c),
 * which reads guest bytes at the end of CREATE, MKDIR, MKNOD, SYMLINK and TMPFILE.
 *
 * Input: the block, as is (in an exact-size heap block, so ASan sees any over-read).
 * Checked: no crash; a parsed context's name is NUL-terminated, 1 to 255 bytes,
 * and it and the value lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_secctx.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_secctx_item it;
	unsigned char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (fuse_secctx_parse(buf, size, &it) == 0 && it.name) {
		const unsigned char *n = (const unsigned char *)it.name;
		const unsigned char *v = it.value;
		size_t l;

		FUZZ_CHECK(n > buf && n < buf + size, "name outside the block");
		l = strnlen(it.name, (size_t)(buf + size - n));
		FUZZ_CHECK(l >= 1 && l <= FUSE_SECCTX_NAME_MAX && n + l < buf + size,
			   "bad name length %zu", l);
		FUZZ_CHECK(v >= buf && it.size <= (size_t)(buf + size - v), "value outside the block");
	}
	free(buf);
	return 0;
}
