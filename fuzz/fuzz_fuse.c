// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the FUSE request decoder and the passthrough fs behind
 * it (src/fuse/, src/fs/).
 *
 * Each input gets a fresh pt_fs + fuse_session on a scratch share (wiped
 * first, so every input is self-contained and reproducible), a synthetic
 * INIT, then up to 32 requests from the input. Each request's readable
 * part is cut into iovecs at input-chosen points, every piece in its own
 * exact-size heap block (so ASan sees any read past a piece), and it gets
 * a writable part of input-chosen size, also cut into exact-size blocks.
 *
 * Checked: no crash (ASan/UBSan); every reply well-formed (len == bytes
 * written, the request's unique, errno in (-512, 0], errors carry no
 * payload); after the session is torn down no fd is left open; nothing
 * outside the share changed (a canary next to it).
 *
 * Requests run on a worker thread that is set up like a queue thread
 * (pt_thread_init moves its cwd to /proc/self/fd), so libFuzzer's own cwd
 * (relative artifact paths) is untouched.
 *
 * Input: repeated [ctl u8][len u16][request: len bytes][out_size u16]
 *        [n_in_cuts u8][cuts u16...][n_out_cuts u8][cuts u16...]
 *   ctl bit 0: send the header as is (else len, uid/gid are fixed up);
 *       bit 1: keep the input's uid/gid (else root);
 *       bit 2: replace nodeid by one a reply handed out (index: bits 4-7);
 *       bit 3: replace the first argument u64 (the fh of READ, WRITE,
 *              RELEASE, ...) by a handle a reply handed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuse_dax.h"
#include "fuse_session.h"
#include "fuzz_common.h"
#include "iov.h"
#include "pt.h"
#include "vq.h"

#define MAX_REQS 32
#define MAX_PIECES 5
#define MAX_KNOWN 16
#define MAX_HOST_ALLOC (1u << 20) /* FALLOCATE and COPY_FILE_RANGE lengths */
#define CANARY "the share must not reach this file\n"

static char base_dir[64], share[96], canary[96];

/* The worker thread and its current input. */
static pthread_t worker;
static sem_t go, done;
static const uint8_t *cur_data;
static size_t cur_size;

/* Per input, on the worker. */
static struct pt_fs *fs;
static struct fuse_session *se;
static struct fuse_thread *ft;
static uint64_t known_nodes[MAX_KNOWN], known_fhs[MAX_KNOWN];
static unsigned nknown_nodes, nknown_fhs;

static void remember(uint64_t *arr, unsigned *n, uint64_t v)
{
	if (!v)
		return;
	arr[*n % MAX_KNOWN] = v;
	(*n)++;
}

static void check_reply(const uint8_t *out, size_t written, uint64_t unique, const char *what)
{
	struct fuse_out_header oh;

	FUZZ_CHECK(written >= sizeof(oh), "%s: reply of %zu bytes", what, written);
	memcpy(&oh, out, sizeof(oh));
	FUZZ_CHECK(oh.len == written, "%s: header len %u, %zu written", what, oh.len, written);
	FUZZ_CHECK(oh.unique == unique, "%s: unique %llu for request %llu", what,
		   (unsigned long long)oh.unique, (unsigned long long)unique);
	FUZZ_CHECK(oh.error <= 0 && oh.error > -512, "%s: error %d", what, oh.error);
	FUZZ_CHECK(!oh.error || written == sizeof(oh), "%s: error %d with %zu bytes", what,
		   oh.error, written);
}

/* Late completion of a SETLKW that had to wait. */
static void complete(void *opaque, unsigned qidx, uint32_t token, const void *reply, size_t len)
{
	struct fuse_out_header oh;

	(void)opaque;
	(void)qidx;
	(void)token;
	FUZZ_CHECK(len >= sizeof(oh), "late reply of %zu bytes", len);
	memcpy(&oh, reply, sizeof(oh));
	check_reply(reply, len, oh.unique, "late reply");
	FUZZ_TRACE("late reply to %llu: error %d\n", (unsigned long long)oh.unique, oh.error);
}

/* Learn the nodeids and file handles a successful reply hands out. */
static void learn(uint32_t opcode, const uint8_t *p, size_t len)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKDIR:
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		if (len >= sizeof(struct fuse_entry_out))
			remember(known_nodes, &nknown_nodes,
				 ((const struct fuse_entry_out *)p)->nodeid);
		break;
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (len >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)) {
			remember(known_nodes, &nknown_nodes,
				 ((const struct fuse_entry_out *)p)->nodeid);
			remember(known_fhs, &nknown_fhs,
				 ((const struct fuse_open_out *)(p + sizeof(struct fuse_entry_out)))
					 ->fh);
		}
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		if (len >= sizeof(struct fuse_open_out))
			remember(known_fhs, &nknown_fhs, ((const struct fuse_open_out *)p)->fh);
		break;
	case FUSE_READDIRPLUS:
		for (size_t off = 0; off + FUSE_NAME_OFFSET_DIRENTPLUS <= len;) {
			const struct fuse_direntplus *dp = (const void *)(p + off);

			remember(known_nodes, &nknown_nodes, dp->entry_out.nodeid);
			FUZZ_CHECK(dp->dirent.namelen <= NAME_MAX, "dirent name of %u bytes",
				   dp->dirent.namelen);
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		break;
	}
}

/*
 * Cut @len bytes (from @src, or 0xee filler) into @n pieces at @cuts, each
 * its own heap block. Returns the number of iovecs.
 */
static unsigned make_pieces(struct iovec *iov, const uint8_t *src, size_t len, const uint16_t *cuts,
			    unsigned ncuts)
{
	size_t at[MAX_PIECES + 1];
	unsigned n = 0, k = 0;

	for (unsigned i = 0; i < ncuts; i++)
		at[k++] = len ? cuts[i] % (len + 1) : 0;
	/* Sort the cut points (tiny insertion sort). */
	for (unsigned i = 1; i < k; i++)
		for (unsigned j = i; j && at[j - 1] > at[j]; j--) {
			size_t x = at[j];

			at[j] = at[j - 1];
			at[j - 1] = x;
		}
	at[k++] = len;
	for (size_t prev = 0, i = 0; i < k; i++) {
		size_t plen = at[i] - prev;
		uint8_t *b = malloc(plen ? plen : 1);

		if (!b)
			fuzz_fail("malloc");
		if (src)
			memcpy(b, src + prev, plen);
		else
			memset(b, 0xee, plen);
		iov[n].iov_base = b;
		iov[n].iov_len = plen;
		n++;
		prev = at[i];
	}
	return n;
}

static void free_pieces(struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(iov[i].iov_base);
}

/* Run one request; returns the reply's error (1 if there was none). */
static int run_request(uint8_t *req, size_t len, size_t out_len, const uint16_t *in_cuts,
		       unsigned n_in, const uint16_t *out_cuts, unsigned n_out, uint32_t token)
{
	struct iovec iov[2 * (MAX_PIECES + 1)];
	struct fuse_in_header ih = { 0 };
	unsigned in_cnt, out_cnt;
	uint32_t written = 0xdeadbeef;
	uint8_t *out;
	int r, err = 1;

	memcpy(&ih, req, len < sizeof(ih) ? len : sizeof(ih));
	in_cnt = make_pieces(iov, req, len, in_cuts, n_in);
	out_cnt = make_pieces(iov + in_cnt, NULL, out_len, out_cuts, n_out);
	r = fuse_session_handle(se, ft, 1, token, iov, in_cnt, len, out_cnt, out_len, &written);
	FUZZ_CHECK(r == 0 || r == FUSE_SESSION_ASYNC, "fuse_session_handle returned %d", r);
	if (r == FUSE_SESSION_ASYNC)
		FUZZ_TRACE("opcode %u unique %llu: later\n", ih.opcode, (unsigned long long)ih.unique);
	if (r == 0) {
		FUZZ_CHECK(written <= out_len, "%u bytes written into %zu", written, out_len);
		if (written) {
			out = malloc(written);
			if (!out)
				fuzz_fail("malloc");
			iov_to_buf(iov + in_cnt, out_cnt, 0, out, written);
			check_reply(out, written, ih.unique, "reply");
			err = ((struct fuse_out_header *)out)->error;
			FUZZ_TRACE("opcode %u unique %llu nodeid 0x%llx: error %d, %u bytes\n",
				   ih.opcode, (unsigned long long)ih.unique,
				   (unsigned long long)ih.nodeid, err, written);
			if (!err)
				learn(ih.opcode, out + sizeof(struct fuse_out_header),
				      written - sizeof(struct fuse_out_header));
			free(out);
		} else {
			FUZZ_TRACE("opcode %u unique %llu: no reply\n", ih.opcode,
				   (unsigned long long)ih.unique);
		}
	}
	free_pieces(iov, in_cnt + out_cnt);
	return err;
}

static void synthetic_init(void)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} req = {
		.h = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 },
		.in = {
			.major = FUSE_KERNEL_VERSION,
			.minor = FUSE_KERNEL_MINOR_VERSION,
			.max_readahead = 1 << 20,
			.flags = 0xffffffffu,
			.flags2 = 0xffffffffu,
		},
	};
	int err = run_request((uint8_t *)&req, sizeof(req), 4096, NULL, 0, NULL, 0, 0);

	FUZZ_CHECK(err == 0, "INIT failed: %d", err);
}

/* Guest-chosen sizes that would make the host allocate real space are capped. */
static void cap_request(uint8_t *req, size_t len)
{
	struct fuse_in_header ih;
	struct fuse_fallocate_in fa;
	struct fuse_copy_file_range_in cf;

	memcpy(&ih, req, sizeof(ih));
	if (ih.opcode == FUSE_FALLOCATE && len >= sizeof(ih) + sizeof(fa)) {
		memcpy(&fa, req + sizeof(ih), sizeof(fa));
		fa.length %= MAX_HOST_ALLOC + 1;
		memcpy(req + sizeof(ih), &fa, sizeof(fa));
	} else if (ih.opcode == FUSE_COPY_FILE_RANGE && len >= sizeof(ih) + sizeof(cf)) {
		memcpy(&cf, req + sizeof(ih), sizeof(cf));
		cf.len %= MAX_HOST_ALLOC + 1;
		memcpy(req + sizeof(ih), &cf, sizeof(cf));
	}
}

/*
 * DAX: a 64 MiB window whose transport checks what the record asks for:
 * page-aligned ranges inside the window, from an open fd, never past the
 * end of the file (the VMM's rule).
 */
#define DAX_WINDOW (64ull << 20)

static int dax_map(void *opaque, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
		   bool writable)
{
	struct stat st;

	(void)opaque, (void)writable;
	FUZZ_CHECK(fstat(fd, &st) == 0, "dax map with a bad fd %d", fd);
	FUZZ_CHECK(len && !(len % 4096) && !(moffset % 4096) && !(foffset % 4096) &&
			   moffset < DAX_WINDOW && len <= DAX_WINDOW - moffset,
		   "dax map [0x%llx, +0x%llx) at 0x%llx", (unsigned long long)foffset,
		   (unsigned long long)len, (unsigned long long)moffset);
	FUZZ_CHECK((uint64_t)st.st_size >= foffset + len, "dax map past the end of a %lld-byte file",
		   (long long)st.st_size);
	return 0;
}

static int dax_unmap(void *opaque, uint64_t moffset, uint64_t len)
{
	(void)opaque;
	FUZZ_CHECK(len && moffset < DAX_WINDOW && len <= DAX_WINDOW - moffset,
		   "dax unmap [0x%llx, +0x%llx)", (unsigned long long)moffset,
		   (unsigned long long)len);
	return 0;
}

static const struct fuse_dax_ops dax_ops = { .map = dax_map, .unmap = dax_unmap };

static void run_input(const uint8_t *data, size_t size)
{
	struct fuse_dax_conf dc = { .window = DAX_WINDOW, .max_ranges = 32, .max_regions = 64,
				    .min_size = 4096 };
	struct fuse_dax *dax;
	struct fuzz_in in = { data, size };
	static uint8_t req[1 << 16];
	struct pt_config pc = { .root = share, .proc_self_fd = -1, .max_fds = 64, .xattr = true };
	struct fuse_conf conf = {
		.cache = FUSE_CACHE_AUTO,
		.readdirplus = true,
		.xattr = true,
		.posix_locks = true,
		.flock_locks = true,
		.killpriv_v2 = true,
	};
	unsigned long inodes, handles;

	if (pt_fs_new(&pc, &fs) || fuse_session_new(fs, &conf, &se) ||
	    fuse_dax_new(&dc, &dax_ops, NULL, &dax))
		fuzz_fail("cannot set up the session");
	fuse_session_set_dax(se, dax);
	fuse_session_set_completion(se, complete, NULL);
	if (pt_thread_init(fs) || !(ft = fuse_thread_new(se, VQ_MAX_IOV)))
		fuzz_fail("cannot set up the thread");
	nknown_nodes = nknown_fhs = 0;
	remember(known_nodes, &nknown_nodes, FUSE_ROOT_ID);
	synthetic_init();

	for (uint32_t n = 0; n < MAX_REQS && in.left; n++) {
		uint8_t ctl = fuzz_u8(&in);
		size_t len = fuzz_bytes(&in, req, fuzz_u16(&in));
		size_t out_len = fuzz_u16(&in);
		uint16_t in_cuts[MAX_PIECES], out_cuts[MAX_PIECES];
		unsigned n_in = fuzz_u8(&in) % MAX_PIECES, n_out;

		for (unsigned i = 0; i < n_in; i++)
			in_cuts[i] = fuzz_u16(&in);
		n_out = fuzz_u8(&in) % MAX_PIECES;
		for (unsigned i = 0; i < n_out; i++)
			out_cuts[i] = fuzz_u16(&in);
		if (len >= sizeof(struct fuse_in_header) && !(ctl & 1)) {
			struct fuse_in_header ih;

			memcpy(&ih, req, sizeof(ih));
			ih.len = (uint32_t)len;
			if (!(ctl & 2))
				ih.uid = ih.gid = 0;
			if ((ctl & 4) && nknown_nodes)
				ih.nodeid = known_nodes[(ctl >> 4) % (nknown_nodes < MAX_KNOWN
									   ? nknown_nodes
									   : MAX_KNOWN)];
			memcpy(req, &ih, sizeof(ih));
			if ((ctl & 8) && nknown_fhs && len >= sizeof(ih) + 8) {
				uint64_t fh = known_fhs[(ctl >> 4) % (nknown_fhs < MAX_KNOWN
									? nknown_fhs
									: MAX_KNOWN)];

				memcpy(req + sizeof(ih), &fh, sizeof(fh));
			}
		}
		if (len >= sizeof(struct fuse_in_header))
			cap_request(req, len);
		run_request(req, len, out_len, in_cuts, n_in, out_cuts, n_out, n + 1);
	}

	/* Device reset: every handle and inode the guest held goes (waiting locks too). */
	fuse_session_reset(se);
	{
		struct fuse_dax_stats ds;

		fuse_dax_get_stats(dax, &ds);
		FUZZ_CHECK(ds.ranges == 0, "after reset: %u DAX ranges", ds.ranges);
	}
	pt_fs_counts(fs, &inodes, &handles);
	FUZZ_CHECK(inodes == 1 && handles == 0, "after reset: %lu inodes, %lu handles", inodes,
		   handles);
	fuse_thread_free(ft);
	fuse_session_free(se);
	fuse_dax_free(dax);
	pt_fs_free(fs);
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&go) < 0)
			;
		run_input(cur_data, cur_size);
		sem_post(&done);
	}
	return NULL;
}

static int wipe_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0; /* the share itself stays */
	if (remove(path) < 0)
		fuzz_fail("cannot remove %s: %m", path);
	return 0;
}

static void remove_xattrs(const char *path)
{
	char names[4096];
	ssize_t n = llistxattr(path, names, sizeof(names));

	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1)
		lremovexattr(path, names + off);
}

/* Back to an empty share owned by root, mode 0777 (guest users may create too). */
static void reset_share(void)
{
	DIR *d = opendir(share);
	struct dirent *de;
	bool empty = true;

	if (!d)
		fuzz_fail("cannot open the share: %m");
	while ((de = readdir(d)))
		empty &= !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	if (!empty)
		nftw(share, wipe_cb, 32, FTW_DEPTH | FTW_PHYS);
	if (chown(share, 0, 0) < 0 || chmod(share, 0777) < 0)
		fuzz_fail("cannot reset the share: %m");
	remove_xattrs(share);
}

/* Nothing next to the share may appear, go or change. */
static void check_outside(void)
{
	DIR *d = opendir(base_dir);
	struct dirent *de;
	char buf[sizeof(CANARY) + 8];
	int fd, n = 0;
	ssize_t len;

	if (!d)
		fuzz_fail("cannot open %s: %m", base_dir);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		FUZZ_CHECK(!strcmp(de->d_name, "share") || !strcmp(de->d_name, "canary"),
			   "escape: %s/%s appeared outside the share", base_dir, de->d_name);
		n++;
	}
	closedir(d);
	FUZZ_CHECK(n == 2, "escape: %d entries next to the share", n);
	fd = open(canary, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "escape: canary gone: %m");
	len = read(fd, buf, sizeof(buf));
	close(fd);
	FUZZ_CHECK(len == sizeof(CANARY) - 1 && !memcmp(buf, CANARY, (size_t)len),
		   "escape: canary changed");
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	static bool done;

	if (done || !base_dir[0])
		return;
	done = true;
	nftw(base_dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
	int fd;

	fuzz_log_init();
	strcpy(base_dir, "/tmp/vufs-fuzz-fuse-XXXXXX");
	if (!mkdtemp(base_dir))
		fuzz_fail("mkdtemp: %m");
	snprintf(share, sizeof(share), "%s/share", base_dir);
	snprintf(canary, sizeof(canary), "%s/canary", base_dir);
	if (mkdir(share, 0777) < 0)
		fuzz_fail("mkdir %s: %m", share);
	fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 || write(fd, CANARY, sizeof(CANARY) - 1) != sizeof(CANARY) - 1)
		fuzz_fail("canary: %m");
	close(fd);
	/* The temp dir goes at exit, on a failed invariant, and on a sanitizer report. */
	atexit(cleanup);
	fuzz_cleanup_hook = cleanup;
	__sanitizer_set_death_callback(cleanup);
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	if (pthread_create(&worker, NULL, worker_main, NULL))
		fuzz_fail("pthread_create");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int fds, fds_before;

	/*
	 * Set up on first use, after libFuzzer installed its signal handlers:
	 * the FUSE lock code needs its own SIGUSR1 handler.
	 */
	if (!ready) {
		setup_once();
		ready = true;
	}
	reset_share();
	/* Per input: libFuzzer itself may open fds between inputs (symbolizer pipes). */
	fds_before = fuzz_count_fds();
	cur_data = data;
	cur_size = size;
	sem_post(&go);
	while (sem_wait(&done) < 0)
		;
	fds = fuzz_count_fds();
	if (fds != fds_before)
		fuzz_dump_fds();
	FUZZ_CHECK(fds == fds_before, "fd leak: %d open, %d before the input", fds, fds_before);
	check_outside();
	return 0;
}
