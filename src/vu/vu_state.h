/* SPDX-License-Identifier: MIT */
/*
 * Device-state transfer for live migration (VHOST_USER_PROTOCOL_F_DEVICE_STATE):
 * SET_DEVICE_STATE_FD hands the backend one end of a pipe; on the source the
 * backend writes its state into it and closes it, on the destination it
 * reads until end of file. The frontend reads or writes the other end only
 * after our reply, so the transfer runs on its own thread: the control
 * thread answers at once (we keep QEMU's fd: "invalid fd" flag in the
 * reply) and CHECK_DEVICE_STATE later joins the thread and reports whether
 * the state was sent, or received and loaded.
 *
 * Knows nothing of what the state is: the device model serialises it
 * (save, on the control thread, with every ring stopped) and loads it
 * (load, on the control thread, before any ring starts).
 */
#ifndef VUFS_VU_STATE_H
#define VUFS_VU_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VU_STATE_SAVE 0
#define VU_STATE_LOAD 1
#define VU_STATE_PHASE_STOPPED 0
/* Reply bit: the backend did not return an fd and uses the one it was given. */
#define VU_STATE_REPLY_NO_FD (1ull << 8)

/*
 * The status byte of a SET_DEVICE_STATE_FD or CHECK_DEVICE_STATE reply for
 * result @err: 0 for success, else the errno (1..255), so the frontend sees
 * which failure it was (the log says why).
 */
static inline uint64_t vu_state_status(int err)
{
	if (!err)
		return 0;
	return (-err > 0 && -err < 256) ? (uint64_t)-err : 255;
}

/* Largest state we read from the frontend (the stream format caps it too). */
#define VU_STATE_MAX_BYTES (1ull << 30)

struct vu_state_ops {
	/* Serialise the device state into a new buffer (free()d by the caller). 0 or -errno. */
	int (*save)(void *opaque, uint8_t **buf, size_t *len);
	/* Load a received state (untrusted bytes). 0 or -errno (logged with the reason). */
	int (*load)(void *opaque, const uint8_t *buf, size_t len);
};

struct vu_state {
	bool active;      /* a transfer thread was started and not yet checked */
	pthread_t thread;
	int fd;
	int direction;
	uint8_t *buf;
	size_t len;
	int result;       /* of the last transfer (I/O, then load), for CHECK_DEVICE_STATE */
	double io_ms;     /* time the stream took (logged) */
};

void vu_state_init(struct vu_state *st);
/* Wait for a running transfer and free everything. */
void vu_state_fini(struct vu_state *st);

/*
 * SET_DEVICE_STATE_FD: start a transfer in @direction over @fd (taken).
 * For a save, ops->save runs first (the caller has stopped the rings).
 * Returns 0 or -errno (the fd is closed on failure too).
 */
int vu_state_start(struct vu_state *st, const struct vu_state_ops *ops, void *opaque,
		   uint32_t direction, int fd);

/* CHECK_DEVICE_STATE: finish the transfer (a load runs ops->load here). 0 or -errno. */
int vu_state_check(struct vu_state *st, const struct vu_state_ops *ops, void *opaque);

#endif /* VUFS_VU_STATE_H */
