// SPDX-License-Identifier: MIT
#include "runfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vu_sock.h"

int run_pidfile_lock(const char *socket_path, char *path, size_t size)
{
	char buf[32];
	int fd = -1, err, len;

	if ((size_t)snprintf(path, size, "%s.pid", socket_path) >= size) {
		log_err("pid file name too long: %s.pid", socket_path);
		return -ENAMETOOLONG;
	}
	/*
	 * Lock, then check that the name still leads to the file we locked: a
	 * daemon that was exiting may have unlinked it between our open and
	 * our lock, and a lock on an unlinked file protects nothing.
	 */
	for (int tries = 0; tries < 100; tries++) {
		struct stat locked, now;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			err = -errno;
			log_err("cannot create pid file %s: %s", path, strerror(-err));
			return err;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			err = -errno;
			if (err == -EWOULDBLOCK) {
				ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

				buf[n > 0 ? n : 0] = '\0';
				buf[strcspn(buf, "\n")] = '\0';
				log_err("%s is in use by another daemon (pid %s, its pid file %s is "
					"locked)", socket_path, buf[0] ? buf : "unknown", path);
				err = -EBUSY;
			} else {
				log_err("cannot lock pid file %s: %s", path, strerror(-err));
			}
			close(fd);
			return err;
		}
		if (fstat(fd, &locked) == 0 && stat(path, &now) == 0 &&
		    locked.st_dev == now.st_dev && locked.st_ino == now.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		log_err("pid file %s keeps being replaced", path);
		return -EAGAIN;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		err = -errno;
		log_err("cannot write pid file %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int run_listen_group(const char *socket_path, unsigned gid)
{
	char tmp[108];
	struct stat st;
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", socket_path) >= sizeof(tmp)) {
		log_err("--socket-group: socket path too long: %s", socket_path);
		return -ENAMETOOLONG;
	}
	/* rename() would replace anything: refuse what vu_sock_listen refuses. */
	if (lstat(socket_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket", socket_path);
		return -EEXIST;
	}
	fd = vu_sock_listen(tmp);
	if (fd < 0)
		return fd;
	/* Group first, then open it to the group: never open to the wrong one. */
	if (chown(tmp, (uid_t)-1, (gid_t)gid) < 0 || chmod(tmp, 0660) < 0 ||
	    rename(tmp, socket_path) < 0) {
		err = -errno;
		log_err("--socket-group: cannot give %s to group %u: %s", socket_path, gid,
			strerror(-err));
		unlink(tmp);
		close(fd);
		return err;
	}
	return fd;
}
