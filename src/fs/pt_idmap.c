// SPDX-License-Identifier: MIT
/* --translate-uid/--translate-gid (see pt_idmap.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt_idmap.h"

static int fail(const char **why, const char *msg, int err)
{
	if (why)
		*why = msg;
	return err;
}

/* Split "type<sep>a<sep>b..." into the type and up to 3 numbers. Returns the count or -EINVAL. */
static int split(const char *s, char *type, size_t tsize, uint32_t *v, const char **why)
{
	size_t t = 0;
	char sep;
	int n = 0;

	while (*s && (isalnum((unsigned char)*s) || *s == '-' || *s == '_')) {
		if (t + 1 >= tsize)
			return fail(why, "unknown type", -EINVAL);
		type[t++] = (char)tolower((unsigned char)*s++);
	}
	type[t] = 0;
	if (!*s)
		return fail(why, "expected TYPE:ID:...:COUNT", -EINVAL);
	sep = *s++;
	for (;;) {
		char *end;
		unsigned long x;

		if (n == 3)
			return fail(why, "too many fields", -EINVAL);
		if (!isdigit((unsigned char)*s))
			return fail(why, "expected a number", -EINVAL);
		errno = 0;
		x = strtoul(s, &end, 10);
		if (errno || x > UINT32_MAX)
			return fail(why, "number out of range", -EINVAL);
		v[n++] = (uint32_t)x;
		s = end;
		if (!*s)
			return n;
		if (*s != sep)
			return fail(why, "inconsistent separator", -EINVAL);
		s++;
	}
}

static int push(struct pt_idmap_rule *rules, unsigned *n, enum pt_idmap_kind kind, uint32_t from,
		uint32_t to, uint32_t count, const char **why)
{
	if (!count)
		return fail(why, "count must be at least 1", -EINVAL);
	if ((uint64_t)from + count - 1 > UINT32_MAX ||
	    (kind == PT_IDMAP_RANGE && (uint64_t)to + count - 1 > UINT32_MAX))
		return fail(why, "range past 4294967295", -EINVAL);
	if (*n >= PT_IDMAP_MAX_RULES)
		return fail(why, "too many rules", -ENOSPC);
	rules[*n].kind = kind;
	rules[*n].from = from;
	rules[*n].to = to;
	rules[*n].count = count;
	(*n)++;
	return 0;
}

int pt_idmap_add(struct pt_idmap *m, const char *s, const char **why)
{
	char type[16];
	uint32_t v[3];
	int n, err;

	n = split(s, type, sizeof(type), v, why);
	if (n < 0)
		return n;
	if (!strcmp(type, "forbid-guest")) {
		if (n != 2)
			return fail(why, "forbid-guest takes GUEST:COUNT", -EINVAL);
		return push(m->to_host, &m->n_to_host, PT_IDMAP_FORBID, v[0], 0, v[1], why);
	}
	if (n != 3)
		return fail(why, "expected TYPE:FROM:TO:COUNT", -EINVAL);
	if (!strcmp(type, "guest"))
		return push(m->to_host, &m->n_to_host, PT_IDMAP_RANGE, v[0], v[1], v[2], why);
	if (!strcmp(type, "host"))
		return push(m->to_guest, &m->n_to_guest, PT_IDMAP_RANGE, v[0], v[1], v[2], why);
	if (!strcmp(type, "squash-guest"))
		return push(m->to_host, &m->n_to_host, PT_IDMAP_SQUASH, v[0], v[1], v[2], why);
	if (!strcmp(type, "squash-host"))
		return push(m->to_guest, &m->n_to_guest, PT_IDMAP_SQUASH, v[0], v[1], v[2], why);
	if (!strcmp(type, "map")) {
		err = push(m->to_host, &m->n_to_host, PT_IDMAP_RANGE, v[0], v[1], v[2], why);
		if (err)
			return err;
		err = push(m->to_guest, &m->n_to_guest, PT_IDMAP_RANGE, v[1], v[0], v[2], why);
		if (err)
			m->n_to_host--; /* all or nothing */
		return err;
	}
	return fail(why, "unknown type (guest, host, squash-guest, squash-host, forbid-guest, map)",
		    -EINVAL);
}

bool pt_idmap_empty(const struct pt_idmap *m)
{
	return !m || (!m->n_to_host && !m->n_to_guest);
}

/* The first rule covering @id, or NULL. */
static const struct pt_idmap_rule *find(const struct pt_idmap_rule *r, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++) {
		if (id - r[i].from < r[i].count) /* unsigned: also false below from */
			return &r[i];
	}
	return NULL;
}

static uint32_t apply(const struct pt_idmap_rule *r, uint32_t id)
{
	return r->kind == PT_IDMAP_SQUASH ? r->to : r->to + (id - r->from);
}

int pt_idmap_to_host(const struct pt_idmap *m, uint32_t guest, uint32_t *host)
{
	const struct pt_idmap_rule *r = m ? find(m->to_host, m->n_to_host, guest) : NULL;

	if (r && r->kind == PT_IDMAP_FORBID)
		return -EPERM;
	*host = r ? apply(r, guest) : guest;
	return 0;
}

uint32_t pt_idmap_to_guest(const struct pt_idmap *m, uint32_t host)
{
	const struct pt_idmap_rule *r = m ? find(m->to_guest, m->n_to_guest, host) : NULL;

	return r ? apply(r, host) : host;
}
