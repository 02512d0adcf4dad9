/*
 * ws.c - RFC 6455 WebSocket: handshake helpers (a small SHA-1 of our own for
 * Sec-WebSocket-Accept, so that only http/ links GnuTLS), a frame reader
 * with a read-ahead buffer that reassembles fragmented messages and answers
 * control frames, and a mutex-serialised frame writer that gathers small
 * pieces into one write and writes big ones straight from the caller.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "apiserver/ws.h"

#define RBUF_SIZE (64 * 1024)
#define WBUF_SIZE (64 * 1024)
#define DIRECT_MIN (16 * 1024)  /* payload pieces at least this big skip the scratch buffer */
#define TLS_RECORD (16 * 1024)  /* the largest TLS record's plaintext */
#define GROW_STEP ((size_t)256 * 1024)

struct gt_ws {
	struct gt_ws_io io;
	size_t max_message;
	bool client;

	/* reader side (one thread) */
	unsigned char *rbuf;
	size_t rpos, rlen;
	int frag_opcode;       /* opcode of the message being reassembled, 0 if none */
	int done;              /* 0 running; 1 peer closed; < 0 error */
	int peer_code;
	char done_msg[160];

	/* writer side, under wlock */
	pthread_mutex_t wlock;
	unsigned char *wbuf;
	size_t wlen;
	bool close_sent;
	bool wfailed;
};

/* ---- SHA-1 (FIPS 180-4), only for the handshake ---- */

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char blk[64];
	size_t n;
};

static uint32_t rol(uint32_t x, int s)
{
	return (x << s) | (x >> (32 - s));
}

static void sha1_block(struct sha1 *c, const unsigned char *p)
{
	uint32_t w[80], a = c->h[0], b = c->h[1], d = c->h[3], e = c->h[4], cc = c->h[2], f, k, t;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & cc) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ cc ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & cc) | (b & d) | (cc & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ cc ^ d;
			k = 0xCA62C1D6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = cc;
		cc = rol(b, 30);
		b = a;
		a = t;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
}

static void sha1_add(struct sha1 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->len += len;
	while (len) {
		size_t take = 64 - c->n < len ? 64 - c->n : len;

		memcpy(c->blk + c->n, p, take);
		c->n += take;
		p += take;
		len -= take;
		if (c->n == 64) {
			sha1_block(c, c->blk);
			c->n = 0;
		}
	}
}

static void sha1(const void *data, size_t len, const void *data2, size_t len2,
		 unsigned char out[20])
{
	struct sha1 c = { { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 }, 0, { 0 }, 0 };
	unsigned char pad[72] = { 0x80 };
	uint64_t bits;
	size_t padlen;

	sha1_add(&c, data, len);
	sha1_add(&c, data2, len2);
	bits = c.len * 8;
	padlen = (c.n < 56 ? 56 : 120) - c.n;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_add(&c, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(c.h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c.h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c.h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c.h[i];
	}
}

/* ---- handshake ---- */

/* Calls fn on each comma-separated token of list, blanks trimmed; stops
 * when fn returns true.  Returns that verdict. */
static bool each_token(const char *list, bool (*fn)(const char *tok, size_t len, void *arg),
		       void *arg)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		const char *e = end ? end : p + strlen(p);

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > p && fn(p, (size_t)(e - p), arg))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool token_is(const char *tok, size_t len, void *arg)
{
	const char *want = arg;

	return strlen(want) == len && !strncasecmp(tok, want, len);
}

bool gt_ws_is_upgrade(const char *upgrade)
{
	return each_token(upgrade, token_is, (void *)"websocket");
}

int gt_ws_accept_key(const char *client_key, char out[29])
{
	unsigned char *raw = NULL, digest[20];
	size_t rawlen = 0, len;
	const char *k = client_key;
	char *b64;
	int rc;

	out[0] = '\0';
	if (!k)
		return -EINVAL;
	while (*k == ' ' || *k == '\t')
		k++;
	len = strlen(k);
	while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
		len--;
	if (len != 24)
		return -EINVAL;
	rc = gt_base64_decode(k, len, &raw, &rawlen);
	free(raw);
	if (rc < 0 || rawlen != 16)
		return -EINVAL;
	sha1(k, len, GT_WS_GUID, strlen(GT_WS_GUID), digest);
	b64 = gt_base64_encode(digest, sizeof(digest));
	snprintf(out, 29, "%s", b64);
	free(b64);
	return 0;
}

int gt_ws_check_request(const char *upgrade, const char *connection, const char *version,
			const char *key, char accept[29], struct gt_err *err)
{
	accept[0] = '\0';
	if (!gt_ws_is_upgrade(upgrade))
		return gt_err_set(err, -EINVAL, "Upgrade: websocket required, got \"%s\"",
				  upgrade ? upgrade : "");
	if (!each_token(connection, token_is, (void *)"upgrade"))
		return gt_err_set(err, -EINVAL, "Connection: Upgrade required, got \"%s\"",
				  connection ? connection : "");
	if (!version || strcmp(version, "13"))
		return gt_err_set(err, -EPROTONOSUPPORT,
				  "Sec-WebSocket-Version: only 13 is supported, got \"%s\"",
				  version ? version : "");
	if (gt_ws_accept_key(key, accept) < 0)
		return gt_err_set(err, -EINVAL,
				  "Sec-WebSocket-Key: must be base64 of 16 bytes, got \"%.64s\"",
				  key ? key : "");
	return 0;
}

struct pick {
	const char *const *supported;
	const char *chosen;
	bool any;
};

static bool pick_one(const char *tok, size_t len, void *arg)
{
	struct pick *p = arg;

	p->any = true;
	for (const char *const *s = p->supported; s && *s; s++) {
		if (strlen(*s) == len && !memcmp(*s, tok, len)) {
			p->chosen = *s;
			return true;
		}
	}
	return false;
}

int gt_ws_pick_protocol(const char *offered, const char *const *supported,
			const char **chosen, struct gt_err *err)
{
	struct pick p = { supported, NULL, false };
	struct gt_buf list = GT_BUF_INIT;

	*chosen = NULL;
	if (each_token(offered, pick_one, &p)) {
		*chosen = p.chosen;
		return 1;
	}
	if (!p.any)
		return 0;
	gt_buf_reset(&list);
	for (const char *const *s = supported; s && *s; s++)
		gt_buf_addf(&list, "%s%s", s == supported ? "" : " ", *s);
	gt_err_set(err, -EPROTONOSUPPORT,
		   "requested protocol(s) are not supported: [%.200s]; supports [%s]",
		   offered, list.data);
	gt_buf_release(&list);
	return -EPROTONOSUPPORT;
}

void gt_ws_client_key(char out[25])
{
	unsigned char raw[16];
	char *b64;

	gt_random_bytes(raw, sizeof(raw));
	b64 = gt_base64_encode(raw, sizeof(raw));
	snprintf(out, 25, "%s", b64);
	free(b64);
}

/* ---- connection ---- */

struct gt_ws *gt_ws_new(const struct gt_ws_io *io, const struct gt_ws_opts *opts)
{
	struct gt_ws *ws = xcalloc(1, sizeof(*ws));

	ws->io = *io;
	ws->max_message = opts && opts->max_message ? opts->max_message : GT_WS_MAX_MESSAGE_DEFAULT;
	ws->client = opts && opts->client;
	ws->rbuf = xmalloc(RBUF_SIZE);
	ws->wbuf = xmalloc(WBUF_SIZE);
	pthread_mutex_init(&ws->wlock, NULL);
	return ws;
}

void gt_ws_free(struct gt_ws *ws)
{
	if (!ws)
		return;
	pthread_mutex_destroy(&ws->wlock);
	free(ws->rbuf);
	free(ws->wbuf);
	free(ws);
}

bool gt_ws_buffered(const struct gt_ws *ws)
{
	return ws->rpos < ws->rlen;
}

int gt_ws_peer_close_code(const struct gt_ws *ws)
{
	return ws->peer_code;
}

bool gt_ws_close_sent(struct gt_ws *ws)
{
	bool sent;

	pthread_mutex_lock(&ws->wlock);
	sent = ws->close_sent;
	pthread_mutex_unlock(&ws->wlock);
	return sent;
}

/* ---- writer ---- */

static int wflush(struct gt_ws *ws)
{
	int rc = 0;

	if (ws->wlen)
		rc = ws->io.write(ws->io.ctx, ws->wbuf, ws->wlen);
	ws->wlen = 0;
	return rc;
}

/* Appends len bytes to the scratch buffer, masking them from offset *moff
 * of key when key is not NULL. */
static int wadd(struct gt_ws *ws, const unsigned char *p, size_t len, const unsigned char *key,
		size_t *moff)
{
	int rc;

	while (len) {
		size_t take = WBUF_SIZE - ws->wlen < len ? WBUF_SIZE - ws->wlen : len;

		if (key) {
			for (size_t i = 0; i < take; i++)
				ws->wbuf[ws->wlen + i] = p[i] ^ key[(*moff + i) & 3];
			*moff += take;
		} else {
			memcpy(ws->wbuf + ws->wlen, p, take);
		}
		ws->wlen += take;
		p += take;
		len -= take;
		if (ws->wlen == WBUF_SIZE && (rc = wflush(ws)) < 0)
			return rc;
	}
	return 0;
}

/* Writes one final frame; the caller holds wlock. */
static int write_frame(struct gt_ws *ws, int opcode, const struct iovec *iov, int iovcnt,
		       size_t total)
{
	unsigned char hdr[14], key[4];
	size_t hlen = 2, moff = 0;
	int rc = 0;

	if (ws->close_sent || ws->wfailed)
		return -EPIPE;
	hdr[0] = (unsigned char)(0x80 | opcode);
	if (total < 126) {
		hdr[1] = (unsigned char)total;
	} else if (total <= 0xFFFF) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(total >> 8);
		hdr[3] = (unsigned char)total;
		hlen = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)((uint64_t)total >> (56 - 8 * i));
		hlen = 10;
	}
	if (ws->client) {
		hdr[1] |= 0x80;
		gt_random_bytes(key, sizeof(key));
		memcpy(hdr + hlen, key, 4);
		hlen += 4;
	}
	ws->wlen = 0;
	rc = wadd(ws, hdr, hlen, NULL, NULL);
	for (int i = 0; rc == 0 && i < iovcnt; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (!ws->client && len >= DIRECT_MIN) {
			/* the header rides in the first TLS record with the
			 * payload's first bytes, not in a record of its own */
			size_t lead = ws->wlen < TLS_RECORD ? TLS_RECORD - ws->wlen : 0;

			rc = wadd(ws, p, lead, NULL, NULL);
			if (rc == 0)
				rc = wflush(ws);
			if (rc == 0)
				rc = ws->io.write(ws->io.ctx, p + lead, len - lead);
		} else {
			rc = wadd(ws, p, len, ws->client ? key : NULL, &moff);
		}
	}
	if (rc == 0)
		rc = wflush(ws);
	ws->wlen = 0;
	if (rc < 0)
		ws->wfailed = true;
	else if (opcode == GT_WS_CLOSE)
		ws->close_sent = true;
	return rc;
}

static int send_locked(struct gt_ws *ws, int opcode, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int rc;

	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if ((opcode & 8) && total > 125)
		return -EINVAL;
	pthread_mutex_lock(&ws->wlock);
	rc = write_frame(ws, opcode, iov, iovcnt, total);
	pthread_mutex_unlock(&ws->wlock);
	return rc;
}

int gt_ws_sendv(struct gt_ws *ws, int opcode, const struct iovec *iov, int iovcnt)
{
	if (opcode != GT_WS_TEXT && opcode != GT_WS_BINARY && opcode != GT_WS_PING &&
	    opcode != GT_WS_PONG)
		return -EINVAL;
	return send_locked(ws, opcode, iov, iovcnt);
}

int gt_ws_send(struct gt_ws *ws, int opcode, const void *data, size_t len)
{
	struct iovec iov = { (void *)data, len };

	return gt_ws_sendv(ws, opcode, &iov, len ? 1 : 0);
}

int gt_ws_ping(struct gt_ws *ws, const void *data, size_t len)
{
	return gt_ws_send(ws, GT_WS_PING, data, len);
}

int gt_ws_close(struct gt_ws *ws, int code, const char *reason)
{
	unsigned char p[125];
	size_t len = 0, rlen = reason ? strlen(reason) : 0;
	struct iovec iov;
	int rc;

	if (code > 0) {
		p[0] = (unsigned char)(code >> 8);
		p[1] = (unsigned char)code;
		if (rlen > 123) {
			rlen = 123;
			while (rlen && ((unsigned char)reason[rlen] & 0xC0) == 0x80)
				rlen--;  /* do not cut a UTF-8 sequence */
		}
		memcpy(p + 2, reason ? reason : "", rlen);
		len = 2 + rlen;
	}
	iov.iov_base = p;
	iov.iov_len = len;
	pthread_mutex_lock(&ws->wlock);
	rc = ws->close_sent ? 0 : write_frame(ws, GT_WS_CLOSE, &iov, 1, len);
	pthread_mutex_unlock(&ws->wlock);
	return rc;
}

/* ---- reader ---- */

/* Makes at least need (<= RBUF_SIZE) bytes available in rbuf. */
static int rfill(struct gt_ws *ws, size_t need)
{
	while (ws->rlen - ws->rpos < need) {
		ssize_t n;

		if (ws->rpos && ws->rpos + need > RBUF_SIZE) {
			memmove(ws->rbuf, ws->rbuf + ws->rpos, ws->rlen - ws->rpos);
			ws->rlen -= ws->rpos;
			ws->rpos = 0;
		}
		n = ws->io.read(ws->io.ctx, ws->rbuf + ws->rlen, RBUF_SIZE - ws->rlen);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return (int)n;
		ws->rlen += (size_t)n;
	}
	return 0;
}

/* Reads exactly len payload bytes into dst: buffered bytes first, then big
 * remainders straight from the transport (never reading past the frame). */
static int rpayload(struct gt_ws *ws, unsigned char *dst, size_t len)
{
	while (len) {
		size_t have = ws->rlen - ws->rpos;

		if (have) {
			size_t take = have < len ? have : len;

			memcpy(dst, ws->rbuf + ws->rpos, take);
			ws->rpos += take;
			dst += take;
			len -= take;
		} else if (len >= DIRECT_MIN) {
			ssize_t n = ws->io.read(ws->io.ctx, dst, len);

			if (n == 0)
				return -ECONNRESET;
			if (n < 0)
				return (int)n;
			dst += n;
			len -= (size_t)n;
		} else {
			int rc;

			ws->rpos = ws->rlen = 0;
			if ((rc = rfill(ws, 1)) < 0)
				return rc;
		}
	}
	return 0;
}

static void unmask(unsigned char *p, size_t len, const unsigned char key[4])
{
	uint64_t k8;
	size_t i = 0;

	for (int j = 0; j < 8; j++)
		((unsigned char *)&k8)[j] = key[j & 3];
	for (; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		v ^= k8;
		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] ^= key[i & 3];
}

/* Ends the connection with an error: close frame (code, msg), sticky rc. */
static int fail(struct gt_ws *ws, int rc, int code, struct gt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(struct gt_ws *ws, int rc, int code, struct gt_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ws->done_msg, sizeof(ws->done_msg), fmt, ap);
	va_end(ap);
	if (code)
		gt_ws_close(ws, code, ws->done_msg);
	ws->done = rc;
	return gt_err_set(err, rc, "websocket: %s", ws->done_msg);
}

static bool close_code_ok(int c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* A control frame's payload (<= 125 bytes, unmasked already). */
static int on_control(struct gt_ws *ws, int op, const unsigned char *p, size_t len,
		      struct gt_err *err)
{
	if (op == GT_WS_PING) {
		/* After our close, no pong may follow; a write error surfaces on
		 * the next read or send anyway. */
		gt_ws_send(ws, GT_WS_PONG, p, len);
		return 0;
	}
	if (op == GT_WS_PONG)
		return 0;
	/* close */
	if (len == 1)
		return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err, "close frame of 1 byte");
	ws->peer_code = len ? (p[0] << 8 | p[1]) : GT_WS_CLOSE_NO_STATUS;
	if (len && !close_code_ok(ws->peer_code))
		return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err, "invalid close code %d",
			    ws->peer_code);
	/* Echo the code (RFC 6455 §5.5.1); no-op if we closed first. */
	gt_ws_close(ws, len ? ws->peer_code : 0, NULL);
	ws->done = 1;
	snprintf(ws->done_msg, sizeof(ws->done_msg), "closed by peer (%d)", ws->peer_code);
	return 1;
}

/* Appends a data frame's payload to msg, growing it as bytes arrive. */
static int read_data(struct gt_ws *ws, struct gt_buf *msg, uint64_t len, const unsigned char *key)
{
	size_t done = 0;

	while (done < len) {
		size_t step = len - done < GROW_STEP ? (size_t)(len - done) : GROW_STEP;
		unsigned char *dst;
		int rc;

		if (msg->cap - msg->len - 1 < step) {
			size_t ncap = msg->cap * 2;

			if (ncap < msg->len + step + 1)
				ncap = msg->len + step + 1;
			msg->data = xrealloc(msg->data, ncap);
			msg->cap = ncap;
		}
		dst = (unsigned char *)msg->data + msg->len;
		if ((rc = rpayload(ws, dst, step)) < 0)
			return rc;
		if (key) {
			/* the mask runs over the frame: realign it for this step */
			unsigned char k[4];

			for (int i = 0; i < 4; i++)
				k[i] = key[(done + (size_t)i) & 3];
			unmask(dst, step, k);
		}
		msg->len += step;
		msg->data[msg->len] = '\0';
		done += step;
	}
	return 0;
}

int gt_ws_recv(struct gt_ws *ws, int *opcode, struct gt_buf *msg, struct gt_err *err)
{
	int rc;

	*opcode = 0;
	gt_buf_reset(msg);
	if (ws->done > 0)
		return 0;
	if (ws->done < 0)
		return gt_err_set(err, ws->done, "websocket: %s", ws->done_msg);
	for (;;) {
		unsigned char *h, key[4];
		int fin, op, masked;
		uint64_t len;
		size_t hlen;

		if ((rc = rfill(ws, 2)) < 0)
			goto io_error;
		h = ws->rbuf + ws->rpos;
		fin = h[0] & 0x80;
		op = h[0] & 0x0F;
		masked = h[1] & 0x80;
		len = h[1] & 0x7F;
		hlen = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + (masked ? 4 : 0);
		if (h[0] & 0x70)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
				    "reserved bits set (no extension was negotiated)");
		if ((op > GT_WS_BINARY && op < GT_WS_CLOSE) || op > GT_WS_PONG)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err, "reserved opcode %d", op);
		if (!ws->client && !masked)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
				    "client frame not masked");
		if (ws->client && masked)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err, "server frame masked");
		if ((rc = rfill(ws, hlen)) < 0)
			goto io_error;
		h = ws->rbuf + ws->rpos;
		if (len == 126) {
			len = (uint64_t)h[2] << 8 | h[3];
		} else if (len == 127) {
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			if (len >> 63)
				return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
					    "64-bit length with the high bit set");
		}
		if (masked)
			memcpy(key, h + hlen - 4, 4);
		ws->rpos += hlen;

		if (op & 8) {
			unsigned char p[125];

			if (!fin)
				return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
					    "fragmented control frame");
			if (len > 125)
				return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
					    "control frame of %llu bytes (max 125)",
					    (unsigned long long)len);
			if ((rc = rpayload(ws, p, (size_t)len)) < 0)
				goto io_error;
			if (masked)
				unmask(p, (size_t)len, key);
			rc = on_control(ws, op, p, (size_t)len, err);
			if (rc < 0)
				return rc;
			if (rc > 0)
				return 0;
			continue;
		}
		if (op == GT_WS_CONT && !ws->frag_opcode)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
				    "continuation frame outside a fragmented message");
		if (op != GT_WS_CONT && ws->frag_opcode)
			return fail(ws, -EPROTO, GT_WS_CLOSE_PROTOCOL, err,
				    "new message inside a fragmented message");
		if (len > ws->max_message - msg->len)
			return fail(ws, -EMSGSIZE, GT_WS_CLOSE_TOO_BIG, err,
				    "message larger than %zu bytes", ws->max_message);
		if (op != GT_WS_CONT)
			ws->frag_opcode = op;
		if ((rc = read_data(ws, msg, len, masked ? key : NULL)) < 0)
			goto io_error;
		if (fin) {
			*opcode = ws->frag_opcode;
			ws->frag_opcode = 0;
			return 1;
		}
	}
io_error:
	ws->done = rc;
	if (rc == -ECONNRESET)
		snprintf(ws->done_msg, sizeof(ws->done_msg), "connection ended without a close frame");
	else
		snprintf(ws->done_msg, sizeof(ws->done_msg), "read: %s", strerror(-rc));
	return gt_err_set(err, rc, "websocket: %s", ws->done_msg);
}
