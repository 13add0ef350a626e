/* SPDX-License-Identifier: MIT */
/* Sandbox internals shared by the sb_*.c files. */
#ifndef VUFS_SB_I_H
#define VUFS_SB_I_H

/*
 * Built with AddressSanitizer or ThreadSanitizer (gcc defines the macros,
 * clang has __has_feature): their runtime makes system calls of its own,
 * and LeakSanitizer's exit-time check reads /proc/self/task and
 * /proc/self/maps, which do not exist inside the sandbox.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SB_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SB_SANITIZER 1
#endif
#endif

#include <stdbool.h>

/*
 * sb_ns.c: our user namespace denies setgroups() (a map we wrote ourselves):
 * the supplementary groups cannot change, and no other id is mapped to act
 * as, so sb_drop_caps leaves them.
 */
extern bool sb_setgroups_denied;

#endif /* VUFS_SB_I_H */
