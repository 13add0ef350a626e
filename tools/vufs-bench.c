// SPDX-License-Identifier: MIT
/*
 * vufs-bench: compare virtio-fs backends through libvufsfe.
 *
 *   vufs-bench [--backend NAME[=TEMPLATE]]... [--runs N] [--seconds S]
 *              [--depth D] [--queues LIST] [--quick] [--dir DIR] [--tests LIST] [-v]
 *
 * Every backend runs with each number of request queues in LIST (default
 * 1): each (backend, queues) pair is a column. For every run, test and
 * column (the order rotates between runs to spread the noise of a shared
 * machine), a fresh backend is spawned on the prepared share, driven for S
 * seconds with the requests spread round-robin over the queues, and must
 * exit cleanly when we disconnect. The table shows the median of the runs
 * with the spread ((max - min) / median) and, for each other column, its
 * ratio to the first one (higher is better everywhere). A backend that does
 * not offer enough queues shows n/a.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fe.h"
#include "fe_fuse.h"

#define MAX_BACKENDS 8
#define MAX_QLIST 4
#define MAX_COLS (MAX_BACKENDS * MAX_QLIST)
#define MAX_RUNS 99
#define MAX_DEPTH 256
#define MIB (1ull << 20)
/* cpuidle-haltpoll's default guest_halt_poll_ns, in us: how long a KVM guest's idle CPU polls. */
#define HALTPOLL_US 200
/* The tree of the tree walk: TREE_DIRS directories of TREE_FILES files. */
#define TREE_DIRS 20
#define TREE_FILES 250

/* ---- configuration ---- */

struct backend {
	char name[32];
	char *tmpl;
};

/* One column of the table: a backend with a number of request queues. */
struct column {
	unsigned int be;
	unsigned int queues;
	char name[48];
};

struct config {
	struct backend be[MAX_BACKENDS];
	unsigned int nbe;
	unsigned int qlist[MAX_QLIST];
	unsigned int nq;
	struct column col[MAX_COLS];
	unsigned int ncols;
	unsigned int runs;
	double seconds;
	unsigned int depth;
	bool quick;
	bool verbose;
	bool keep;
	const char *dir;
	const char *tests;
	uint32_t seg_size;
	unsigned int queue_size;
	enum fe_indirect_mode indirect;
	unsigned int spin_us;
	/* data set */
	uint64_t rand_size;
	uint64_t seq_size;
	unsigned int nentries;
};

static struct config cfg = {
	.runs = 3,
	.seconds = 3.0,
	.depth = 1,
	.seg_size = FE_DEFAULT_SEG_SIZE,
	.queue_size = 1024,
	.indirect = FE_INDIRECT_AUTO,
};

static char share[PATH_MAX];

/* ---- one measurement ---- */

struct slot;

struct bench {
	struct fe *fe;
	char err[256];
	uint64_t ops;
	uint64_t bytes;
	uint64_t rng;
	uint64_t cursor;	/* shared sequential offset */
	uint64_t file_size;
	uint32_t io;		/* bytes per READ/WRITE */
	uint64_t nodeid;	/* file or directory under test */
	uint64_t fh;
	uint64_t lookups;	/* nlookup references taken by the lookup test */
	uint64_t counter;	/* unique names */
	unsigned int run;
	unsigned int queues;	/* request queues the slots spread over */
	uint64_t *dirs;		/* tree walk: nodeids of the tree's directories */
	double seconds;		/* how long drive() runs (0: cfg.seconds) */
};

struct slot {
	struct fe_fuse_call c;
	unsigned int idx;
	int step;
	bool pending;
	uint64_t nodeid;
	uint64_t fh;
	union {
		struct fuse_read_in rd;
		struct fuse_write_in wr;
		struct fuse_getattr_in ga;
		struct fuse_create_in cr;
		struct fuse_release_in rel;
		struct fuse_forget_in fg;
	} in;
	char name[64];
	uint8_t *buf;		/* guest memory: data is never copied */
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_write_out wr;
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} create;
	} out;
};

/* Prepare s->c for the slot's next request. Returns 0 to submit, 1 when the slot is done, <0 on error. */
typedef int (*step_fn)(struct bench *b, struct slot *s, bool time_up);

static int bfail(struct bench *b, int err, const char *what)
{
	if (!b->err[0])
		snprintf(b->err, sizeof(b->err), "%s: %s%s%s", what, strerror(-err),
			 fe_broken(b->fe) ? " - " : "", fe_broken(b->fe) ? fe_strerror(b->fe) : "");
	return err;
}

static uint64_t rnd(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static unsigned int nqueues_cur = 1; /* request queues of the run in progress */

static void call(struct slot *s, uint32_t opcode, uint64_t nodeid, const void *in, uint32_t in_len,
		 const void *in2, uint32_t in2_len, void *out, uint32_t out_size)
{
	fe_fuse_call_init(&s->c, opcode, nodeid);
	s->c.queue = FE_QUEUE_REQUEST + s->idx % nqueues_cur;
	if (in_len)
		s->c.in[s->c.nin++] = (struct fe_fuse_buf){ in, in_len };
	if (in2_len)
		s->c.in[s->c.nin++] = (struct fe_fuse_buf){ in2, in2_len };
	s->c.out = out;
	s->c.out_size = out_size;
}

/* Check the call that just completed. */
static int check(struct bench *b, struct slot *s)
{
	if (s->c.error)
		return bfail(b, s->c.error, fe_fuse_opname(s->c.opcode));
	return 0;
}

/*
 * Keep depth slots busy until the time is up (a slot in the middle of a
 * multi-request sequence finishes it). Returns 0 or -errno; *elapsed gets
 * seconds from the first submission to the last completion.
 */
static int drive(struct bench *b, unsigned int depth, step_fn step, double *elapsed)
{
	struct slot *slots = calloc(depth, sizeof(*slots));
	uint64_t start, end;
	unsigned int inflight = 0, npending = 0;
	struct slot *pending[MAX_DEPTH];
	int err = 0;

	if (!slots)
		return bfail(b, -ENOMEM, "slots");
	for (unsigned int i = 0; i < depth; i++) {
		slots[i].idx = i;
		slots[i].buf = fe_guest_alloc(b->fe, b->io ? b->io : 4096);
		if (!slots[i].buf) {
			err = bfail(b, -ENOMEM, "guest buffers");
			goto out;
		}
		memset(slots[i].buf, 0x5a ^ (int)i, b->io ? b->io : 4096);
	}
	start = fe_now_ns();
	end = start + (uint64_t)((b->seconds > 0 ? b->seconds : cfg.seconds) * 1e9);
	for (unsigned int i = 0; i < depth; i++) {
		int r = step(b, &slots[i], false);

		if (r < 0) {
			err = r;
			break;
		}
		if (r == 0)
			pending[npending++] = &slots[i];
	}
	for (;;) {
		/* Submit whatever can go; keep the rest for when a completion frees ring space. */
		while (npending && !err) {
			struct slot *s = pending[0];
			int r = fe_fuse_submit(b->fe, &s->c);

			if (r == -EAGAIN && inflight)
				break;
			if (r < 0) {
				err = bfail(b, r, "submit");
				break;
			}
			inflight++;
			memmove(pending, pending + 1, (npending - 1) * sizeof(pending[0]));
			npending--;
		}
		if (!inflight)
			break;
		{
			struct fe_fuse_call *c;
			struct slot *s;
			int r = fe_fuse_wait_any(b->fe, &c, -1);

			if (r < 0) {
				err = bfail(b, r, "wait");
				break;
			}
			inflight--;
			s = (struct slot *)c;	/* c is the first member */
			if (err)
				continue;	/* draining after a failure */
			r = step(b, s, fe_now_ns() >= end);
			if (r < 0)
				err = r;
			else if (r == 0)
				pending[npending++] = s;
		}
	}
	*elapsed = (double)(fe_now_ns() - start) / 1e9;
out:
	if (!fe_broken(b->fe)) {
		for (unsigned int i = 0; i < depth; i++)
			fe_guest_free(b->fe, slots[i].buf);
	}
	free(slots);
	return err;
}

/* ---- tests ---- */

static int step_lookup(struct bench *b, struct slot *s, bool time_up)
{
	switch (s->step) {
	case 1:
		if (check(b, s))
			return -EIO;
		s->nodeid = s->out.entry.nodeid;
		b->lookups++;
		b->nodeid = s->nodeid;
		call(s, FUSE_GETATTR, s->nodeid, &s->in.ga, sizeof(s->in.ga), NULL, 0, &s->out.attr,
		     sizeof(s->out.attr));
		s->step = 2;
		return 0;
	case 2:
		if (check(b, s))
			return -EIO;
		b->ops++;
		/* fall through */
	default:
		if (time_up)
			return 1;
		memset(&s->in.ga, 0, sizeof(s->in.ga));
		call(s, FUSE_LOOKUP, FUSE_ROOT_ID, "lookup_target", sizeof("lookup_target"), NULL, 0,
		     &s->out.entry, sizeof(s->out.entry));
		s->step = 1;
		return 0;
	}
}

static int step_randread(struct bench *b, struct slot *s, bool time_up)
{
	if (s->step == 1) {
		if (check(b, s))
			return -EIO;
		if (s->c.out_len != b->io)
			return bfail(b, -EIO, "short READ");
		b->ops++;
		b->bytes += b->io;
	}
	if (time_up)
		return 1;
	memset(&s->in.rd, 0, sizeof(s->in.rd));
	s->in.rd.fh = b->fh;
	s->in.rd.offset = (rnd(b) % (b->file_size / b->io)) * b->io;
	s->in.rd.size = b->io;
	call(s, FUSE_READ, b->nodeid, &s->in.rd, sizeof(s->in.rd), NULL, 0, s->buf, b->io);
	s->step = 1;
	return 0;
}

/* seqread also runs a pass with a polling client (depth 1, when the client does not poll anyway). */
static bool seqread_polling_pass(void)
{
	return cfg.depth == 1 && !cfg.spin_us;
}

static int step_seqread(struct bench *b, struct slot *s, bool time_up)
{
	if (s->step == 1) {
		if (check(b, s))
			return -EIO;
		if (s->c.out_len != b->io)
			return bfail(b, -EIO, "short READ");
		b->ops++;
		b->bytes += b->io;
	}
	if (time_up)
		return 1;
	if (b->cursor + b->io > b->file_size)
		b->cursor = 0;
	memset(&s->in.rd, 0, sizeof(s->in.rd));
	s->in.rd.fh = b->fh;
	s->in.rd.offset = b->cursor;
	s->in.rd.size = b->io;
	b->cursor += b->io;
	call(s, FUSE_READ, b->nodeid, &s->in.rd, sizeof(s->in.rd), NULL, 0, s->buf, b->io);
	s->step = 1;
	return 0;
}

static int step_seqwrite(struct bench *b, struct slot *s, bool time_up)
{
	if (s->step == 1) {
		if (check(b, s))
			return -EIO;
		if (s->out.wr.size != b->io)
			return bfail(b, -EIO, "short WRITE");
		b->ops++;
		b->bytes += b->io;
	}
	if (time_up)
		return 1;
	if (b->cursor + b->io > b->file_size)
		b->cursor = 0;
	memset(&s->in.wr, 0, sizeof(s->in.wr));
	s->in.wr.fh = b->fh;
	s->in.wr.offset = b->cursor;
	s->in.wr.size = b->io;
	b->cursor += b->io;
	call(s, FUSE_WRITE, b->nodeid, &s->in.wr, sizeof(s->in.wr), s->buf, b->io, &s->out.wr,
	     sizeof(s->out.wr));
	s->step = 1;
	return 0;
}

static int step_randwrite(struct bench *b, struct slot *s, bool time_up)
{
	if (s->step == 1) {
		if (check(b, s))
			return -EIO;
		if (s->out.wr.size != b->io)
			return bfail(b, -EIO, "short WRITE");
		b->ops++;
		b->bytes += b->io;
	}
	if (time_up)
		return 1;
	memset(&s->in.wr, 0, sizeof(s->in.wr));
	s->in.wr.fh = b->fh;
	s->in.wr.offset = (rnd(b) % (b->file_size / b->io)) * b->io;
	s->in.wr.size = b->io;
	call(s, FUSE_WRITE, b->nodeid, &s->in.wr, sizeof(s->in.wr), s->buf, b->io, &s->out.wr,
	     sizeof(s->out.wr));
	s->step = 1;
	return 0;
}

/* Tree walk: LOOKUP + GETATTR of every file of the tree in turn, as a stat-heavy find(1) does. */
static int step_treewalk(struct bench *b, struct slot *s, bool time_up)
{
	switch (s->step) {
	case 1:
		if (check(b, s))
			return -EIO;
		s->nodeid = s->out.entry.nodeid;
		b->lookups++;
		memset(&s->in.ga, 0, sizeof(s->in.ga));
		call(s, FUSE_GETATTR, s->nodeid, &s->in.ga, sizeof(s->in.ga), NULL, 0, &s->out.attr,
		     sizeof(s->out.attr));
		s->step = 2;
		return 0;
	case 2:
		if (check(b, s))
			return -EIO;
		b->ops++;
		/* fall through */
	default: {
		uint64_t k = b->cursor++ % ((uint64_t)TREE_DIRS * TREE_FILES);

		if (time_up)
			return 1;
		snprintf(s->name, sizeof(s->name), "f%03u", (unsigned int)(k % TREE_FILES));
		call(s, FUSE_LOOKUP, b->dirs[k / TREE_FILES], s->name, (uint32_t)strlen(s->name) + 1,
		     NULL, 0, &s->out.entry, sizeof(s->out.entry));
		s->step = 1;
		return 0;
	}
	}
}

static int step_create(struct bench *b, struct slot *s, bool time_up)
{
	switch (s->step) {
	case 1:	/* CREATE done */
		if (check(b, s))
			return -EIO;
		s->nodeid = s->out.create.e.nodeid;
		s->fh = s->out.create.o.fh;
		memset(&s->in.rel, 0, sizeof(s->in.rel));
		s->in.rel.fh = s->fh;
		s->in.rel.flags = O_WRONLY;
		call(s, FUSE_RELEASE, s->nodeid, &s->in.rel, sizeof(s->in.rel), NULL, 0, NULL, 0);
		s->step = 2;
		return 0;
	case 2:	/* RELEASE done */
		if (check(b, s))
			return -EIO;
		call(s, FUSE_UNLINK, b->nodeid, s->name, (uint32_t)strlen(s->name) + 1, NULL, 0, NULL, 0);
		s->step = 3;
		return 0;
	case 3:	/* UNLINK done */
		if (check(b, s))
			return -EIO;
		s->in.fg.nlookup = 1;
		call(s, FUSE_FORGET, s->nodeid, &s->in.fg, sizeof(s->in.fg), NULL, 0, NULL, 0);
		s->c.queue = FE_QUEUE_HIPRIO;
		s->c.flags = FE_CALL_NOREPLY;
		s->step = 4;
		return 0;
	case 4:	/* FORGET used */
		if (check(b, s))
			return -EIO;
		b->ops++;
		/* fall through */
	default:
		if (time_up)
			return 1;
		snprintf(s->name, sizeof(s->name), "c%u_%u_%llu", b->run, s->idx,
			 (unsigned long long)b->counter++);
		memset(&s->in.cr, 0, sizeof(s->in.cr));
		s->in.cr.flags = O_WRONLY | O_CREAT | O_EXCL;
		s->in.cr.mode = S_IFREG | 0644;
		call(s, FUSE_CREATE, b->nodeid, &s->in.cr, sizeof(s->in.cr), s->name,
		     (uint32_t)strlen(s->name) + 1, &s->out.create, sizeof(s->out.create));
		s->step = 1;
		return 0;
	}
}

static int open_file(struct bench *b, const char *name, uint32_t flags, bool create)
{
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	int err;

	if (create) {
		err = fe_fuse_create(b->fe, FUSE_ROOT_ID, name, flags | O_CREAT | O_TRUNC, S_IFREG | 0644, &e, &oo);
		if (err)
			return bfail(b, err, "CREATE");
	} else {
		err = fe_fuse_lookup(b->fe, FUSE_ROOT_ID, name, &e);
		if (err)
			return bfail(b, err, "LOOKUP");
		err = fe_fuse_open(b->fe, e.nodeid, flags, &oo);
		if (err)
			return bfail(b, err, "OPEN");
	}
	b->nodeid = e.nodeid;
	b->fh = oo.fh;
	return 0;
}

static int close_file(struct bench *b, uint32_t flags)
{
	int err = fe_fuse_release(b->fe, b->nodeid, b->fh, flags);

	if (!err)
		err = fe_fuse_forget(b->fe, b->nodeid, 1);
	return err ? bfail(b, err, "RELEASE") : 0;
}

static uint32_t io_size(struct bench *b, uint32_t want)
{
	uint32_t max = fe_fuse_max_io(b->fe);

	return want < max ? want : max;
}

static int t_lookup(struct bench *b, double *m)
{
	double t;
	int err;

	err = drive(b, cfg.depth, step_lookup, &t);
	if (b->lookups && !fe_broken(b->fe))
		fe_fuse_forget(b->fe, b->nodeid, b->lookups);
	if (err)
		return err;
	m[0] = (double)b->ops / t;
	return 0;
}

static int t_randread(struct bench *b, double *m)
{
	double t;
	int err;

	err = open_file(b, "rand.dat", O_RDONLY, false);
	if (err)
		return err;
	b->io = 4096;
	b->file_size = cfg.rand_size;
	err = drive(b, cfg.depth, step_randread, &t);
	if (err)
		return err;
	m[0] = (double)b->ops / t;
	m[1] = (double)b->bytes / t / 1e6;
	return close_file(b, O_RDONLY);
}

static int t_seqread(struct bench *b, double *m)
{
	double t;
	int err;

	err = open_file(b, "seq.dat", O_RDONLY, false);
	if (err)
		return err;
	b->io = io_size(b, MIB);
	b->file_size = cfg.seq_size;
	err = drive(b, cfg.depth, step_seqread, &t);
	if (err)
		return err;
	m[0] = (double)b->bytes / t / 1e6;
	if (seqread_polling_pass()) {
		/* m[1]: the same with a client that polls before it sleeps (see print_table). */
		b->bytes = 0;
		b->seconds = cfg.seconds / 2;
		fe_set_spin(b->fe, HALTPOLL_US);
		err = drive(b, 1, step_seqread, &t);
		fe_set_spin(b->fe, cfg.spin_us);
		b->seconds = 0;
		if (err)
			return err;
		m[1] = (double)b->bytes / t / 1e6;
	}
	return close_file(b, O_RDONLY);
}

static int t_seqwrite(struct bench *b, double *m)
{
	double t;
	int err;

	err = open_file(b, "write.dat", O_WRONLY, true);
	if (err)
		return err;
	b->io = io_size(b, MIB);
	b->file_size = cfg.seq_size;
	err = drive(b, cfg.depth, step_seqwrite, &t);
	if (err)
		return err;
	m[0] = (double)b->bytes / t / 1e6;
	err = fe_fuse_flush(b->fe, b->nodeid, b->fh, 0);
	if (err)
		return bfail(b, err, "FLUSH");
	return close_file(b, O_WRONLY);
}

static int t_randwrite(struct bench *b, double *m)
{
	double t;
	int err;

	err = open_file(b, "randw.dat", O_WRONLY, false);
	if (err)
		return err;
	b->io = 4096;
	b->file_size = cfg.rand_size;
	err = drive(b, cfg.depth, step_randwrite, &t);
	if (err)
		return err;
	m[0] = (double)b->ops / t;
	m[1] = (double)b->bytes / t / 1e6;
	return close_file(b, O_WRONLY);
}

static int t_treewalk(struct bench *b, double *m)
{
	uint64_t dirs[TREE_DIRS];
	struct fuse_entry_out e;
	uint64_t tree;
	double t;
	int err;

	err = fe_fuse_lookup(b->fe, FUSE_ROOT_ID, "tree", &e);
	if (err)
		return bfail(b, err, "LOOKUP tree");
	tree = e.nodeid;
	for (unsigned int i = 0; i < TREE_DIRS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%02u", i);
		err = fe_fuse_lookup(b->fe, tree, name, &e);
		if (err)
			return bfail(b, err, "LOOKUP tree dir");
		dirs[i] = e.nodeid;
	}
	b->dirs = dirs;
	err = drive(b, cfg.depth, step_treewalk, &t);
	b->dirs = NULL;
	if (err)
		return err;
	m[0] = (double)b->ops / t;
	return 0;
}

static int t_create(struct bench *b, double *m)
{
	struct fuse_entry_out e;
	double t;
	int err;

	err = fe_fuse_lookup(b->fe, FUSE_ROOT_ID, "create", &e);
	if (err)
		return bfail(b, err, "LOOKUP create");
	b->nodeid = e.nodeid;
	err = drive(b, cfg.depth, step_create, &t);
	if (err)
		return err;
	m[0] = (double)b->ops / t;
	return 0;
}

static int t_readdir(struct bench *b, double *m)
{
	uint32_t bufsize = 64 << 10;
	uint8_t *buf = fe_guest_alloc(b->fe, bufsize);
	struct fuse_forget_one *forget = malloc(sizeof(*forget) * 1024);
	struct fuse_entry_out e;
	uint64_t start, end, entries = 0;
	int err;

	if (!buf || !forget) {
		free(forget);
		return bfail(b, -ENOMEM, "buffers");
	}
	err = fe_fuse_lookup(b->fe, FUSE_ROOT_ID, "dir", &e);
	if (err)
		goto fail;
	start = fe_now_ns();
	end = start + (uint64_t)(cfg.seconds * 1e9);
	do {
		struct fuse_open_out oo;
		uint64_t off = 0, pass = 0;

		err = fe_fuse_opendir(b->fe, e.nodeid, O_RDONLY, &oo);
		if (err)
			goto fail;
		for (;;) {
			struct fe_dirent d;
			uint32_t nf = 0;
			size_t pos = 0;
			int n = fe_fuse_readdirplus(b->fe, e.nodeid, oo.fh, off, buf, bufsize);

			if (n < 0) {
				err = n;
				goto fail;
			}
			if (n == 0)
				break;
			while ((err = fe_dirent_next(buf, (size_t)n, &pos, true, &d)) == 1) {
				off = d.off;
				if (d.entry.nodeid && nf < 1024) {
					forget[nf].nodeid = d.entry.nodeid;
					forget[nf++].nlookup = 1;
				}
				if (strcmp(d.name, ".") && strcmp(d.name, ".."))
					pass++;
			}
			if (err < 0)
				goto fail;
			if (nf) {
				err = fe_fuse_batch_forget(b->fe, forget, nf);
				if (err)
					goto fail;
			}
		}
		err = fe_fuse_releasedir(b->fe, e.nodeid, oo.fh);
		if (err)
			goto fail;
		if (pass != cfg.nentries) {
			snprintf(b->err, sizeof(b->err), "READDIRPLUS listed %llu entries, expected %u",
				 (unsigned long long)pass, cfg.nentries);
			err = -EIO;
			goto out;
		}
		entries += pass;
	} while (fe_now_ns() < end);
	m[0] = (double)entries / ((double)(fe_now_ns() - start) / 1e9);
	err = 0;
	goto out;
fail:
	bfail(b, err, "READDIRPLUS");
out:
	free(forget);
	if (!fe_broken(b->fe))
		fe_guest_free(b->fe, buf);
	return err;
}

struct test_def {
	const char *key;
	const char *label[2];
	const char *unit[2];
	int nmetrics;
	int (*run)(struct bench *b, double *m);
};

static const struct test_def tests[] = {
	{ "lookup", { "lookup+getattr" }, { "ops/s" }, 1, t_lookup },
	{ "randread", { "randread 4k", "randread 4k" }, { "ops/s", "MB/s" }, 2, t_randread },
	{ "seqread", { "seqread 1M" }, { "MB/s" }, 1, t_seqread },
	{ "seqwrite", { "seqwrite 1M" }, { "MB/s" }, 1, t_seqwrite },
	{ "randwrite", { "randwrite 4k", "randwrite 4k" }, { "ops/s", "MB/s" }, 2, t_randwrite },
	{ "treewalk", { "treewalk stat" }, { "files/s" }, 1, t_treewalk },
	{ "create", { "create+unlink" }, { "ops/s" }, 1, t_create },
	{ "readdir", { "readdirplus" }, { "entries/s" }, 1, t_readdir },
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* ---- share preparation ---- */

static int write_pattern_file(const char *path, uint64_t size, uint64_t seed)
{
	size_t chunk = 4 * MIB;
	uint64_t *buf = malloc(chunk), x = seed | 1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), err = 0;

	if (fd < 0 || !buf) {
		err = -errno;
		goto out;
	}
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < chunk ? (size_t)(size - done) : chunk;

		for (size_t i = 0; i < n / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if (write(fd, buf, n) != (ssize_t)n) {
			err = -errno;
			goto out;
		}
		done += n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

static bool file_has_size(const char *path, uint64_t size)
{
	struct stat st;

	return stat(path, &st) == 0 && (uint64_t)st.st_size == size;
}

static void warm(const char *path)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* Whether dir holds exactly the entries e000000 .. e(nentries-1) (checked by count and ends). */
static bool dir_ready(const char *dir)
{
	char q[PATH_MAX + 96];
	unsigned int n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	if (n != cfg.nentries)
		return false;
	snprintf(q, sizeof(q), "%s/e%06u", dir, cfg.nentries - 1);
	return access(q, F_OK) == 0;
}

static int prepare_share(void)
{
	char p[PATH_MAX + 64];
	int err;

	snprintf(p, sizeof(p), "%s/lookup_target", share);
	if (!file_has_size(p, 4096) && (err = write_pattern_file(p, 4096, 1)))
		return err;
	snprintf(p, sizeof(p), "%s/rand.dat", share);
	if (!file_has_size(p, cfg.rand_size) && (err = write_pattern_file(p, cfg.rand_size, 2)))
		return err;
	warm(p);
	snprintf(p, sizeof(p), "%s/seq.dat", share);
	if (!file_has_size(p, cfg.seq_size) && (err = write_pattern_file(p, cfg.seq_size, 3)))
		return err;
	warm(p);
	snprintf(p, sizeof(p), "%s/randw.dat", share);
	if (!file_has_size(p, cfg.rand_size) && (err = write_pattern_file(p, cfg.rand_size, 4)))
		return err;
	for (unsigned int d = 0; d < TREE_DIRS; d++) {
		snprintf(p, sizeof(p), "%s/tree", share);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		snprintf(p, sizeof(p), "%s/tree/d%02u", share, d);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		for (unsigned int f = 0; f < TREE_FILES; f++) {
			int fd;

			snprintf(p, sizeof(p), "%s/tree/d%02u/f%03u", share, d, f);
			fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				return -errno;
			close(fd);
		}
	}
	snprintf(p, sizeof(p), "%s/create", share);
	fe_rm_rf(p);
	if (mkdir(p, 0755) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/write.dat", share);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dir", share);
	if (!dir_ready(p)) {
		fe_rm_rf(p);
		if (mkdir(p, 0755) < 0)
			return -errno;
		for (unsigned int i = 0; i < cfg.nentries; i++) {
			char q[PATH_MAX + 96];
			int fd;

			snprintf(q, sizeof(q), "%s/dir/e%06u", share, i);
			fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				return -errno;
			close(fd);
		}
	}
	return 0;
}

/* ---- running ---- */

struct cell {
	double v[MAX_RUNS][2];	/* indexed by run */
	bool ok[MAX_RUNS];
	unsigned int nok;
	unsigned int nfail;
	bool unsupported; /* the backend does not offer the queues asked for */
	char why[256];
};

static struct cell cells[NTESTS][MAX_COLS];

static void run_one(unsigned int t, unsigned int ci, unsigned int run)
{
	const struct test_def *td = &tests[t];
	struct cell *c = &cells[t][ci];
	unsigned int bi = cfg.col[ci].be;
	struct fe_backend *be = NULL;
	struct bench b = { .rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)run << 32) ^ t, .run = run,
			   .queues = cfg.col[ci].queues };
	struct fe_opts o;
	double m[2] = { 0, 0 };
	char desc[160];
	int err;

	fe_opts_default(&o);
	o.queue_size = cfg.queue_size;
	o.seg_size = cfg.seg_size;
	o.indirect = cfg.indirect;
	o.spin_us = cfg.spin_us;
	o.nqueues = 1 + b.queues;
	nqueues_cur = b.queues;
	if (c->unsupported)
		return;
	err = fe_backend_start(cfg.be[bi].tmpl, share, 10000, &be);
	if (err) {
		snprintf(b.err, sizeof(b.err), "backend did not start: %s", strerror(-err));
		goto fail;
	}
	err = fe_open(fe_backend_socket(be), &o, &b.fe);
	if (err == -EOPNOTSUPP && b.queues > 1) {
		c->unsupported = true;
		fprintf(stderr, "  run %u  %-16s %-10s n/a: fewer than %u request queues\n", run + 1,
			td->label[0], cfg.col[ci].name, b.queues);
		goto out;
	}
	if (err) {
		snprintf(b.err, sizeof(b.err), "vhost-user setup failed: %s", strerror(-err));
		goto fail;
	}
	err = fe_fuse_init(b.fe);
	if (err) {
		bfail(&b, err, "FUSE_INIT");
		goto fail;
	}
	err = td->run(&b, m);
	if (err)
		goto fail;
	fe_disconnect(b.fe);
	err = fe_backend_wait(be, 10000);
	if (err) {
		fe_backend_stop(be, 2000);
		snprintf(b.err, sizeof(b.err), "backend did not exit cleanly on disconnect: %s",
			 fe_backend_describe(be, desc, sizeof(desc)));
		goto fail;
	}
	c->v[run][0] = m[0];
	c->v[run][1] = m[1];
	c->ok[run] = true;
	c->nok++;
	fprintf(stderr, "  run %u  %-16s %-10s %12.1f %s\n", run + 1, td->label[0], cfg.col[ci].name, m[0],
		td->unit[0]);
	goto out;
fail:
	c->nfail++;
	if (be && fe_backend_alive(be) != 0) {
		size_t l = strlen(b.err);

		snprintf(b.err + l, sizeof(b.err) - l, " [backend %s]",
			 fe_backend_describe(be, desc, sizeof(desc)));
	}
	snprintf(c->why, sizeof(c->why), "%s", b.err[0] ? b.err : "failed");
	fprintf(stderr, "  run %u  %-16s %-10s FAILED: %s\n", run + 1, td->label[0], cfg.col[ci].name, c->why);
	if (cfg.verbose && be)
		fe_backend_dump_log(be, 2048);
out:
	fe_close(b.fe);
	fe_backend_free(be);
	/* Leave the share as prepared for the next run. */
	if (!strcmp(td->key, "seqwrite")) {
		char p[PATH_MAX + 16];

		snprintf(p, sizeof(p), "%s/write.dat", share);
		unlink(p);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, unsigned int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double median(const struct cell *c, int metric)
{
	double v[MAX_RUNS];
	unsigned int n = 0;

	for (unsigned int r = 0; r < cfg.runs; r++)
		if (c->ok[r])
			v[n++] = c->v[r][metric];
	return median_of(v, n);
}

/*
 * Median over the runs of this backend's value divided by the base's in the
 * same run: within a run the backends go back to back, so machine-wide
 * slow and fast phases cancel out.
 */
static double paired_ratio(const struct cell *c, const struct cell *base, int metric)
{
	double v[MAX_RUNS];
	unsigned int n = 0;

	for (unsigned int r = 0; r < cfg.runs; r++)
		if (c->ok[r] && base->ok[r] && base->v[r][metric] > 0)
			v[n++] = c->v[r][metric] / base->v[r][metric];
	return n ? median_of(v, n) : -1;
}

static void fmt_val(char *buf, size_t len, double v)
{
	if (v >= 100)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

static bool test_selected(const char *key)
{
	const char *p = cfg.tests;
	size_t k = strlen(key);

	if (!p)
		return true;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);

		if (l == k && !strncmp(p, key, k))
			return true;
		p += l + (comma ? 1 : 0);
	}
	return false;
}

/* (max - min) / median over the runs, in percent. */
static double spread(const struct cell *c, int metric)
{
	double lo = 0, hi = 0, med = median(c, metric);
	bool first = true;

	for (unsigned int r = 0; r < cfg.runs; r++) {
		if (!c->ok[r])
			continue;
		if (first || c->v[r][metric] < lo)
			lo = c->v[r][metric];
		if (first || c->v[r][metric] > hi)
			hi = c->v[r][metric];
		first = false;
	}
	return med > 0 ? 100.0 * (hi - lo) / med : 0;
}

/* Host preadv of the sequential file per run, MB/s (0: not measured), next to each seqread round. */
static double host_mbs[MAX_RUNS];

/*
 * Median over runs of a column's seqread over the host's bound of the same run;
 * @polling: the pass with a client that polls before it sleeps.
 */
static double host_ratio(const struct cell *c, bool polling)
{
	double v[MAX_RUNS];
	unsigned int n = 0;

	for (unsigned int r = 0; r < cfg.runs; r++)
		if (c->ok[r] && host_mbs[r] > 0 && c->v[r][polling] > 0)
			v[n++] = c->v[r][polling] / host_mbs[r];
	return n ? median_of(v, n) : -1;
}

static void print_table(void)
{
	char v[48];

	printf("\n%-16s %-10s", "test", "unit");
	for (unsigned int b = 0; b < cfg.ncols; b++) {
		printf(" %15s", cfg.col[b].name);
		if (b)
			printf(" %7s", "ratio");
	}
	printf("\n");
	for (unsigned int t = 0; t < NTESTS; t++) {
		if (!test_selected(tests[t].key))
			continue;
		for (int m = 0; m < tests[t].nmetrics; m++) {
			printf("%-16s %-10s", tests[t].label[m], tests[t].unit[m]);
			for (unsigned int b = 0; b < cfg.ncols; b++) {
				const struct cell *c = &cells[t][b];
				double med;

				if (c->unsupported || c->nfail || !c->nok) {
					printf(" %15s", c->unsupported ? "n/a" : "fail");
					if (b)
						printf(" %7s", "-");
					continue;
				}
				med = median(c, m);
				fmt_val(v, sizeof(v), med);
				if (cfg.runs > 1) {
					size_t l = strlen(v);

					snprintf(v + l, sizeof(v) - l, " ±%.0f%%", spread(c, m) / 2);
				}
				printf(" %15s", v);
				if (b > 0) {
					double r = paired_ratio(c, &cells[t][0], m);

					if (r > 0)
						printf(" %6.2fx", r);
					else
						printf(" %7s", "-");
				}
			}
			printf("\n");
		}
	}
	printf("(values: median of %u run(s) ± half the spread (max - min) over the median", cfg.runs);
	if (cfg.ncols > 1)
		printf("; ratio: median over runs of the per-run ratio to %s, higher is better", cfg.col[0].name);
	printf(")\n");
	if (host_mbs[0] > 0) {
		unsigned int t;
		double hv[MAX_RUNS];

		for (t = 0; t < NTESTS && strcmp(tests[t].key, "seqread"); t++)
			;
		memcpy(hv, host_mbs, sizeof(hv));
		printf("seqread 1M bound, host preadv of the same file into 1 MiB of shared memory: %.0f MB/s (median)",
		       median_of(hv, cfg.runs));
		for (unsigned int b = 0; b < cfg.ncols; b++)
			if (cells[t][b].nok && !cells[t][b].nfail)
				printf("; %s %.2f of it", cfg.col[b].name, host_ratio(&cells[t][b], false));
		printf("\n");
		if (seqread_polling_pass()) {
			printf("the same with a client that polls its used ring %u us before sleeping (a KVM guest's"
			       " cpuidle-haltpoll default; this host may boot with guest_halt_poll_ns=0):", HALTPOLL_US);
			for (unsigned int b = 0; b < cfg.ncols; b++)
				if (cells[t][b].nok && !cells[t][b].nfail)
					printf("%s %s %.2f", b ? ";" : "", cfg.col[b].name,
					       host_ratio(&cells[t][b], true));
			printf("\n");
		}
	}
	for (unsigned int t = 0; t < NTESTS; t++)
		for (unsigned int b = 0; b < cfg.ncols; b++)
			if (cells[t][b].nfail)
				printf("fail: %s on %s (%u of %u runs): %s\n", tests[t].label[0], cfg.col[b].name,
				       cells[t][b].nfail, cells[t][b].nfail + cells[t][b].nok, cells[t][b].why);
	if (cfg.verbose) {
		printf("\nper-run values:\n");
		for (unsigned int t = 0; t < NTESTS; t++) {
			if (!test_selected(tests[t].key))
				continue;
			for (unsigned int b = 0; b < cfg.ncols; b++) {
				printf("  %-16s %-15s", tests[t].label[0], cfg.col[b].name);
				for (unsigned int r = 0; r < cfg.runs; r++) {
					if (!cells[t][b].ok[r]) {
						printf(" %s", cells[t][b].unsupported ? "n/a" : "fail");
						continue;
					}
					fmt_val(v, sizeof(v), cells[t][b].v[r][0]);
					printf(" %s", v);
				}
				printf("\n");
			}
		}
	}
}

/*
 * The bound for a 1 MiB sequential read: the host reading the same file
 * with preadv into 1 MiB of shared memory (what guest RAM is), for as long
 * as a run lasts.
 */
static void measure_host_preadv(unsigned int run)
{
	char p[PATH_MAX + 16];
	int fd, mfd = memfd_create("vufs-bench-host", MFD_CLOEXEC);
	void *buf = MAP_FAILED;
	uint64_t start, end, bytes = 0, off = 0;

	snprintf(p, sizeof(p), "%s/seq.dat", share);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mfd < 0 || ftruncate(mfd, MIB) < 0)
		goto out;
	buf = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (buf == MAP_FAILED)
		goto out;
	start = fe_now_ns();
	end = start + (uint64_t)(cfg.seconds * 1e9);
	while (fe_now_ns() < end) {
		struct iovec iov = { buf, MIB };
		ssize_t n;

		if (off + MIB > cfg.seq_size)
			off = 0;
		n = preadv(fd, &iov, 1, (off_t)off);
		if (n <= 0)
			goto out;
		bytes += (uint64_t)n;
		off += MIB;
	}
	host_mbs[run] = (double)bytes / ((double)(fe_now_ns() - start) / 1e9) / 1e6;
out:
	if (buf != MAP_FAILED)
		munmap(buf, MIB);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: vufs-bench [options]\n"
		"  --backend NAME[=TEMPLATE]  backend to compare (repeatable; the first is the ratio base).\n"
		"                             Built-in: vufsd ($VUFSD or ../src/vufsd), legacy, rust.\n"
		"                             TEMPLATE: argv with {socket} and {dir}, e.g.\n"
		"                             'mine=/path/vufsd --socket-path={socket} --shared-dir={dir}'\n"
		"  --runs N         runs per test and backend, median reported (default 3)\n"
		"  --seconds S      duration of each run (default 3)\n"
		"  --depth D        requests in flight (default 1; readdirplus is always 1)\n"
		"  --queues LIST    comma-separated request queue counts, each a column per backend\n"
		"                   (default 1; requests go round-robin over the queues)\n"
		"  --quick          1 run of 1 s on a smaller data set\n"
		"  --dir DIR        share to prepare/reuse (default: a temp dir, removed at exit)\n"
		"  --keep           keep the temp share\n"
		"  --tests LIST     comma-separated subset of: lookup,randread,seqread,seqwrite,\n"
		"                   randwrite,treewalk,create,readdir\n"
		"  --seg-size N     bytes per descriptor for data buffers (default 65536, 0 = unsplit)\n"
		"  --queue-size N   descriptors per virtqueue (default 1024)\n"
		"  --indirect M     auto|never|always (default auto)\n"
		"  --spin-us N      front-end busy-polls completions N us before sleeping (default 0)\n"
		"  -v, --verbose    per-run values, backend logs of failures\n");
	exit(rc);
}

static void add_backend(const char *arg)
{
	struct backend *b;
	const char *eq = strchr(arg, '=');
	size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);

	if (cfg.nbe == MAX_BACKENDS) {
		fprintf(stderr, "vufs-bench: at most %u backends\n", MAX_BACKENDS);
		exit(2);
	}
	b = &cfg.be[cfg.nbe];
	if (nl == 0 || nl >= sizeof(b->name)) {
		fprintf(stderr, "vufs-bench: bad backend name in '%s'\n", arg);
		exit(2);
	}
	memcpy(b->name, arg, nl);
	b->name[nl] = 0;
	b->tmpl = fe_backend_template(eq ? eq + 1 : b->name);
	if (!b->tmpl || (eq && !strstr(eq + 1, "{socket}"))) {
		fprintf(stderr, "vufs-bench: '%s' is not a built-in backend (vufsd, legacy, rust) nor "
			"NAME=TEMPLATE with {socket} and {dir}\n", arg);
		exit(2);
	}
	cfg.nbe++;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep", no_argument, NULL, 'k' },
		{ "tests", required_argument, NULL, 't' },
		{ "seg-size", required_argument, NULL, 'S' },
		{ "queue-size", required_argument, NULL, 'Q' },
		{ "indirect", required_argument, NULL, 'I' },
		{ "spin-us", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool runs_set = false, secs_set = false, tmp = false;
	struct utsname u;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c, any_fail = 0, err;

	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			add_backend(optarg);
			break;
		case 'r':
			cfg.runs = (unsigned int)strtoul(optarg, NULL, 0);
			runs_set = true;
			break;
		case 's':
			cfg.seconds = strtod(optarg, NULL);
			secs_set = true;
			break;
		case 'd':
			cfg.depth = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'q':
			cfg.quick = true;
			break;
		case 'n': {
			char *copy = strdup(optarg), *save = NULL;

			cfg.nq = 0;
			for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
				unsigned long n = strtoul(w, NULL, 0);

				if (cfg.nq == MAX_QLIST || n < 1 || n > FE_MAX_QUEUES - 1) {
					fprintf(stderr, "vufs-bench: --queues: at most %u counts of 1..%u\n",
						MAX_QLIST, FE_MAX_QUEUES - 1);
					exit(2);
				}
				cfg.qlist[cfg.nq++] = (unsigned int)n;
			}
			free(copy);
			break;
		}
		case 'D':
			cfg.dir = optarg;
			break;
		case 'k':
			cfg.keep = true;
			break;
		case 't':
			cfg.tests = optarg;
			break;
		case 'S':
			cfg.seg_size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'Q':
			cfg.queue_size = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'I':
			if (!strcmp(optarg, "auto"))
				cfg.indirect = FE_INDIRECT_AUTO;
			else if (!strcmp(optarg, "never"))
				cfg.indirect = FE_INDIRECT_NEVER;
			else if (!strcmp(optarg, "always"))
				cfg.indirect = FE_INDIRECT_ALWAYS;
			else
				usage(2);
			break;
		case 'P':
			cfg.spin_us = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (cfg.quick) {
		if (!runs_set)
			cfg.runs = 1;
		if (!secs_set)
			cfg.seconds = 1.0;
	}
	cfg.rand_size = cfg.quick ? 16 * MIB : 64 * MIB;
	cfg.seq_size = cfg.quick ? 64 * MIB : 256 * MIB;
	cfg.nentries = cfg.quick ? 2000 : 10000;
	if (cfg.runs < 1 || cfg.runs > MAX_RUNS || cfg.seconds <= 0 || cfg.depth < 1 ||
	    cfg.depth > MAX_DEPTH) {
		fprintf(stderr, "vufs-bench: runs must be 1..%u, seconds > 0, depth 1..%u\n", MAX_RUNS,
			MAX_DEPTH);
		return 2;
	}
	if (cfg.tests) {
		bool ok = true;
		char *copy = strdup(cfg.tests), *save = NULL;

		for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			bool known = false;

			for (unsigned int t = 0; t < NTESTS; t++)
				known |= !strcmp(w, tests[t].key);
			if (!known) {
				fprintf(stderr, "vufs-bench: unknown test '%s'\n", w);
				ok = false;
			}
		}
		free(copy);
		if (!ok)
			usage(2);
	}
	if (cfg.nbe == 0)
		add_backend("vufsd");
	if (cfg.nq == 0)
		cfg.qlist[cfg.nq++] = 1;
	for (unsigned int b = 0; b < cfg.nbe; b++)
		for (unsigned int q = 0; q < cfg.nq; q++) {
			struct column *col = &cfg.col[cfg.ncols++];
			char name[sizeof(cfg.be[b].name)];

			memcpy(name, cfg.be[b].name, sizeof(name));
			col->be = b;
			col->queues = cfg.qlist[q];
			if (cfg.nq > 1 || cfg.qlist[0] > 1)
				snprintf(col->name, sizeof(col->name), "%s/q%u", name, col->queues);
			else
				snprintf(col->name, sizeof(col->name), "%s", name);
		}

	if (cfg.dir) {
		snprintf(share, sizeof(share), "%s", cfg.dir);
		if (mkdir(share, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "vufs-bench: mkdir %s: %s\n", share, strerror(errno));
			return 1;
		}
	} else {
		strcpy(share, "/tmp/vufs-bench-XXXXXX");
		if (!mkdtemp(share)) {
			fprintf(stderr, "vufs-bench: mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		tmp = true;
	}
	fprintf(stderr, "vufs-bench: preparing %s ...\n", share);
	err = prepare_share();
	if (err) {
		fprintf(stderr, "vufs-bench: preparing %s: %s\n", share, strerror(-err));
		return 1;
	}

	uname(&u);
	printf("vufs-bench: %u run(s) x %.1f s per test, depth %u, queue %u, seg %u, indirect %s, spin %u us; %ld CPUs, %s %s\n",
	       cfg.runs, cfg.seconds, cfg.depth, cfg.queue_size, cfg.seg_size,
	       cfg.indirect == FE_INDIRECT_AUTO ? "auto" : cfg.indirect == FE_INDIRECT_NEVER ? "never" : "always",
	       cfg.spin_us, ncpu, u.sysname, u.release);
	printf("share %s: random-read file %llu MiB, sequential file %llu MiB, directory of %u entries\n",
	       share, (unsigned long long)(cfg.rand_size / MIB), (unsigned long long)(cfg.seq_size / MIB),
	       cfg.nentries);
	for (unsigned int b = 0; b < cfg.nbe; b++)
		printf("  %-10s %s\n", cfg.be[b].name, cfg.be[b].tmpl);
	fflush(stdout);

	for (unsigned int run = 0; run < cfg.runs; run++) {
		for (unsigned int t = 0; t < NTESTS; t++) {
			if (!test_selected(tests[t].key))
				continue;
			/* Rotate who goes first so no column always runs right after another. */
			for (unsigned int k = 0; k < cfg.ncols; k++)
				run_one(t, (k + run) % cfg.ncols, run);
			if (!strcmp(tests[t].key, "seqread"))
				measure_host_preadv(run);
		}
	}
	print_table();

	for (unsigned int t = 0; t < NTESTS; t++)
		for (unsigned int b = 0; b < cfg.ncols; b++)
			any_fail |= cells[t][b].nfail != 0;
	if (tmp && !cfg.keep)
		fe_rm_rf(share);
	for (unsigned int b = 0; b < cfg.nbe; b++)
		free(cfg.be[b].tmpl);
	return any_fail ? 1 : 0;
}
