// SPDX-License-Identifier: MIT
/* Spawning and reaping backend daemons. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fe_priv.h"

#define LEGACY_PATH "/usr/lib/qemu/virtiofsd"
#define RUST_PATH "/tmp/anchors/rust-virtiofsd"
#define MAX_ARGS 64

struct fe_backend {
	pid_t pid;
	bool exited;
	bool signalled_by_us;
	int status;
	char tmpdir[64];
	char sock[96];
	char log[96];
};

static char *find_vufsd(void)
{
	const char *env = getenv("VUFSD");
	static const char *const rel[] = { "../src/vufsd", "../../src/vufsd", "../../../src/vufsd" };
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n;

	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
				if (access(cand, X_OK) == 0)
					return realpath(cand, NULL);
			}
		}
	}
	return strdup("vufsd");
}

char *fe_backend_template(const char *spec)
{
	char *bin, *t;

	if (!spec || !*spec) {
		errno = EINVAL;
		return NULL;
	}
	if (strstr(spec, "{socket}"))
		return strdup(spec);
	if (!strcmp(spec, "legacy"))
		return strdup(LEGACY_PATH " --socket-path={socket} -o source={dir} -o cache=auto");
	if (!strcmp(spec, "rust"))
		return strdup(RUST_PATH " --socket-path={socket} --shared-dir={dir} --cache=auto");
	if (!strcmp(spec, "vufsd")) {
		bin = find_vufsd();
		if (!bin)
			return NULL;
		if (asprintf(&t, "%s --socket-path={socket} --shared-dir={dir}", bin) < 0)
			t = NULL;
		free(bin);
		return t;
	}
	errno = ENOENT;
	return NULL;
}

/* Replace every occurrence of key in word by val; returns malloc'ed string. */
static char *subst(const char *word, const char *key, const char *val)
{
	size_t klen = strlen(key), vlen = strlen(val), n = 0;
	const char *p;
	char *out, *o;

	for (p = word; (p = strstr(p, key)); p += klen)
		n++;
	out = malloc(strlen(word) + n * vlen + 1);
	if (!out)
		return NULL;
	o = out;
	for (p = word; *p;) {
		if (!strncmp(p, key, klen)) {
			memcpy(o, val, vlen);
			o += vlen;
			p += klen;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return out;
}

static int build_argv(const char *tmpl, const char *sock, const char *dir, char **argv)
{
	char *copy = strdup(tmpl), *save = NULL, *w;
	int argc = 0;

	if (!copy)
		return -ENOMEM;
	for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		char *a, *b;

		if (argc == MAX_ARGS - 1)
			break;
		a = subst(w, "{socket}", sock);
		b = a ? subst(a, "{dir}", dir) : NULL;
		free(a);
		if (!b)
			break;
		argv[argc++] = b;
	}
	argv[argc] = NULL;
	free(copy);
	return argc > 0 ? argc : -EINVAL;
}

static int poll_exit(struct fe_backend *be)
{
	siginfo_t si;
	int status;

	if (be->exited)
		return 1;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)be->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == ECHILD) {
			/* Reaped elsewhere: nothing more to learn. */
			be->exited = true;
			be->status = 0;
			return 1;
		}
		return 0;
	}
	if (si.si_pid != be->pid)
		return 0;
	/*
	 * Still a zombie, so its pid (= our process group id) cannot be reused
	 * yet: take stragglers of the group with it (e.g. a sandbox child).
	 */
	kill(-be->pid, SIGKILL);
	if (waitpid(be->pid, &status, 0) == be->pid) {
		be->status = status;
	} else {
		be->status = 0;
	}
	be->exited = true;
	return 1;
}

/* Whether execvp() could run prog. */
static bool executable(const char *prog)
{
	const char *path = getenv("PATH");
	char cand[PATH_MAX];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t l = colon ? (size_t)(colon - path) : strlen(path);

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)l, l ? path : ".", prog);
		if (access(cand, X_OK) == 0)
			return true;
		path += l + (colon ? 1 : 0);
	}
	return false;
}

int fe_backend_start(const char *tmpl, const char *share_dir, int timeout_ms,
		     struct fe_backend **out)
{
	struct fe_backend *be;
	char *argv[MAX_ARGS];
	int argc, logfd, err = 0;
	pid_t parent;
	uint64_t deadline;
	unsigned int delay_us = 500;

	if (timeout_ms <= 0)
		timeout_ms = FE_DEFAULT_TIMEOUT_MS;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->pid = -1;
	strcpy(be->tmpdir, "/tmp/vufsfe-XXXXXX");
	if (!mkdtemp(be->tmpdir)) {
		err = -errno;
		free(be);
		return err;
	}
	snprintf(be->sock, sizeof(be->sock), "%s/vhost.sock", be->tmpdir);
	snprintf(be->log, sizeof(be->log), "%s/backend.log", be->tmpdir);
	argc = build_argv(tmpl, be->sock, share_dir, argv);
	if (argc < 0) {
		fe_rm_rf(be->tmpdir);
		free(be);
		return argc;
	}
	if (!executable(argv[0])) {
		fprintf(stderr, "vufsfe: backend program %s not found or not executable%s\n", argv[0],
			strcmp(argv[0], "vufsd") ? "" : " (set $VUFSD)");
		err = -ENOENT;
		goto fail;
	}
	logfd = open(be->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		err = -errno;
		goto fail;
	}
	fflush(NULL);
	parent = getpid();
	be->pid = fork();
	if (be->pid < 0) {
		err = -errno;
		close(logfd);
		goto fail;
	}
	if (be->pid == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);	/* we died before the death signal was armed */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execvp(argv[0], argv);
		dprintf(2, "vufsfe: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(be->pid, be->pid);
	close(logfd);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	argc = 0;

	deadline = fe_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		struct stat st;

		if (stat(be->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			break;
		if (poll_exit(be)) {
			char desc[128];

			fprintf(stderr, "vufsfe: backend exited before creating its socket (%s)\n",
				fe_backend_describe(be, desc, sizeof(desc)));
			fe_backend_dump_log(be, 4096);
			err = -ECHILD;
			goto fail;
		}
		if (fe_ms_left(deadline) == 0) {
			fprintf(stderr, "vufsfe: backend did not create %s within %d ms\n", be->sock,
				timeout_ms);
			fe_backend_dump_log(be, 4096);
			err = -ETIMEDOUT;
			goto fail;
		}
		usleep(delay_us);
		if (delay_us < 10000)
			delay_us *= 2;
	}
	*out = be;
	return 0;

fail:
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	fe_backend_free(be);
	return err;
}

const char *fe_backend_socket(const struct fe_backend *be)
{
	return be->sock;
}

const char *fe_backend_log(const struct fe_backend *be)
{
	return be->log;
}

pid_t fe_backend_pid(const struct fe_backend *be)
{
	return be->pid;
}

int fe_backend_alive(struct fe_backend *be)
{
	if (be->pid <= 0)
		return -ECHILD;
	return poll_exit(be) ? -ECHILD : 0;
}

static bool clean_exit(const struct fe_backend *be)
{
	if (WIFEXITED(be->status))
		return WEXITSTATUS(be->status) == 0;
	if (WIFSIGNALED(be->status) && be->signalled_by_us)
		return WTERMSIG(be->status) == SIGTERM || WTERMSIG(be->status) == SIGKILL;
	return false;
}

static int wait_exit(struct fe_backend *be, int timeout_ms)
{
	uint64_t deadline = fe_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	unsigned int delay_us = 200;

	while (!poll_exit(be)) {
		if (fe_ms_left(deadline) == 0)
			return -ETIMEDOUT;
		usleep(delay_us);
		if (delay_us < 10000)
			delay_us *= 2;
	}
	return 0;
}

int fe_backend_wait(struct fe_backend *be, int timeout_ms)
{
	int err;

	if (be->pid <= 0)
		return -ECHILD;
	err = wait_exit(be, timeout_ms);
	if (err)
		return err;
	return clean_exit(be) ? 0 : -ECHILD;
}

int fe_backend_stop(struct fe_backend *be, int timeout_ms)
{
	if (be->pid <= 0)
		return -ECHILD;
	if (!poll_exit(be)) {
		be->signalled_by_us = true;
		kill(be->pid, SIGTERM);
		if (wait_exit(be, timeout_ms) == -ETIMEDOUT) {
			kill(-be->pid, SIGKILL);
			kill(be->pid, SIGKILL);
			wait_exit(be, 5000);
		}
	}
	if (!be->exited) {
		/* Unkillable (stuck in the kernel): leave it to init, don't block. */
		return -ETIMEDOUT;
	}
	return clean_exit(be) ? 0 : -ECHILD;
}

const char *fe_backend_describe(const struct fe_backend *be, char *buf, size_t len)
{
	if (!be->exited)
		snprintf(buf, len, "running (pid %d)", (int)be->pid);
	else if (WIFEXITED(be->status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(be->status));
	else if (WIFSIGNALED(be->status))
		snprintf(buf, len, "killed by signal %d (%s)%s%s", WTERMSIG(be->status),
			 strsignal(WTERMSIG(be->status)), WCOREDUMP(be->status) ? ", core dumped" : "",
			 be->signalled_by_us ? " after we signalled it" : "");
	else
		snprintf(buf, len, "wait status 0x%x", be->status);
	return buf;
}

void fe_backend_dump_log(const struct fe_backend *be, size_t max_bytes)
{
	char buf[4096];
	struct stat st;
	off_t start = 0;
	int fd = open(be->log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size > max_bytes)
		start = st.st_size - (off_t)max_bytes;
	lseek(fd, start, SEEK_SET);
	fprintf(stderr, "---- backend log %s%s ----\n", be->log, start ? " (tail)" : "");
	fflush(stderr);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(2, buf, (size_t)n) != n)
			break;
	fprintf(stderr, "---- end of backend log ----\n");
	close(fd);
}

void fe_backend_free(struct fe_backend *be)
{
	if (!be)
		return;
	if (be->pid > 0 && !be->exited)
		fe_backend_stop(be, 2000);
	if (be->tmpdir[0])
		fe_rm_rf(be->tmpdir);
	free(be);
}
