/*
 * util.h - allocation that aborts on out-of-memory, a growable byte buffer,
 * cleanup attributes, time formatting and random identifiers.
 *
 * Daemons abort on OOM (as redis, git and crun do): xmalloc and friends never
 * return NULL.  struct gt_buf is a NUL-terminated growable buffer in the
 * spirit of git's strbuf: the caller owns it and releases it with
 * gt_buf_release().
 */
#ifndef GT_BASE_UTIL_H
#define GT_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define GT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GT_UNUSED __attribute__((unused))

/* Programmer errors only, never user input. */
#define GT_BUG(...) gt_bug(__FILE__, __LINE__, __VA_ARGS__)
void gt_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a new string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grows *arr so that it holds at least `need` elements of `size` bytes. */
void gt_grow(void **arr, size_t *cap, size_t need, size_t size);

/* cleanup helpers: `__attribute__((cleanup(gt_freep))) char *p = ...;` */
void gt_freep(void *pp);
#define GT_AUTOFREE __attribute__((cleanup(gt_freep)))

struct gt_buf {
	char *data; /* NUL-terminated; never NULL after init */
	size_t len;
	size_t cap;
};

#define GT_BUF_INIT { NULL, 0, 0 }
void gt_buf_init(struct gt_buf *b);
void gt_buf_release(struct gt_buf *b);
void gt_buf_reset(struct gt_buf *b);
void gt_buf_add(struct gt_buf *b, const void *data, size_t len);
/* Makes room for extra more bytes (and the NUL) after len; len unchanged:
 * for reading straight into data + len. */
void gt_buf_reserve(struct gt_buf *b, size_t extra);
void gt_buf_adds(struct gt_buf *b, const char *s);
void gt_buf_addc(struct gt_buf *b, char c);
void gt_buf_addf(struct gt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s quoted as Go's %q does for printable UTF-8 ("a\"b\n"). */
void gt_buf_add_quoted(struct gt_buf *b, const char *s);
/* Takes the data out of b (caller frees); b is left empty and reusable. */
char *gt_buf_detach(struct gt_buf *b, size_t *len);

/* Monotonic clock in milliseconds / nanoseconds. */
int64_t gt_now_ms(void);
int64_t gt_now_ns(void);

/* Formats t as RFC 3339 UTC ("2006-01-02T15:04:05Z") into out (>= 21 bytes). */
void gt_time_rfc3339(time_t t, char out[32]);
/* Same with microseconds ("...05.123456Z") for MicroTime fields. */
void gt_time_rfc3339_micro(char out[40]);
/* Parses RFC 3339 (with optional fraction and offset). Returns 0 or -EINVAL. */
int gt_time_parse(const char *s, time_t *out);
/* Short human duration as kubectl prints ages: "45s", "5m", "2d3h", "3y". */
void gt_duration_short(int64_t seconds, char out[16]);

/* Fills buf with n cryptographically random bytes (getrandom). */
void gt_random_bytes(void *buf, size_t n);
/* A random RFC 4122 v4 UUID, 36 chars + NUL. */
void gt_uuid(char out[37]);
/* n random chars from Kubernetes' generateName alphabet, NUL-terminated. */
void gt_random_suffix(char *out, size_t n);

/* Constant-time string equality for secrets (tokens): the time taken does
 * not depend on where the strings differ. */
bool gt_secret_eq(const char *a, const char *b);

/* Go strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False.
 * Returns 0 and sets *out, or -EINVAL. */
int gt_parse_bool(const char *s, bool *out);
/* Strict decimal int64 parse; -EINVAL on junk or overflow. */
int gt_parse_i64(const char *s, int64_t *out);

/* Base64 (standard alphabet, padded). Returns a new NUL-terminated string. */
char *gt_base64_encode(const void *data, size_t len);
/* Decodes standard base64; returns 0 and a new buffer (NUL-terminated) or -EINVAL. */
int gt_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen);

/* Writes data to path atomically (tmp + fsync + rename), with mode. */
int gt_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* Reads a whole file; *out is NUL-terminated, caller frees. */
int gt_read_file(const char *path, char **out, size_t *len);
/* rm -rf without following symlinks or crossing into other mounts
 * (a mount point still in use is left in place).  Missing path: 0. */
int gt_rm_rf(const char *path);
/* mkdir -p */
int gt_mkdir_p(const char *path, int mode);

#endif
