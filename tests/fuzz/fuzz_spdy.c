/*
 * fuzz_spdy.c - libFuzzer harness for the SPDY/3.1 server (src/apiserver/spdy.c):
 * the input is what a client sends on the transport.  Byte 0 sets how many
 * bytes each transport read returns (1-256), so frame boundaries fall
 * anywhere; the rest is the byte stream.  The harness acts like a server
 * would: it feeds new streams to the exec and port-forward helpers, writes
 * on them, half-closes and resets some, and answers GOAWAY with GOAWAY.
 * Any input must end in 0 or a negative errno, never a crash, a leak or a
 * hang.  Seeds in tests/fuzz/corpus/spdy/ are valid sessions (header
 * blocks compressed with the SPDY/3 dictionary).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "apiserver/spdy.h"
#include "base/util.h"

struct input {
	const uint8_t *p;
	size_t len, pos, chunk;
	size_t written;
};

static ssize_t in_read(void *ctx, void *buf, size_t n)
{
	struct input *in = ctx;
	size_t k = in->len - in->pos;

	if (k > in->chunk)
		k = in->chunk;
	if (k > n)
		k = n;
	memcpy(buf, in->p + in->pos, k);
	in->pos += k;
	return (ssize_t)k;
}

static int in_write(void *ctx, const void *buf, size_t n)
{
	(void)buf;
	((struct input *)ctx)->written += n;
	return 0;
}

static void put24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

/* Rewrites in's frames with their raw header blocks compressed. */
static void compress_blocks(const uint8_t *p, size_t n, struct gt_buf *out)
{
	z_stream z = { 0 };

	deflateInit(&z, Z_DEFAULT_COMPRESSION);
	deflateSetDictionary(&z, gt_spdy_dict, GT_SPDY_DICT_LEN);
	while (n >= 8) {
		size_t len = (size_t)p[5] << 16 | (size_t)p[6] << 8 | p[7];
		unsigned type = (unsigned)p[2] << 8 | p[3];
		size_t fixed = type == 1 ? 10 : 4;
		uint8_t h[8];

		if (len > n - 8)
			len = n - 8;
		memcpy(h, p, 8);
		if ((p[0] & 0x80) && (type == 1 || type == 8) && len >= fixed) {
			size_t cap = len + 64, zn;
			uint8_t *zb = xmalloc(cap);

			z.next_in = (Bytef *)p + 8 + fixed;
			z.avail_in = (uInt)(len - fixed);
			z.next_out = zb;
			z.avail_out = (uInt)cap;
			deflate(&z, Z_SYNC_FLUSH);
			zn = cap - z.avail_out;
			put24(h + 5, fixed + zn);
			gt_buf_add(out, h, 8);
			gt_buf_add(out, p + 8, fixed);
			gt_buf_add(out, zb, zn);
			free(zb);
		} else {
			put24(h + 5, len);
			gt_buf_add(out, h, 8);
			gt_buf_add(out, p + 8, len);
		}
		p += 8 + len;
		n -= 8 + len;
	}
	gt_buf_add(out, p, n);
	deflateEnd(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { 0 };
	struct gt_spdy_io io = { in_read, in_write, &in };
	struct gt_spdy *s;
	struct gt_spdy_event ev;
	struct gt_spdy_exec x;
	struct gt_spdy_pf pf;
	struct gt_spdy_pf_pair pair;
	struct gt_err err;
	struct gt_buf raw;
	unsigned n = 0;
	int r;

	if (!size)
		return 0;
	gt_buf_init(&raw);
	in.chunk = (size_t)(data[0] & 0x7f) + 1;
	in.p = data + 1;
	in.len = size - 1;
	if (data[0] & 0x80) {
		compress_blocks(data + 1, size - 1, &raw);
		in.p = (const uint8_t *)raw.data;
		in.len = raw.len;
	}
	if (gt_spdy_new(&io, &s, NULL) < 0) {
		gt_buf_release(&raw);
		return 0;
	}
	gt_spdy_exec_init(&x, true, true, true, false);
	gt_spdy_pf_init(&pf);
	gt_err_clear(&err);
	while ((r = gt_spdy_next(s, &ev, &err)) == 1) {
		n++;
		switch (ev.type) {
		case GT_SPDY_EV_STREAM:
			(void)gt_spdy_header(&ev, "streamtype");
			(void)gt_spdy_exec_add(&x, &ev, NULL);
			(void)gt_spdy_exec_kind(&x, ev.stream);
			(void)gt_spdy_pf_add(&pf, &ev, &pair, NULL);
			(void)gt_spdy_write(s, ev.stream, "out", 3, n % 3 == 0, NULL);
			if (n % 5 == 0)
				(void)gt_spdy_reset(s, ev.stream, GT_SPDY_CANCEL, NULL);
			break;
		case GT_SPDY_EV_DATA:
			if (ev.len && ev.data == NULL)
				abort();
			(void)gt_spdy_write(s, ev.stream, ev.data, ev.len, ev.fin, NULL);
			break;
		case GT_SPDY_EV_RESET:
			(void)gt_spdy_pf_forget(&pf, ev.stream);
			(void)gt_spdy_write(s, ev.stream, "x", 1, false, NULL);
			break;
		case GT_SPDY_EV_GOAWAY:
			(void)gt_spdy_goaway(s, GT_SPDY_GOAWAY_OK, NULL);
			break;
		case GT_SPDY_EV_PING:
			break;
		default:
			abort();
		}
	}
	if (r > 0 || (r < 0 && !err.msg[0]))
		abort();
	gt_spdy_pf_release(&pf);
	gt_spdy_free(s);
	gt_buf_release(&raw);
	return 0;
}
