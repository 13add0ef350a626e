/* SPDX-License-Identifier: MIT */
/*
 * The device state vufsd hands to the destination daemon during a live
 * migration (vhost-user SET_DEVICE_STATE_FD): what the guest holds in the
 * FUSE session, so the destination can serve the same nodeids and file
 * handles after the switch.
 *
 * Wire format (all integers little-endian):
 *   header  "VUFSMIGR" (8 bytes), u16 major, u16 minor, u32 flags (0)
 *   records u16 type, u16 0, u32 length, length bytes of payload
 *   END     the last record: u32 record count, u32 CRC-32 of every byte
 *           before the END record
 * A reader refuses a stream whose major version is newer than its own
 * (-EPROTONOSUPPORT, "newer incompatible vufsd"); within one major
 * version, records of unknown type and bytes past a known record's fields
 * are skipped (a newer minor version may add both).
 *
 * The stream is untrusted on the destination: migr_state_decode bounds
 * every field (counts, lengths, path syntax) and is fuzzed
 * (fuzz/fuzz_migr.c). What it cannot know (whether a nodeid is a
 * duplicate, whether a handle names a known inode) the loader checks.
 */
#ifndef VUFS_MIGR_STATE_H
#define VUFS_MIGR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIGR_MAGIC "VUFSMIGR"
#define MIGR_MAGIC_LEN 8
#define MIGR_VERSION_MAJOR 1
#define MIGR_VERSION_MINOR 1 /* 1: the share's (dev, ino) in the session record */

/* Bounds a stream may not exceed (a larger one is refused as malformed). */
#define MIGR_MAX_STREAM (1ull << 30)
#define MIGR_MAX_INODES (1u << 24)
#define MIGR_MAX_HANDLES (1u << 24)
#define MIGR_MAX_LOCKS (1u << 20)
#define MIGR_MAX_PATH 4096
#define MIGR_MAX_FH 128

enum migr_rec_type {
	MIGR_REC_SESSION = 1,
	MIGR_REC_INODE = 2,
	MIGR_REC_HANDLE = 3,
	MIGR_REC_LOCK = 4,
	MIGR_REC_END = 0xffff,
};

/* How the source identified inodes (--migration-mode). */
enum migr_mode {
	MIGR_MODE_FIND_PATHS = 0,
	MIGR_MODE_FILE_HANDLES = 1,
};

/* Options (--migration-*; the meanings are in migr_fs.h). */
enum migr_on_error {
	MIGR_ON_ERROR_ABORT = 0,
	MIGR_ON_ERROR_GUEST_ERROR = 1,
};

struct migr_conf {
	enum migr_mode mode;
	enum migr_on_error on_error;
	bool verify_handles;
	bool confirm_paths;
	/* Set by the daemon: this process may make and open file handles (capability, seccomp). */
	bool handles_allowed;
};

int migr_mode_parse(const char *s, enum migr_mode *out);
int migr_on_error_parse(const char *s, enum migr_on_error *out);

/* The negotiated FUSE session. */
struct migr_session {
	bool initialized; /* INIT done (else nothing else matters) */
	uint32_t minor;   /* FUSE minor version */
	uint64_t flags;   /* negotiated INIT flags */
	uint32_t max_write;
	uint32_t mode;    /* enum migr_mode */
	/* The source's shared directory: the same (dev, ino) means the same filesystem (1.1+; 0 if not sent). */
	uint64_t share_dev, share_ino;
};

/* Inode flags. */
#define MIGR_INODE_HAS_PATH (1u << 0)
#define MIGR_INODE_HAS_FH (1u << 1)

/* One inode the guest holds a lookup on. */
struct migr_inode {
	uint64_t nodeid;
	uint64_t nlookup;
	uint32_t mode;     /* S_IFMT bits */
	uint32_t flags;    /* MIGR_INODE_* */
	uint64_t dev, ino; /* on the source, for --migration-verify-handles on the same host */
	uint64_t mnt_id;   /* source mount id (file handles) */
	char *path;        /* relative to the share, "" for the share itself; NULL if none */
	int32_t fh_type;
	uint32_t fh_bytes;
	unsigned char fh[MIGR_MAX_FH];
};

/* One open file or directory handle. */
struct migr_handle {
	uint64_t fh;
	uint64_t nodeid;
	uint32_t open_flags; /* the flags the file was opened with (O_ACCMODE, O_APPEND, ...) */
	bool is_dir;
	uint64_t dir_off;    /* directories: the offset the stream stands at */
};

enum migr_lock_kind {
	MIGR_LOCK_POSIX = 0, /* byte range (held as an OFD lock on the host) */
	MIGR_LOCK_FLOCK = 1,
};

/* One lock held through an open file. */
struct migr_lock {
	uint64_t fh;
	uint32_t kind;  /* enum migr_lock_kind */
	uint32_t type;  /* F_RDLCK / F_WRLCK (flock: LOCK_SH / LOCK_EX) */
	uint64_t start, end; /* inclusive, end UINT64_MAX: to end of file */
	uint64_t owner;
	uint32_t pid;
};

struct migr_state {
	struct migr_session session;
	struct migr_inode *inodes;
	size_t ninodes, cap_inodes;
	struct migr_handle *handles;
	size_t nhandles, cap_handles;
	struct migr_lock *locks;
	size_t nlocks, cap_locks;
};

void migr_state_init(struct migr_state *s);
void migr_state_free(struct migr_state *s);

/* Append copies (the path is duplicated). Return 0 or -ENOMEM/-E2BIG/-EINVAL. */
int migr_state_add_inode(struct migr_state *s, const struct migr_inode *in);
int migr_state_add_handle(struct migr_state *s, const struct migr_handle *h);
int migr_state_add_lock(struct migr_state *s, const struct migr_lock *l);

/* Serialise @s into a new buffer *@buf (free()) of *@len bytes. 0 or -ENOMEM/-E2BIG. */
int migr_state_encode(const struct migr_state *s, uint8_t **buf, size_t *len);

/*
 * Parse @len bytes at @buf into @s (initialised here; free it with
 * migr_state_free even on failure). Returns 0, -EPROTONOSUPPORT (a newer
 * major version), -EBADMSG (malformed, truncated or corrupted) or -ENOMEM;
 * on failure @err (if not NULL) gets a one-line reason.
 */
int migr_state_decode(const void *buf, size_t len, struct migr_state *s, char *err,
		      size_t errlen);

/* Whether @path is a clean relative path inside the share ("" or a/b/c, no . or ..). */
bool migr_path_ok(const char *path, size_t len);

uint32_t migr_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* VUFS_MIGR_STATE_H */
