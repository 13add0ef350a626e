// SPDX-License-Identifier: MIT
#include "idtable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Slots we ever allocate: bounds memory whatever the guest does. */
#define IDTABLE_MAX (1u << 28)

struct idtable_slot {
	void *obj;          /* NULL when free */
	uint32_t gen;       /* generation of the current (or next) occupant */
	uint32_t next_free; /* free list link: index + 1, 0 ends */
};

void idtable_init(struct idtable *t, uint32_t reserve)
{
	memset(t, 0, sizeof(*t));
	t->first = reserve;
	t->next_new = reserve;
}

void idtable_destroy(struct idtable *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int grow(struct idtable *t, uint32_t need)
{
	uint32_t cap = t->cap ? t->cap : 64;
	struct idtable_slot *s;

	while (cap < need) {
		if (cap > IDTABLE_MAX / 2)
			return -ENFILE;
		cap *= 2;
	}
	if (cap == t->cap)
		return 0;
	s = realloc(t->slots, (size_t)cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + t->cap, 0, (size_t)(cap - t->cap) * sizeof(*s));
	t->slots = s;
	t->cap = cap;
	return 0;
}

static uint64_t make_id(uint32_t index, uint32_t gen)
{
	return ((uint64_t)gen << 32) | index;
}

int idtable_alloc(struct idtable *t, void *obj, uint64_t *id)
{
	uint32_t index;
	int err;

	if (t->free_head) {
		index = t->free_head - 1;
		t->free_head = t->slots[index].next_free;
	} else {
		err = grow(t, t->next_new + 1);
		if (err)
			return err;
		index = t->next_new++;
		/* Generation 0 is for fixed slots: ids below 2^32 stay reserved for them. */
		t->slots[index].gen = 1;
	}
	t->slots[index].obj = obj;
	t->slots[index].next_free = 0;
	t->used++;
	*id = make_id(index, t->slots[index].gen);
	return 0;
}

int idtable_set_fixed(struct idtable *t, uint32_t index, void *obj, uint64_t *id)
{
	int err;

	if (index >= t->first)
		return -EINVAL;
	err = grow(t, index + 1);
	if (err)
		return err;
	if (t->slots[index].obj)
		return -EEXIST;
	t->slots[index].obj = obj;
	t->slots[index].gen = 0;
	t->used++;
	*id = make_id(index, 0);
	return 0;
}

void *idtable_get(const struct idtable *t, uint64_t id)
{
	uint32_t index = (uint32_t)id;
	uint32_t gen = (uint32_t)(id >> 32);

	if (index >= t->cap || !t->slots[index].obj || t->slots[index].gen != gen)
		return NULL;
	return t->slots[index].obj;
}

void *idtable_remove(struct idtable *t, uint64_t id)
{
	uint32_t index = (uint32_t)id;
	void *obj = idtable_get(t, id);

	if (!obj)
		return NULL;
	t->slots[index].obj = NULL;
	t->used--;
	if (index < t->first)
		return obj; /* fixed slots are not recycled */
	/* Never hand this id out again: bump the generation (skip 0, the fixed one). */
	if (++t->slots[index].gen == 0)
		t->slots[index].gen = 1;
	t->slots[index].next_free = t->free_head;
	t->free_head = index + 1;
	return obj;
}

void idtable_foreach(struct idtable *t, void (*fn)(void *obj, uint64_t id, void *arg), void *arg)
{
	for (uint32_t i = 0; i < t->cap; i++) {
		if (t->slots[i].obj)
			fn(t->slots[i].obj, make_id(i, t->slots[i].gen), arg);
	}
}

int idtable_claim(struct idtable *t, uint64_t id, void *obj)
{
	uint32_t index = (uint32_t)id;
	uint32_t gen = (uint32_t)(id >> 32);
	int err;

	if (!obj || gen == 0 || index < t->first || index >= IDTABLE_MAX)
		return -EINVAL;
	if (index >= t->next_new) {
		err = grow(t, index + 1);
		if (err)
			return err;
		/* The never-used slots below it become free slots. */
		for (uint32_t i = t->next_new; i < index; i++) {
			t->slots[i].gen = 1;
			t->slots[i].next_free = t->free_head;
			t->free_head = i + 1;
		}
		t->next_new = index + 1;
	} else {
		uint32_t *link = &t->free_head;

		if (t->slots[index].obj)
			return -EEXIST;
		/* Unlink it from the free list. */
		while (*link && *link != index + 1)
			link = &t->slots[*link - 1].next_free;
		if (!*link)
			return -EEXIST; /* not on the free list: cannot happen */
		*link = t->slots[index].next_free;
	}
	t->slots[index].obj = obj;
	t->slots[index].gen = gen;
	t->slots[index].next_free = 0;
	t->used++;
	return 0;
}

int idtable_retire(struct idtable *t, uint64_t id)
{
	static char placeholder;
	int err = idtable_claim(t, id, &placeholder);

	if (!err)
		idtable_remove(t, id); /* bumps the generation: @id is dead for good */
	return err;
}
