// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the frontend's side of the backend channel. The input
 * is the byte stream a (hostile or broken) frontend sends back on the
 * channel; we send SHMEM_MAP / FS_UNMAP requests and read whatever comes as
 * their replies. Invariants: every request ends (the stream is closed after
 * the input, so nothing may wait for the timeout), with 0 or one of the
 * documented errnos; once a reply is malformed the channel stays failed;
 * no fd leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "vu_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 256; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static int base_fds;
	struct vu_backend b;
	int sv[2];

	if (!init) {
		fuzz_log_init();
		base_fds = count_fds();
		init = true;
	}
	if (size > 8192)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("socketpair: %m");
	if (size && write(sv[1], data, size) != (ssize_t)size)
		fuzz_fail("write: %m");
	shutdown(sv[1], SHUT_WR);

	vu_backend_init(&b);
	vu_backend_set_fd(&b, sv[0]);
	vu_backend_set_reply_ack(&b, true);
	vu_backend_set_timeout(&b, 10000); /* must never be reached: the stream ends */
	for (int i = 0; i < 4; i++) {
		struct vhost_user_shmem_map m = { .shm_offset = (uint64_t)i << 21, .len = 4096 };
		struct vhost_user_fs_backend_msg fm = { .len = { 4096 } };
		bool was_ok = vu_backend_connected(&b);
		int r;

		if (i % 2)
			r = vu_backend_request(&b, VHOST_USER_BACKEND_FS_UNMAP, &fm, sizeof(fm), -1);
		else
			r = vu_backend_request(&b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1);
		FUZZ_CHECK(r == 0 || r == -EIO || r == -EPIPE, "request %d: unexpected %d", i, r);
		FUZZ_CHECK(was_ok || r == -EIO, "request %d on a failed channel returned %d", i, r);
		if (fuzz_trace())
			fprintf(stderr, "request %d: %d\n", i, r);
	}
	vu_backend_fini(&b);
	close(sv[1]);
	FUZZ_CHECK(count_fds() == base_fds, "fd leak: %d open, %d before", count_fds(), base_fds);
	return 0;
}
