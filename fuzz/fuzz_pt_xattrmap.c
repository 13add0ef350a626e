// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the --xattrmap rule parser and the name mapping
 * (src/fs/pt_xattrmap.c). The rules come from the command line, the names
 * from the guest (GET/SET/REMOVEXATTR) and the host (LISTXATTR).
 *
 * Input: RULES NUL LIST, where LIST is a listxattr-style run of
 * NUL-terminated names (used both as a host list and, name by name, as
 * guest names).
 * Checked: no crash (ASan/UBSan; every piece in an exact-size heap block);
 * a mapped guest name is NUL-terminated and at most 255 bytes; a mapped
 * list is never longer, ends with a NUL and holds no empty name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "pt_xattrmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t spec_len = nul ? (size_t)(nul - data) : size;
	size_t list_len = nul ? size - spec_len - 1 : 0;
	const uint8_t *list = nul ? nul + 1 : data + size;
	char *spec, *listbuf, *names;
	struct pt_xattrmap *m = NULL;
	char err[128];

	spec = malloc(spec_len + 1);
	listbuf = malloc(list_len ? list_len : 1);
	names = malloc(list_len + 1);
	if (!spec || !listbuf || !names)
		goto out;
	memcpy(spec, data, spec_len);
	spec[spec_len] = 0;
	if (pt_xattrmap_parse(spec, &m, err, sizeof(err))) {
		FUZZ_CHECK(strlen(err) < sizeof(err) && err[0], "a parse error without a reason");
		goto out;
	}
	memcpy(listbuf, list, list_len);
	memcpy(names, list, list_len);
	names[list_len] = 0;
	for (size_t pos = 0; pos < list_len;) {
		char out[PT_XATTR_NAME_MAX + 1];
		size_t l = strlen(names + pos);
		int r = pt_xattrmap_to_host(m, names + pos, out, sizeof(out));

		FUZZ_CHECK(r == 0 || r == -EPERM || r == -EOPNOTSUPP || r == -ERANGE, "error %d", r);
		if (!r)
			FUZZ_CHECK(strnlen(out, sizeof(out)) <= PT_XATTR_NAME_MAX, "name too long");
		pos += l + 1;
	}
	size_t n = pt_xattrmap_list(m, listbuf, list_len);

	FUZZ_CHECK(n <= list_len, "list grew: %zu > %zu", n, list_len);
	FUZZ_CHECK(!n || listbuf[n - 1] == 0, "list does not end with a NUL");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(listbuf[i] || (i > 0 && listbuf[i - 1]), "empty name at %zu", i);
	FUZZ_CHECK(!n || listbuf[0], "empty first name");
out:
	pt_xattrmap_free(m);
	free(spec);
	free(listbuf);
	free(names);
	return 0;
}
