/*
 * log.h - leveled logging to stderr.  The macro tests the level before
 * formatting (as redis does), so debug logging costs a branch when off.
 * Library code logs only at debug; binaries report errors at their edge.
 */
#ifndef GT_BASE_LOG_H
#define GT_BASE_LOG_H

enum gt_log_level { GT_LOG_DEBUG, GT_LOG_INFO, GT_LOG_WARN, GT_LOG_ERROR };

extern enum gt_log_level gt_log_min;

void gt_log_write(enum gt_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define gt_log(lvl, ...) \
	do { if ((lvl) >= gt_log_min) gt_log_write((lvl), __VA_ARGS__); } while (0)
#define gt_debug(...) gt_log(GT_LOG_DEBUG, __VA_ARGS__)
#define gt_info(...) gt_log(GT_LOG_INFO, __VA_ARGS__)
#define gt_warn(...) gt_log(GT_LOG_WARN, __VA_ARGS__)
#define gt_error(...) gt_log(GT_LOG_ERROR, __VA_ARGS__)

#endif
