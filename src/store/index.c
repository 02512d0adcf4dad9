/*
 * index.c - sorted blocks of object pointers (see index.h).
 *
 * Invariants: every block holds 1..GT_INDEX_BLOCK entries, sorted; all keys
 * of block b sort before those of block b+1.  A full block splits in half;
 * an emptied block is removed.
 */
#include "store/index.h"

#include <string.h>

#include "base/util.h"
#include "store/store.h"

#define GT_INDEX_BLOCK 256

struct blk {
	size_t n;
	struct gt_obj *items[GT_INDEX_BLOCK];
};

struct gt_index {
	struct blk **blks;
	size_t nblk, capblk;
	size_t count;
};

struct gt_index *gt_index_new(void)
{
	return xcalloc(1, sizeof(struct gt_index));
}

void gt_index_free(struct gt_index *x)
{
	if (!x)
		return;
	for (size_t b = 0; b < x->nblk; b++) {
		for (size_t i = 0; i < x->blks[b]->n; i++)
			gt_obj_unref(x->blks[b]->items[i]);
		free(x->blks[b]);
	}
	free(x->blks);
	free(x);
}

size_t gt_index_count(const struct gt_index *x)
{
	return x->count;
}

/* Index of the first item of b with key >= k. */
static size_t blk_lower(const struct blk *b, const char *k)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(b->items[mid]->key, k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct gt_index_pos gt_index_seek(const struct gt_index *x, const char *key)
{
	size_t lo = 0, hi = x->nblk;

	/* The first block whose last key is >= key holds the answer. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct blk *b = x->blks[mid];

		if (strcmp(b->items[b->n - 1]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->nblk)
		return (struct gt_index_pos){ x->nblk, 0 };
	return (struct gt_index_pos){ lo, blk_lower(x->blks[lo], key) };
}

struct gt_obj *gt_index_at(const struct gt_index *x, const struct gt_index_pos *p)
{
	return p->blk < x->nblk && p->i < x->blks[p->blk]->n ? x->blks[p->blk]->items[p->i] : NULL;
}

void gt_index_next(const struct gt_index *x, struct gt_index_pos *p)
{
	if (p->blk >= x->nblk)
		return;
	if (++p->i >= x->blks[p->blk]->n) {
		p->blk++;
		p->i = 0;
	}
}

struct gt_obj *gt_index_get(const struct gt_index *x, const char *key)
{
	struct gt_index_pos p = gt_index_seek(x, key);
	struct gt_obj *o = gt_index_at(x, &p);

	return o && !strcmp(o->key, key) ? o : NULL;
}

static void blk_insert_at(struct gt_index *x, size_t at, struct blk *b)
{
	gt_grow((void **)&x->blks, &x->capblk, x->nblk + 1, sizeof(*x->blks));
	memmove(x->blks + at + 1, x->blks + at, (x->nblk - at) * sizeof(*x->blks));
	x->blks[at] = b;
	x->nblk++;
}

void gt_index_put(struct gt_index *x, struct gt_obj *o)
{
	struct gt_index_pos p = gt_index_seek(x, o->key);
	struct gt_obj *cur = gt_index_at(x, &p);
	struct blk *b;

	if (cur && !strcmp(cur->key, o->key)) {
		x->blks[p.blk]->items[p.i] = o;
		gt_obj_unref(cur);
		return;
	}
	if (p.blk == x->nblk) {
		/* Past every key: append to the last block. */
		if (!x->nblk || x->blks[x->nblk - 1]->n == GT_INDEX_BLOCK)
			blk_insert_at(x, x->nblk, xcalloc(1, sizeof(struct blk)));
		p.blk = x->nblk - 1;
		p.i = x->blks[p.blk]->n;
	}
	b = x->blks[p.blk];
	if (b->n == GT_INDEX_BLOCK) {
		struct blk *nb = xcalloc(1, sizeof(*nb));
		size_t half = GT_INDEX_BLOCK / 2;

		nb->n = b->n - half;
		memcpy(nb->items, b->items + half, nb->n * sizeof(*nb->items));
		b->n = half;
		blk_insert_at(x, p.blk + 1, nb);
		if (p.i > half) {
			p.i -= half;
			b = nb;
		}
	}
	memmove(b->items + p.i + 1, b->items + p.i, (b->n - p.i) * sizeof(*b->items));
	b->items[p.i] = o;
	b->n++;
	x->count++;
}

void gt_index_del(struct gt_index *x, const char *key)
{
	struct gt_index_pos p = gt_index_seek(x, key);
	struct gt_obj *cur = gt_index_at(x, &p);
	struct blk *b;

	if (!cur || strcmp(cur->key, key))
		return;
	b = x->blks[p.blk];
	memmove(b->items + p.i, b->items + p.i + 1, (b->n - p.i - 1) * sizeof(*b->items));
	b->n--;
	x->count--;
	gt_obj_unref(cur);
	if (!b->n) {
		free(b);
		memmove(x->blks + p.blk, x->blks + p.blk + 1,
			(x->nblk - p.blk - 1) * sizeof(*x->blks));
		x->nblk--;
	}
}
