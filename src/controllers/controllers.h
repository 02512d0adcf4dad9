/*
 * controllers.h - the control loops that run inside `gantry server`.  They
 * talk to the API through the in-process client (apiserver/ops.h), so they
 * get exactly the semantics remote clients get.
 */
#ifndef GT_CONTROLLERS_CONTROLLERS_H
#define GT_CONTROLLERS_CONTROLLERS_H

#include "apiserver/ops.h"

struct gt_controllers;

/* Starts the controllers' threads.  api must outlive them. */
int gt_controllers_start(struct gt_api *api, struct gt_controllers **out, struct gt_err *err);
/* Stops and joins them (NULL ok). */
void gt_controllers_stop(struct gt_controllers *c);

/*
 * One pass of the garbage collector and the namespace and CRD-cleanup
 * finalizers (what the loop runs when something changed).  Exposed for
 * tests.  Returns the number of writes it made.
 */
int gt_gc_pass(struct gt_api *api);

#endif
