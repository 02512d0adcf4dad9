/*
 * spdy.c - SPDY/3.1 server connections (see spdy.h for the contract).
 *
 * Reading: one thread calls gt_spdy_next, which keeps a read buffer of
 * RBUF bytes.  A control frame is read whole (at most GT_SPDY_MAX_CONTROL
 * bytes); a DATA frame is handed out as it arrives, in chunks of whatever
 * the buffer holds, so a 16 MiB frame never needs 16 MiB of memory.
 * Header blocks are inflated into a fixed GT_SPDY_MAX_HEADER_BYTES buffer
 * with the connection's one inflate context, then copied into an arena as
 * NUL-terminated strings that the event points at.
 *
 * Writing: any thread.  Two locks: `wmu` serialises the transport writes,
 * the deflate context and the frame buffer; `mu` guards the stream table
 * and is never held across I/O, so the reader does not wait behind a
 * writer that blocks on a full socket unless it must write itself
 * (SYN_REPLY, PING echo).  Lock order: wmu, then mu.
 *
 * The stream table is an array sorted by id: client stream ids only grow,
 * so a new stream is appended and lookups are binary searches.  A stream
 * leaves it when both sides have sent FIN, or on RST_STREAM either way.
 *
 * The Kubernetes helpers at the end (exec stream sets, port-forward pairs)
 * only look at STREAM events' headers; they do no I/O.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "apiserver/spdy.h"
#include "base/util.h"

#define RBUF (GT_SPDY_MAX_CONTROL + 8 + GT_SPDY_READ_CHUNK)
#define ARENA (GT_SPDY_MAX_HEADER_BYTES + 2 * GT_SPDY_MAX_HEADERS)
#define WBUF (8 + GT_SPDY_WRITE_CHUNK)

enum {
	T_SYN_STREAM = 1, T_SYN_REPLY = 2, T_RST_STREAM = 3, T_SETTINGS = 4,
	T_PING = 6, T_GOAWAY = 7, T_HEADERS = 8, T_WINDOW_UPDATE = 9,
};
#define FLAG_FIN 0x01
#define FLAG_UNIDIRECTIONAL 0x02
#define SPDY_VERSION 3
#define ID_MASK 0x7fffffffu

struct stream {
	uint32_t id;
	bool remote_closed; /* the client sent FIN */
	bool local_closed;  /* we sent FIN (or may not send) */
};

struct gt_spdy {
	struct gt_spdy_io io;

	/* reader state: the gt_spdy_next thread only */
	unsigned char *rbuf;
	size_t rpos, rlen;
	uint32_t data_left;   /* bytes of the current DATA frame still unread */
	uint32_t data_stream;
	bool data_fin, data_drop;
	z_stream inf;
	unsigned char *hblock;  /* inflated header block */
	char *arena;            /* header strings of the last event */
	struct gt_spdy_header hdrs[GT_SPDY_MAX_HEADERS];
	int rerr;               /* sticky error of gt_spdy_next */
	char rmsg[256];

	pthread_mutex_t mu;     /* streams, last_id, goaway_sent */
	struct stream *streams;
	size_t nstreams, cap;
	uint32_t last_id;       /* highest client stream id seen */
	bool goaway_sent;

	pthread_mutex_t wmu;    /* transport writes, def, wbuf, broken */
	z_stream def;
	unsigned char *wbuf;
	bool broken;
};

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* The 8-byte frame header: control (type) or data (stream), flags, length. */
static void put_ctrl(unsigned char *p, unsigned type, unsigned flags, uint32_t len)
{
	p[0] = 0x80;
	p[1] = SPDY_VERSION;
	p[2] = type >> 8;
	p[3] = type;
	put32(p + 4, len);
	p[4] = flags;
}

static void put_data(unsigned char *p, uint32_t stream, unsigned flags, uint32_t len)
{
	put32(p, stream & ID_MASK);
	put32(p + 4, len);
	p[4] = flags;
}

/* ---- stream table (callers hold mu) ---- */

static struct stream *find(struct gt_spdy *s, uint32_t id)
{
	size_t lo = 0, hi = s->nstreams;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->streams[mid].id == id)
			return &s->streams[mid];
		if (s->streams[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void drop(struct gt_spdy *s, struct stream *st)
{
	size_t i = (size_t)(st - s->streams);

	memmove(st, st + 1, (s->nstreams - i - 1) * sizeof(*st));
	s->nstreams--;
}

/* Drops st when both sides are closed. */
static void settle(struct gt_spdy *s, struct stream *st)
{
	if (st->remote_closed && st->local_closed)
		drop(s, st);
}

/* ---- writing (callers hold wmu) ---- */

/* Returns 0 or a negative errno (callers word the message).  After one
 * failure every write fails: a partial frame has desynchronised the peer. */
static int send_raw(struct gt_spdy *s, const void *buf, size_t len)
{
	int r;

	if (s->broken)
		return -EPIPE;
	r = s->io.write(s->io.ctx, buf, len);
	if (r < 0) {
		s->broken = true;
		return r;
	}
	return 0;
}

static int send_ctrl8(struct gt_spdy *s, unsigned type, uint32_t a, uint32_t b)
{
	unsigned char f[16];

	put_ctrl(f, type, 0, 8);
	put32(f + 8, a);
	put32(f + 12, b);
	return send_raw(s, f, sizeof(f));
}

/* SYN_REPLY with an empty header block, compressed with the persistent
 * deflate context. */
static int send_syn_reply(struct gt_spdy *s, uint32_t id)
{
	static const unsigned char empty[4];
	unsigned char *f = s->wbuf;
	int zr;

	if (s->broken)
		return -EPIPE;
	put32(f + 8, id & ID_MASK);
	s->def.next_in = (Bytef *)empty;
	s->def.avail_in = sizeof(empty);
	s->def.next_out = f + 12;
	s->def.avail_out = WBUF - 12;
	zr = deflate(&s->def, Z_SYNC_FLUSH);
	if (zr != Z_OK || s->def.avail_in || !s->def.avail_out) {
		s->broken = true; /* the client's inflater can no longer follow */
		return -EIO;
	}
	put_ctrl(f, T_SYN_REPLY, 0, (uint32_t)(WBUF - 8 - s->def.avail_out));
	return send_raw(s, f, WBUF - s->def.avail_out);
}

static int locked_ctrl8(struct gt_spdy *s, unsigned type, uint32_t a, uint32_t b)
{
	int r;

	pthread_mutex_lock(&s->wmu);
	r = send_ctrl8(s, type, a, b);
	pthread_mutex_unlock(&s->wmu);
	return r;
}

/* ---- reading ---- */

/* Sticky failure of the reader.  Protocol errors also send GOAWAY. */
static int fail(struct gt_spdy *s, int code, struct gt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct gt_spdy *s, int code, struct gt_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->rmsg, sizeof(s->rmsg), fmt, ap);
	va_end(ap);
	s->rerr = code;
	if (code == -EPROTO) {
		pthread_mutex_lock(&s->mu);
		uint32_t last = s->last_id;
		s->goaway_sent = true;
		pthread_mutex_unlock(&s->mu);
		locked_ctrl8(s, T_GOAWAY, last, GT_SPDY_GOAWAY_PROTOCOL_ERROR);
	}
	return gt_err_set(err, code, "spdy: %s", s->rmsg);
}

/*
 * Makes at least `need` bytes available at rbuf + rpos (need <= RBUF).
 * Returns 1, 0 when the transport ended first, or a negative errno.
 */
static int fill(struct gt_spdy *s, size_t need, struct gt_err *err)
{
	if (s->rlen - s->rpos >= need)
		return 1;
	if (s->rpos) {
		memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
		s->rlen -= s->rpos;
		s->rpos = 0;
	}
	while (s->rlen < need) {
		ssize_t n = s->io.read(s->io.ctx, s->rbuf + s->rlen, RBUF - s->rlen);

		if (n == 0)
			return 0;
		if (n < 0 || (size_t)n > RBUF - s->rlen) {
			int code = n < 0 ? (int)n : -EIO;

			return fail(s, code, err, "read: %s", strerror(-code));
		}
		s->rlen += (size_t)n;
	}
	return 1;
}

/* Inflates one header block into hblock.  Any failure is fatal: the
 * shared zlib context cannot be trusted afterwards. */
static int inflate_block(struct gt_spdy *s, const unsigned char *in, size_t len,
			 size_t *outlen, struct gt_err *err)
{
	z_stream *z = &s->inf;

	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)len;
	z->next_out = s->hblock;
	z->avail_out = GT_SPDY_MAX_HEADER_BYTES + 1;
	while (z->avail_in) {
		int zr = inflate(z, Z_SYNC_FLUSH);

		if (zr == Z_NEED_DICT) {
			if (inflateSetDictionary(z, gt_spdy_dict, GT_SPDY_DICT_LEN) != Z_OK)
				return fail(s, -EPROTO, err, "header block: wrong zlib dictionary");
			continue;
		}
		if (zr == Z_STREAM_END)
			return fail(s, -EPROTO, err, "header block: zlib stream ended");
		if (!z->avail_out)
			return fail(s, -EPROTO, err, "header block: over %d bytes decompressed",
				    GT_SPDY_MAX_HEADER_BYTES);
		if (zr != Z_OK)
			return fail(s, -EPROTO, err, "header block: corrupt zlib data (%s)",
				    z->msg ? z->msg : "no progress");
	}
	if (!z->avail_out)
		return fail(s, -EPROTO, err, "header block: over %d bytes decompressed",
			    GT_SPDY_MAX_HEADER_BYTES);
	*outlen = GT_SPDY_MAX_HEADER_BYTES + 1 - z->avail_out;
	return 0;
}

/* Decodes the inflated block into s->hdrs (strings in s->arena). */
static int parse_block(struct gt_spdy *s, size_t n, size_t *count, struct gt_err *err)
{
	const unsigned char *p = s->hblock;
	size_t off = 4, aoff = 0;
	uint32_t cnt;

	if (n < 4)
		return fail(s, -EPROTO, err, "header block: truncated before the count");
	cnt = get32(p);
	if (cnt > GT_SPDY_MAX_HEADERS)
		return fail(s, -EPROTO, err, "header block: %u headers (limit %d)", cnt,
			    GT_SPDY_MAX_HEADERS);
	for (uint32_t i = 0; i < cnt; i++) {
		struct gt_spdy_header *h = &s->hdrs[i];

		for (int part = 0; part < 2; part++) {
			uint32_t l;
			char *dst;

			if (n - off < 4)
				return fail(s, -EPROTO, err, "header block: header %u truncated", i);
			l = get32(p + off);
			off += 4;
			if (l > n - off)
				return fail(s, -EPROTO, err,
					    "header block: header %u %s length %u past the block",
					    i, part ? "value" : "name", l);
			/* aoff + l + 1 <= ARENA: each string's bytes come from the block */
			dst = s->arena + aoff;
			memcpy(dst, p + off, l);
			dst[l] = '\0';
			off += l;
			aoff += l + 1;
			if (part) {
				h->value = dst;
				h->value_len = l;
				continue;
			}
			if (!l)
				return fail(s, -EPROTO, err, "header block: header %u has an empty name", i);
			for (uint32_t k = 0; k < l; k++) {
				if (!dst[k])
					return fail(s, -EPROTO, err, "header block: header %u name holds NUL", i);
				if (dst[k] >= 'A' && dst[k] <= 'Z')
					dst[k] += 'a' - 'A';
			}
			h->name = dst;
			for (uint32_t j = 0; j < i; j++)
				if (!strcmp(s->hdrs[j].name, dst))
					return fail(s, -EPROTO, err, "header block: duplicate header %s", dst);
		}
	}
	if (off != n)
		return fail(s, -EPROTO, err, "header block: %zu bytes after the last header", n - off);
	*count = cnt;
	return 0;
}

static int read_headers(struct gt_spdy *s, const unsigned char *in, size_t len, size_t *count,
			struct gt_err *err)
{
	size_t n;
	int r = inflate_block(s, in, len, &n, err);

	return r < 0 ? r : parse_block(s, n, count, err);
}

/* SYN_STREAM: returns 1 with an event, 0 when the stream was refused or
 * ignored, or a negative errno. */
static int on_syn_stream(struct gt_spdy *s, unsigned flags, const unsigned char *p, uint32_t len,
			 struct gt_spdy_event *ev, struct gt_err *err)
{
	uint32_t id;
	size_t count;
	bool ignore = false, refuse = false;
	int r;

	if (len < 10)
		return fail(s, -EPROTO, err, "SYN_STREAM: length %u < 10", len);
	id = get32(p) & ID_MASK;
	/* Inflate first, always: the zlib context must see every block. */
	r = read_headers(s, p + 10, len - 10, &count, err);
	if (r < 0)
		return r;
	if (!id || !(id & 1))
		return fail(s, -EPROTO, err, "SYN_STREAM: stream id %u is not a client id", id);
	pthread_mutex_lock(&s->mu);
	if (id <= s->last_id) {
		uint32_t last = s->last_id;

		pthread_mutex_unlock(&s->mu);
		return fail(s, -EPROTO, err, "SYN_STREAM: stream id %u after %u", id, last);
	}
	s->last_id = id;
	if (s->goaway_sent) {
		ignore = true;
	} else if (s->nstreams >= GT_SPDY_MAX_STREAMS) {
		refuse = true;
	} else if (!(flags & FLAG_FIN) || !(flags & FLAG_UNIDIRECTIONAL)) {
		gt_grow((void **)&s->streams, &s->cap, s->nstreams + 1, sizeof(*s->streams));
		s->streams[s->nstreams++] = (struct stream){
			.id = id,
			.remote_closed = flags & FLAG_FIN,
			.local_closed = flags & FLAG_UNIDIRECTIONAL,
		};
	}
	pthread_mutex_unlock(&s->mu);
	if (ignore)
		return 0;
	if (refuse) {
		r = locked_ctrl8(s, T_RST_STREAM, id, GT_SPDY_REFUSED_STREAM);
		return r < 0 ? fail(s, r, err, "write: %s", strerror(-r)) : 0;
	}
	if (!(flags & FLAG_UNIDIRECTIONAL)) {
		pthread_mutex_lock(&s->wmu);
		r = send_syn_reply(s, id);
		pthread_mutex_unlock(&s->wmu);
		if (r < 0)
			return fail(s, r, err, "SYN_REPLY for stream %u: %s", id, strerror(-r));
	}
	ev->type = GT_SPDY_EV_STREAM;
	ev->stream = id;
	ev->fin = flags & FLAG_FIN;
	ev->unidirectional = flags & FLAG_UNIDIRECTIONAL;
	ev->headers = s->hdrs;
	ev->nheaders = count;
	return 1;
}

/* Marks the client side of stream closed; returns false when it is unknown. */
static bool remote_fin(struct gt_spdy *s, uint32_t id)
{
	struct stream *st;

	pthread_mutex_lock(&s->mu);
	st = find(s, id);
	if (st) {
		st->remote_closed = true;
		settle(s, st);
	}
	pthread_mutex_unlock(&s->mu);
	return st != NULL;
}

/* A DATA frame header: decides whether its payload is delivered or
 * dropped.  Returns 1 with an event (a stream error, or an empty FIN), 0
 * to go on, or a negative errno. */
static int on_data(struct gt_spdy *s, uint32_t id, unsigned flags, uint32_t len,
		   struct gt_spdy_event *ev, struct gt_err *err)
{
	struct stream *st;
	uint32_t rst = 0;
	int r;

	if (!id)
		return fail(s, -EPROTO, err, "DATA frame on stream 0");
	s->data_left = len;
	s->data_stream = id;
	s->data_fin = flags & FLAG_FIN;
	s->data_drop = true;
	pthread_mutex_lock(&s->mu);
	st = find(s, id);
	if (!st) {
		/* A stream we closed or reset may still see data in flight; a
		 * stream that never existed is an error for that stream. */
		if (id > s->last_id || !(id & 1))
			rst = GT_SPDY_INVALID_STREAM;
	} else if (st->remote_closed) {
		rst = GT_SPDY_STREAM_ALREADY_CLOSED;
		drop(s, st);
	} else {
		s->data_drop = false;
	}
	pthread_mutex_unlock(&s->mu);
	if (rst) {
		r = locked_ctrl8(s, T_RST_STREAM, id, rst);
		if (r < 0)
			return fail(s, r, err, "write: %s", strerror(-r));
		if (rst == GT_SPDY_STREAM_ALREADY_CLOSED) {
			ev->type = GT_SPDY_EV_RESET;
			ev->stream = id;
			ev->status = rst;
			return 1;
		}
		return 0;
	}
	if (len || s->data_drop || !s->data_fin)
		return 0;
	remote_fin(s, id);
	ev->type = GT_SPDY_EV_DATA;
	ev->stream = id;
	ev->fin = true;
	ev->data = s->rbuf + s->rpos;
	return 1;
}

/* A whole control frame at p (payload of len bytes). */
static int on_control(struct gt_spdy *s, unsigned type, unsigned flags, const unsigned char *p,
		      uint32_t len, struct gt_spdy_event *ev, struct gt_err *err)
{
	struct stream *st;
	size_t count;
	uint32_t id;
	int r;

	switch (type) {
	case T_SYN_STREAM:
		return on_syn_stream(s, flags, p, len, ev, err);
	case T_SYN_REPLY:
		return fail(s, -EPROTO, err, "SYN_REPLY from the client");
	case T_RST_STREAM:
		if (len != 8)
			return fail(s, -EPROTO, err, "RST_STREAM: length %u != 8", len);
		id = get32(p) & ID_MASK;
		pthread_mutex_lock(&s->mu);
		st = find(s, id);
		if (st)
			drop(s, st);
		pthread_mutex_unlock(&s->mu);
		if (!st)
			return 0;
		ev->type = GT_SPDY_EV_RESET;
		ev->stream = id;
		ev->status = get32(p + 4);
		return 1;
	case T_PING:
		if (len != 4)
			return fail(s, -EPROTO, err, "PING: length %u != 4", len);
		{
			unsigned char f[12];

			put_ctrl(f, T_PING, 0, 4);
			memcpy(f + 8, p, 4);
			pthread_mutex_lock(&s->wmu);
			r = send_raw(s, f, sizeof(f));
			pthread_mutex_unlock(&s->wmu);
		}
		if (r < 0)
			return fail(s, r, err, "write: %s", strerror(-r));
		ev->type = GT_SPDY_EV_PING;
		ev->ping_id = get32(p);
		return 1;
	case T_GOAWAY:
		if (len != 8)
			return fail(s, -EPROTO, err, "GOAWAY: length %u != 8", len);
		ev->type = GT_SPDY_EV_GOAWAY;
		ev->last_stream = get32(p) & ID_MASK;
		ev->status = get32(p + 4);
		return 1;
	case T_HEADERS:
		if (len < 4)
			return fail(s, -EPROTO, err, "HEADERS: length %u < 4", len);
		r = read_headers(s, p + 4, len - 4, &count, err);
		if (r < 0)
			return r;
		id = get32(p) & ID_MASK;
		if (!(flags & FLAG_FIN) || !remote_fin(s, id))
			return 0;
		ev->type = GT_SPDY_EV_DATA;
		ev->stream = id;
		ev->fin = true;
		ev->data = s->hblock;
		return 1;
	default: /* SETTINGS, WINDOW_UPDATE, and types we do not know */
		return 0;
	}
}

int gt_spdy_next(struct gt_spdy *s, struct gt_spdy_event *ev, struct gt_err *err)
{
	memset(ev, 0, sizeof(*ev));
	if (s->rerr)
		return gt_err_set(err, s->rerr, "spdy: %s", s->rmsg);
	for (;;) {
		const unsigned char *h;
		uint32_t len;
		int r;

		if (s->data_left) {
			size_t n;

			r = fill(s, 1, err);
			if (r <= 0)
				return r < 0 ? r : fail(s, -ECONNRESET, err,
							"connection closed inside a DATA frame");
			n = s->rlen - s->rpos;
			if (n > s->data_left)
				n = s->data_left;
			if (n > GT_SPDY_READ_CHUNK)
				n = GT_SPDY_READ_CHUNK;
			ev->data = s->rbuf + s->rpos;
			s->rpos += n;
			s->data_left -= (uint32_t)n;
			if (s->data_drop)
				continue;
			ev->type = GT_SPDY_EV_DATA;
			ev->stream = s->data_stream;
			ev->len = n;
			ev->fin = s->data_fin && !s->data_left;
			if (ev->fin)
				remote_fin(s, s->data_stream);
			return 1;
		}
		r = fill(s, 8, err);
		if (r < 0)
			return r;
		if (!r) {
			if (s->rlen == s->rpos)
				return 0;
			return fail(s, -ECONNRESET, err, "connection closed inside a frame header");
		}
		h = s->rbuf + s->rpos;
		len = get32(h + 4) & 0xffffff;
		if (!(h[0] & 0x80)) {
			s->rpos += 8;
			r = on_data(s, get32(h) & ID_MASK, h[4], len, ev, err);
		} else {
			unsigned version = (unsigned)(h[0] & 0x7f) << 8 | h[1];
			unsigned type = (unsigned)h[2] << 8 | h[3];
			unsigned flags = h[4];

			if (version != SPDY_VERSION)
				return fail(s, -EPROTO, err, "control frame of SPDY version %u", version);
			if (len > GT_SPDY_MAX_CONTROL)
				return fail(s, -EPROTO, err, "control frame type %u: length %u over %d",
					    type, len, GT_SPDY_MAX_CONTROL);
			r = fill(s, 8 + (size_t)len, err);
			if (r < 0)
				return r;
			if (!r)
				return fail(s, -ECONNRESET, err,
					    "connection closed inside a control frame");
			h = s->rbuf + s->rpos;
			s->rpos += 8 + (size_t)len;
			r = on_control(s, type, flags, h + 8, len, ev, err);
		}
		if (r)
			return r;
		memset(ev, 0, sizeof(*ev));
	}
}

int gt_spdy_write(struct gt_spdy *s, uint32_t stream, const void *data, size_t len,
		  bool fin, struct gt_err *err)
{
	const unsigned char *p = data;

	if (!stream || stream > ID_MASK)
		return gt_err_set(err, -EINVAL, "spdy: invalid stream id %u", stream);
	if (!len && !fin)
		return 0;
	do {
		size_t n = len < GT_SPDY_WRITE_CHUNK ? len : GT_SPDY_WRITE_CHUNK;
		bool last = n == len;
		struct stream *st;
		bool open;
		int r;

		pthread_mutex_lock(&s->wmu);
		pthread_mutex_lock(&s->mu);
		st = find(s, stream);
		open = st && !st->local_closed;
		if (open && last && fin) {
			st->local_closed = true;
			settle(s, st);
		}
		pthread_mutex_unlock(&s->mu);
		if (!open) {
			pthread_mutex_unlock(&s->wmu);
			return gt_err_set(err, -EPIPE, "spdy: stream %u is closed", stream);
		}
		put_data(s->wbuf, stream, last && fin ? FLAG_FIN : 0, (uint32_t)n);
		if (n)
			memcpy(s->wbuf + 8, p, n);
		r = send_raw(s, s->wbuf, 8 + n);
		pthread_mutex_unlock(&s->wmu);
		if (r < 0)
			return gt_err_set(err, r, "spdy: write on stream %u: %s", stream, strerror(-r));
		p += n;
		len -= n;
	} while (len);
	return 0;
}

int gt_spdy_fin(struct gt_spdy *s, uint32_t stream, struct gt_err *err)
{
	return gt_spdy_write(s, stream, NULL, 0, true, err);
}

int gt_spdy_reset(struct gt_spdy *s, uint32_t stream, enum gt_spdy_rst status,
		  struct gt_err *err)
{
	struct stream *st;
	int r;

	if (!stream || stream > ID_MASK)
		return gt_err_set(err, -EINVAL, "spdy: invalid stream id %u", stream);
	pthread_mutex_lock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	st = find(s, stream);
	if (st)
		drop(s, st);
	pthread_mutex_unlock(&s->mu);
	r = send_ctrl8(s, T_RST_STREAM, stream, status);
	pthread_mutex_unlock(&s->wmu);
	if (r < 0)
		return gt_err_set(err, r, "spdy: RST_STREAM %u: %s", stream, strerror(-r));
	return 0;
}

int gt_spdy_goaway(struct gt_spdy *s, enum gt_spdy_goaway_status status, struct gt_err *err)
{
	uint32_t last;
	int r;

	pthread_mutex_lock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	s->goaway_sent = true;
	last = s->last_id;
	pthread_mutex_unlock(&s->mu);
	r = send_ctrl8(s, T_GOAWAY, last, status);
	pthread_mutex_unlock(&s->wmu);
	if (r < 0)
		return gt_err_set(err, r, "spdy: GOAWAY: %s", strerror(-r));
	return 0;
}

int gt_spdy_new(const struct gt_spdy_io *io, struct gt_spdy **out, struct gt_err *err)
{
	struct gt_spdy *s = xcalloc(1, sizeof(*s));

	*out = NULL;
	s->io = *io;
	if (inflateInit(&s->inf) != Z_OK) {
		free(s);
		return gt_err_set(err, -ENOMEM, "spdy: inflateInit failed");
	}
	if (deflateInit(&s->def, Z_DEFAULT_COMPRESSION) != Z_OK) {
		inflateEnd(&s->inf);
		free(s);
		return gt_err_set(err, -ENOMEM, "spdy: deflateInit failed");
	}
	if (deflateSetDictionary(&s->def, gt_spdy_dict, GT_SPDY_DICT_LEN) != Z_OK) {
		inflateEnd(&s->inf);
		deflateEnd(&s->def);
		free(s);
		return gt_err_set(err, -ENOMEM, "spdy: deflateSetDictionary failed");
	}
	s->rbuf = xmalloc(RBUF);
	s->hblock = xmalloc(GT_SPDY_MAX_HEADER_BYTES + 1);
	s->arena = xmalloc(ARENA);
	s->wbuf = xmalloc(WBUF);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wmu, NULL);
	*out = s;
	return 0;
}

void gt_spdy_free(struct gt_spdy *s)
{
	if (!s)
		return;
	inflateEnd(&s->inf);
	deflateEnd(&s->def);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->wmu);
	free(s->rbuf);
	free(s->hblock);
	free(s->arena);
	free(s->wbuf);
	free(s->streams);
	free(s);
}

const char *gt_spdy_header(const struct gt_spdy_event *ev, const char *name)
{
	if (ev->type != GT_SPDY_EV_STREAM)
		return NULL;
	for (size_t i = 0; i < ev->nheaders; i++)
		if (!strcmp(ev->headers[i].name, name))
			return ev->headers[i].value;
	return NULL;
}

/* ---- Kubernetes: exec/attach stream sets ---- */

static const char *const exec_kinds[GT_SPDY_EXEC_NKINDS] = {
	[GT_SPDY_EXEC_ERROR] = "error",
	[GT_SPDY_EXEC_STDIN] = "stdin",
	[GT_SPDY_EXEC_STDOUT] = "stdout",
	[GT_SPDY_EXEC_STDERR] = "stderr",
	[GT_SPDY_EXEC_RESIZE] = "resize",
};

void gt_spdy_exec_init(struct gt_spdy_exec *x, bool in, bool out, bool err_stream, bool tty)
{
	memset(x, 0, sizeof(*x));
	x->want[GT_SPDY_EXEC_ERROR] = true;
	x->want[GT_SPDY_EXEC_STDIN] = in;
	x->want[GT_SPDY_EXEC_STDOUT] = out;
	x->want[GT_SPDY_EXEC_STDERR] = err_stream && !tty; /* a tty merges stderr */
	x->want[GT_SPDY_EXEC_RESIZE] = tty;
}

int gt_spdy_exec_add(struct gt_spdy_exec *x, const struct gt_spdy_event *ev, struct gt_err *err)
{
	const char *type = gt_spdy_header(ev, "streamtype");
	int k;

	if (!type)
		return gt_err_set(err, -EPROTO, "spdy: stream %u: missing streamtype header",
				  ev->stream);
	for (k = 0; k < GT_SPDY_EXEC_NKINDS; k++)
		if (!strcmp(type, exec_kinds[k]))
			break;
	if (k == GT_SPDY_EXEC_NKINDS)
		return gt_err_set(err, -EPROTO, "spdy: stream %u: unknown streamtype \"%.64s\"",
				  ev->stream, type);
	if (x->id[k])
		return gt_err_set(err, -EPROTO, "spdy: stream %u: second %s stream (first %u)",
				  ev->stream, type, x->id[k]);
	x->id[k] = ev->stream;
	for (k = 0; k < GT_SPDY_EXEC_NKINDS; k++)
		if (x->want[k] && !x->id[k])
			return 0;
	return 1;
}

int gt_spdy_exec_kind(const struct gt_spdy_exec *x, uint32_t stream)
{
	for (int k = 0; stream && k < GT_SPDY_EXEC_NKINDS; k++)
		if (x->id[k] == stream)
			return k;
	return -1;
}

/* ---- Kubernetes: port-forward stream pairs ---- */

void gt_spdy_pf_init(struct gt_spdy_pf *pf)
{
	memset(pf, 0, sizeof(*pf));
}

void gt_spdy_pf_release(struct gt_spdy_pf *pf)
{
	if (!pf)
		return;
	free(pf->pending);
	memset(pf, 0, sizeof(*pf));
}

static int parse_port(const char *v, uint16_t *out)
{
	unsigned long n = 0;

	if (!v || !*v || strlen(v) > 5)
		return -EINVAL;
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*c - '0');
	}
	if (!n || n > 65535)
		return -EINVAL;
	*out = (uint16_t)n;
	return 0;
}

int gt_spdy_pf_add(struct gt_spdy_pf *pf, const struct gt_spdy_event *ev,
		   struct gt_spdy_pf_pair *out, struct gt_err *err)
{
	const char *type = gt_spdy_header(ev, "streamtype");
	const char *port = gt_spdy_header(ev, "port");
	const char *rid = gt_spdy_header(ev, "requestid");
	struct gt_spdy_pf_pair half = { 0 };
	bool is_data;

	if (!type || (strcmp(type, "error") && strcmp(type, "data")))
		return gt_err_set(err, -EPROTO, "spdy: stream %u: streamtype \"%.64s\" is not "
				  "error or data", ev->stream, type ? type : "");
	is_data = !strcmp(type, "data");
	if (parse_port(port, &half.port) < 0)
		return gt_err_set(err, -EPROTO, "spdy: stream %u: invalid port header \"%.64s\"",
				  ev->stream, port ? port : "");
	if (rid && *rid) {
		if (strlen(rid) >= sizeof(half.requestid))
			return gt_err_set(err, -EPROTO, "spdy: stream %u: requestid over %zu bytes",
					  ev->stream, sizeof(half.requestid) - 1);
		memcpy(half.requestid, rid, strlen(rid) + 1);
	} else {
		/* the kubelet's fallback for clients that send no requestid */
		snprintf(half.requestid, sizeof(half.requestid), "%u",
			 is_data ? ev->stream - 2 : ev->stream);
	}
	if (is_data)
		half.data_stream = ev->stream;
	else
		half.error_stream = ev->stream;
	for (size_t i = 0; i < pf->n; i++) {
		struct gt_spdy_pf_pair *p = &pf->pending[i];

		if (strcmp(p->requestid, half.requestid))
			continue;
		if (is_data ? p->data_stream : p->error_stream)
			return gt_err_set(err, -EPROTO, "spdy: stream %u: second %s stream for "
					  "requestid %s", ev->stream, type, half.requestid);
		if (p->port != half.port)
			return gt_err_set(err, -EPROTO, "spdy: stream %u: port %u, but requestid %s "
					  "has port %u", ev->stream, half.port, half.requestid, p->port);
		*out = *p;
		if (is_data)
			out->data_stream = ev->stream;
		else
			out->error_stream = ev->stream;
		pf->pending[i] = pf->pending[--pf->n];
		return 1;
	}
	if (pf->n >= GT_SPDY_MAX_STREAMS)
		return gt_err_set(err, -EAGAIN, "spdy: too many unpaired port-forward streams");
	gt_grow((void **)&pf->pending, &pf->cap, pf->n + 1, sizeof(*pf->pending));
	pf->pending[pf->n++] = half;
	return 0;
}

bool gt_spdy_pf_forget(struct gt_spdy_pf *pf, uint32_t stream)
{
	for (size_t i = 0; stream && i < pf->n; i++) {
		struct gt_spdy_pf_pair *p = &pf->pending[i];

		if (p->error_stream == stream || p->data_stream == stream) {
			pf->pending[i] = pf->pending[--pf->n];
			return true;
		}
	}
	return false;
}
