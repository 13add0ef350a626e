// SPDX-License-Identifier: MIT
/*
 * vufs-soak: a long mixed workload against one virtio-fs backend, through libvufsfe.
 *
 *   vufs-soak [--seconds S] [--warmup W] [--interval I] [--queues Q] [--agents A]
 *             [--rss-slack KIB] [--backend SPEC] [--args 'EXTRA ARGS'] [-v]
 *
 * A agents (default 8), spread over Q request queues (default 4), each run the same cycle
 * over and over in a directory of their own: CREATE (O_TRUNC) a file, WRITE a pattern, take
 * a POSIX lock, READ it back and compare, unlock, GETATTR (size), FLUSH, RELEASE, RENAME it,
 * OPENDIR + READDIRPLUS (the new name must be listed) + RELEASEDIR, BATCH_FORGET what the
 * listing handed out, UNLINK or STATFS, FORGET; every 16th cycle also MKDIR + RMDIR. Every
 * reply is checked (error, size, data); the first unexpected one ends the run.
 *
 * Every I seconds (default 5) the agents finish their current cycle and stop, so the guest
 * holds nothing but the agents' directories, and the serving daemon process's RSS
 * (/proc/PID/status VmRSS) and fd count (/proc/PID/fd) are sampled. After the warm-up
 * (default 60 s, at most a quarter of the run) the first sample is the baseline: every later
 * sample must have exactly the baseline's fd count, and a VmRSS and an RssAnon each at most
 * KIB (default 2048) above the baseline's (VmRSS counts the guest memory pages the daemon has
 * touched, RssAnon the daemon's own heap). A table of the samples is printed; the exit status is 0 only if
 * there was no error, the resource use stayed flat and the daemon exited cleanly on
 * disconnect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe.h"
#include "fe_fuse.h"

#define MAX_AGENTS 64
#define NSLOTS 8		/* file names per agent directory */
#define IO_MAX (64u << 10)
#define DIRBUF (16u << 10)
#define MAX_FORGET 64
#define MAX_SAMPLES 100000

struct opts {
	double seconds;
	double warmup;		/* < 0: default */
	double interval;
	unsigned int queues;
	unsigned int agents;
	unsigned long rss_slack_kib;
	const char *backend;
	const char *args;
	bool verbose;
};

static struct opts o = {
	.seconds = 600,
	.warmup = -1,
	.interval = 5,
	.queues = 4,
	.agents = 8,
	.rss_slack_kib = 2048,
	.backend = "vufsd",
};

/* Steps of an agent's cycle, in order; each names the request in flight. */
enum step {
	S_CREATE,
	S_WRITE,
	S_LOCK,
	S_READ,
	S_UNLOCK,
	S_GETATTR,
	S_FLUSH,
	S_RELEASE,
	S_RENAME,
	S_OPENDIR,
	S_READDIRPLUS,
	S_RELEASEDIR,
	S_BATCH_FORGET,
	S_UNLINK_OR_STATFS,
	S_FORGET,
	S_MKDIR,
	S_RMDIR,
	S_FORGET_DIR,
	S_DONE,
};

struct agent {
	struct fe_fuse_call c;	/* first member: fe_fuse_wait_any hands back &c */
	unsigned int idx;
	unsigned int queue;
	enum step step;
	bool busy;
	uint64_t cycle;
	uint64_t dir;		/* the agent's directory (one lookup held for the whole run) */
	uint64_t node, fh, dfh, sub;
	uint32_t len;
	char name[32], name2[32];
	uint8_t *wbuf, *rbuf, *dbuf;	/* guest memory */
	struct fuse_forget_one forget[MAX_FORGET];
	unsigned int nforget;
	union {
		struct fuse_create_in cr;
		struct fuse_write_in wr;
		struct fuse_read_in rd;
		struct fuse_lk_in lk;
		struct fuse_getattr_in ga;
		struct fuse_flush_in fl;
		struct fuse_release_in rel;
		struct fuse_rename_in rn;
		struct fuse_open_in op;
		struct fuse_forget_in fg;
		struct fuse_batch_forget_in bf;
		struct fuse_mkdir_in mk;
	} in;
	union {
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} create;
		struct fuse_entry_out entry;
		struct fuse_write_out wr;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
		struct fuse_statfs_out statfs;
	} out;
};

struct sample {
	double t;
	uint64_t requests;
	uint64_t cycles;
	long rss_kib;		/* VmRSS: includes the guest memory pages the daemon touched */
	long anon_kib;		/* RssAnon: the daemon's own heap and stacks */
	int fds;
};

static struct fe *fe;
static char errmsg[512];
static uint64_t requests, cycles;

static int soak_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int soak_fail(int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (errmsg[0])
		return err;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	n = strlen(errmsg);
	if (err)
		snprintf(errmsg + n, sizeof(errmsg) - n, ": %s", strerror(-err));
	n = strlen(errmsg);
	if (fe_broken(fe))
		snprintf(errmsg + n, sizeof(errmsg) - n, " (front-end: %s)", fe_strerror(fe));
	return err ? err : -EIO;
}

static void pattern(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void prep(struct agent *a, uint32_t opcode, uint64_t nodeid)
{
	fe_fuse_call_init(&a->c, opcode, nodeid);
	a->c.queue = a->queue;
}

static void arg(struct agent *a, const void *p, uint32_t len)
{
	a->c.in[a->c.nin++] = (struct fe_fuse_buf){ p, len };
}

static void argstr(struct agent *a, const char *s)
{
	arg(a, s, (uint32_t)strlen(s) + 1);
}

static void reply_to(struct agent *a, void *p, uint32_t len)
{
	a->c.out = p;
	a->c.out_size = len;
}

static void lock_req(struct agent *a, uint32_t type)
{
	memset(&a->in.lk, 0, sizeof(a->in.lk));
	a->in.lk.fh = a->fh;
	a->in.lk.owner = 0x50a1000ull + a->idx;
	a->in.lk.lk.start = 0;
	a->in.lk.lk.end = a->len - 1;
	a->in.lk.lk.type = type;
	a->in.lk.lk.pid = 1000 + a->idx;
	prep(a, FUSE_SETLK, a->node);
	arg(a, &a->in.lk, sizeof(a->in.lk));
}

/* Build the request of step a->step. */
static void build(struct agent *a)
{
	unsigned int slot = (unsigned int)(a->cycle % NSLOTS);

	switch (a->step) {
	case S_CREATE:
		snprintf(a->name, sizeof(a->name), "f%u", slot);
		snprintf(a->name2, sizeof(a->name2), "g%u", slot);
		memset(&a->in.cr, 0, sizeof(a->in.cr));
		a->in.cr.flags = O_RDWR | O_CREAT | O_TRUNC;
		a->in.cr.mode = S_IFREG | 0644;
		prep(a, FUSE_CREATE, a->dir);
		arg(a, &a->in.cr, sizeof(a->in.cr));
		argstr(a, a->name);
		reply_to(a, &a->out.create, sizeof(a->out.create));
		break;
	case S_WRITE:
		a->len = 4096 + (uint32_t)((a->cycle * 7919 + a->idx * 104729) % (IO_MAX - 4096));
		pattern(a->wbuf, a->len, a->cycle * MAX_AGENTS + a->idx);
		memset(&a->in.wr, 0, sizeof(a->in.wr));
		a->in.wr.fh = a->fh;
		a->in.wr.size = a->len;
		prep(a, FUSE_WRITE, a->node);
		arg(a, &a->in.wr, sizeof(a->in.wr));
		arg(a, a->wbuf, a->len);
		reply_to(a, &a->out.wr, sizeof(a->out.wr));
		break;
	case S_LOCK:
		lock_req(a, F_WRLCK);
		break;
	case S_READ:
		memset(&a->in.rd, 0, sizeof(a->in.rd));
		a->in.rd.fh = a->fh;
		a->in.rd.size = IO_MAX;
		prep(a, FUSE_READ, a->node);
		arg(a, &a->in.rd, sizeof(a->in.rd));
		reply_to(a, a->rbuf, IO_MAX);
		a->c.flags = FE_CALL_ANY_SIZE;
		break;
	case S_UNLOCK:
		lock_req(a, F_UNLCK);
		break;
	case S_GETATTR:
		memset(&a->in.ga, 0, sizeof(a->in.ga));
		a->in.ga.getattr_flags = FUSE_GETATTR_FH;
		a->in.ga.fh = a->fh;
		prep(a, FUSE_GETATTR, a->node);
		arg(a, &a->in.ga, sizeof(a->in.ga));
		reply_to(a, &a->out.attr, sizeof(a->out.attr));
		break;
	case S_FLUSH:
		memset(&a->in.fl, 0, sizeof(a->in.fl));
		a->in.fl.fh = a->fh;
		a->in.fl.lock_owner = 0x50a1000ull + a->idx;
		prep(a, FUSE_FLUSH, a->node);
		arg(a, &a->in.fl, sizeof(a->in.fl));
		break;
	case S_RELEASE:
		memset(&a->in.rel, 0, sizeof(a->in.rel));
		a->in.rel.fh = a->fh;
		a->in.rel.flags = O_RDWR;
		prep(a, FUSE_RELEASE, a->node);
		arg(a, &a->in.rel, sizeof(a->in.rel));
		break;
	case S_RENAME:
		memset(&a->in.rn, 0, sizeof(a->in.rn));
		a->in.rn.newdir = a->dir;
		prep(a, FUSE_RENAME, a->dir);
		arg(a, &a->in.rn, sizeof(a->in.rn));
		argstr(a, a->name);
		argstr(a, a->name2);
		break;
	case S_OPENDIR:
		memset(&a->in.op, 0, sizeof(a->in.op));
		a->in.op.flags = O_RDONLY | O_DIRECTORY;
		prep(a, FUSE_OPENDIR, a->dir);
		arg(a, &a->in.op, sizeof(a->in.op));
		reply_to(a, &a->out.open, sizeof(a->out.open));
		break;
	case S_READDIRPLUS:
		memset(&a->in.rd, 0, sizeof(a->in.rd));
		a->in.rd.fh = a->dfh;
		a->in.rd.size = DIRBUF;
		prep(a, FUSE_READDIRPLUS, a->dir);
		arg(a, &a->in.rd, sizeof(a->in.rd));
		reply_to(a, a->dbuf, DIRBUF);
		a->c.flags = FE_CALL_ANY_SIZE;
		break;
	case S_RELEASEDIR:
		memset(&a->in.rel, 0, sizeof(a->in.rel));
		a->in.rel.fh = a->dfh;
		prep(a, FUSE_RELEASEDIR, a->dir);
		arg(a, &a->in.rel, sizeof(a->in.rel));
		break;
	case S_BATCH_FORGET:
		memset(&a->in.bf, 0, sizeof(a->in.bf));
		a->in.bf.count = a->nforget;
		prep(a, FUSE_BATCH_FORGET, 0);
		a->c.queue = FE_QUEUE_HIPRIO;
		a->c.flags = FE_CALL_NOREPLY;
		arg(a, &a->in.bf, sizeof(a->in.bf));
		arg(a, a->forget, a->nforget * (uint32_t)sizeof(a->forget[0]));
		break;
	case S_UNLINK_OR_STATFS:
		if (a->cycle % 3 == 0) {
			prep(a, FUSE_UNLINK, a->dir);
			argstr(a, a->name2);
		} else {
			prep(a, FUSE_STATFS, a->dir);
			reply_to(a, &a->out.statfs, sizeof(a->out.statfs));
		}
		break;
	case S_FORGET:
	case S_FORGET_DIR:
		memset(&a->in.fg, 0, sizeof(a->in.fg));
		a->in.fg.nlookup = 1;
		prep(a, FUSE_FORGET, a->step == S_FORGET ? a->node : a->sub);
		a->c.queue = FE_QUEUE_HIPRIO;
		a->c.flags = FE_CALL_NOREPLY;
		arg(a, &a->in.fg, sizeof(a->in.fg));
		break;
	case S_MKDIR:
		memset(&a->in.mk, 0, sizeof(a->in.mk));
		a->in.mk.mode = 0755;
		prep(a, FUSE_MKDIR, a->dir);
		arg(a, &a->in.mk, sizeof(a->in.mk));
		argstr(a, "sub");
		reply_to(a, &a->out.entry, sizeof(a->out.entry));
		break;
	case S_RMDIR:
		prep(a, FUSE_RMDIR, a->dir);
		argstr(a, "sub");
		break;
	case S_DONE:
		break;
	}
}

/* READDIRPLUS reply: the renamed file must be listed; remember the entries to forget. */
static int check_listing(struct agent *a)
{
	struct fe_dirent d;
	size_t pos = 0;
	bool found = false;
	int r;

	a->nforget = 0;
	while ((r = fe_dirent_next(a->dbuf, a->c.out_len, &pos, true, &d)) == 1) {
		if (!strcmp(d.name, a->name2))
			found = true;
		if (d.entry.nodeid && a->nforget < MAX_FORGET)
			a->forget[a->nforget++] = (struct fuse_forget_one){ d.entry.nodeid, 1 };
		else if (d.entry.nodeid)
			return soak_fail(-EPROTO, "agent %u: more than %d entries listed", a->idx,
					 MAX_FORGET);
	}
	if (r < 0)
		return soak_fail(r, "agent %u: malformed READDIRPLUS reply", a->idx);
	if (!found)
		return soak_fail(-ENOENT, "agent %u: READDIRPLUS does not list %s", a->idx, a->name2);
	return 0;
}

/* Check the completed request of a->step and move to the next step. */
static int complete(struct agent *a)
{
	const char *op = fe_fuse_opname(a->c.opcode);

	requests++;
	if (a->c.error)
		return soak_fail(a->c.error, "agent %u cycle %llu: %s", a->idx,
				 (unsigned long long)a->cycle, op);
	switch (a->step) {
	case S_CREATE:
		a->node = a->out.create.e.nodeid;
		a->fh = a->out.create.o.fh;
		break;
	case S_WRITE:
		if (a->out.wr.size != a->len)
			return soak_fail(0, "agent %u: WRITE of %u bytes reported %u", a->idx, a->len,
					 a->out.wr.size);
		break;
	case S_READ:
		if (a->c.out_len != a->len || memcmp(a->rbuf, a->wbuf, a->len))
			return soak_fail(0, "agent %u: READ gave %u bytes, %s", a->idx, a->c.out_len,
					 a->c.out_len == a->len ? "different data" : "expected the written size");
		break;
	case S_GETATTR:
		if (a->out.attr.attr.size != a->len)
			return soak_fail(0, "agent %u: GETATTR size %llu, expected %u", a->idx,
					 (unsigned long long)a->out.attr.attr.size, a->len);
		break;
	case S_OPENDIR:
		a->dfh = a->out.open.fh;
		break;
	case S_READDIRPLUS:
		if (check_listing(a))
			return -EIO;
		break;
	case S_MKDIR:
		a->sub = a->out.entry.nodeid;
		break;
	default:
		break;
	}
	a->step++;
	if (a->step == S_BATCH_FORGET && !a->nforget)
		a->step++;
	if (a->step == S_MKDIR && a->cycle % 16)
		a->step = S_DONE;
	return 0;
}

/* ---- the daemon's resources ---- */

static pid_t serving_pid(struct fe_backend *be)
{
	pid_t pid = fe_backend_pid(be);
	char path[64];
	int child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child > 0 ? (pid_t)child : pid;
}

/* A "Field:   N kB" line of /proc/PID/status, or -1. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kib = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- driver ---- */

static int start_cycle(struct agent *a)
{
	int r;

	a->step = S_CREATE;
	a->busy = true;
	build(a);
	r = fe_fuse_submit(fe, &a->c);
	return r ? soak_fail(r, "agent %u: submit", a->idx) : 0;
}

/*
 * Run every agent's cycles until none is busy: agents stop at the end of a cycle once
 * fe_now_ns() passes stop_at. Returns 0 or -errno.
 */
static int run_until(struct agent *ag, unsigned int n, uint64_t stop_at)
{
	unsigned int busy = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (start_cycle(&ag[i]))
			return -EIO;
		busy++;
	}
	while (busy) {
		struct fe_fuse_call *c;
		struct agent *a;
		int r = fe_fuse_wait_any(fe, &c, -1);

		if (r < 0)
			return soak_fail(r, "waiting for replies");
		a = (struct agent *)c;
		if (complete(a))
			return -EIO;
		if (a->step == S_DONE) {
			cycles++;
			a->cycle++;
			if (fe_now_ns() >= stop_at) {
				a->busy = false;
				busy--;
				continue;
			}
			a->step = S_CREATE;
		}
		build(a);
		r = fe_fuse_submit(fe, &a->c);
		if (r)
			return soak_fail(r, "agent %u: submit %s", a->idx, fe_fuse_opname(a->c.opcode));
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vufs-soak [options]\n"
		"  --seconds S        run time (default 600)\n"
		"  --warmup W         seconds before the baseline sample (default min(60, S/4))\n"
		"  --interval I       seconds between samples (default 5)\n"
		"  --queues Q         request queues (default 4)\n"
		"  --agents A         concurrent request streams (default 8, at most %d)\n"
		"  --rss-slack KIB    allowed RSS growth over the baseline (default 2048)\n"
		"  --backend SPEC     vufsd (default, $VUFSD or next to this tool), legacy, rust,\n"
		"                     or an argv template with {socket} and {dir}\n"
		"  --args 'ARGS'      extra backend arguments\n"
		"  -v                 print every sample as it is taken\n",
		MAX_AGENTS);
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "queues", required_argument, NULL, 'q' },
		{ "agents", required_argument, NULL, 'a' },
		{ "rss-slack", required_argument, NULL, 'r' },
		{ "backend", required_argument, NULL, 'b' },
		{ "args", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = strtod(optarg, NULL); break;
		case 'w': o.warmup = strtod(optarg, NULL); break;
		case 'i': o.interval = strtod(optarg, NULL); break;
		case 'q': o.queues = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'a': o.agents = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'r': o.rss_slack_kib = strtoul(optarg, NULL, 10); break;
		case 'b': o.backend = optarg; break;
		case 'x': o.args = optarg; break;
		case 'v': o.verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc || o.seconds <= 0 || o.interval <= 0 || !o.queues ||
	    o.queues + 1 > FE_MAX_QUEUES || !o.agents || o.agents > MAX_AGENTS) {
		usage(stderr);
		return -EINVAL;
	}
	if (o.warmup < 0)
		o.warmup = o.seconds / 4 < 60 ? o.seconds / 4 : 60;
	return 0;
}

int main(int argc, char **argv)
{
	static struct sample s[MAX_SAMPLES];
	char tmp[] = "/tmp/vufs-soak-XXXXXX", share[64], *tmpl = NULL;
	struct agent *ag = NULL;
	struct fe_backend *be = NULL;
	struct fe_opts fo;
	unsigned int ns = 0, base = 0;
	bool have_base = false, flat = true;
	uint64_t t0, end;
	pid_t pid;
	int err, rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv))
		return 2;
	tmpl = fe_backend_template(o.backend);
	if (!tmpl) {
		fprintf(stderr, "vufs-soak: unknown backend %s\n", o.backend);
		return 2;
	}
	if (o.args) {
		char *t;

		if (asprintf(&t, "%s %s", tmpl, o.args) < 0)
			return 2;
		free(tmpl);
		tmpl = t;
	}
	if (!mkdtemp(tmp)) {
		perror("vufs-soak: mkdtemp");
		return 2;
	}
	snprintf(share, sizeof(share), "%s/share", tmp);
	if (mkdir(share, 0755) < 0) {
		perror("vufs-soak: mkdir");
		goto out;
	}
	err = fe_backend_start(tmpl, share, 10000, &be);
	if (err) {
		fprintf(stderr, "vufs-soak: cannot start %s: %s\n", tmpl, strerror(-err));
		goto out;
	}
	fe_opts_default(&fo);
	fo.nqueues = 1 + o.queues;
	fo.queue_size = 256;
	err = fe_create(&fo, &fe);
	if (!err)
		err = fe_connect(fe, fe_backend_socket(be), 10000);
	if (!err)
		err = fe_vu_setup(fe);
	if (!err)
		err = fe_fuse_init(fe);
	if (err) {
		fprintf(stderr, "vufs-soak: setup: %s (%s)\n", strerror(-err), fe ? fe_strerror(fe) : "-");
		fe_backend_dump_log(be, 4096);
		goto out;
	}
	if (fe_fuse_max_io(fe) < IO_MAX) {
		fprintf(stderr, "vufs-soak: the backend's max I/O (%u) is below %u\n", fe_fuse_max_io(fe),
			IO_MAX);
		goto out;
	}
	pid = serving_pid(be);
	ag = calloc(o.agents, sizeof(*ag));
	if (!ag)
		goto out;
	for (unsigned int i = 0; i < o.agents; i++) {
		struct fuse_entry_out e;
		char name[16];

		ag[i].idx = i;
		ag[i].queue = FE_QUEUE_REQUEST + i % o.queues;
		ag[i].wbuf = fe_guest_alloc(fe, IO_MAX);
		ag[i].rbuf = fe_guest_alloc(fe, IO_MAX);
		ag[i].dbuf = fe_guest_alloc(fe, DIRBUF);
		if (!ag[i].wbuf || !ag[i].rbuf || !ag[i].dbuf) {
			fprintf(stderr, "vufs-soak: out of guest memory\n");
			goto out;
		}
		snprintf(name, sizeof(name), "a%u", i);
		err = fe_fuse_mkdir(fe, FUSE_ROOT_ID, name, 0755, &e);
		if (err) {
			fprintf(stderr, "vufs-soak: MKDIR %s: %s\n", name, strerror(-err));
			goto out;
		}
		ag[i].dir = e.nodeid;
	}
	printf("vufs-soak: %s, %.0f s (warm-up %.0f s), %u agents on %u request queues, sample every %.0f s, pid %d\n",
	       o.backend, o.seconds, o.warmup, o.agents, o.queues, o.interval, (int)pid);

	t0 = fe_now_ns();
	end = t0 + (uint64_t)(o.seconds * 1e9);
	for (uint64_t next = t0 + (uint64_t)(o.interval * 1e9);; next += (uint64_t)(o.interval * 1e9)) {
		struct sample *x;

		if (next > end)
			next = end;
		if (run_until(ag, o.agents, next))
			break;
		/* Quiescent: every agent finished its cycle; the guest holds only the directories. */
		if (ns == MAX_SAMPLES)
			ns--;
		x = &s[ns++];
		x->t = (double)(fe_now_ns() - t0) / 1e9;
		x->requests = requests;
		x->cycles = cycles;
		x->rss_kib = status_kib(pid, "VmRSS");
		x->anon_kib = status_kib(pid, "RssAnon");
		x->fds = fd_count(pid);
		if (x->rss_kib < 0 || x->anon_kib < 0 || x->fds < 0) {
			soak_fail(-ESRCH, "cannot read /proc/%d (the daemon is gone?)", (int)pid);
			break;
		}
		if (!have_base && x->t >= o.warmup) {
			have_base = true;
			base = ns - 1;
		}
		if (have_base && (x->fds != s[base].fds ||
				  x->rss_kib > s[base].rss_kib + (long)o.rss_slack_kib ||
				  x->anon_kib > s[base].anon_kib + (long)o.rss_slack_kib))
			flat = false;
		if (o.verbose)
			printf("  t=%7.1f s  requests %10llu  RSS %7ld KiB  anon %7ld KiB  fds %4d%s\n",
			       x->t, (unsigned long long)x->requests, x->rss_kib, x->anon_kib, x->fds,
			       have_base && ns - 1 == base ? "  <- baseline" : "");
		if (fe_now_ns() >= end)
			break;
	}

	/* The table: every sample when short, else about 40 rows. */
	printf("\n%9s %12s %10s %10s %9s %9s %5s\n", "time (s)", "requests", "req/s", "cycles",
	       "RSS KiB", "anon KiB", "fds");
	{
		unsigned int step = ns > 40 ? ns / 40 : 1;

		for (unsigned int i = 0; i < ns; i++) {
			double dt = i ? s[i].t - s[i - 1].t : s[i].t;
			uint64_t dr = i ? s[i].requests - s[i - 1].requests : s[i].requests;

			if (i % step && i != base && i != ns - 1)
				continue;
			printf("%9.1f %12llu %10.0f %10llu %9ld %9ld %5d%s\n", s[i].t,
			       (unsigned long long)s[i].requests, dt > 0 ? (double)dr / dt : 0.0,
			       (unsigned long long)s[i].cycles, s[i].rss_kib, s[i].anon_kib, s[i].fds,
			       have_base && i == base ? "  baseline" : "");
		}
	}
	if (!errmsg[0] && !have_base)
		soak_fail(0, "no sample after the warm-up (run longer than --warmup)");
	if (errmsg[0]) {
		printf("\nvufs-soak: FAIL: %s\n", errmsg);
		if (be)
			fe_backend_dump_log(be, 4096);
		goto out;
	}
	{
		long rmax = s[base].rss_kib, amax = s[base].anon_kib;
		int fmin = s[base].fds, fmax = s[base].fds;

		for (unsigned int i = base; i < ns; i++) {
			rmax = s[i].rss_kib > rmax ? s[i].rss_kib : rmax;
			amax = s[i].anon_kib > amax ? s[i].anon_kib : amax;
			fmin = s[i].fds < fmin ? s[i].fds : fmin;
			fmax = s[i].fds > fmax ? s[i].fds : fmax;
		}
		printf("\nafter warm-up (t >= %.1f s): RSS %ld -> %ld KiB (max +%ld), anon %ld -> %ld KiB (max +%ld); limit +%lu KiB each; fds %d..%d (baseline %d, must not change)\n",
		       s[base].t, s[base].rss_kib, s[ns - 1].rss_kib, rmax - s[base].rss_kib,
		       s[base].anon_kib, s[ns - 1].anon_kib, amax - s[base].anon_kib, o.rss_slack_kib,
		       fmin, fmax, s[base].fds);
		printf("%llu requests in %llu cycles, %.0f req/s, 0 errors\n", (unsigned long long)requests,
		       (unsigned long long)cycles, (double)requests / s[ns - 1].t);
	}
	if (!flat) {
		printf("vufs-soak: FAIL: the daemon's RSS or fd count did not stay flat after the warm-up\n");
		goto out;
	}
	/* Let go of the directories; the daemon must exit cleanly when we disconnect. */
	for (unsigned int i = 0; i < o.agents; i++)
		fe_fuse_forget(fe, ag[i].dir, 1);
	fe_disconnect(fe);
	err = fe_backend_wait(be, 10000);
	if (err) {
		char d[128];

		printf("vufs-soak: FAIL: the daemon did not exit cleanly on disconnect (%s)\n",
		       fe_backend_describe(be, d, sizeof(d)));
		fe_backend_dump_log(be, 4096);
		goto out;
	}
	printf("vufs-soak: PASS\n");
	rc = 0;
out:
	if (fe && ag && !fe_broken(fe)) {
		for (unsigned int i = 0; i < o.agents; i++) {
			fe_guest_free(fe, ag[i].wbuf);
			fe_guest_free(fe, ag[i].rbuf);
			fe_guest_free(fe, ag[i].dbuf);
		}
	}
	free(ag);
	fe_close(fe);
	fe_backend_free(be);
	fe_rm_rf(tmp);
	free(tmpl);
	return rc;
}
