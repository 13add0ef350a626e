// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the migration state parser (src/migr/migr_state.c),
 * which reads the stream a source daemon sent through QEMU. Checked: no
 * crash (ASan/UBSan); an accepted stream re-encodes and decodes to the same
 * counts (the parser only accepts what the writer can produce).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migr_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migr_state s, t;
	char err[256];
	uint8_t *buf;
	size_t len;

	if (migr_state_decode(data, size, &s, err, sizeof(err)) == 0) {
		if (migr_state_encode(&s, &buf, &len) == 0) {
			if (migr_state_decode(buf, len, &t, err, sizeof(err)) != 0 ||
			    t.ninodes != s.ninodes || t.nhandles != s.nhandles ||
			    t.nlocks != s.nlocks)
				abort();
			for (size_t i = 0; i < s.ninodes; i++) {
				if (!!s.inodes[i].path != !!t.inodes[i].path ||
				    (s.inodes[i].path && strcmp(s.inodes[i].path, t.inodes[i].path)))
					abort();
			}
			migr_state_free(&t);
			free(buf);
		}
	}
	migr_state_free(&s);
	return 0;
}
