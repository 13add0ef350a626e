/* SPDX-License-Identifier: MIT */
/*
 * UID/GID translation between guest and host done by the daemon itself
 * (--translate-uid / --translate-gid, the Rust virtiofsd 1.13 syntax), as
 * opposed to --uid-map/--gid-map, which the user namespace does.
 *
 * A rule is TYPE:A:B:COUNT (forbid-guest: TYPE:A:COUNT); the separator is
 * the first character that is not a letter, digit, '-' or '_', and must be
 * the same throughout:
 *   guest:G:H:N         guest ids [G, G+N) are host ids [H, H+N)    (guest -> host)
 *   host:H:G:N          host ids [H, H+N) are guest ids [G, G+N)    (host -> guest)
 *   squash-guest:G:H:N  guest ids [G, G+N) all become host id H     (guest -> host)
 *   squash-host:H:G:N   host ids [H, H+N) all become guest id G     (host -> guest)
 *   forbid-guest:G:N    guest ids [G, G+N) may not be used: EPERM   (guest -> host)
 *   map:G:H:N           guest:G:H:N and host:H:G:N together
 * An id no rule covers maps to itself; the first matching rule of a
 * direction wins. Guest -> host applies to the credentials a request runs
 * with and to the owner a SETATTR sets; host -> guest to the owners in
 * every attribute reply.
 *
 * Immutable after parsing: thread-safe to read.
 */
#ifndef VUFS_PT_IDMAP_H
#define VUFS_PT_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

enum pt_idmap_kind {
	PT_IDMAP_RANGE,  /* [from, from+count) -> [to, to+count) */
	PT_IDMAP_SQUASH, /* [from, from+count) -> to */
	PT_IDMAP_FORBID, /* [from, from+count) -> EPERM */
};

struct pt_idmap_rule {
	enum pt_idmap_kind kind;
	uint32_t from, to, count;
};

#define PT_IDMAP_MAX_RULES 32

/* One direction pair for uids or for gids. */
struct pt_idmap {
	struct pt_idmap_rule to_host[PT_IDMAP_MAX_RULES];  /* guest -> host */
	struct pt_idmap_rule to_guest[PT_IDMAP_MAX_RULES]; /* host -> guest */
	unsigned n_to_host, n_to_guest;
};

/*
 * Add one --translate-uid/--translate-gid rule @s to @m. Returns 0, or
 * -EINVAL (bad syntax, count 0 or a range past 2^32-1) or -ENOSPC (too many
 * rules), with a one-line reason in @why (which may be NULL).
 */
int pt_idmap_add(struct pt_idmap *m, const char *s, const char **why);
/* True if @m has no rule (every id maps to itself). NULL is empty. */
bool pt_idmap_empty(const struct pt_idmap *m);
/* Guest id -> host id: 0, or -EPERM for a forbidden id. NULL @m: identity. */
int pt_idmap_to_host(const struct pt_idmap *m, uint32_t guest, uint32_t *host);
/* Host id -> guest id. NULL @m: identity. */
uint32_t pt_idmap_to_guest(const struct pt_idmap *m, uint32_t host);

#endif /* VUFS_PT_IDMAP_H */
