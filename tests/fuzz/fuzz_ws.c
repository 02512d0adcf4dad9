/*
 * fuzz_ws.c - libFuzzer harness for the WebSocket frame reader
 * (apiserver/ws.c) and the channel parsers on top (apiserver/channels.c).
 * Byte 0 picks the mode (server or client end, read chunk size, message
 * cap, whether the tunnel adapter reads), the rest is what the peer sent.
 * Checks beyond "no crash": messages respect the cap, an ended connection
 * stays ended, and every frame we wrote back (pongs, closes) is well formed
 * to a peer of the opposite end.  Inputs starting with 0xFF instead drive
 * the handshake helpers with the text as header values.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apiserver/channels.h"
#include "apiserver/ws.h"

struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
	struct gt_buf out;
};

static ssize_t src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;

	if (n > s->chunk)
		n = s->chunk;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static int src_write(void *ctx, const void *buf, size_t n)
{
	gt_buf_add(&((struct src *)ctx)->out, buf, n);
	return 0;
}

static void channels(struct gt_buf *msg, int op)
{
	static const char *names[] = { "v5.channel.k8s.io", "v4.channel.k8s.io",
				       "v4.base64.channel.k8s.io", "channel.k8s.io" };
	struct gt_buf copy = GT_BUF_INIT;
	struct gt_chan_resize r;
	struct gt_chan_msg cm;
	uint16_t w, h;

	for (size_t i = 0; i < GT_ARRAY_SIZE(names); i++) {
		gt_buf_reset(&copy);
		gt_buf_add(&copy, msg->data, msg->len);
		if (gt_chan_parse(gt_chan_proto_get(names[i]), op, &copy, 5, &cm, NULL) == 0 &&
		    cm.kind == GT_CHAN_MSG_DATA) {
			if (cm.channel >= 5 || cm.data + cm.len > (unsigned char *)copy.data + copy.len)
				__builtin_trap();
			gt_chan_parse_resize(cm.data, cm.len, &w, &h, NULL);
		}
	}
	gt_chan_resize_init(&r);
	gt_chan_resize_feed(&r, msg->data, msg->len, &w, &h, NULL);
	gt_chan_resize_feed(&r, msg->data, msg->len, &w, &h, NULL);
	gt_chan_resize_release(&r);
	gt_buf_release(&copy);
}

static void handshake(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size), acc[29];
	const char *chosen;
	const char *vals[1] = { s };
	uint16_t ports[GT_CHAN_PF_MAX_PORTS];
	size_t n;

	gt_ws_is_upgrade(s);
	gt_ws_check_request(s, s, s, s, acc, NULL);
	if (gt_ws_pick_protocol(s, gt_chan_exec_protocols, &chosen, NULL) == 1 &&
	    !gt_chan_proto_get(chosen))
		__builtin_trap();
	if (gt_chan_pf_parse_ports(vals, 1, ports, GT_ARRAY_SIZE(ports), &n, NULL) == 0 &&
	    (n == 0 || n > GT_CHAN_PF_MAX_PORTS))
		__builtin_trap();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 65536 };
	struct src s = { 0 };
	struct gt_ws_opts o = { 0 };
	struct gt_buf msg = GT_BUF_INIT;
	struct gt_ws_io io = { src_read, src_write, &s };
	struct gt_ws *ws, *peer;
	char *wrote;
	int op, rc, mode;

	if (size < 1)
		return 0;
	mode = data[0];
	if (mode == 0xFF) {
		handshake(data + 1, size - 1);
		return 0;
	}
	s.p = data + 1;
	s.len = size - 1;
	s.chunk = chunks[mode % GT_ARRAY_SIZE(chunks)];
	o.client = mode & 0x08;
	o.max_message = (mode & 0x10) ? 64 : 0;
	ws = gt_ws_new(&io, &o);
	gt_buf_init(&s.out);
	if (mode & 0x20) {
		struct gt_chan_tunnel t;
		struct gt_ws_io tio;
		char buf[5];

		gt_chan_tunnel_init(&t, ws);
		tio = gt_chan_tunnel_io(&t);
		while (tio.read(tio.ctx, buf, 1 + (size_t)(mode >> 6)) > 0)
			;
		gt_chan_tunnel_release(&t);
	} else {
		while ((rc = gt_ws_recv(ws, &op, &msg, NULL)) == 1) {
			if ((op != GT_WS_TEXT && op != GT_WS_BINARY) ||
			    (o.max_message && msg.len > o.max_message) || msg.data[msg.len])
				__builtin_trap();
			channels(&msg, op);
		}
		if (gt_ws_recv(ws, &op, &msg, NULL) != rc)
			__builtin_trap();
	}
	gt_ws_free(ws);

	/* what we wrote must read cleanly at the other end */
	wrote = gt_buf_detach(&s.out, &s.len);
	s.p = (const uint8_t *)wrote;
	s.pos = 0;
	gt_buf_init(&s.out);
	o.client = !o.client;
	o.max_message = 0;
	peer = gt_ws_new(&io, &o);
	while ((rc = gt_ws_recv(peer, &op, &msg, NULL)) == 1)
		;
	if (rc == -EPROTO || rc == -EMSGSIZE)
		__builtin_trap();
	gt_ws_free(peer);
	free(wrote);
	gt_buf_release(&s.out);
	gt_buf_release(&msg);
	return 0;
}
