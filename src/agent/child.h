/*
 * child.h - helper programs run by the agent (CNI plugins, iptables).
 */
#ifndef GT_AGENT_CHILD_H
#define GT_AGENT_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

/*
 * Runs path (searched in PATH when search) with argv/envp, feeding it `in`
 * on stdin (a socket, so an early exit cannot SIGPIPE us) and collecting
 * stdout and stderr.  Returns 0 with *status from waitpid, -ETIMEDOUT after
 * killing a child that overran timeout_ms, or another negative errno.
 */
int gt_child_run(const char *path, char *const argv[], char *const envp[], bool search,
		 const char *in, size_t inlen, int timeout_ms, struct gt_buf *out,
		 struct gt_buf *errout, int *status);

#endif
