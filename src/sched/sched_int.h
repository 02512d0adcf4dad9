/*
 * sched_int.h - what the parts of src/sched share: the snapshot's nodes,
 * the pod being placed with what it asks worked out once, and the filter
 * and score rows.  Not for other modules.
 */
#ifndef GT_SCHED_SCHED_INT_H
#define GT_SCHED_SCHED_INT_H

#include "sched/sched.h"

#define MAX_RES 16

/* Rows every node has, at these places: found without a name lookup. */
enum { RES_PODS, RES_CPU, RES_MEMORY, RES_GPU, RES_FIXED };

struct res {
	int64_t alloc, used;
	char *name;               /* extended rows only (the fixed ones go by place) */
};

struct node {
	/* what every pick reads first, together */
	json_t *obj;              /* NULL while the node is not present */
	bool ready, unschedulable;
	const json_t *labels, *taints;
	struct res res[MAX_RES];
	size_t nres;
	char *name;
	json_t **pods;            /* bound and assumed pods (references) */
	size_t npods, cappods;
};

struct gt_sched {
	struct gt_sched_policy pol;
	struct node *nodes;
	size_t n, cap, present;
	json_t *index;            /* name -> slot in nodes */
	size_t next_start;        /* where the next sampled pick starts */
};

/* One topologySpreadConstraint of the pod being placed, counted over nodes. */
struct spread {
	const char *key;
	int64_t max_skew, min_domains;
	bool hard, self;
	struct gt_labelsel *sel;
	struct dom { const char *value; int64_t count; } *doms;
	size_t ndoms, capdoms;
	int64_t min, max;
};

/* The pod being placed, with its requests worked out once for all nodes. */
struct pick {
	const json_t *pod, *vt;    /* the pod; its volumes' node affinity terms */
	const char *ns;
	const char *names[MAX_RES];/* pods, then the resources it requests */
	int64_t want[MAX_RES];
	int slot[MAX_RES];         /* its fixed row, or -1 */
	size_t n;
	int64_t cpu, mem, gpu;
	const json_t *tolerations, *selector, *required, *anti, *preferred;
	struct spread *spread;
	size_t nspread;
};

typedef const char *(*gt_sched_filter_fn)(const struct node *nd, const struct pick *pk,
					  char *buf, size_t n);

struct gt_sched_filter {
	gt_sched_filter_fn fn;
	bool resolvable;           /* removing pods can make it pass (preemption) */
};

extern const struct gt_sched_filter gt_sched_filters[];
extern const size_t gt_sched_nfilters;

void gt_sched_pick_init(struct pick *pk, const json_t *pod, const json_t *vt);
void gt_sched_pick_release(struct pick *pk);
/* The first filter nd fails (NULL: fits); only_fixed: skip resolvable ones. */
const char *gt_sched_fails(const struct node *nd, const struct pick *pk, bool only_fixed,
			   char *buf, size_t n);
double gt_sched_score(const struct gt_sched *s, const struct node *nd, const struct pick *pk);

struct node *gt_sched_node(struct gt_sched *s, const char *name);
/* The fixed row of a resource name, or -1. */
int gt_sched_fixed_slot(const char *name);
/* Adds (sign 1) or removes (-1) pod's requests and presence on nd. */
void gt_sched_account(struct node *nd, const json_t *pod, int sign);
bool gt_sched_terms_match(const json_t *terms, const struct node *nd);
bool gt_sched_term_match(const json_t *term, const struct node *nd);
bool gt_sched_tolerates(const json_t *tolerations, const char *key, const char *value,
			const char *effect);
bool gt_sched_terminating(const json_t *pod);

/* spread.c */
void gt_sched_spread_init(const struct gt_sched *s, struct pick *pk);
void gt_sched_spread_release(struct pick *pk);
const char *gt_sched_spread_filter(const struct node *nd, const struct pick *pk, char *buf,
				   size_t n);
double gt_sched_spread_score(const struct node *nd, const struct pick *pk);

#endif
