// SPDX-License-Identifier: MIT
#include "vu_sock.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int vu_sock_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t prev_umask;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* Replace a stale socket left by a previous run, never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * Whoever connects is the VMM and acts on the share with our credentials:
	 * the socket is for its owner only (0600, narrowed further by the umask we
	 * were started with). bind() creates it with that mode, so there is no
	 * window in which it is wider.
	 */
	prev_umask = umask(0177);
	umask(prev_umask | 0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(prev_umask);
	if (!err && listen(fd, 1) < 0)
		err = -errno;
	if (err) {
		log_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

void vu_sock_refuse(int listen_fd)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	log_warn("refused a second frontend connection (pid %d, uid %d): one is being served",
		 (int)cred.pid, (int)cred.uid);
	close(fd);
}

void vu_close_fds(int *fds, unsigned nfds)
{
	for (unsigned i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Read exactly @len bytes; 0, -ECONNRESET on EOF, or -errno. */
static int read_full(int sock, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = recv(sock, (char *)buf + done, len - done, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		done += (size_t)r;
	}
	return 0;
}

int vu_sock_recv(int sock, struct vhost_user_msg *msg, int *fds, unsigned *nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = &msg->hdr, .iov_len = sizeof(msg->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;
	ssize_t r;
	int err;

	*nfds = 0;
	memset(control, 0, sizeof(control));
	do {
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ECONNRESET;

	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		size_t payload, n;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		/* Bound the copy by what fits in @fds, not by what the peer claims. */
		payload = cmsg->cmsg_len - CMSG_LEN(0);
		n = payload / sizeof(int);
		if (n > VHOST_USER_MAX_FDS - *nfds)
			n = VHOST_USER_MAX_FDS - *nfds;
		memcpy(fds + *nfds, CMSG_DATA(cmsg), n * sizeof(int));
		*nfds += (unsigned)n;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		log_err("vhost-user: too many fds on one message");
		err = -EPROTO;
		goto err_close;
	}
	if ((size_t)r < sizeof(msg->hdr)) {
		err = read_full(sock, (char *)&msg->hdr + r, sizeof(msg->hdr) - (size_t)r);
		if (err)
			goto err_close;
	}
	if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION) {
		log_err("vhost-user: unsupported version in flags 0x%x", msg->hdr.flags);
		err = -EPROTO;
		goto err_close;
	}
	if (msg->hdr.size > sizeof(msg->payload)) {
		log_err("vhost-user: request %u payload of %u bytes is too large", msg->hdr.request,
			msg->hdr.size);
		err = -EPROTO;
		goto err_close;
	}
	memset(&msg->payload, 0, sizeof(msg->payload));
	err = read_full(sock, &msg->payload, msg->hdr.size);
	if (err)
		goto err_close;
	return 0;

err_close:
	vu_close_fds(fds, *nfds);
	*nfds = 0;
	return err;
}

int vu_sock_send(int sock, const struct vhost_user_msg *msg, const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = sizeof(msg->hdr) + msg->hdr.size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (msg->hdr.size > sizeof(msg->payload) || nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cmsg;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	do {
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if ((size_t)r != iov.iov_len)
		return -EIO; /* a stream socket this small does not short-write; treat as fatal */
	return 0;
}
