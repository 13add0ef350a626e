// SPDX-License-Identifier: MIT
#include "migr_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_LEN (MIGR_MAGIC_LEN + 8)
#define REC_HDR_LEN 8
#define SESSION_LEN_1_0 24
#define SESSION_LEN 40
#define INODE_FIXED_LEN 60
#define HANDLE_LEN 32
#define LOCK_LEN 48
#define END_LEN 8

int migr_mode_parse(const char *s, enum migr_mode *out)
{
	if (!strcmp(s, "find-paths"))
		*out = MIGR_MODE_FIND_PATHS;
	else if (!strcmp(s, "file-handles"))
		*out = MIGR_MODE_FILE_HANDLES;
	else
		return -EINVAL;
	return 0;
}

int migr_on_error_parse(const char *s, enum migr_on_error *out)
{
	if (!strcmp(s, "abort"))
		*out = MIGR_ON_ERROR_ABORT;
	else if (!strcmp(s, "guest-error"))
		*out = MIGR_ON_ERROR_GUEST_ERROR;
	else
		return -EINVAL;
	return 0;
}

void migr_state_init(struct migr_state *s)
{
	memset(s, 0, sizeof(*s));
}

void migr_state_free(struct migr_state *s)
{
	for (size_t i = 0; i < s->ninodes; i++)
		free(s->inodes[i].path);
	free(s->inodes);
	free(s->handles);
	free(s->locks);
	migr_state_init(s);
}

/* Make room for one more element of @size in *@v (count @n, capacity *@cap, at most @max). */
static int reserve(void **v, size_t n, size_t *cap, size_t size, size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > max)
		ncap = max;
	p = realloc(*v, ncap * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

bool migr_path_ok(const char *path, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return true; /* the share itself */
	if (len > MIGR_MAX_PATH || memchr(path, '\0', len))
		return false;
	while (i < len) {
		size_t j = i;

		while (j < len && path[j] != '/')
			j++;
		if (j == i) /* empty component: leading, doubled or trailing slash */
			return false;
		if ((j - i == 1 && path[i] == '.') || (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		if (j == len)
			break;
		i = j + 1;
		if (i == len)
			return false; /* trailing slash */
	}
	return true;
}

int migr_state_add_inode(struct migr_state *s, const struct migr_inode *in)
{
	struct migr_inode *d;
	int err;

	if (in->fh_bytes > MIGR_MAX_FH ||
	    (in->path && !migr_path_ok(in->path, strlen(in->path))))
		return -EINVAL;
	err = reserve((void **)&s->inodes, s->ninodes, &s->cap_inodes, sizeof(*s->inodes),
		      MIGR_MAX_INODES);
	if (err)
		return err;
	d = &s->inodes[s->ninodes];
	*d = *in;
	d->path = NULL;
	if (in->path) {
		d->path = strdup(in->path);
		if (!d->path)
			return -ENOMEM;
		d->flags |= MIGR_INODE_HAS_PATH;
	} else {
		d->flags &= ~MIGR_INODE_HAS_PATH;
	}
	s->ninodes++;
	return 0;
}

int migr_state_add_handle(struct migr_state *s, const struct migr_handle *h)
{
	int err = reserve((void **)&s->handles, s->nhandles, &s->cap_handles, sizeof(*h),
			  MIGR_MAX_HANDLES);

	if (!err)
		s->handles[s->nhandles++] = *h;
	return err;
}

int migr_state_add_lock(struct migr_state *s, const struct migr_lock *l)
{
	int err = reserve((void **)&s->locks, s->nlocks, &s->cap_locks, sizeof(*l),
			  MIGR_MAX_LOCKS);

	if (!err)
		s->locks[s->nlocks++] = *l;
	return err;
}

uint32_t migr_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

/* ---- writer ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static uint8_t *wb_take(struct wbuf *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > MIGR_MAX_STREAM - w->len) {
		w->err = -E2BIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *np;

		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (!np) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->p = np;
		w->cap = cap;
	}
	w->len += n;
	return w->p + w->len - n;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wb_u16(struct wbuf *w, uint16_t v)
{
	uint8_t *p = wb_take(w, 2);

	if (p)
		put_le(p, v, 2);
}

static void wb_u32(struct wbuf *w, uint32_t v)
{
	uint8_t *p = wb_take(w, 4);

	if (p)
		put_le(p, v, 4);
}

static void wb_u64(struct wbuf *w, uint64_t v)
{
	uint8_t *p = wb_take(w, 8);

	if (p)
		put_le(p, v, 8);
}

static void wb_bytes(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *p = wb_take(w, n);

	if (p && n)
		memcpy(p, src, n);
}

static void wb_rec(struct wbuf *w, uint16_t type, size_t len)
{
	wb_u16(w, type);
	wb_u16(w, 0);
	wb_u32(w, (uint32_t)len);
}

int migr_state_encode(const struct migr_state *s, uint8_t **buf, size_t *len)
{
	struct wbuf w = { 0 };
	uint32_t nrec = 0;

	wb_bytes(&w, MIGR_MAGIC, MIGR_MAGIC_LEN);
	wb_u16(&w, MIGR_VERSION_MAJOR);
	wb_u16(&w, MIGR_VERSION_MINOR);
	wb_u32(&w, 0);

	wb_rec(&w, MIGR_REC_SESSION, SESSION_LEN);
	wb_u32(&w, s->session.initialized ? 1 : 0);
	wb_u32(&w, s->session.minor);
	wb_u64(&w, s->session.flags);
	wb_u32(&w, s->session.max_write);
	wb_u32(&w, s->session.mode);
	wb_u64(&w, s->session.share_dev);
	wb_u64(&w, s->session.share_ino);
	nrec++;

	for (size_t i = 0; i < s->ninodes; i++) {
		const struct migr_inode *in = &s->inodes[i];
		size_t plen = in->path ? strlen(in->path) : 0;
		uint32_t fhb = in->fh_bytes <= MIGR_MAX_FH ? in->fh_bytes : 0;

		wb_rec(&w, MIGR_REC_INODE, INODE_FIXED_LEN + fhb + plen);
		wb_u64(&w, in->nodeid);
		wb_u64(&w, in->nlookup);
		wb_u32(&w, in->mode);
		wb_u32(&w, (in->flags & ~MIGR_INODE_HAS_PATH) | (in->path ? MIGR_INODE_HAS_PATH : 0));
		wb_u64(&w, in->dev);
		wb_u64(&w, in->ino);
		wb_u64(&w, in->mnt_id);
		wb_u32(&w, (uint32_t)in->fh_type);
		wb_u32(&w, fhb);
		wb_u32(&w, (uint32_t)plen);
		wb_bytes(&w, in->fh, fhb);
		wb_bytes(&w, in->path, plen);
		nrec++;
	}
	for (size_t i = 0; i < s->nhandles; i++) {
		const struct migr_handle *h = &s->handles[i];

		wb_rec(&w, MIGR_REC_HANDLE, HANDLE_LEN);
		wb_u64(&w, h->fh);
		wb_u64(&w, h->nodeid);
		wb_u32(&w, h->open_flags);
		wb_u32(&w, h->is_dir ? 1 : 0);
		wb_u64(&w, h->dir_off);
		nrec++;
	}
	for (size_t i = 0; i < s->nlocks; i++) {
		const struct migr_lock *l = &s->locks[i];

		wb_rec(&w, MIGR_REC_LOCK, LOCK_LEN);
		wb_u64(&w, l->fh);
		wb_u32(&w, l->kind);
		wb_u32(&w, l->type);
		wb_u64(&w, l->start);
		wb_u64(&w, l->end);
		wb_u64(&w, l->owner);
		wb_u32(&w, l->pid);
		wb_u32(&w, 0);
		nrec++;
	}
	if (!w.err) {
		uint32_t crc = migr_crc32(0, w.p, w.len);

		wb_rec(&w, MIGR_REC_END, END_LEN);
		wb_u32(&w, nrec);
		wb_u32(&w, crc);
	}
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* ---- reader ---- */

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
};

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Take @n bytes; NULL if fewer remain. */
static const uint8_t *rb_take(struct rbuf *r, size_t n)
{
	if (n > r->len - r->pos)
		return NULL;
	r->pos += n;
	return r->p + r->pos - n;
}

static int rb_u16(struct rbuf *r, uint16_t *v)
{
	const uint8_t *p = rb_take(r, 2);

	if (!p)
		return -EBADMSG;
	*v = (uint16_t)get_le(p, 2);
	return 0;
}

static int rb_u32(struct rbuf *r, uint32_t *v)
{
	const uint8_t *p = rb_take(r, 4);

	if (!p)
		return -EBADMSG;
	*v = (uint32_t)get_le(p, 4);
	return 0;
}

static int rb_u64(struct rbuf *r, uint64_t *v)
{
	const uint8_t *p = rb_take(r, 8);

	if (!p)
		return -EBADMSG;
	*v = get_le(p, 8);
	return 0;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int parse_session(struct rbuf *r, struct migr_session *s)
{
	uint32_t init;
	int e = rb_u32(r, &init);

	e = e ? e : rb_u32(r, &s->minor);
	e = e ? e : rb_u64(r, &s->flags);
	e = e ? e : rb_u32(r, &s->max_write);
	e = e ? e : rb_u32(r, &s->mode);
	if (e)
		return e;
	/* 1.1 added the share's identity; a 1.0 record ends before it. */
	if (r->len - r->pos >= 16) {
		rb_u64(r, &s->share_dev);
		rb_u64(r, &s->share_ino);
	}
	if (init > 1 || s->mode > MIGR_MODE_FILE_HANDLES)
		return -EBADMSG;
	s->initialized = init;
	return 0;
}

static int parse_inode(struct rbuf *r, struct migr_state *s, const char **why)
{
	struct migr_inode in = { 0 };
	uint32_t fh_type, plen;
	const uint8_t *fh, *path;
	int e = rb_u64(r, &in.nodeid);

	e = e ? e : rb_u64(r, &in.nlookup);
	e = e ? e : rb_u32(r, &in.mode);
	e = e ? e : rb_u32(r, &in.flags);
	e = e ? e : rb_u64(r, &in.dev);
	e = e ? e : rb_u64(r, &in.ino);
	e = e ? e : rb_u64(r, &in.mnt_id);
	e = e ? e : rb_u32(r, &fh_type);
	e = e ? e : rb_u32(r, &in.fh_bytes);
	e = e ? e : rb_u32(r, &plen);
	if (e) {
		*why = "truncated inode";
		return e;
	}
	in.fh_type = (int32_t)fh_type;
	if (!in.nodeid || in.nodeid == 1 /* the root is implicit */ || !in.nlookup) {
		*why = "inode with a bad nodeid or lookup count";
		return -EBADMSG;
	}
	if (in.fh_bytes > MIGR_MAX_FH || plen > MIGR_MAX_PATH ||
	    !!(in.flags & MIGR_INODE_HAS_FH) != (in.fh_bytes > 0) ||
	    (!(in.flags & MIGR_INODE_HAS_PATH) && plen)) {
		*why = "inode with a bad handle or path length";
		return -EBADMSG;
	}
	if ((in.flags & ~(MIGR_INODE_HAS_PATH | MIGR_INODE_HAS_FH)) || (in.mode & ~0170000u)) {
		*why = "inode with unknown flags or mode bits";
		return -EBADMSG;
	}
	fh = rb_take(r, in.fh_bytes);
	path = rb_take(r, plen);
	if (!fh || !path) {
		*why = "truncated inode";
		return -EBADMSG;
	}
	memcpy(in.fh, fh, in.fh_bytes);
	if (in.flags & MIGR_INODE_HAS_PATH) {
		if (!migr_path_ok((const char *)path, plen)) {
			*why = "inode path is not a clean path inside the share";
			return -EBADMSG;
		}
		in.path = strndup((const char *)path, plen);
		if (!in.path)
			return -ENOMEM;
	}
	e = reserve((void **)&s->inodes, s->ninodes, &s->cap_inodes, sizeof(in), MIGR_MAX_INODES);
	if (e) {
		free(in.path);
		*why = "too many inodes";
		return e == -E2BIG ? -EBADMSG : e;
	}
	s->inodes[s->ninodes++] = in;
	return 0;
}

static int parse_handle(struct rbuf *r, struct migr_state *s, const char **why)
{
	struct migr_handle h = { 0 };
	uint32_t is_dir;
	int e = rb_u64(r, &h.fh);

	e = e ? e : rb_u64(r, &h.nodeid);
	e = e ? e : rb_u32(r, &h.open_flags);
	e = e ? e : rb_u32(r, &is_dir);
	e = e ? e : rb_u64(r, &h.dir_off);
	if (e) {
		*why = "truncated handle";
		return e;
	}
	if (is_dir > 1 || !h.nodeid) {
		*why = "bad handle record";
		return -EBADMSG;
	}
	h.is_dir = is_dir;
	e = migr_state_add_handle(s, &h);
	if (e)
		*why = "too many handles";
	return e == -E2BIG ? -EBADMSG : e;
}

static int parse_lock(struct rbuf *r, struct migr_state *s, const char **why)
{
	struct migr_lock l = { 0 };
	uint32_t pad;
	int e = rb_u64(r, &l.fh);

	e = e ? e : rb_u32(r, &l.kind);
	e = e ? e : rb_u32(r, &l.type);
	e = e ? e : rb_u64(r, &l.start);
	e = e ? e : rb_u64(r, &l.end);
	e = e ? e : rb_u64(r, &l.owner);
	e = e ? e : rb_u32(r, &l.pid);
	e = e ? e : rb_u32(r, &pad);
	if (e) {
		*why = "truncated lock";
		return e;
	}
	if (l.kind > MIGR_LOCK_FLOCK || l.start > l.end || l.type > 2) {
		*why = "bad lock record";
		return -EBADMSG;
	}
	e = migr_state_add_lock(s, &l);
	if (e)
		*why = "too many locks";
	return e == -E2BIG ? -EBADMSG : e;
}

int migr_state_decode(const void *buf, size_t len, struct migr_state *s, char *err,
		      size_t errlen)
{
	struct rbuf r = { .p = buf, .len = len };
	uint16_t major, minor;
	uint32_t flags, nrec = 0;
	bool have_session = false;
	int e;

	migr_state_init(s);
	if (len > MIGR_MAX_STREAM)
		return fail(err, errlen, -EBADMSG, "state stream of %zu bytes is too large", len);
	if (len < HDR_LEN || memcmp(buf, MIGR_MAGIC, MIGR_MAGIC_LEN))
		return fail(err, errlen, -EBADMSG, "not a vufsd state stream (bad magic)");
	r.pos = MIGR_MAGIC_LEN;
	rb_u16(&r, &major);
	rb_u16(&r, &minor);
	rb_u32(&r, &flags);
	if (major > MIGR_VERSION_MAJOR)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "state stream version %u.%u is from a newer, incompatible vufsd "
			    "(this one reads %u.x)", major, minor, MIGR_VERSION_MAJOR);
	if (major < 1)
		return fail(err, errlen, -EBADMSG, "state stream version %u.%u is unknown", major,
			    minor);
	if (flags)
		return fail(err, errlen, -EBADMSG, "state stream has unknown header flags 0x%x",
			    flags);

	for (;;) {
		uint16_t type, pad;
		uint32_t rlen;
		size_t start = r.pos;
		struct rbuf rec;
		const char *why = NULL;

		if (rb_u16(&r, &type) || rb_u16(&r, &pad) || rb_u32(&r, &rlen) ||
		    !rb_take(&r, rlen))
			return fail(err, errlen, -EBADMSG, "truncated record at byte %zu", start);
		if (pad)
			return fail(err, errlen, -EBADMSG, "record at byte %zu has reserved bits set",
				    start);
		rec = (struct rbuf){ .p = r.p + start + REC_HDR_LEN, .len = rlen };
		switch (type) {
		case MIGR_REC_END: {
			uint32_t count, crc;

			if (rb_u32(&rec, &count) || rb_u32(&rec, &crc))
				return fail(err, errlen, -EBADMSG, "truncated end record");
			if (count != nrec)
				return fail(err, errlen, -EBADMSG,
					    "end record counts %u records, the stream has %u", count,
					    nrec);
			if (crc != migr_crc32(0, r.p, start))
				return fail(err, errlen, -EBADMSG, "checksum mismatch (corrupted stream)");
			if (r.pos != len)
				return fail(err, errlen, -EBADMSG, "%zu bytes after the end record",
					    len - r.pos);
			if (!have_session)
				return fail(err, errlen, -EBADMSG, "no session record");
			return 0;
		}
		case MIGR_REC_SESSION:
			if (have_session)
				return fail(err, errlen, -EBADMSG, "two session records");
			e = parse_session(&rec, &s->session);
			if (e)
				return fail(err, errlen, e, "bad session record");
			have_session = true;
			break;
		case MIGR_REC_INODE:
			e = parse_inode(&rec, s, &why);
			break;
		case MIGR_REC_HANDLE:
			e = parse_handle(&rec, s, &why);
			break;
		case MIGR_REC_LOCK:
			e = parse_lock(&rec, s, &why);
			break;
		default:
			e = 0; /* a newer minor version's record: skip it */
			break;
		}
		if (e)
			return fail(err, errlen, e, "record %u at byte %zu: %s", nrec, start,
				    why ? why : strerror(-e));
		if (nrec == UINT32_MAX)
			return fail(err, errlen, -EBADMSG, "too many records");
		nrec++;
	}
}
