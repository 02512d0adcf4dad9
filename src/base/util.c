/*
 * util.c - allocation, buffers, time, randomness, parsing and file helpers
 * shared by every module.  See util.h for the contracts.
 */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void gt_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return p;
}

void gt_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;

	if (need <= *cap)
		return;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			oom(SIZE_MAX);
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		oom(SIZE_MAX);
	*arr = xrealloc(*arr, ncap * size);
	*cap = ncap;
}

void gt_freep(void *pp)
{
	free(*(void **)pp);
}

void gt_buf_init(struct gt_buf *b)
{
	b->cap = 64;
	b->len = 0;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
}

void gt_buf_release(struct gt_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void gt_buf_reset(struct gt_buf *b)
{
	if (!b->data)
		gt_buf_init(b);
	b->len = 0;
	b->data[0] = '\0';
}

void gt_buf_reserve(struct gt_buf *b, size_t extra)
{
	if (!b->data)
		gt_buf_init(b);
	if (extra > SIZE_MAX - b->len - 1)
		oom(SIZE_MAX);
	if (b->len + extra + 1 > b->cap) {
		size_t ncap = b->cap * 2;

		if (ncap < b->len + extra + 1)
			ncap = b->len + extra + 1;
		b->data = xrealloc(b->data, ncap);
		b->cap = ncap;
	}
}

void gt_buf_add(struct gt_buf *b, const void *data, size_t len)
{
	gt_buf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void gt_buf_adds(struct gt_buf *b, const char *s)
{
	gt_buf_add(b, s, strlen(s));
}

void gt_buf_addc(struct gt_buf *b, char c)
{
	gt_buf_add(b, &c, 1);
}

void gt_buf_addf(struct gt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	gt_buf_reserve(b, 0);
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		gt_buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void gt_buf_add_quoted(struct gt_buf *b, const char *s)
{
	gt_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			gt_buf_addf(b, "\\%c", c);
		else if (c == '\n')
			gt_buf_adds(b, "\\n");
		else if (c == '\t')
			gt_buf_adds(b, "\\t");
		else if (c == '\r')
			gt_buf_adds(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			gt_buf_addf(b, "\\x%02x", c);
		else
			gt_buf_addc(b, (char)c);
	}
	gt_buf_addc(b, '"');
}

char *gt_buf_detach(struct gt_buf *b, size_t *len)
{
	char *p;

	if (!b->data)
		gt_buf_init(b);
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int64_t gt_now_ms(void)
{
	return gt_now_ns() / 1000000;
}

int64_t gt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gt_time_rfc3339(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void gt_time_rfc3339_micro(char out[40])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06uZ", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

int gt_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	if (!s)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = timegm(&tm) - off;
	return 0;
}

void gt_duration_short(int64_t s, char out[16])
{
	/* Mirrors k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
	if (s < 0)
		s = 0;
	if (s < 120) {
		snprintf(out, 16, "%llds", (long long)s);
	} else if (s < 600) {
		int64_t m = s / 60, r = s % 60;

		if (r == 0)
			snprintf(out, 16, "%lldm", (long long)m);
		else
			snprintf(out, 16, "%lldm%llds", (long long)m, (long long)r);
	} else if (s < 3 * 3600) {
		snprintf(out, 16, "%lldm", (long long)(s / 60));
	} else if (s < 8 * 3600) {
		int64_t h = s / 3600, m = (s % 3600) / 60;

		if (m == 0)
			snprintf(out, 16, "%lldh", (long long)h);
		else
			snprintf(out, 16, "%lldh%lldm", (long long)h, (long long)m);
	} else if (s < 48 * 3600) {
		snprintf(out, 16, "%lldh", (long long)(s / 3600));
	} else if (s < 8 * 86400) {
		int64_t d = s / 86400, h = (s % 86400) / 3600;

		if (h == 0)
			snprintf(out, 16, "%lldd", (long long)d);
		else
			snprintf(out, 16, "%lldd%lldh", (long long)d, (long long)h);
	} else if (s < 2 * 365 * 86400LL) {
		snprintf(out, 16, "%lldd", (long long)(s / 86400));
	} else if (s < 8 * 365 * 86400LL) {
		int64_t y = s / (365 * 86400LL), d = (s % (365 * 86400LL)) / 86400;

		if (d == 0)
			snprintf(out, 16, "%lldy", (long long)y);
		else
			snprintf(out, 16, "%lldy%lldd", (long long)y, (long long)d);
	} else {
		snprintf(out, 16, "%lldy", (long long)(s / (365 * 86400LL)));
	}
}

void gt_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			GT_BUG("getrandom: %s", strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
}

void gt_uuid(char out[37])
{
	unsigned char b[16];

	gt_random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}

void gt_random_suffix(char *out, size_t n)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char r[64];

	if (n > sizeof(r))
		n = sizeof(r);
	gt_random_bytes(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alpha[r[i] % (sizeof(alpha) - 1)];
	out[n] = '\0';
}

bool gt_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int gt_parse_bool(const char *s, bool *out)
{
	static const char *t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *f[] = { "0", "f", "F", "FALSE", "false", "False" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < GT_ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int gt_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *gt_base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *p = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*p++ = b64[in[i] >> 2];
		*p++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*p++ = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*p++ = b64[in[i + 2] & 63];
	}
	if (i < len) {
		*p++ = b64[in[i] >> 2];
		if (i + 1 < len) {
			*p++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*p++ = b64[(in[i + 1] & 15) << 2];
		} else {
			*p++ = b64[(in[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int b64val(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int gt_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen)
{
	unsigned char *o = xmalloc(slen / 4 * 3 + 4);
	size_t n = 0, i, q = 0;
	int v[4];

	if (slen % 4) {
		free(o);
		return -EINVAL;
	}
	for (i = 0; i < slen; i += 4) {
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == slen && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64val((unsigned char)s[i + k])) < 0) {
				free(o);
				return -EINVAL;
			}
		}
		o[n++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			o[n++] = (unsigned char)((v[1] << 4) | (v[2] >> 2));
		if (pad < 1)
			o[n++] = (unsigned char)((v[2] << 6) | v[3]);
		q++;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

int gt_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -e;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

int gt_read_file(const char *path, char **out, size_t *len)
{
	struct gt_buf b = GT_BUF_INIT;
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	gt_buf_init(&b);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			gt_buf_release(&b);
			return -e;
		}
		if (r == 0)
			break;
		gt_buf_add(&b, chunk, (size_t)r);
	}
	close(fd);
	*out = gt_buf_detach(&b, len);
	return 0;
}

int gt_mkdir_p(const char *path, int mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int gt_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return lstat(path, &st) < 0 ? 0 : -EBUSY;
}
