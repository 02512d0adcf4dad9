/*
 * test_ws.c - unit tests for the RFC 6455 module (apiserver/ws.c) and the
 * Kubernetes channel protocols on top (apiserver/channels.c): handshake,
 * framing through an in-memory transport, exec/port-forward messages, the
 * SPDY tunnel adapter, and a live exchange with the real python client
 * (python3-kubernetes' WSClient and PortForward over websocket-client).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apiserver/channels.h"
#include "apiserver/ws.h"
#include "t.h"

/* ---- an in-memory transport ---- */

struct mem {
	struct gt_buf in;   /* what the peer sent */
	size_t pos;
	size_t chunk;       /* bytes per read; 0 = as many as asked */
	struct gt_buf out;  /* what the connection wrote */
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t left = m->in.len - m->pos;

	if (m->chunk && n > m->chunk)
		n = m->chunk;
	if (n > left)
		n = left;
	memcpy(buf, m->in.data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int mem_write(void *ctx, const void *buf, size_t n)
{
	gt_buf_add(&((struct mem *)ctx)->out, buf, n);
	return 0;
}

static struct gt_ws *mem_ws(struct mem *m, size_t max, bool client)
{
	struct gt_ws_io io = { mem_read, mem_write, m };
	struct gt_ws_opts o = { max, client };

	gt_buf_reset(&m->out);
	m->pos = 0;
	return gt_ws_new(&io, &o);
}

static void mem_release(struct mem *m)
{
	gt_buf_release(&m->in);
	gt_buf_release(&m->out);
}

static const unsigned char KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Appends a client frame: b0 = FIN/RSV/opcode byte; key NULL = unmasked;
 * lenform 0 = shortest, 16 or 64 forces that length encoding. */
static void frame(struct gt_buf *b, int b0, const void *p, size_t len, const unsigned char *key,
		  int lenform)
{
	unsigned char h[14];
	size_t hl = 2;

	if (!b->data)
		gt_buf_init(b);
	h[0] = (unsigned char)b0;
	if (len < 126 && !lenform) {
		h[1] = (unsigned char)len;
	} else if (len <= 0xFFFF && lenform != 64) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (key) {
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	gt_buf_add(b, h, hl);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = ((const unsigned char *)p)[i] ^ (key ? key[i & 3] : 0);

		gt_buf_add(b, &c, 1);
	}
}

/* Decodes the next unmasked server frame from m->out at *off. */
static bool next_frame(struct mem *m, size_t *off, int *b0, struct gt_buf *payload)
{
	const unsigned char *d = (const unsigned char *)m->out.data + *off;
	size_t left = m->out.len - *off, hl = 2;
	uint64_t len;

	gt_buf_reset(payload);
	if (left < 2 || (d[1] & 0x80))
		return false;
	len = d[1] & 0x7F;
	if (len == 126) {
		len = (uint64_t)d[2] << 8 | d[3];
		hl = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | d[2 + i];
		hl = 10;
	}
	if (left < hl + len)
		return false;
	*b0 = d[0];
	gt_buf_add(payload, d + hl, (size_t)len);
	*off += hl + (size_t)len;
	return true;
}

/* ---- handshake ---- */

TEST(accept_key)
{
	char out[29];

	CHECK_INT(gt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	CHECK_INT(gt_ws_accept_key(" mzG6GciJR26JoBhiHU1WMw== ", out), 0);
	CHECK_INT(gt_ws_accept_key("", out), -EINVAL);
	CHECK_INT(gt_ws_accept_key(NULL, out), -EINVAL);
	CHECK_INT(gt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL);
	CHECK_INT(gt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", out), -EINVAL);
	CHECK_INT(gt_ws_accept_key("dGhlIHNhbXBsZSBub25jZXg=", out), -EINVAL); /* 17 bytes */
}

TEST(check_request)
{
	char acc[29], key[25];
	struct gt_err err;

	CHECK(gt_ws_is_upgrade("websocket"));
	CHECK(gt_ws_is_upgrade("h2c, WebSocket"));
	CHECK(!gt_ws_is_upgrade("SPDY/3.1"));
	CHECK(!gt_ws_is_upgrade(NULL));
	CHECK_INT(gt_ws_check_request("websocket", "keep-alive, Upgrade", "13",
				      "dGhlIHNhbXBsZSBub25jZQ==", acc, &err), 0);
	CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	CHECK_INT(gt_ws_check_request("SPDY/3.1", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==",
				      acc, &err), -EINVAL);
	CHECK(strstr(err.msg, "Upgrade"));
	CHECK_INT(gt_ws_check_request("websocket", "close", "13", "dGhlIHNhbXBsZSBub25jZQ==",
				      acc, &err), -EINVAL);
	CHECK(strstr(err.msg, "Connection"));
	CHECK_INT(gt_ws_check_request("websocket", "Upgrade", "8", "dGhlIHNhbXBsZSBub25jZQ==",
				      acc, &err), -EPROTONOSUPPORT);
	CHECK(strstr(err.msg, "Sec-WebSocket-Version"));
	CHECK_INT(gt_ws_check_request("websocket", "Upgrade", "13", "short", acc, &err), -EINVAL);
	CHECK(strstr(err.msg, "Sec-WebSocket-Key"));
	gt_ws_client_key(key);
	CHECK_INT(strlen(key), 24);
	CHECK_INT(gt_ws_accept_key(key, acc), 0);
}

TEST(pick_protocol)
{
	const char *chosen = (const char *)1;
	struct gt_err err;

	/* the client's order wins, as in apimachinery's wsstream handshake */
	CHECK_INT(gt_ws_pick_protocol("v4.channel.k8s.io, v5.channel.k8s.io",
				      gt_chan_exec_protocols, &chosen, &err), 1);
	CHECK_STR(chosen, "v4.channel.k8s.io");
	CHECK_INT(gt_ws_pick_protocol("v5.channel.k8s.io", gt_chan_exec_protocols, &chosen, &err), 1);
	CHECK_STR(chosen, "v5.channel.k8s.io");
	CHECK_INT(gt_ws_pick_protocol("foo,  channel.k8s.io", gt_chan_exec_protocols, &chosen, &err),
		  1);
	CHECK_STR(chosen, "channel.k8s.io");
	CHECK_INT(gt_ws_pick_protocol("SPDY/3.1+portforward.k8s.io",
				      gt_chan_portforward_protocols, &chosen, &err), 1);
	CHECK(gt_chan_proto_get(chosen)->tunnel);
	CHECK_INT(gt_ws_pick_protocol(NULL, gt_chan_exec_protocols, &chosen, &err), 0);
	CHECK(chosen == NULL);
	CHECK_INT(gt_ws_pick_protocol(" , ", gt_chan_exec_protocols, &chosen, &err), 0);
	CHECK_INT(gt_ws_pick_protocol("v3.channel.k8s.io, V4.CHANNEL.K8S.IO", gt_chan_exec_protocols,
				      &chosen, &err), -EPROTONOSUPPORT);
	CHECK(strstr(err.msg, "not supported"));
	CHECK(gt_chan_proto_get(NULL)->version == 1);
	CHECK(gt_chan_proto_get("v5.channel.k8s.io")->close_signal);
	CHECK(gt_chan_proto_get("v4.base64.channel.k8s.io")->base64);
	CHECK(gt_chan_proto_get("nope") == NULL);
}

/* ---- framing ---- */

TEST(masked_single_frame)
{
	static const unsigned char rfc[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
					     0x9f, 0x4d, 0x51, 0x58 };
	struct mem m = { 0 };
	struct gt_buf msg = GT_BUF_INIT;
	struct gt_ws *ws;
	int op;

	gt_buf_init(&m.in);
	gt_buf_add(&m.in, rfc, sizeof(rfc));
	for (size_t chunk = 0; chunk < 3; chunk++) {
		m.chunk = chunk;
		ws = mem_ws(&m, 0, false);
		CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
		CHECK_INT(op, GT_WS_TEXT);
		CHECK_STR(msg.data, "Hello");
		CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), -ECONNRESET);
		CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), -ECONNRESET); /* sticky */
		gt_ws_free(ws);
	}
	gt_buf_release(&msg);
	mem_release(&m);
}

TEST(fragmented_with_ping)
{
	struct mem m = { 0 };
	struct gt_buf msg = GT_BUF_INIT, pl = GT_BUF_INIT;
	struct gt_ws *ws;
	size_t off = 0;
	int op, b0;

	frame(&m.in, 0x01, "Hel", 3, KEY, 0);
	frame(&m.in, 0x89, "x", 1, KEY, 0);
	frame(&m.in, 0x00, "l", 1, KEY, 0);
	frame(&m.in, 0x8A, "unsolicited", 11, KEY, 0);
	frame(&m.in, 0x80, "o", 1, KEY, 0);
	frame(&m.in, 0x82, "", 0, KEY, 0);
	m.chunk = 2;
	ws = mem_ws(&m, 0, false);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK_INT(op, GT_WS_TEXT);
	CHECK_STR(msg.data, "Hello");
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_INT(b0, 0x8A); /* pong with the ping's payload */
	CHECK_STR(pl.data, "x");
	CHECK(!next_frame(&m, &off, &b0, &pl)); /* pongs are not answered */
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK_INT(op, GT_WS_BINARY);
	CHECK_INT(msg.len, 0);
	gt_ws_free(ws);
	gt_buf_release(&msg);
	gt_buf_release(&pl);
	mem_release(&m);
}

TEST(lengths)
{
	size_t sizes[] = { 125, 126, 300, 65535, 65536, 70000, 300000 };
	struct gt_buf msg = GT_BUF_INIT;

	for (size_t i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		unsigned char *p = xmalloc(n);
		struct mem m = { 0 };
		struct gt_ws *ws;
		int op;

		for (size_t j = 0; j < n; j++)
			p[j] = (unsigned char)(j * 7 + i);
		frame(&m.in, 0x82, p, n, KEY, 0);
		frame(&m.in, 0x82, p, n < 200 ? n : 200, KEY, 64); /* non-minimal 64-bit form */
		frame(&m.in, 0x02, p, n / 3, KEY, 16 * (n < 65536));
		frame(&m.in, 0x80, p + n / 3, n - n / 3, KEY, 0);
		for (size_t chunk = 0; chunk <= 70001; chunk += 70001) {
			m.chunk = chunk;
			ws = mem_ws(&m, 0, false);
			CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
			CHECK(msg.len == n && !memcmp(msg.data, p, n));
			CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
			CHECK(msg.len == (n < 200 ? n : 200) && !memcmp(msg.data, p, msg.len));
			CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
			CHECK(msg.len == n && !memcmp(msg.data, p, n));
			gt_ws_free(ws);
		}
		free(p);
		mem_release(&m);
	}
	gt_buf_release(&msg);
}

/* Feeds one bad input; expects rc and a close frame with code. */
static void expect_fail(struct gt_buf *in, size_t max, int rc, int code, const char *what)
{
	struct mem m = { 0 };
	struct gt_buf msg = GT_BUF_INIT, pl = GT_BUF_INIT;
	struct gt_err err;
	struct gt_ws *ws;
	size_t off = 0;
	int op, b0 = 0;

	m.in = *in;
	ws = mem_ws(&m, max, false);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, &err), rc);
	if (what && !strstr(err.msg, what)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, what);
		CHECK(0);
	}
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_INT(b0, 0x88);
	CHECK(pl.len >= 2 && (((unsigned char)pl.data[0] << 8) | (unsigned char)pl.data[1]) == code);
	CHECK_INT(gt_ws_send(ws, GT_WS_BINARY, "x", 1), -EPIPE);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), rc);
	gt_ws_free(ws);
	gt_buf_release(&msg);
	gt_buf_release(&pl);
	mem_release(&m);
	gt_buf_init(in);
}

TEST(protocol_errors)
{
	struct gt_buf in = GT_BUF_INIT;
	char big[200] = { 0 };

	frame(&in, 0x82, "hi", 2, NULL, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "not masked");
	frame(&in, 0xC2, "hi", 2, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "reserved bits");
	frame(&in, 0x83, "hi", 2, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "opcode");
	frame(&in, 0x8B, "hi", 2, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "opcode");
	frame(&in, 0x89, big, 126, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "control frame");
	frame(&in, 0x09, "x", 1, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "fragmented control");
	frame(&in, 0x80, "x", 1, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "continuation");
	frame(&in, 0x02, "x", 1, KEY, 0);
	frame(&in, 0x82, "y", 1, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "inside a fragmented");
	frame(&in, 0x88, "x", 1, KEY, 0);
	expect_fail(&in, 0, -EPROTO, 1002, "1 byte");
	frame(&in, 0x88, "\x03\xe7", 2, KEY, 0); /* 999 */
	expect_fail(&in, 0, -EPROTO, 1002, "close code");
	frame(&in, 0x88, "\x03\xed", 2, KEY, 0); /* 1005 may not be sent */
	expect_fail(&in, 0, -EPROTO, 1002, "close code");
	gt_buf_add(&in, "\x82\xff\x80\0\0\0\0\0\0\0" "mask", 14); /* 64-bit length, top bit */
	expect_fail(&in, 0, -EPROTO, 1002, "high bit");
	/* oversized: one frame, and by accumulation */
	frame(&in, 0x82, big, 101, KEY, 0);
	expect_fail(&in, 100, -EMSGSIZE, 1009, "larger than 100");
	frame(&in, 0x02, big, 60, KEY, 0);
	frame(&in, 0x80, big, 60, KEY, 0);
	expect_fail(&in, 100, -EMSGSIZE, 1009, NULL);
	gt_buf_add(&in, "\x82\xff\x00\0\0\0\xff\0\0\0" "mask", 14); /* claims 1 TiB */
	expect_fail(&in, 0, -EMSGSIZE, 1009, NULL);
	gt_buf_release(&in);
}

TEST(close_handshake)
{
	struct mem m = { 0 };
	struct gt_buf msg = GT_BUF_INIT, pl = GT_BUF_INIT;
	struct gt_ws *ws;
	size_t off = 0;
	int op, b0;

	/* the client closes: echo its code, then nothing more goes out */
	frame(&m.in, 0x82, "a", 1, KEY, 0);
	frame(&m.in, 0x88, "\x03\xe8" "bye", 5, KEY, 0);
	frame(&m.in, 0x82, "after", 5, KEY, 0);
	ws = mem_ws(&m, 0, false);
	CHECK_INT(gt_ws_peer_close_code(ws), 0);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 0);
	CHECK_INT(gt_ws_peer_close_code(ws), 1000);
	CHECK(gt_ws_close_sent(ws));
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_INT(b0, 0x88);
	CHECK(pl.len == 2 && !memcmp(pl.data, "\x03\xe8", 2));
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 0);
	CHECK_INT(gt_ws_send(ws, GT_WS_BINARY, "x", 1), -EPIPE);
	CHECK_INT(gt_ws_close(ws, 1000, NULL), 0);
	CHECK(!next_frame(&m, &off, &b0, &pl));
	gt_ws_free(ws);

	/* we close first (with a reason); the client's answer ends recv, an
	 * empty close gets 1005, and a ping after our close gets no pong */
	gt_buf_reset(&m.in);
	frame(&m.in, 0x89, "p", 1, KEY, 0);
	frame(&m.in, 0x82, "late", 4, KEY, 0);
	frame(&m.in, 0x88, "", 0, KEY, 0);
	ws = mem_ws(&m, 0, false);
	off = 0;
	CHECK_INT(gt_ws_close(ws, GT_WS_CLOSE_NORMAL, "done"), 0);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK_STR(msg.data, "late");
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 0);
	CHECK_INT(gt_ws_peer_close_code(ws), 1005);
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_INT(b0, 0x88);
	CHECK(pl.len == 6 && !memcmp(pl.data, "\x03\xe8" "done", 6));
	CHECK(!next_frame(&m, &off, &b0, &pl));
	gt_ws_free(ws);
	gt_buf_release(&msg);
	gt_buf_release(&pl);
	mem_release(&m);
}

static size_t sizes_seen[8];
static int writes_seen;

static int count_write(void *ctx, const void *buf, size_t n)
{
	if (writes_seen < 8)
		sizes_seen[writes_seen] = n;
	writes_seen++;
	return mem_write(ctx, buf, n);
}

/* A bulk server frame: its header goes out with the payload's first bytes
 * as one 16 KiB write (one full TLS record), the rest straight from the
 * caller's buffer; the bytes are the frame's. */
TEST(bulk_frame_writes)
{
	struct mem m = { 0 };
	struct gt_ws_io io = { mem_read, count_write, &m };
	unsigned char *big = xmalloc(100000);
	struct gt_ws *ws;

	for (size_t i = 0; i < 100000; i++)
		big[i] = (unsigned char)(i * 7);
	gt_buf_init(&m.out);
	ws = gt_ws_new(&io, NULL);
	writes_seen = 0;
	CHECK_INT(gt_ws_send(ws, GT_WS_BINARY, big, 100000), 0);
	CHECK_INT(writes_seen, 2);
	CHECK_INT(sizes_seen[0], 16384);
	CHECK_INT(sizes_seen[1], 100000 + 10 - 16384);
	CHECK_INT(m.out.len, 100010);
	CHECK((unsigned char)m.out.data[0] == 0x82 && (unsigned char)m.out.data[1] == 127);
	CHECK(!memcmp(m.out.data + 10, big, 100000));
	gt_ws_free(ws);
	mem_release(&m);
	free(big);
}

TEST(writer)
{
	struct mem m = { 0 }, c = { 0 };
	struct gt_buf msg = GT_BUF_INIT;
	size_t sizes[] = { 0, 5, 125, 126, 200, 65535, 65536, 100000 };
	unsigned char *big = xmalloc(100000);
	char reason[200];
	struct gt_ws *ws, *cl;
	int op;

	for (size_t i = 0; i < 100000; i++)
		big[i] = (unsigned char)(i * 13);
	ws = mem_ws(&m, 0, false);
	CHECK_INT(gt_ws_send(ws, GT_WS_TEXT, "hi", 2), 0);
	CHECK(m.out.len == 4 && !memcmp(m.out.data, "\x81\x02hi", 4));
	gt_buf_reset(&m.out);
	for (size_t i = 0; i < GT_ARRAY_SIZE(sizes); i++)
		CHECK_INT(gt_ws_send(ws, GT_WS_BINARY, big, sizes[i]), 0);
	CHECK_INT(gt_ws_ping(ws, "p", 1), 0);
	CHECK_INT(gt_ws_send(ws, GT_WS_PING, big, 126), -EINVAL);
	CHECK_INT(gt_ws_send(ws, GT_WS_CLOSE, "", 0), -EINVAL);
	CHECK_INT(gt_ws_send(ws, 3, "", 0), -EINVAL);
	memset(reason, 'r', sizeof(reason));
	memcpy(reason + 120, "\xc3\xa9\xc3\xa9", 4); /* é straddles byte 123 */
	reason[199] = '\0';
	CHECK_INT(gt_ws_close(ws, 1001, reason), 0);
	CHECK_INT(gt_ws_ping(ws, "p", 1), -EPIPE);
	CHECK(m.out.data[1] == 0 && (unsigned char)m.out.data[137] == 126 &&
	      (unsigned char)m.out.data[66010] == 127);

	/* a client-mode connection reads what the server wrote (and would
	 * refuse masked frames) */
	gt_buf_add(&c.in, m.out.data, m.out.len);
	cl = mem_ws(&c, 0, true);
	for (size_t i = 0; i < GT_ARRAY_SIZE(sizes); i++) {
		CHECK_INT(gt_ws_recv(cl, &op, &msg, NULL), 1);
		CHECK_INT(op, GT_WS_BINARY);
		CHECK(msg.len == sizes[i] && !memcmp(msg.data, big, sizes[i]));
	}
	CHECK_INT(gt_ws_recv(cl, &op, &msg, NULL), 0); /* the ping was answered on the way */
	CHECK_INT(gt_ws_peer_close_code(cl), 1001);
	CHECK(c.out.len == 2 + 4 + 1 + 2 + 4 + 2); /* masked pong "p" + masked close 1001 */
	CHECK((unsigned char)c.out.data[0] == 0x8A && (c.out.data[1] & 0x80));

	/* and the server reads what the client wrote, unmasking it */
	gt_buf_reset(&c.out);
	CHECK_INT(gt_ws_close(cl, 0, NULL), 0);
	gt_ws_free(cl);
	cl = mem_ws(&c, 0, true);
	CHECK_INT(gt_ws_send(cl, GT_WS_BINARY, big, 100000), 0);
	CHECK_INT(gt_ws_send(cl, GT_WS_TEXT, "t", 1), 0);
	gt_buf_reset(&m.in);
	gt_buf_add(&m.in, c.out.data, c.out.len);
	gt_ws_free(ws);
	ws = mem_ws(&m, 0, false);
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK(msg.len == 100000 && !memcmp(msg.data, big, 100000));
	CHECK_INT(gt_ws_recv(ws, &op, &msg, NULL), 1);
	CHECK_INT(op, GT_WS_TEXT);
	gt_ws_free(ws);
	gt_ws_free(cl);
	free(big);
	gt_buf_release(&msg);
	mem_release(&m);
	mem_release(&c);
}

struct sender {
	struct gt_ws *ws;
	unsigned char id;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;
	unsigned char buf[20000];

	memset(buf, s->id, sizeof(buf));
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)(i * 97) % sizeof(buf) + 1;
		struct iovec iov[2] = { { &s->id, 1 }, { buf, n } };

		if (gt_ws_sendv(s->ws, GT_WS_BINARY, iov, 2) < 0)
			break;
	}
	return NULL;
}

TEST(concurrent_senders)
{
	struct mem m = { 0 }, c = { 0 };
	struct gt_buf msg = GT_BUF_INIT;
	struct sender s[4];
	pthread_t th[4];
	struct gt_ws *ws, *cl;
	int op, count = 0, bad = 0;

	ws = mem_ws(&m, 0, false);
	for (int i = 0; i < 4; i++) {
		s[i].ws = ws;
		s[i].id = (unsigned char)('a' + i);
		pthread_create(&th[i], NULL, send_many, &s[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	gt_buf_add(&c.in, m.out.data, m.out.len);
	cl = mem_ws(&c, 0, true);
	while (gt_ws_recv(cl, &op, &msg, NULL) == 1) {
		count++;
		for (size_t i = 1; i < msg.len; i++)
			bad += msg.data[i] != msg.data[0];
	}
	CHECK_INT(count, 800);
	CHECK_INT(bad, 0);
	gt_ws_free(ws);
	gt_ws_free(cl);
	gt_buf_release(&msg);
	mem_release(&m);
	mem_release(&c);
}

/* ---- channels ---- */

TEST(status_json)
{
	const char *argv[] = { "sh", "-c", "exit 3" };
	char *s;
	size_t len;

	s = gt_chan_status_exit(0, NULL, 0, &len);
	CHECK_STR(s, "{\"metadata\":{},\"status\":\"Success\"}");
	CHECK_INT(len, strlen(s));
	free(s);
	s = gt_chan_status_exit(3, argv, 3, NULL);
	CHECK_STR(s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with "
		  "non-zero exit code: error executing command [sh -c exit 3], exit code 3\","
		  "\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\","
		  "\"message\":\"3\"}]}}");
	free(s);
	argv[2] = "echo \"\xff\"";
	s = gt_chan_status_exit(137, argv, 3, NULL);
	CHECK(strstr(s, "[sh -c echo \\\"?\\\"], exit code 137"));
	CHECK(strstr(s, "{\"reason\":\"ExitCode\",\"message\":\"137\"}"));
	free(s);
	s = gt_chan_status_error(-ENOENT, "container \"x\" not found in pod \"p\"", NULL);
	CHECK_STR(s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"container \\\"x\\\" not "
		  "found in pod \\\"p\\\"\",\"reason\":\"NotFound\",\"code\":404}");
	free(s);
}

/* Parses the single message a mem transport holds. */
static int parse_in(const char *proto, const void *p, size_t len, int opcode,
		    struct gt_chan_msg *out, struct gt_buf *msg)
{
	gt_buf_reset(msg);
	gt_buf_add(msg, p, len);
	return gt_chan_parse(gt_chan_proto_get(proto), opcode, msg, GT_CHAN_EXEC_CHANNELS, out,
			     NULL);
}

TEST(exec_messages)
{
	struct gt_buf msg = GT_BUF_INIT, pl = GT_BUF_INIT;
	struct gt_chan_msg cm;
	struct mem m = { 0 };
	struct gt_ws *ws;
	size_t off = 0;
	uint16_t w, h;
	int b0;

	CHECK_INT(parse_in("v4.channel.k8s.io", "\0hi", 3, GT_WS_BINARY, &cm, &msg), 0);
	CHECK(cm.kind == GT_CHAN_MSG_DATA && cm.channel == 0 && cm.len == 2 && !memcmp(cm.data, "hi", 2));
	CHECK_INT(parse_in("v4.channel.k8s.io", "\0hi", 3, GT_WS_TEXT, &cm, &msg), 0); /* python str */
	CHECK_INT(cm.kind, GT_CHAN_MSG_DATA);
	CHECK_INT(parse_in("v4.channel.k8s.io", "\4{\"Width\":80,\"Height\":24}\n", 26, GT_WS_BINARY,
			   &cm, &msg), 0);
	CHECK_INT(cm.channel, GT_CHAN_RESIZE);
	CHECK_INT(gt_chan_parse_resize(cm.data, cm.len, &w, &h, NULL), 0);
	CHECK(w == 80 && h == 24);
	CHECK_INT(parse_in("v4.channel.k8s.io", "", 0, GT_WS_BINARY, &cm, &msg), 0);
	CHECK_INT(cm.kind, GT_CHAN_MSG_IGNORE);
	CHECK_INT(parse_in("v4.channel.k8s.io", "\x09x", 2, GT_WS_BINARY, &cm, &msg), 0);
	CHECK_INT(cm.kind, GT_CHAN_MSG_IGNORE);
	CHECK_INT(parse_in("v4.channel.k8s.io", "\xff\0", 2, GT_WS_BINARY, &cm, &msg), 0);
	CHECK_INT(cm.kind, GT_CHAN_MSG_IGNORE); /* no CLOSE signal before v5 */
	/* v5 CLOSE signal */
	CHECK_INT(parse_in("v5.channel.k8s.io", "\xff\0", 2, GT_WS_BINARY, &cm, &msg), 0);
	CHECK(cm.kind == GT_CHAN_MSG_CLOSE && cm.channel == 0);
	CHECK_INT(parse_in("v5.channel.k8s.io", "\xff", 1, GT_WS_BINARY, &cm, &msg), -EPROTO);
	CHECK_INT(parse_in("v5.channel.k8s.io", "\xff\0\0", 3, GT_WS_BINARY, &cm, &msg), -EPROTO);
	CHECK_INT(parse_in("v5.channel.k8s.io", "\xff\x07", 2, GT_WS_BINARY, &cm, &msg), -EPROTO);
	CHECK_INT(parse_in("v5.channel.k8s.io", "\1", 1, GT_WS_BINARY, &cm, &msg), 0);
	CHECK(cm.kind == GT_CHAN_MSG_DATA && cm.len == 0);
	/* base64 */
	CHECK_INT(parse_in("v4.base64.channel.k8s.io", "0aGk=", 5, GT_WS_TEXT, &cm, &msg), 0);
	CHECK(cm.kind == GT_CHAN_MSG_DATA && cm.channel == 0 && cm.len == 2 && !memcmp(cm.data, "hi", 2));
	CHECK_INT(parse_in("v4.base64.channel.k8s.io", "0a!", 3, GT_WS_TEXT, &cm, &msg), -EPROTO);
	CHECK_INT(parse_in("SPDY/3.1+portforward.k8s.io", "0", 1, GT_WS_BINARY, &cm, &msg), -EINVAL);
	gt_chan_build(gt_chan_proto_get("base64.channel.k8s.io"), 1, "hi", 2, &msg, &b0);
	CHECK_STR(msg.data, "1aGk=");
	CHECK_INT(b0, GT_WS_TEXT);

	/* what goes on the wire for a v5 exec ending with exit code 3 */
	ws = mem_ws(&m, 0, false);
	{
		const struct gt_chan_proto *p = gt_chan_proto_get("v5.channel.k8s.io");
		const char *argv[] = { "false" };

		CHECK_INT(gt_chan_exec_hello(ws, p, true, true), 0);
		CHECK_INT(gt_chan_send(ws, p, GT_CHAN_STDERR, "oops\n", 5), 0);
		CHECK_INT(gt_chan_send_exit(ws, p, 3, argv, 1), 0);
		CHECK_INT(gt_ws_close(ws, GT_WS_CLOSE_NORMAL, NULL), 0);
		CHECK_INT(gt_chan_exec_hello(ws, p, false, false), -EPIPE);
	}
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x82 && pl.len == 1 && pl.data[0] == 1);
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x82 && !memcmp(pl.data, "\2oops\n", 6));
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x82 && pl.data[0] == 3);
	CHECK(strstr(pl.data + 1, "\"message\":\"3\""));
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x88 && pl.len == 2);
	gt_ws_free(ws);

	/* v1: plain text errors, nothing for success; hello on the error channel */
	ws = mem_ws(&m, 0, false);
	off = 0;
	CHECK_INT(gt_chan_exec_hello(ws, gt_chan_proto_get(""), false, false), 0);
	CHECK_INT(gt_chan_send_exit(ws, gt_chan_proto_get(""), 0, NULL, 0), 0);
	CHECK_INT(gt_chan_send_exit(ws, gt_chan_proto_get("channel.k8s.io"), 2, NULL, 0), 0);
	CHECK_INT(gt_chan_send_error(ws, gt_chan_proto_get("channel.k8s.io"), -EIO, "boom"), 0);
	CHECK_INT(gt_chan_send_error(ws, gt_chan_proto_get("v4.channel.k8s.io"), -EIO, "boom"), 0);
	CHECK(next_frame(&m, &off, &b0, &pl) && pl.len == 1 && pl.data[0] == 3);
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_STR(pl.data + 1, "command terminated with non-zero exit code: error executing "
		  "command [], exit code 2");
	CHECK(next_frame(&m, &off, &b0, &pl) && !strcmp(pl.data, "\3boom"));
	CHECK(next_frame(&m, &off, &b0, &pl));
	CHECK_STR(pl.data + 1, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"boom\","
		  "\"reason\":\"InternalError\",\"code\":500}");
	gt_ws_free(ws);
	gt_buf_release(&msg);
	gt_buf_release(&pl);
	mem_release(&m);
}

TEST(resize)
{
	struct gt_chan_resize r;
	struct gt_err err;
	uint16_t w = 0, h = 0;

	CHECK_INT(gt_chan_parse_resize("{\"width\":1,\"HEIGHT\":65535}", 26, &w, &h, NULL), 0);
	CHECK(w == 1 && h == 65535);
	CHECK_INT(gt_chan_parse_resize("{\"Width\":0,\"Height\":0}", 22, &w, &h, NULL), 0);
	CHECK(w == 0 && h == 0);
	CHECK_INT(gt_chan_parse_resize("{\"Width\":70000}", 15, &w, &h, &err), -EINVAL);
	CHECK(strstr(err.msg, "resize.Width"));
	CHECK_INT(gt_chan_parse_resize("{\"Height\":\"x\"}", 14, &w, &h, &err), -EINVAL);
	CHECK(strstr(err.msg, "resize.Height"));
	CHECK_INT(gt_chan_parse_resize("[1]", 3, &w, &h, NULL), -EINVAL);
	CHECK_INT(gt_chan_parse_resize("{", 1, &w, &h, NULL), -EINVAL);

	gt_chan_resize_init(&r);
	CHECK_INT(gt_chan_resize_feed(&r, "{\"Width\":10,", 12, &w, &h, NULL), 0);
	CHECK_INT(gt_chan_resize_feed(&r, "\"Height\":20}\n{\"Width\":30,\"Height\":40}\n{\"Wi", 42,
				      &w, &h, NULL), 1);
	CHECK(w == 30 && h == 40);
	CHECK_INT(gt_chan_resize_feed(&r, "dth\":\"}{\",\"Height\":5}", 21, &w, &h, &err), -EINVAL);
	gt_chan_resize_release(&r);
	gt_chan_resize_init(&r);
	CHECK_INT(gt_chan_resize_feed(&r, "x", 1, &w, &h, NULL), -EINVAL);
	gt_chan_resize_release(&r);
}

TEST(portforward)
{
	const char *vals[] = { "8080,9090", "1" };
	struct gt_buf pl = GT_BUF_INIT, msg = GT_BUF_INIT;
	struct gt_chan_msg cm;
	struct gt_err err;
	uint16_t ports[200];
	struct mem m = { 0 };
	struct gt_ws *ws;
	size_t n, off = 0;
	int b0;

	CHECK_INT(gt_chan_pf_parse_ports(vals, 2, ports, 200, &n, &err), 0);
	CHECK(n == 3 && ports[0] == 8080 && ports[1] == 9090 && ports[2] == 1);
	vals[0] = "0";
	CHECK_INT(gt_chan_pf_parse_ports(vals, 1, ports, 200, &n, &err), -EINVAL);
	CHECK(strstr(err.msg, "ports:"));
	vals[0] = "65536";
	CHECK_INT(gt_chan_pf_parse_ports(vals, 1, ports, 200, &n, &err), -EINVAL);
	vals[0] = "80,";
	CHECK_INT(gt_chan_pf_parse_ports(vals, 1, ports, 200, &n, &err), -EINVAL);
	vals[0] = "http";
	CHECK_INT(gt_chan_pf_parse_ports(vals, 1, ports, 200, &n, &err), -EINVAL);
	CHECK_INT(gt_chan_pf_parse_ports(vals, 0, ports, 200, &n, &err), -EINVAL);
	vals[0] = "1,2,3";
	CHECK_INT(gt_chan_pf_parse_ports(vals, 1, ports, 2, &n, &err), -EINVAL);

	ws = mem_ws(&m, 0, false);
	CHECK_INT(gt_chan_pf_preamble(ws, gt_chan_proto_get("v4.channel.k8s.io"), 0, 8080), 0);
	CHECK_INT(gt_chan_pf_preamble(ws, gt_chan_proto_get("v4.channel.k8s.io"), 1, 9090), 0);
	CHECK(next_frame(&m, &off, &b0, &pl) && pl.len == 3 && !memcmp(pl.data, "\0\x90\x1f", 3));
	CHECK(next_frame(&m, &off, &b0, &pl) && pl.len == 3 && !memcmp(pl.data, "\1\x90\x1f", 3));
	CHECK(next_frame(&m, &off, &b0, &pl) && pl.len == 3 && !memcmp(pl.data, "\2\x82\x23", 3));
	CHECK(next_frame(&m, &off, &b0, &pl) && pl.len == 3 && !memcmp(pl.data, "\3\x82\x23", 3));
	gt_buf_add(&msg, "\2GET /", 6);
	CHECK_INT(gt_chan_parse(gt_chan_proto_get("v4.channel.k8s.io"), GT_WS_BINARY, &msg, 4, &cm,
				NULL), 0);
	CHECK(cm.kind == GT_CHAN_MSG_DATA && cm.channel == GT_CHAN_PF_DATA(1) && cm.len == 5);
	gt_ws_free(ws);
	gt_buf_release(&pl);
	gt_buf_release(&msg);
	mem_release(&m);
}

TEST(tunnel)
{
	struct mem m = { 0 };
	struct gt_chan_tunnel t;
	struct gt_buf got = GT_BUF_INIT, pl = GT_BUF_INIT;
	struct gt_ws_io io;
	struct gt_ws *ws;
	char buf[3];
	ssize_t n;
	size_t off = 0;
	int b0;

	frame(&m.in, 0x82, "\x80\x03\0\x01", 4, KEY, 0);
	frame(&m.in, 0x82, "", 0, KEY, 0);
	frame(&m.in, 0x02, "ab", 2, KEY, 0);
	frame(&m.in, 0x89, "", 0, KEY, 0);
	frame(&m.in, 0x80, "cdefg", 5, KEY, 0);
	frame(&m.in, 0x88, "\x03\xe8", 2, KEY, 0);
	ws = mem_ws(&m, 0, false);
	gt_chan_tunnel_init(&t, ws);
	io = gt_chan_tunnel_io(&t);
	gt_buf_init(&got);
	while ((n = io.read(io.ctx, buf, sizeof(buf))) > 0)
		gt_buf_add(&got, buf, (size_t)n);
	CHECK_INT(n, 0);
	CHECK(got.len == 11 && !memcmp(got.data, "\x80\x03\0\x01" "abcdefg", 11));
	CHECK_INT(io.read(io.ctx, buf, sizeof(buf)), 0);
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x8A); /* pong */
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x88); /* close echo */
	gt_chan_tunnel_release(&t);
	gt_ws_free(ws);

	/* writes are binary messages; a text message breaks the tunnel */
	gt_buf_reset(&m.in);
	frame(&m.in, 0x81, "txt", 3, KEY, 0);
	ws = mem_ws(&m, 0, false);
	off = 0;
	gt_chan_tunnel_init(&t, ws);
	io = gt_chan_tunnel_io(&t);
	CHECK_INT(io.write(io.ctx, "\0\0\0\x01\0\0\0\0", 8), 0);
	CHECK_INT(io.write(io.ctx, "", 0), 0);
	CHECK_INT(io.read(io.ctx, buf, sizeof(buf)), -EPROTO);
	CHECK_INT(io.read(io.ctx, buf, sizeof(buf)), -EPROTO);
	CHECK(strstr(t.err.msg, "text message"));
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x82 && pl.len == 8);
	CHECK(next_frame(&m, &off, &b0, &pl) && b0 == 0x88 && pl.data[1] == (char)(1003 & 0xFF));
	gt_chan_tunnel_release(&t);
	gt_ws_free(ws);
	gt_buf_release(&got);
	gt_buf_release(&pl);
	mem_release(&m);
}

/* ---- live: the real python client against this module ---- */

struct live {
	int lfd;
	int fails;
	char why[256];
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	ssize_t r;

	do
		r = recv(*(int *)ctx, buf, n, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int fd_write(void *ctx, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = send(*(int *)ctx, p, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The value of header name in a raw request (NULL if absent). */
static const char *header(const char *req, const char *name, char *out, size_t max)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *e;

		if (strncasecmp(p + 2, name, nl) || p[2 + nl] != ':')
			continue;
		p += 3 + nl;
		while (*p == ' ')
			p++;
		e = strstr(p, "\r\n");
		snprintf(out, max, "%.*s", (int)(e - p), p);
		return out;
	}
	return NULL;
}

#define LIVE_FAIL(L, ...) do { (L)->fails++; snprintf((L)->why, sizeof((L)->why), __VA_ARGS__); } while (0)

/* exec: echo stdin on stdout, "e:"+stdin on stderr, "exit" ends with code 3. */
static void live_exec(struct live *L, struct gt_ws *ws, const struct gt_chan_proto *p)
{
	struct gt_buf msg = GT_BUF_INIT, e = GT_BUF_INIT;
	const char *argv[] = { "cat" };
	struct gt_chan_msg cm;
	int op, rc;

	gt_chan_exec_hello(ws, p, true, true);
	gt_ws_ping(ws, "hb", 2); /* websocket-client answers with a pong we ignore */
	while ((rc = gt_ws_recv(ws, &op, &msg, NULL)) == 1) {
		if (gt_chan_parse(p, op, &msg, GT_CHAN_EXEC_CHANNELS, &cm, NULL) < 0 ||
		    cm.kind != GT_CHAN_MSG_DATA || cm.channel != GT_CHAN_STDIN)
			continue;
		if (cm.len == 4 && !memcmp(cm.data, "exit", 4))
			break;
		gt_chan_send(ws, p, GT_CHAN_STDOUT, cm.data, cm.len);
		gt_buf_reset(&e);
		gt_buf_adds(&e, "e:");
		gt_buf_add(&e, cm.data, cm.len);
		gt_chan_send(ws, p, GT_CHAN_STDERR, e.data, e.len);
	}
	if (rc != 1)
		LIVE_FAIL(L, "exec: recv ended with %d before \"exit\"", rc);
	gt_chan_send_exit(ws, p, 3, argv, 1);
	gt_ws_close(ws, GT_WS_CLOSE_NORMAL, NULL);
	while ((rc = gt_ws_recv(ws, &op, &msg, NULL)) == 1)
		;
	if (rc != 0 || gt_ws_peer_close_code(ws) != 1000)
		LIVE_FAIL(L, "exec: no close answer (%d, %d)", rc, gt_ws_peer_close_code(ws));
	gt_buf_release(&msg);
	gt_buf_release(&e);
}

/* port-forward: preambles, then each data channel's bytes come back upper-cased. */
static void live_pf(struct live *L, struct gt_ws *ws, const struct gt_chan_proto *p,
		    const char *query)
{
	struct gt_buf msg = GT_BUF_INIT;
	const char *q = strstr(query, "ports=");
	char list[64];
	const char *vals[1] = { list };
	uint16_t ports[8];
	struct gt_chan_msg cm;
	size_t n;
	int op, rc;

	snprintf(list, sizeof(list), "%.*s", q ? (int)strcspn(q + 6, "& ") : 0, q ? q + 6 : "");
	if (gt_chan_pf_parse_ports(vals, 1, ports, 8, &n, NULL) < 0) {
		LIVE_FAIL(L, "portforward: bad ports \"%s\"", list);
		return;
	}
	for (size_t i = 0; i < n; i++)
		gt_chan_pf_preamble(ws, p, i, ports[i]);
	while ((rc = gt_ws_recv(ws, &op, &msg, NULL)) == 1) {
		if (gt_chan_parse(p, op, &msg, (unsigned)(2 * n), &cm, NULL) < 0 ||
		    cm.kind != GT_CHAN_MSG_DATA || cm.channel % 2)
			continue;
		for (size_t i = 0; i < cm.len; i++)
			msg.data[1 + i] = (char)toupper((unsigned char)msg.data[1 + i]);
		gt_chan_send(ws, p, cm.channel, cm.data, cm.len);
	}
	if (rc != 0)
		LIVE_FAIL(L, "portforward: recv ended with %d", rc);
	gt_buf_release(&msg);
}

static void *live_server(void *arg)
{
	struct live *L = arg;

	for (int s = 0; s < 2 && !L->fails; s++) {
		struct pollfd pfd = { L->lfd, POLLIN, 0 };
		struct timeval tv = { 20, 0 };
		char req[4096], up[64], conn[64], ver[16], key[64], prot[256], acc[29], path[256];
		const char *proto = NULL, *const *supported;
		struct gt_ws_io io = { fd_read, fd_write, NULL };
		struct gt_buf reply = GT_BUF_INIT;
		size_t len = 0;
		struct gt_ws *ws;
		int fd;

		if (poll(&pfd, 1, 20000) != 1 || (fd = accept(L->lfd, NULL, NULL)) < 0) {
			LIVE_FAIL(L, "no connection %d", s);
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (len < sizeof(req) - 1 && recv(fd, req + len, 1, 0) == 1) {
			req[++len] = '\0';
			if (len >= 4 && !memcmp(req + len - 4, "\r\n\r\n", 4))
				break;
		}
		req[len] = '\0';
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(req + 4, " "), req + 4);
		supported = strncmp(path, "/exec", 5) ? gt_chan_portforward_protocols :
							 gt_chan_exec_protocols;
		if (gt_ws_check_request(header(req, "Upgrade", up, sizeof(up)),
					header(req, "Connection", conn, sizeof(conn)),
					header(req, "Sec-WebSocket-Version", ver, sizeof(ver)),
					header(req, "Sec-WebSocket-Key", key, sizeof(key)), acc, NULL) < 0 ||
		    gt_ws_pick_protocol(header(req, "Sec-WebSocket-Protocol", prot, sizeof(prot)),
					supported, &proto, NULL) != 1 ||
		    strcmp(proto, "v4.channel.k8s.io")) {
			LIVE_FAIL(L, "bad handshake: %.200s", req);
			close(fd);
			break;
		}
		gt_buf_addf(&reply, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
			    "Sec-WebSocket-Protocol: %s\r\n\r\n", acc, proto);
		fd_write(&fd, reply.data, reply.len);
		gt_buf_release(&reply);
		io.ctx = &fd;
		ws = gt_ws_new(&io, NULL);
		if (supported == gt_chan_exec_protocols)
			live_exec(L, ws, gt_chan_proto_get(proto));
		else
			live_pf(L, ws, gt_chan_proto_get(proto), path);
		gt_ws_free(ws);
		close(fd);
	}
	return NULL;
}

static const char live_py[] =
	"import sys, time\n"
	"from kubernetes.client import Configuration\n"
	"from kubernetes.stream.ws_client import WSClient, PortForward, create_websocket\n"
	"url = 'ws://127.0.0.1:%s' % sys.argv[1]\n"
	"c = Configuration(); c.host = url.replace('ws:', 'http:')\n"
	"ws = WSClient(c, url + '/exec?command=cat&stdin=true&stdout=true&stderr=true', None, True)\n"
	"ws.write_stdin('hi')\n"
	"ws.write_stdin('\\u00e9'.encode())\n"
	"ws.write_stdin('exit')\n"
	"ws.run_forever(timeout=10)\n"
	"out, err = ws.read_stdout(), ws.read_stderr()\n"
	"assert out == 'hi\\u00e9', repr(out)\n"
	"assert err == 'e:hie:\\u00e9', repr(err)\n"
	"assert ws.returncode == 3, ws.returncode\n"
	"pf = PortForward(create_websocket(c, url + '/portforward?ports=8080,9090'), [8080, 9090])\n"
	"for p in (9090, 8080):\n"
	"    s = pf.socket(p); s.sendall(b'ping%d' % p); got = b''\n"
	"    while len(got) < 8: got += s.recv(100)\n"
	"    assert got == b'PING%d' % p, got\n"
	"assert pf.error(8080) is None\n"
	"pf.socket(8080).close(); pf.socket(9090).close()\n"
	"t = time.time()\n"
	"while pf.connected and time.time() - t < 10: time.sleep(0.05)\n"
	"assert not pf.connected\n";

TEST(python_client)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char script[] = "/tmp/test_ws_py.XXXXXX", cmd[512];
	struct live L = { 0 };
	pthread_t th;
	int fd, rc;

	if (system("/usr/bin/python3 -c 'import kubernetes.stream.ws_client' 2>/dev/null")) {
		printf("  (skipped: /usr/bin/python3 with python3-kubernetes not found)\n");
		return;
	}
	L.lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(L.lfd >= 0 && bind(L.lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      listen(L.lfd, 4) == 0 && getsockname(L.lfd, (struct sockaddr *)&a, &alen) == 0);
	fd = mkstemp(script);
	CHECK(fd >= 0 && write(fd, live_py, strlen(live_py)) == (ssize_t)strlen(live_py));
	close(fd);
	pthread_create(&th, NULL, live_server, &L);
	snprintf(cmd, sizeof(cmd), "timeout 40 /usr/bin/python3 %s %d", script, ntohs(a.sin_port));
	rc = system(cmd);
	CHECK_INT(rc, 0);
	if (rc) {
		/* unblock the server if python died before connecting */
		shutdown(L.lfd, SHUT_RDWR);
	}
	pthread_join(th, NULL);
	if (L.fails)
		fprintf(stderr, "  server: %s\n", L.why);
	CHECK_INT(L.fails, 0);
	close(L.lfd);
	unlink(script);
}

int main(void)
{
	RUN(accept_key);
	RUN(check_request);
	RUN(pick_protocol);
	RUN(masked_single_frame);
	RUN(fragmented_with_ping);
	RUN(lengths);
	RUN(protocol_errors);
	RUN(close_handshake);
	RUN(writer);
	RUN(bulk_frame_writes);
	RUN(concurrent_senders);
	RUN(status_json);
	RUN(exec_messages);
	RUN(resize);
	RUN(portforward);
	RUN(tunnel);
	RUN(python_client);
	return t_done();
}
