/* SPDX-License-Identifier: MIT */
/*
 * Mapped device nodes (--device-nodes=mapped, the default).
 *
 * A guest's block or character MKNOD makes an empty regular file, mode
 * 0600, on the host, owned by the caller, with the node's type, device
 * number and guest-visible permission bits in the extended attribute
 * PT_DEVNODE_XATTR. No host process can reach a device through it; the
 * guest sees a real device node (its kernel does the device I/O itself)
 * and the daemon never opens it for I/O (OPEN/CREATE: -ENXIO).
 *
 * A host file is a mapped node only while it is a regular file, empty,
 * mode exactly 0600, and its attribute parses (pt_devnode_parse, strict):
 * anything else is the regular file it is. Existing mapped nodes are
 * shown as device nodes whatever --device-nodes says; the mode only
 * decides what a new MKNOD makes. The attribute name is reserved in every
 * mode: the guest can neither read, set, list nor remove it.
 *
 * Attribute value (text, so `getfattr -d` on the host shows it):
 *	"v1 " ("c" | "b") " " MAJOR ":" MINOR " " MODE
 * MAJOR <= 4095 and MINOR <= 1048575 in decimal without leading zeros
 * (the 32-bit device number FUSE carries), MODE exactly four octal digits
 * (07777 bits). No other bytes, no NUL. Example: "v1 c 1:3 0666".
 */
#ifndef VUFS_PT_DEVNODE_H
#define VUFS_PT_DEVNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

struct pt_fs;
struct pt_ctx;
struct pt_inode;

#define PT_DEVNODE_XATTR "user.vufsd.devnode"
#define PT_DEVNODE_HOST_MODE 0600
#define PT_DEVNODE_VALUE_MAX 32 /* longest valid value is 24 bytes */
#define PT_DEVNODE_MAJOR_MAX 0xfffu
#define PT_DEVNODE_MINOR_MAX 0xfffffu

struct pt_devnode {
	mode_t type;        /* S_IFCHR or S_IFBLK */
	unsigned int major; /* <= PT_DEVNODE_MAJOR_MAX */
	unsigned int minor; /* <= PT_DEVNODE_MINOR_MAX */
	mode_t perm;        /* guest-visible permission bits, within 07777 */
};

/* Parse an attribute value (@len bytes, not NUL-terminated). 0 or -EINVAL. */
int pt_devnode_parse(const void *buf, size_t len, struct pt_devnode *out);
/* Format @d into @buf (NUL-terminated); returns the length without the NUL, or -EINVAL/-ERANGE. */
int pt_devnode_format(const struct pt_devnode *d, char *buf, size_t size);

/* Could host stat @st be a mapped node (regular, empty, mode 0600)? */
static inline bool pt_devnode_candidate(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_size == 0 &&
	       (st->st_mode & 07777) == PT_DEVNODE_HOST_MODE;
}

/*
 * If O_PATH @fd (host stat @st) is a mapped node, fill @d and return 1;
 * 0 if it is not (no attribute, unreadable attribute, host fs without
 * user xattrs: a regular file). A malformed value is logged. Never fails.
 */
int pt_devnode_read(struct pt_fs *fs, int fd, const struct stat *st, struct pt_devnode *d);
/* Show @st (the host's stat of @fd) as the guest sees it; true if it is a mapped node. */
bool pt_devnode_fix_stat(struct pt_fs *fs, int fd, struct stat *st);
/* READDIR's d_type for @name under directory O_PATH @dirfd, host type @dtype. */
unsigned pt_devnode_dtype_at(struct pt_fs *fs, int dirfd, const char *name, unsigned dtype);

/*
 * Finish a mapped MKNOD: @name under @dirfd was just made by the caller
 * as an empty regular file; force mode 0600 and write @d, as the daemon.
 * On failure the file is removed again; a host fs without user xattrs
 * gives -EPERM (logged: use --device-nodes=host or refuse).
 */
int pt_devnode_tag(struct pt_fs *fs, int dirfd, const char *name, const struct pt_devnode *d);

/*
 * SETATTR of mapped node @in (attribute @d as read): a mode change is
 * checked by the host as the caller (chmod to 0600, which the owner or
 * CAP_FOWNER may do) and lands in the attribute; a chown clears the
 * set-user-ID bit (and set-group-ID with group execute) as the kernel does
 * for a device node, unless the same request sets the mode.
 * @valid: PT_SET_* bits. Returns 0 or -errno.
 */
int pt_devnode_chmod(struct pt_fs *fs, const struct pt_ctx *ctx, struct pt_inode *in,
		     struct pt_devnode *d, mode_t mode);
int pt_devnode_chown_done(struct pt_fs *fs, struct pt_inode *in, struct pt_devnode *d);

/* Is @name the reserved attribute? */
bool pt_devnode_reserved(const char *name);
/* Drop the reserved name from a listxattr(2) result; returns the new length. */
size_t pt_devnode_filter_list(char *buf, size_t len);

#endif /* VUFS_PT_DEVNODE_H */
