// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the mapped-device-node attribute parser
 * (pt_devnode_parse, src/fs/pt_devnode.c) and the listxattr filter. The
 * value is read from the host, where a host user can write any bytes.
 *
 * Input: the attribute value, as is.
 * Checked: no crash (ASan/UBSan; the value sits in an exact-size heap
 * block); a parsed value is within bounds and formats back to exactly the
 * input (the parser accepts only the canonical form); the filter never
 * grows the list and leaves no reserved name in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "pt_devnode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[PT_DEVNODE_VALUE_MAX + 1];
	struct pt_devnode d;
	char *buf = malloc(size ? size : 1);
	size_t n, pos;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (pt_devnode_parse(buf, size, &d) == 0) {
		int len;

		FUZZ_CHECK(d.type == S_IFCHR || d.type == S_IFBLK, "type 0%o", d.type);
		FUZZ_CHECK(d.major <= PT_DEVNODE_MAJOR_MAX && d.minor <= PT_DEVNODE_MINOR_MAX,
			   "device %u:%u", d.major, d.minor);
		FUZZ_CHECK(!(d.perm & ~(mode_t)07777), "perm 0%o", d.perm);
		len = pt_devnode_format(&d, out, sizeof(out));
		FUZZ_CHECK(len >= 0 && (size_t)len == size && !memcmp(out, buf, size),
			   "accepted a non-canonical value (formats to %d bytes)", len);
	}
	n = pt_devnode_filter_list(buf, size);
	FUZZ_CHECK(n <= size, "filter grew the list: %zu > %zu", n, size);
	for (pos = 0; pos < n;) {
		size_t l = strnlen(buf + pos, n - pos);

		FUZZ_CHECK(l != sizeof(PT_DEVNODE_XATTR) - 1 ||
				   memcmp(buf + pos, PT_DEVNODE_XATTR, l),
			   "reserved name left in the list at %zu", pos);
		pos += l + 1;
	}
	free(buf);
	return 0;
}
