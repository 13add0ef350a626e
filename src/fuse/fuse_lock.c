// SPDX-License-Identifier: MIT
/*
 * GETLK/SETLK/SETLKW: guest locks become host open-file-description locks
 * (byte ranges) or flock()s on the request's open file, so other guest
 * opens and host processes see them.
 *
 * SETLKW may wait for a long time. It must not block its queue thread: the
 * unlock that would let it through may arrive on the same queue. A waiting
 * SETLKW therefore runs on a waiter thread of its own (bounded number) and
 * completes asynchronously; INTERRUPT, or the session going away, stops
 * the wait with a signal (-EINTR). A signal can land just before the
 * waiter enters the blocking call, so cancelled waiters are signalled again
 * every few milliseconds until they are gone (by a short-lived reaper
 * thread, or by fuse_lock_cancel_all). An INTERRUPT can also overtake its
 * request (it travels on the hiprio queue): unmatched ones are remembered.
 *
 * Known difference from local POSIX locks: the owner is the open file
 * description, not the guest process, so two guest processes sharing one
 * open file (fork) do not conflict with each other.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "log.h"

/* Waiting SETLKWs at once; more get -ENOLCK. */
#define FUSE_MAX_LOCK_WAITERS 64
/* How often cancelled waiters are signalled again. */
#define FUSE_RESIGNAL_NS (20 * 1000 * 1000)
/* Interrupts a waiting fcntl/flock (handler does nothing; no SA_RESTART). */
#define FUSE_WAKE_SIGNAL SIGUSR1

struct lock_waiter {
	struct lock_waiter *next;
	struct fuse_session *se;
	pthread_t thread;
	uint64_t unique;
	uint64_t fh;
	unsigned qidx;
	uint32_t token;
	bool is_flock;
	int flock_op;
	struct flock fl;
	uint64_t owner;
	bool cancelled; /* atomic; written under se->lock_mutex */
	bool orphaned;  /* atomic: the session ended, its chain is gone: no reply */
};

static void wake_handler(int sig)
{
	(void)sig;
}

int fuse_lock_init(struct fuse_session *se)
{
	struct sigaction sa = { .sa_handler = wake_handler };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the blocked fcntl() must return EINTR. */
	if (sigaction(FUSE_WAKE_SIGNAL, &sa, NULL) < 0)
		return -errno;
	pthread_mutex_init(&se->lock_mutex, NULL);
	pthread_cond_init(&se->lock_cond, NULL);
	return 0;
}

/* Signal every cancelled waiter; true if any is left. Caller holds lock_mutex. */
static bool signal_cancelled(struct fuse_session *se)
{
	bool any = false;

	for (struct lock_waiter *w = se->waiters; w; w = w->next) {
		if (w->cancelled) {
			pthread_kill(w->thread, FUSE_WAKE_SIGNAL);
			any = true;
		}
	}
	return any;
}

/* Sleep on lock_cond for a resignal period. Caller holds lock_mutex. */
static void wait_resignal_period(struct fuse_session *se)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += FUSE_RESIGNAL_NS;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&se->lock_cond, &se->lock_mutex, &ts);
}

/* Keeps signalling cancelled waiters until none is left (the lost-wakeup race). */
static void *reaper_main(void *arg)
{
	struct fuse_session *se = arg;

	pthread_mutex_lock(&se->lock_mutex);
	while (signal_cancelled(se))
		wait_resignal_period(se);
	se->reaper_running = false;
	pthread_cond_broadcast(&se->lock_cond);
	pthread_mutex_unlock(&se->lock_mutex);
	return NULL;
}

/* Cancel @w: it completes with -EINTR. Caller holds lock_mutex. */
static void cancel_waiter(struct fuse_session *se, struct lock_waiter *w)
{
	pthread_attr_t attr;

	__atomic_store_n(&w->cancelled, true, __ATOMIC_RELEASE);
	pthread_kill(w->thread, FUSE_WAKE_SIGNAL);
	if (se->reaper_running)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (!pthread_create(&se->reaper, &attr, reaper_main, se))
		se->reaper_running = true;
	else
		log_warn("cannot start the lock reaper; an interrupt may be late");
	pthread_attr_destroy(&attr);
}

void fuse_session_quiesce(struct fuse_session *se)
{
	pthread_mutex_lock(&se->lock_mutex);
	if (se->waiters)
		log_info("rings stopping: %u waiting lock requests answered with EINTR",
			 se->nwaiters);
	for (struct lock_waiter *w = se->waiters; w; w = w->next)
		__atomic_store_n(&w->cancelled, true, __ATOMIC_RELEASE);
	while (signal_cancelled(se))
		wait_resignal_period(se);
	pthread_mutex_unlock(&se->lock_mutex);
}

void fuse_lock_cancel_all(struct fuse_session *se, bool wait)
{
	pthread_mutex_lock(&se->lock_mutex);
	for (struct lock_waiter *w = se->waiters; w; w = w->next) {
		__atomic_store_n(&w->orphaned, true, __ATOMIC_RELEASE);
		__atomic_store_n(&w->cancelled, true, __ATOMIC_RELEASE);
	}
	signal_cancelled(se);
	while (wait && (se->waiters || se->reaper_running)) {
		wait_resignal_period(se);
		signal_cancelled(se);
	}
	se->ninterrupted = 0;
	pthread_mutex_unlock(&se->lock_mutex);
}

void fuse_lock_fini(struct fuse_session *se)
{
	fuse_lock_cancel_all(se, true);
	pthread_cond_destroy(&se->lock_cond);
	pthread_mutex_destroy(&se->lock_mutex);
}

/* FUSE's inclusive [start, end] (end OFFSET_MAX: to EOF) to struct flock. */
static int lk_to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if (lk->start > INT64_MAX || lk->end < lk->start)
		return -EINVAL;
	fl->l_type = (short)lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)lk->start;
	fl->l_len = lk->end >= (uint64_t)INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1);
	fl->l_pid = (pid_t)lk->pid; /* the guest process, for F_GETLK's answer */
	return 0;
}

static int flock_op(uint32_t type, bool wait)
{
	switch (type) {
	case F_RDLCK:
		return LOCK_SH | (wait ? 0 : LOCK_NB);
	case F_WRLCK:
		return LOCK_EX | (wait ? 0 : LOCK_NB);
	default:
		return LOCK_UN;
	}
}

static void *waiter_main(void *arg)
{
	struct lock_waiter *w = arg;
	struct fuse_session *se = w->se;
	struct fuse_out_header oh = { .len = sizeof(oh), .unique = w->unique };
	struct lock_waiter **p;
	int err;

	for (;;) {
		if (__atomic_load_n(&w->cancelled, __ATOMIC_ACQUIRE)) {
			err = -EINTR;
			break;
		}
		err = w->is_flock ? pt_flock(se->fs, w->fh, w->flock_op)
				  : pt_setlk(se->fs, w->fh, &w->fl, w->owner, true);
		if (err != -EINTR)
			break;
	}
	oh.error = err;
	/*
	 * A session that ended (reset, new INIT) took its rings with it: a reply
	 * now would land on the new driver's ring under a stale head.
	 */
	if (!__atomic_load_n(&w->orphaned, __ATOMIC_ACQUIRE))
		se->complete(se->complete_opaque, w->qidx, w->token, &oh, sizeof(oh));

	pthread_mutex_lock(&se->lock_mutex);
	for (p = &se->waiters; *p && *p != w; p = &(*p)->next)
		;
	if (*p)
		*p = w->next;
	se->nwaiters--;
	pthread_cond_broadcast(&se->lock_cond);
	pthread_mutex_unlock(&se->lock_mutex);
	free(w);
	return NULL;
}

/* Hand a blocking lock to a waiter thread; on success the request completes later. */
/* Was this request interrupted before it got here? (Consumes the record.) Caller holds lock_mutex. */
static bool take_early_interrupt(struct fuse_session *se, uint64_t unique)
{
	for (unsigned i = 0; i < se->ninterrupted; i++) {
		if (se->interrupted[i] == unique) {
			se->interrupted[i] = se->interrupted[--se->ninterrupted];
			return true;
		}
	}
	return false;
}

static int start_waiter(struct fuse_req *req, uint64_t fh, bool is_flock, int op,
			const struct flock *fl, uint64_t owner)
{
	struct fuse_session *se = req->se;
	struct lock_waiter *w;
	pthread_attr_t attr;
	int err;

	if (!se->complete || !req->async_ok)
		return -ENOLCK;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->se = se;
	w->unique = req->in.unique;
	w->fh = fh;
	w->qidx = req->qidx;
	w->token = req->token;
	w->is_flock = is_flock;
	w->flock_op = op;
	w->owner = owner;
	if (fl)
		w->fl = *fl;

	pthread_mutex_lock(&se->lock_mutex);
	if (take_early_interrupt(se, w->unique)) {
		pthread_mutex_unlock(&se->lock_mutex);
		free(w);
		return -EINTR;
	}
	if (se->nwaiters >= FUSE_MAX_LOCK_WAITERS) {
		pthread_mutex_unlock(&se->lock_mutex);
		free(w);
		log_guest(LOG_LVL_WARN, "too many waiting locks (%d)", FUSE_MAX_LOCK_WAITERS);
		return -ENOLCK;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	err = pthread_create(&w->thread, &attr, waiter_main, w);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_mutex_unlock(&se->lock_mutex);
		free(w);
		return -err;
	}
	w->next = se->waiters;
	se->waiters = w;
	se->nwaiters++;
	pthread_mutex_unlock(&se->lock_mutex);
	req->async = true;
	return 0;
}

void do_getlk(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_lk_in arg;
	struct fuse_lk_out out = { 0 };
	struct flock fl;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err && !(req->se->conn_flags & FUSE_POSIX_LOCKS))
		err = -ENOSYS; /* not offered (--no-posix-lock): the guest keeps locks itself */
	if (!err)
		err = lk_to_flock(&arg.lk, &fl);
	if (!err)
		err = pt_getlk(req->se->fs, arg.fh, &fl);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	out.lk.type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		out.lk.start = (uint64_t)fl.l_start;
		out.lk.end = fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) : (uint64_t)INT64_MAX;
		out.lk.pid = (uint32_t)fl.l_pid; /* 0 when a host process holds it */
	}
	fuse_reply_buf(req, &out, sizeof(out));
}

void do_setlk(struct fuse_req *req, struct fuse_buf *in)
{
	bool wait = req->in.opcode == FUSE_SETLKW;
	struct fuse_lk_in arg;
	struct flock fl;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (err)
		goto reply;
	/* Not offered (--no-posix-lock): the guest keeps its locks to itself. */
	if (!(req->se->conn_flags &
	      ((arg.lk_flags & FUSE_LK_FLOCK) ? FUSE_FLOCK_LOCKS : FUSE_POSIX_LOCKS))) {
		err = -ENOSYS;
		goto reply;
	}
	if (arg.lk_flags & FUSE_LK_FLOCK) {
		int op = flock_op(arg.lk.type, false);

		err = pt_flock(req->se->fs, arg.fh, op);
		if (err == -EWOULDBLOCK && wait)
			err = start_waiter(req, arg.fh, true, flock_op(arg.lk.type, true), NULL,
					   arg.owner);
		goto reply;
	}
	err = lk_to_flock(&arg.lk, &fl);
	if (err)
		goto reply;
	/* Try without waiting first: most locks are free, and that needs no thread. */
	err = pt_setlk(req->se->fs, arg.fh, &fl, arg.owner, false);
	if ((err == -EAGAIN || err == -EACCES) && wait)
		err = start_waiter(req, arg.fh, false, 0, &fl, arg.owner);
reply:
	if (!req->async)
		fuse_reply_err(req, err);
}

void do_interrupt(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_session *se = req->se;
	struct fuse_interrupt_in arg;
	bool found = false;

	fuse_reply_none(req);
	if (FUSE_BUF_TAKE_OBJ(in, &arg))
		return;
	/* Only waiting locks can be interrupted: everything else runs to completion. */
	pthread_mutex_lock(&se->lock_mutex);
	for (struct lock_waiter *w = se->waiters; w; w = w->next) {
		if (w->unique == arg.unique) {
			cancel_waiter(se, w);
			found = true;
		}
	}
	/*
	 * Not waiting (yet): it may still be on its way on another queue, or it
	 * finished. Remember it (a small ring: the oldest record goes first).
	 */
	if (!found) {
		if (se->ninterrupted == FUSE_MAX_EARLY_INTERRUPTS) {
			memmove(se->interrupted, se->interrupted + 1,
				(FUSE_MAX_EARLY_INTERRUPTS - 1) * sizeof(se->interrupted[0]));
			se->ninterrupted--;
		}
		se->interrupted[se->ninterrupted++] = arg.unique;
	}
	pthread_mutex_unlock(&se->lock_mutex);
}
