// SPDX-License-Identifier: MIT
/*
 * DAX without a VM: vufsd --dax-window against libvufsfe's window (fe_shm),
 * which serves SHMEM_MAP/UNMAP (QEMU 11) or FS_MAP/FS_UNMAP
 * (cloud-hypervisor) by mmapping the files into its own window and
 * announcing each mapping as a guest memory region, in QEMU's order.
 * The FUSE side plays the Linux guest: SETUPMAPPING with fh = ~0 on the
 * nodeid, 2 MiB ranges, REMOVEMAPPING lists.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_shm.h"
#include "vhost_user.h"

#define MiB (1ull << 20)
#define WINDOW (64 * MiB)
#define RANGE (2 * MiB)

struct dax {
	struct h *h;
	struct fe_shm *shm;
	uint8_t *win;
};

/* Start vufsd with @extra options, connect with the DAX protocol features, FUSE_INIT. */
static void dax_start(struct h *h, struct dax *d, const char *extra, enum fe_shm_form form,
		      const struct fe_shm_opts *so_in)
{
	struct fe_opts o;
	struct fe_shm_opts so;
	struct fuse_init_out io;
	char *t;

	assert_true(asprintf(&t, "%s %s", h->tmpl, extra) > 0);
	free(h->tmpl);
	h->tmpl = t;
	fe_opts_default(&o);
	o.protocol_mask |= (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
			   (1ull << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) |
			   (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
	if (form == FE_SHM_SHMEM)
		o.protocol_mask |= 1ull << VHOST_USER_PROTOCOL_F_SHMEM;
	o.add_mem_reg = true;
	h_start(h, &o, false);
	if (so_in)
		so = *so_in;
	else
		fe_shm_opts_default(&so, WINDOW);
	so.form = form;
	H_OK(h, fe_shm_start(h->fe, &so, &d->shm));
	d->h = h;
	d->win = fe_shm_window(d->shm);
	H_OK(h, fe_fuse_init_ex(h->fe, 7, 38,
				FE_FUSE_INIT_FLAGS | FUSE_MAP_ALIGNMENT | FUSE_HAS_INODE_DAX, &io));
}

static void dax_stop(struct dax *d)
{
	fe_shm_stop(d->shm);
}

static int setupmapping(struct h *h, uint64_t nodeid, uint64_t foffset, uint64_t len,
			uint64_t moffset, uint64_t flags)
{
	struct fuse_setupmapping_in in = {
		.fh = UINT64_MAX, .foffset = foffset, .len = len, .flags = flags, .moffset = moffset
	};

	return fe_fuse_raw(h->fe, 1, FUSE_SETUPMAPPING, nodeid, &in, sizeof(in), NULL, 0, NULL);
}

static int removemapping(struct h *h, const uint64_t *moff_len, uint32_t count)
{
	struct {
		struct fuse_removemapping_in in;
		struct fuse_removemapping_one one[8];
	} __attribute__((packed)) r = { .in.count = count };

	for (uint32_t i = 0; i < count && i < 8; i++) {
		r.one[i].moffset = moff_len[2 * i];
		r.one[i].len = moff_len[2 * i + 1];
	}
	return fe_fuse_raw(h->fe, 1, FUSE_REMOVEMAPPING, 0, &r,
			   (uint32_t)(sizeof(r.in) + (count < 8 ? count : 8) * sizeof(r.one[0])),
			   NULL, 0, NULL);
}

static int remove1(struct h *h, uint64_t moffset, uint64_t len)
{
	uint64_t ml[2] = { moffset, len };

	return removemapping(h, ml, 1);
}

#define RW (FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE)

static void check_config_and_init(struct h *h)
{
	struct {
		struct vhost_user_config c;
	} q = { { .offset = 0, .size = 40 } };
	struct vhost_user_msg reply;
	uint32_t rsize = 0;

	/* The tag and one request queue, from the config space. */
	H_OK(h, fe_vu_send(h->fe, VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, &q,
			   VHOST_USER_CONFIG_HDR_SIZE + 40, NULL, 0, &reply, &rsize));
	assert_int_equal(rsize, VHOST_USER_CONFIG_HDR_SIZE + 40);
	assert_string_equal((char *)reply.payload.config.region, "daxfs");
	assert_int_equal(reply.payload.config.region[36], 1);
	/* The window size. */
	H_OK(h, fe_vu_send(h->fe, VHOST_USER_GET_SHMEM_CONFIG, VHOST_USER_VERSION, NULL, 0, NULL, 0,
			   &reply, &rsize));
	assert_int_equal(rsize, sizeof(struct vhost_user_shmem_config));
	assert_int_equal(reply.payload.shmem_config.nregions, 1);
	assert_int_equal(reply.payload.shmem_config.memory_sizes[0], WINDOW);
	/* INIT offered the map alignment (log2 of a page). */
	assert_true(fe_fuse_conn(h->fe)->flags & FUSE_MAP_ALIGNMENT);
	assert_int_equal(fe_fuse_conn(h->fe)->map_alignment, 12);
}

/* Read and write a file through the window: the bytes are the host file's. */
static void test_map_read_write(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	size_t size = 3 * MiB;
	uint8_t *data = malloc(size), *back = malloc(size);
	struct fe_shm_stats st;
	uint64_t ino;

	h_pattern(data, size, 7);
	h_write_file(h, "big", data, size);
	dax_start(h, &d, "--dax-window=64M --tag=daxfs", FE_SHM_SHMEM, NULL);
	check_config_and_init(h);
	ino = h_lookup(h, "big", NULL);
	/* Two 2 MiB ranges, the second over the last MiB only (mapped to EOF). */
	H_OK(h, setupmapping(h, ino, 0, RANGE, 4 * MiB, FUSE_SETUPMAPPING_FLAG_READ));
	H_OK(h, setupmapping(h, ino, RANGE, RANGE, 10 * MiB, RW));
	assert_memory_equal(d.win + 4 * MiB, data, RANGE);
	assert_memory_equal(d.win + 10 * MiB, data + RANGE, MiB);
	assert_true(fe_shm_mapped(d.shm, 10 * MiB, MiB));
	assert_false(fe_shm_mapped(d.shm, 11 * MiB, 4096));
	/* A store through the window is on the host at once (no msync). */
	memcpy(d.win + 10 * MiB + 100, "DAX!", 4);
	h_read_file(h, "big", back, size);
	assert_memory_equal(back + RANGE + 100, "DAX!", 4);
	H_OK(h, remove1(h, 4 * MiB, RANGE));
	H_OK(h, remove1(h, 10 * MiB, RANGE));
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.maps, 2);
	assert_int_equal(st.unmaps, 2);
	assert_int_equal(st.mapped, 0);
	dax_stop(&d);
	free(data);
	free(back);
}

/* What the record refuses: outside the window, unaligned, overlaps, double unmaps. */
static void test_refusals(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t buf[8192] = { 1 };
	uint64_t ino, two[4] = { 0 };

	h_write_file(h, "f", buf, sizeof(buf));
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, NULL);
	ino = h_lookup(h, "f", NULL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, WINDOW, RW), EINVAL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, WINDOW - MiB, RW), EINVAL);
	H_ERR(h, setupmapping(h, ino, 0, UINT64_MAX - 4095, 4096, RW), EINVAL);
	H_ERR(h, setupmapping(h, ino, 1, RANGE, 0, RW), EINVAL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 100, RW), EINVAL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 0, 1ull << 7), EINVAL);
	H_ERR(h, setupmapping(h, FUSE_ROOT_ID, 0, RANGE, 0, RW), EISDIR);
	H_ERR(h, setupmapping(h, 0x123456789ull, 0, RANGE, 0, RW), ESTALE);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, RW));
	H_ERR(h, setupmapping(h, ino, 0, RANGE, MiB, RW), EINVAL);
	/* The same range again: replaced (remapped). */
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, FUSE_SETUPMAPPING_FLAG_READ));
	H_ERR(h, remove1(h, 0, MiB), ENOENT);
	H_ERR(h, remove1(h, WINDOW, RANGE), EINVAL);
	H_OK(h, remove1(h, 0, RANGE));
	H_ERR(h, remove1(h, 0, RANGE), ENOENT);
	/* Malformed REMOVEMAPPING: count 0, count beyond what follows. */
	H_ERR(h, removemapping(h, two, 0), EINVAL);
	{
		struct fuse_removemapping_in in = { .count = 3 };

		H_ERR(h, fe_fuse_raw(h->fe, 1, FUSE_REMOVEMAPPING, 0, &in, sizeof(in), NULL, 0, NULL),
		      EINVAL);
	}
	/* Several in one: each is handled, the first error is the answer. */
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, RW));
	H_OK(h, setupmapping(h, ino, 0, RANGE, RANGE, RW));
	two[0] = 0, two[1] = RANGE, two[2] = RANGE, two[3] = RANGE;
	H_OK(h, removemapping(h, two, 2));
	assert_false(fe_shm_mapped(d.shm, 0, 4096));
	dax_stop(&d);
}

/* Appends extend the mapping; a truncation unmaps what lies beyond first. */
static void test_grow_and_truncate(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t buf[3 * 4096];
	struct fuse_open_out oo;
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE };
	struct fuse_attr_out ao;
	uint64_t ino;

	h_pattern(buf, sizeof(buf), 3);
	h_write_file(h, "log", buf, 5000);
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, NULL);
	ino = h_lookup(h, "log", NULL);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 2 * RANGE, RW));
	assert_true(fe_shm_mapped(d.shm, 2 * RANGE, 8192));
	assert_false(fe_shm_mapped(d.shm, 2 * RANGE + 8192, 4096));
	/* The partial last page is a copy: its bytes are the file's, and a store reaches the
	 * file at FLUSH (the VMM maps nothing past a file's end). */
	assert_memory_equal(d.win + 2 * RANGE + 4096, buf + 4096, 5000 - 4096);
	d.win[2 * RANGE + 4096 + 10] = 'Z';
	H_OK(h, fe_fuse_open(h->fe, ino, O_RDWR, &oo));
	H_OK(h, fe_fuse_flush(h->fe, ino, oo.fh, 0));
	{
		uint8_t host[5000];

		assert_int_equal(h_read_file(h, "log", host, sizeof(host)), 5000);
		assert_int_equal(host[4096 + 10], 'Z');
		buf[4096 + 10] = 'Z';
	}
	/* The guest appends with FUSE_WRITE and keeps using its range. */
	assert_int_equal(fe_fuse_write(h->fe, ino, oo.fh, 5000, buf + 5000, sizeof(buf) - 5000),
			 (int)(sizeof(buf) - 5000));
	assert_true(fe_shm_mapped(d.shm, 2 * RANGE + 8192, 4096));
	assert_memory_equal(d.win + 2 * RANGE, buf, sizeof(buf));
	/* Grown on the host: seen (and mapped) at the next GETATTR. */
	{
		FILE *f = fopen(h_path(h, "log"), "a");

		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, 4096, f), 4096);
		fclose(f);
	}
	H_OK(h, fe_fuse_getattr(h->fe, ino, NULL, &ao));
	assert_int_equal(ao.attr.size, sizeof(buf) + 4096);
	assert_true(fe_shm_mapped(d.shm, 2 * RANGE + 3 * 4096, 4096));
	assert_memory_equal(d.win + 2 * RANGE + 3 * 4096, buf, 4096);
	/* Truncation by the guest: the pages past the new end leave the window first. */
	sa.size = 4096;
	H_OK(h, fe_fuse_setattr(h->fe, ino, &sa, &ao));
	assert_true(fe_shm_mapped(d.shm, 2 * RANGE, 4096));
	assert_false(fe_shm_mapped(d.shm, 2 * RANGE + 4096, 4096));
	sa.size = 0;
	H_OK(h, fe_fuse_setattr(h->fe, ino, &sa, &ao));
	assert_false(fe_shm_mapped(d.shm, 2 * RANGE, 4096));
	/* open(O_TRUNC) truncates on the host too: the mapping goes first. */
	assert_int_equal(fe_fuse_write(h->fe, ino, oo.fh, 0, buf, 8192), 8192);
	assert_true(fe_shm_mapped(d.shm, 2 * RANGE, 8192));
	{
		struct fuse_open_out o2;

		H_OK(h, fe_fuse_open(h->fe, ino, O_RDWR | O_TRUNC, &o2));
		assert_false(fe_shm_mapped(d.shm, 2 * RANGE, 4096));
		H_OK(h, fe_fuse_release(h->fe, ino, o2.fh, 0));
	}
	/* Removed while mapped: the range stays valid on the unlinked file until REMOVEMAPPING. */
	assert_int_equal(fe_fuse_write(h->fe, ino, oo.fh, 0, buf, 4096), 4096);
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "log"));
	assert_memory_equal(d.win + 2 * RANGE, buf, 4096);
	H_OK(h, remove1(h, 2 * RANGE, RANGE));
	H_OK(h, fe_fuse_release(h->fe, ino, oo.fh, 0));
	dax_stop(&d);
}

/*
 * Many mappings, each announced as a memory region (QEMU's order): more than
 * the old 32 slots, and every unmap waits for a REM_MEM_REG ack. A daemon
 * that stops its queues to change its memory table deadlocks here until the
 * backend channel's timeout (5 s per unmap: this test would take minutes).
 */
static void test_many_regions_no_deadlock(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t buf[4096];
	struct fe_shm_stats st;
	struct fe_shm_opts so;
	char name[32];
	uint64_t ino[32];
	uint64_t t0;

	h_pattern(buf, sizeof(buf), 1);
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "small%d", i);
		buf[0] = (uint8_t)i;
		h_write_file(h, name, buf, 1000 + (size_t)i);
	}
	fe_shm_opts_default(&so, 128 * MiB);
	dax_start(h, &d, "--dax-window=128M", FE_SHM_SHMEM, &so);
	t0 = fe_now_ns();
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 32; i++) {
			snprintf(name, sizeof(name), "small%d", i);
			if (!round)
				ino[i] = h_lookup(h, name, NULL);
			/* 2 MiB ranges of small files: 4 KiB mapped each, past EOF. */
			H_OK(h, setupmapping(h, ino[i], 0, RANGE, (uint64_t)(i + 32 * round) * RANGE,
					     RW));
		}
	}
	for (int i = 0; i < 32; i++)
		assert_int_equal(d.win[(uint64_t)(i + 32) * RANGE], (uint8_t)i);
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.mapped, 64);
	for (int i = 0; i < 64; i++)
		H_OK(h, remove1(h, (uint64_t)i * RANGE, RANGE));
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.mapped, 0);
	assert_int_equal(st.max_mapped, 64);
	/* No request waited for a timeout (each would be 5 s). */
	assert_true(fe_now_ns() - t0 < 4000000000ull);
	dax_stop(&d);
}

/* The cloud-hypervisor form (FS_MAP/FS_UNMAP, no SHMEM feature) does the same. */
static void test_fs_map_form(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t buf[10000];
	struct fe_shm_stats st;
	uint64_t ino;

	h_pattern(buf, sizeof(buf), 5);
	h_write_file(h, "ch", buf, sizeof(buf));
	dax_start(h, &d, "--dax-window=64M", FE_SHM_FS, NULL);
	assert_false(fe_protocol_features(h->fe) & (1ull << VHOST_USER_PROTOCOL_F_SHMEM));
	ino = h_lookup(h, "ch", NULL);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 6 * RANGE, FUSE_SETUPMAPPING_FLAG_READ));
	assert_memory_equal(d.win + 6 * RANGE, buf, sizeof(buf));
	H_OK(h, remove1(h, 6 * RANGE, RANGE));
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.maps, 2); /* two whole pages, and a copy of the partial third */
	assert_int_equal(st.unmaps, 2);
	assert_int_equal(st.bad_requests, 0);
	dax_stop(&d);
}

/* A file the caller may only read is not DAX-mapped (the VMM would map it writable). */
static void test_read_only_caller(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t buf[4096] = { 9 };
	uint64_t ino;

	if (geteuid() != 0)
		skip(); /* needs another uid than the file's owner */
	h_write_file(h, "ro", buf, sizeof(buf));
	assert_int_equal(chmod(h_path(h, "ro"), 0644), 0);
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, NULL);
	ino = h_lookup(h, "ro", NULL);
	fe_fuse_set_creds(h->fe, 4242, 4242, 1);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 0, FUSE_SETUPMAPPING_FLAG_READ), EACCES);
	fe_fuse_set_creds(h->fe, 0, 0, 1);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, FUSE_SETUPMAPPING_FLAG_READ));
	H_OK(h, remove1(h, 0, RANGE));
	dax_stop(&d);
}

/* Without --dax-window: no SHMEM feature, SETUPMAPPING is ENOSYS. */
static void test_no_window(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t buf[4096] = { 0 };
	uint64_t ino;

	h_write_file(h, "f", buf, sizeof(buf));
	h_start(h, NULL, true);
	assert_false(fe_backend_protocol_features(h->fe) & (1ull << VHOST_USER_PROTOCOL_F_SHMEM));
	assert_false(fe_backend_protocol_features(h->fe) & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	ino = h_lookup(h, "f", NULL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 0, RW), ENOSYS);
	H_ERR(h, remove1(h, 0, RANGE), ENOSYS);
}

/* dax=inode: files of at least --dax-min-size carry FUSE_ATTR_DAX, smaller ones do not. */
static void test_inode_policy(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	uint8_t *buf = calloc(1, 2 * MiB);
	struct fuse_attr a;

	h_write_file(h, "large", buf, 2 * MiB);
	h_write_file(h, "small", buf, 4096);
	dax_start(h, &d, "--dax-window=64M --dax-min-size=1M", FE_SHM_SHMEM, NULL);
	h_lookup(h, "large", &a);
	assert_true(a.flags & FUSE_ATTR_DAX);
	h_lookup(h, "small", &a);
	assert_false(a.flags & FUSE_ATTR_DAX);
	h_lookup(h, "", &a);
	assert_false(a.flags & FUSE_ATTR_DAX);
	dax_stop(&d);
	free(buf);
}

/*
 * A guest that restarts (INIT on a live session) drops the record without
 * unmapping (the control thread must not wait on the backend channel); the
 * VMM still has the old mappings, so mapping that part of the window again
 * unmaps them first (else the VMM would refuse the overlap).
 */
static void test_reinit_stale_window(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	struct fuse_init_out io;
	struct fe_shm_stats st;
	uint8_t buf[8192];
	uint64_t ino;

	h_pattern(buf, sizeof(buf), 11);
	h_write_file(h, "f", buf, sizeof(buf));
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, NULL);
	ino = h_lookup(h, "f", NULL);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, RW));
	H_OK(h, setupmapping(h, ino, 0, RANGE, RANGE, RW));
	H_OK(h, fe_fuse_init_ex(h->fe, 7, 38,
				FE_FUSE_INIT_FLAGS | FUSE_MAP_ALIGNMENT | FUSE_HAS_INODE_DAX, &io));
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.mapped, 2); /* still in the VMM */
	H_ERR(h, remove1(h, 0, RANGE), ENOENT); /* but no longer in the record */
	ino = h_lookup(h, "f", NULL);
	H_OK(h, setupmapping(h, ino, 0, RANGE, 0, FUSE_SETUPMAPPING_FLAG_READ));
	fe_shm_get_stats(d.shm, &st);
	assert_int_equal(st.mapped, 2); /* the stale range at 0 went, the new one came */
	assert_int_equal(st.unmaps, 1);
	assert_memory_equal(d.win, buf, sizeof(buf));
	H_OK(h, remove1(h, 0, RANGE));
	dax_stop(&d);
}

/* A frontend that refuses every mapping: the guest gets EIO, the record stays empty. */
static void test_frontend_refuses(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	struct fe_shm_opts so;
	uint8_t buf[4096] = { 0 };
	struct fuse_attr_out ao;
	uint64_t ino;

	h_write_file(h, "f", buf, sizeof(buf));
	fe_shm_opts_default(&so, WINDOW);
	so.refuse_all = true;
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, &so);
	ino = h_lookup(h, "f", NULL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 0, RW), EIO);
	H_ERR(h, remove1(h, 0, RANGE), ENOENT);
	H_OK(h, fe_fuse_getattr(h->fe, ino, NULL, &ao));
	dax_stop(&d);
}

/*
 * A frontend that never answers: the request ends with ETIMEDOUT after the
 * backend channel's timeout (5 s), the queue is not hung, and later DAX
 * requests fail at once (EIO: the channel is out of step).
 */
static void test_frontend_silent(void **state)
{
	struct h *h = H_STATE(state);
	struct dax d;
	struct fe_shm_opts so;
	uint8_t buf[4096] = { 0 };
	struct fuse_attr_out ao;
	uint64_t ino;

	h_write_file(h, "f", buf, sizeof(buf));
	fe_shm_opts_default(&so, WINDOW);
	so.silent = true;
	dax_start(h, &d, "--dax-window=64M", FE_SHM_SHMEM, &so);
	ino = h_lookup(h, "f", NULL);
	H_ERR(h, setupmapping(h, ino, 0, RANGE, 0, RW), ETIMEDOUT);
	H_OK(h, fe_fuse_getattr(h->fe, ino, NULL, &ao));
	H_ERR(h, setupmapping(h, ino, 0, RANGE, RANGE, RW), EIO);
	dax_stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_read_write, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_grow_and_truncate, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_many_regions_no_deadlock, h_setup_lazy,
						h_teardown),
		cmocka_unit_test_setup_teardown(test_fs_map_form, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_read_only_caller, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_no_window, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_inode_policy, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_reinit_stale_window, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_frontend_refuses, h_setup_lazy, h_teardown),
		cmocka_unit_test_setup_teardown(test_frontend_silent, h_setup_lazy, h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
