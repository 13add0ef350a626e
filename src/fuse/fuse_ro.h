/* SPDX-License-Identifier: MIT */
/*
 * --readonly: which FUSE requests would change the shared directory. The
 * check sits in front of every decoder, so no modifying request reaches
 * the filesystem, whatever path through the passthrough code it would take.
 */
#ifndef VUFS_FUSE_RO_H
#define VUFS_FUSE_RO_H

#include <stddef.h>
#include <stdint.h>

/*
 * -EROFS if request @opcode with arguments @args (@len bytes, the part
 * after the header, already copied out of guest memory) would modify the
 * filesystem: creating, removing, renaming, linking, writing, truncating,
 * changing attributes or extended attributes, and OPEN for writing or with
 * O_TRUNC. 0 otherwise (reads, lookups, locks, fsync, releases).
 */
int fuse_ro_check(uint32_t opcode, const void *args, size_t len);

#endif /* VUFS_FUSE_RO_H */
