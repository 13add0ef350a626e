/* SPDX-License-Identifier: MIT */
/*
 * Extended attribute name mapping (--xattrmap), with the Rust virtiofsd's
 * rule syntax (its doc/xattr-mapping.md):
 *
 *	RULE  := SEP TYPE SEP SCOPE SEP KEY SEP PREPEND SEP
 *	       | SEP "map" SEP KEY SEP PREPEND SEP     (only as the last rule)
 *	TYPE  := "prefix" | "ok" | "bad" | "unsupported"
 *	SCOPE := "client" | "server" | "all"
 *
 * SEP is the first non-blank character of each rule and may differ
 * between rules; blanks may separate rules. KEY and PREPEND are byte
 * strings (no NUL, no SEP, at most 255 bytes each).
 *
 * A guest ("client") name in GET/SET/REMOVEXATTR goes through the first
 * rule with client scope whose KEY prefixes it: prefix gives PREPEND +
 * name, ok the name unchanged, bad -EPERM, unsupported -EOPNOTSUPP. A host
 * ("server") name in a LISTXATTR result goes through the first rule with
 * server scope whose PREPEND prefixes it: prefix strips PREPEND, ok keeps
 * it, bad and unsupported hide it. A name no rule matches is refused
 * (-EPERM) from the guest and hidden from lists.
 *
 * "map" KEY PREPEND stands for, with KEY empty:
 *	prefix all "" PREPEND;  bad all "" ""
 * and otherwise:
 *	prefix all KEY PREPEND;  bad server "" KEY;  bad client PREPEND "";  ok all "" ""
 * e.g. ":map::user.virtiofs.:" keeps every guest name, security.* and
 * trusted.* included, under user.virtiofs. on the host.
 */
#ifndef VUFS_PT_XATTRMAP_H
#define VUFS_PT_XATTRMAP_H

#include <stddef.h>
#include <sys/types.h>

struct pt_xattrmap;

#define PT_XATTRMAP_SPEC_MAX 65536 /* bytes of rules */
#define PT_XATTRMAP_RULES_MAX 256  /* after expanding "map" */
#define PT_XATTR_NAME_MAX 255      /* XATTR_NAME_MAX */

/*
 * Parse @spec. Returns 0 and a new map in *@out, or -EINVAL with a reason
 * (naming the rule) in @err, or -ENOMEM.
 */
int pt_xattrmap_parse(const char *spec, struct pt_xattrmap **out, char *err, size_t errsize);
void pt_xattrmap_free(struct pt_xattrmap *m);

/*
 * Map guest name @name to the host's: 0 and a NUL-terminated name in
 * @out; -EPERM (bad, or no rule), -EOPNOTSUPP (unsupported), or -ERANGE
 * when the mapped name is longer than PT_XATTR_NAME_MAX (or @outsize).
 */
int pt_xattrmap_to_host(const struct pt_xattrmap *m, const char *name, char *out,
			size_t outsize);

/*
 * Rewrite a host listxattr(2) result (@len bytes of NUL-terminated names)
 * in place into what the guest sees; the result is never longer. Returns
 * the new length. Empty names, and a last name without its NUL, are dropped.
 */
size_t pt_xattrmap_list(const struct pt_xattrmap *m, char *buf, size_t len);

#endif /* VUFS_PT_XATTRMAP_H */
