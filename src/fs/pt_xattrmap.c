// SPDX-License-Identifier: MIT
/* Extended attribute name mapping: see pt_xattrmap.h for the syntax and rules. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_xattrmap.h"

enum xm_type { XM_PREFIX, XM_OK, XM_BAD, XM_UNSUPPORTED };

enum { XM_CLIENT = 1, XM_SERVER = 2, XM_ALL = 3 };

struct xm_rule {
	enum xm_type type;
	unsigned scope;
	size_t key_len, prepend_len;
	char key[PT_XATTR_NAME_MAX + 1];
	char prepend[PT_XATTR_NAME_MAX + 1];
};

struct pt_xattrmap {
	unsigned n;
	struct xm_rule rules[];
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One field up to @sep, into @out (NUL-terminated, at most @max bytes). */
static int take_field(const char **p, char sep, char *out, size_t max, size_t *len)
{
	const char *s = *p, *e = strchr(s, sep);

	if (!e)
		return -EINVAL;
	if ((size_t)(e - s) > max)
		return -ERANGE;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = 0;
	if (len)
		*len = (size_t)(e - s);
	*p = e + 1;
	return 0;
}

static int add_rule(struct pt_xattrmap *m, unsigned cap, enum xm_type type, unsigned scope,
		    const char *key, const char *prepend)
{
	struct xm_rule *r;

	if (m->n >= cap)
		return -E2BIG;
	r = &m->rules[m->n++];
	r->type = type;
	r->scope = scope;
	r->key_len = strlen(key);
	r->prepend_len = strlen(prepend);
	memcpy(r->key, key, r->key_len + 1);
	memcpy(r->prepend, prepend, r->prepend_len + 1);
	return 0;
}

int pt_xattrmap_parse(const char *spec, struct pt_xattrmap **out, char *err, size_t errsize)
{
	char type[16], scope[16], key[PT_XATTR_NAME_MAX + 1], prepend[PT_XATTR_NAME_MAX + 1];
	const unsigned cap = PT_XATTRMAP_RULES_MAX;
	struct pt_xattrmap *m;
	const char *p = spec, *why = NULL;
	unsigned nrule = 0;
	bool have_map = false;
	int r = 0;

	if (err && errsize)
		err[0] = 0;
	if (!spec || strnlen(spec, PT_XATTRMAP_SPEC_MAX + 1) > PT_XATTRMAP_SPEC_MAX) {
		snprintf(err, errsize, "the rules are longer than %d bytes", PT_XATTRMAP_SPEC_MAX);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m) + cap * sizeof(m->rules[0]));
	if (!m)
		return -ENOMEM;
	for (;;) {
		char sep;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		nrule++;
		if (have_map) {
			why = "\"map\" must be the last rule";
			goto bad;
		}
		sep = *p++;
		r = take_field(&p, sep, type, sizeof(type) - 1, NULL);
		if (r) {
			why = r == -ERANGE ? "unknown type" : "incomplete rule";
			goto bad;
		}
		if (!strcmp(type, "map")) {
			if (take_field(&p, sep, key, PT_XATTR_NAME_MAX, NULL) ||
			    take_field(&p, sep, prepend, PT_XATTR_NAME_MAX, NULL)) {
				why = "incomplete rule, or a name over 255 bytes";
				goto bad;
			}
			have_map = true;
			if (!*key) {
				r = add_rule(m, cap, XM_PREFIX, XM_ALL, "", prepend);
				if (!r)
					r = add_rule(m, cap, XM_BAD, XM_ALL, "", "");
			} else {
				r = add_rule(m, cap, XM_PREFIX, XM_ALL, key, prepend);
				if (!r)
					r = add_rule(m, cap, XM_BAD, XM_SERVER, "", key);
				if (!r)
					r = add_rule(m, cap, XM_BAD, XM_CLIENT, prepend, "");
				if (!r)
					r = add_rule(m, cap, XM_OK, XM_ALL, "", "");
			}
		} else {
			enum xm_type t;
			unsigned sc;

			if (!strcmp(type, "prefix")) {
				t = XM_PREFIX;
			} else if (!strcmp(type, "ok")) {
				t = XM_OK;
			} else if (!strcmp(type, "bad")) {
				t = XM_BAD;
			} else if (!strcmp(type, "unsupported")) {
				t = XM_UNSUPPORTED;
			} else {
				why = "unknown type (prefix, ok, bad, unsupported, map)";
				goto bad;
			}
			r = take_field(&p, sep, scope, sizeof(scope) - 1, NULL);
			if (r == -EINVAL) {
				why = "incomplete rule";
				goto bad;
			}
			if (r || (strcmp(scope, "client") && strcmp(scope, "server") &&
				  strcmp(scope, "all"))) {
				why = "unknown scope (client, server, all)";
				goto bad;
			}
			sc = !strcmp(scope, "client") ? XM_CLIENT
			     : !strcmp(scope, "server") ? XM_SERVER
							: XM_ALL;
			if (take_field(&p, sep, key, PT_XATTR_NAME_MAX, NULL) ||
			    take_field(&p, sep, prepend, PT_XATTR_NAME_MAX, NULL)) {
				why = "incomplete rule, or a name over 255 bytes";
				goto bad;
			}
			r = add_rule(m, cap, t, sc, key, prepend);
		}
		if (r) {
			why = "too many rules";
			goto bad;
		}
	}
	if (!m->n) {
		snprintf(err, errsize, "no rules");
		free(m);
		return -EINVAL;
	}
	*out = m;
	return 0;

bad:
	snprintf(err, errsize, "rule %u: %s", nrule, why);
	free(m);
	return -EINVAL;
}

void pt_xattrmap_free(struct pt_xattrmap *m)
{
	free(m);
}

int pt_xattrmap_to_host(const struct pt_xattrmap *m, const char *name, char *out,
			size_t outsize)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < m->n; i++) {
		const struct xm_rule *r = &m->rules[i];

		if (!(r->scope & XM_CLIENT) || strncmp(name, r->key, r->key_len))
			continue;
		switch (r->type) {
		case XM_BAD:
			return -EPERM;
		case XM_UNSUPPORTED:
			return -EOPNOTSUPP;
		case XM_OK:
			if (len > PT_XATTR_NAME_MAX || len >= outsize)
				return -ERANGE;
			memcpy(out, name, len + 1);
			return 0;
		case XM_PREFIX:
			if (r->prepend_len + len > PT_XATTR_NAME_MAX ||
			    r->prepend_len + len >= outsize)
				return -ERANGE;
			memcpy(out, r->prepend, r->prepend_len);
			memcpy(out + r->prepend_len, name, len + 1);
			return 0;
		}
	}
	return -EPERM; /* no rule: the map is not terminated for this name */
}

size_t pt_xattrmap_list(const struct pt_xattrmap *m, char *buf, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		const char *name = buf + in;
		size_t n = strnlen(name, len - in), keep_from = 0;
		bool keep = false;

		if (in + n == len)
			break; /* no NUL: not a name */
		if (!n) {
			in++; /* an empty name is no name: dropped */
			continue;
		}
		for (unsigned i = 0; i < m->n; i++) {
			const struct xm_rule *r = &m->rules[i];

			if (!(r->scope & XM_SERVER) || r->prepend_len > n ||
			    memcmp(name, r->prepend, r->prepend_len))
				continue;
			if (r->type == XM_OK) {
				keep = true;
			} else if (r->type == XM_PREFIX) {
				keep = n > r->prepend_len; /* an empty name is not one */
				keep_from = r->prepend_len;
			}
			break;
		}
		if (keep) {
			size_t l = n - keep_from;

			memmove(buf + out, name + keep_from, l);
			buf[out + l] = 0;
			out += l + 1;
		}
		in += n + 1;
	}
	return out;
}
