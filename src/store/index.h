/*
 * index.h - an ordered map from key to stored object, for one collection of
 * the store's cache.
 *
 * Keys live in sorted blocks of at most GT_INDEX_BLOCK entries: a lookup is
 * two binary searches, an insert or delete moves at most one block's
 * pointers (not the whole collection's, which made creates O(n)), and a
 * list walks the blocks in order.  Not thread-safe: the store's lock guards
 * it.
 */
#ifndef GT_STORE_INDEX_H
#define GT_STORE_INDEX_H

#include <stddef.h>

struct gt_obj;
struct gt_index;

/* A position in the index; valid until the next put or del. */
struct gt_index_pos {
	size_t blk, i;
};

struct gt_index *gt_index_new(void);
/* Drops every object's reference and frees the index. */
void gt_index_free(struct gt_index *x);
size_t gt_index_count(const struct gt_index *x);

/* The object with exactly this key (borrowed), or NULL. */
struct gt_obj *gt_index_get(const struct gt_index *x, const char *key);
/* Inserts o, or replaces the object with its key; takes o's reference. */
void gt_index_put(struct gt_index *x, struct gt_obj *o);
/* Removes the object with this key (if any) and drops its reference. */
void gt_index_del(struct gt_index *x, const char *key);

/* Position of the first object whose key is >= key. */
struct gt_index_pos gt_index_seek(const struct gt_index *x, const char *key);
/* The object at p (borrowed), or NULL at the end. */
struct gt_obj *gt_index_at(const struct gt_index *x, const struct gt_index_pos *p);
void gt_index_next(const struct gt_index *x, struct gt_index_pos *p);

#endif
