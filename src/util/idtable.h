/* SPDX-License-Identifier: MIT */
/*
 * Table of objects named by 64-bit ids that a guest holds: slot index in
 * the low 32 bits, the slot's generation in the high 32 bits. A freed slot
 * is reused only with a new generation, so a stale or forged id never
 * names another object: idtable_get checks the range, that the slot is in
 * use, and the generation.
 *
 * Not locked: the owner serialises access.
 */
#ifndef VUFS_IDTABLE_H
#define VUFS_IDTABLE_H

#include <stdint.h>

struct idtable_slot;

struct idtable {
	struct idtable_slot *slots;
	uint32_t cap;       /* slots allocated */
	uint32_t used;      /* slots holding an object */
	uint32_t free_head; /* first free slot + 1, 0 if none */
	uint32_t next_new;  /* slots [next_new, cap) were never used */
	uint32_t first;     /* lowest index handed out (reserve small ids) */
};

/* @reserve: indices below it are never allocated by idtable_alloc. */
void idtable_init(struct idtable *t, uint32_t reserve);
void idtable_destroy(struct idtable *t);

/* Store @obj (not NULL); *@id gets its id. Returns 0 or -ENOMEM/-ENFILE when full. */
int idtable_alloc(struct idtable *t, void *obj, uint64_t *id);
/* Place @obj at a fixed reserved index with generation 0 (e.g. the FUSE root, id 1). */
int idtable_set_fixed(struct idtable *t, uint32_t index, void *obj, uint64_t *id);
/*
 * Store @obj under exactly @id (live migration: the destination serves the
 * ids the source handed out). The slot must be free; ids of generation 0
 * or below the reserve are refused. Returns 0, -EEXIST, -EINVAL or
 * -ENOMEM/-ENFILE. Cheapest when claimed in increasing index order.
 */
int idtable_claim(struct idtable *t, uint64_t id, void *obj);
/* Make sure @id is never handed out (a claimed id whose object was lost). 0 or -errno. */
int idtable_retire(struct idtable *t, uint64_t id);
/* The object for @id, or NULL if the id is not live. */
void *idtable_get(const struct idtable *t, uint64_t id);
/* Free @id's slot; returns the object or NULL if the id was not live. */
void *idtable_remove(struct idtable *t, uint64_t id);
/* Call @fn for each live object (it may remove the current one). */
void idtable_foreach(struct idtable *t, void (*fn)(void *obj, uint64_t id, void *arg), void *arg);

#endif /* VUFS_IDTABLE_H */
