/*
 * channels.c - Kubernetes channel framing over WebSocket: the protocol
 * table, message parse/build, exec Status payloads, the resize decoder,
 * python's port-forward preamble and the SPDY tunnel byte-stream adapter.
 * The wire details follow apimachinery's wsstream/conn.go and the
 * kubelet's cri/streaming websocket.go (see channels.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "apiserver/channels.h"
#include "codec/json.h"

static const struct gt_chan_proto protos[] = {
	{ "v5.channel.k8s.io", 5, false, true, false },
	{ "v4.channel.k8s.io", 4, false, false, false },
	{ "v4.base64.channel.k8s.io", 4, true, false, false },
	{ "channel.k8s.io", 1, false, false, false },
	{ "base64.channel.k8s.io", 1, true, false, false },
	{ "SPDY/3.1+portforward.k8s.io", 4, false, false, true },
	{ "", 1, false, false, false },
};

const char *const gt_chan_exec_protocols[] = {
	"v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
	"channel.k8s.io", "base64.channel.k8s.io", NULL,
};

const char *const gt_chan_portforward_protocols[] = {
	"SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
	"channel.k8s.io", "base64.channel.k8s.io", NULL,
};

const struct gt_chan_proto *gt_chan_proto_get(const char *name)
{
	if (!name)
		name = "";
	for (size_t i = 0; i < GT_ARRAY_SIZE(protos); i++)
		if (!strcmp(protos[i].name, name))
			return &protos[i];
	return NULL;
}

/* ---- messages ---- */

int gt_chan_parse(const struct gt_chan_proto *p, int opcode, struct gt_buf *msg,
		  unsigned nchannels, struct gt_chan_msg *out, struct gt_err *err)
{
	const unsigned char *d = (const unsigned char *)msg->data;
	unsigned ch;

	memset(out, 0, sizeof(*out));
	out->kind = GT_CHAN_MSG_IGNORE;
	if (p->tunnel)
		return gt_err_set(err, -EINVAL, "%s is not a channel protocol", p->name);
	if ((opcode != GT_WS_BINARY && opcode != GT_WS_TEXT) || !msg->len)
		return 0;
	ch = d[0];
	if (p->close_signal && ch == GT_CHAN_CLOSE_SIGNAL) {
		if (msg->len != 2)
			return gt_err_set(err, -EPROTO,
					  "stream close signal: want 2 bytes [255, channel], got %zu",
					  msg->len);
		if (d[1] >= nchannels)
			return gt_err_set(err, -EPROTO, "stream close signal: no channel %u", d[1]);
		out->kind = GT_CHAN_MSG_CLOSE;
		out->channel = d[1];
		return 0;
	}
	if (p->base64) {
		unsigned char *raw = NULL;
		size_t rawlen = 0;

		ch = (unsigned char)(ch - '0');
		if (ch >= nchannels)
			return 0;
		if (gt_base64_decode(msg->data + 1, msg->len - 1, &raw, &rawlen) < 0)
			return gt_err_set(err, -EPROTO, "channel %u: invalid base64 payload", ch);
		memcpy(msg->data + 1, raw, rawlen); /* decoded is never longer */
		free(raw);
		msg->len = 1 + rawlen;
		msg->data[msg->len] = '\0';
	}
	if (ch >= nchannels)
		return 0;
	out->kind = GT_CHAN_MSG_DATA;
	out->channel = ch;
	out->data = (const unsigned char *)msg->data + 1;
	out->len = msg->len - 1;
	return 0;
}

void gt_chan_build(const struct gt_chan_proto *p, unsigned channel, const void *data,
		   size_t len, struct gt_buf *out, int *opcode)
{
	gt_buf_reset(out);
	if (p->base64) {
		char *b64 = gt_base64_encode(data, len);

		gt_buf_addc(out, (char)('0' + channel));
		gt_buf_adds(out, b64);
		free(b64);
		*opcode = GT_WS_TEXT;
		return;
	}
	gt_buf_addc(out, (char)channel);
	gt_buf_add(out, data, len);
	*opcode = GT_WS_BINARY;
}

int gt_chan_send(struct gt_ws *ws, const struct gt_chan_proto *p, unsigned channel,
		 const void *data, size_t len)
{
	unsigned char ch = (unsigned char)channel;
	struct iovec iov[2] = { { &ch, 1 }, { (void *)data, len } };
	struct gt_buf b = GT_BUF_INIT;
	int opcode, rc;

	if (!p->base64)
		return gt_ws_sendv(ws, GT_WS_BINARY, iov, len ? 2 : 1);
	gt_chan_build(p, channel, data, len, &b, &opcode);
	rc = gt_ws_send(ws, opcode, b.data, b.len);
	gt_buf_release(&b);
	return rc;
}

/* ---- exec / attach ---- */

int gt_chan_exec_hello(struct gt_ws *ws, const struct gt_chan_proto *p, bool has_stdout,
		       bool has_stderr)
{
	unsigned ch = has_stdout ? GT_CHAN_STDOUT : has_stderr ? GT_CHAN_STDERR : GT_CHAN_ERROR;

	return gt_chan_send(ws, p, ch, NULL, 0);
}

/* A JSON string from bytes that may not be UTF-8 (argv, messages):
 * non-UTF-8 input has its non-ASCII bytes replaced by '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *c;

	if (j)
		return j;
	c = xstrdup(s);
	for (char *q = c; *q; q++)
		if ((unsigned char)*q >= 0x80)
			*q = '?';
	j = json_string(c);
	free(c);
	return j;
}

/* kubelet: "command terminated with non-zero exit code: %v" of containerd's
 * "error executing command %v, exit code %d" ([]string prints as [a b]). */
static void exit_message(struct gt_buf *b, int exit_code, const char *const *argv, size_t argc)
{
	gt_buf_adds(b, "command terminated with non-zero exit code: error executing command [");
	for (size_t i = 0; argv && i < argc; i++)
		gt_buf_addf(b, "%s%s", i ? " " : "", argv[i] ? argv[i] : "");
	gt_buf_addf(b, "], exit code %d", exit_code);
}

char *gt_chan_status_exit(int exit_code, const char *const *argv, size_t argc, size_t *len)
{
	GT_AUTOJSON json_t *st = json_object();
	struct gt_buf msg = GT_BUF_INIT;
	char code[16];
	json_t *causes;
	char *out;

	json_object_set_new(st, "metadata", json_object());
	if (exit_code == 0) {
		json_object_set_new(st, "status", json_string("Success"));
		return gt_json_dump(st, len);
	}
	snprintf(code, sizeof(code), "%d", exit_code);
	exit_message(&msg, exit_code, argv, argc);
	json_object_set_new(st, "status", json_string("Failure"));
	json_object_set_new(st, "message", jstr(msg.data));
	json_object_set_new(st, "reason", json_string("NonZeroExitCode"));
	causes = json_pack("[{s:s,s:s}]", "reason", "ExitCode", "message", code);
	json_object_set_new(st, "details", json_pack("{s:o}", "causes", causes));
	out = gt_json_dump(st, len);
	gt_buf_release(&msg);
	return out;
}

char *gt_chan_status_error(int code, const char *message, size_t *len)
{
	GT_AUTOJSON json_t *st = json_object();

	if (code >= 0)
		code = -EIO;
	json_object_set_new(st, "metadata", json_object());
	json_object_set_new(st, "status", json_string("Failure"));
	json_object_set_new(st, "message", jstr(message && *message ? message : "internal error"));
	json_object_set_new(st, "reason", json_string(gt_err_reason(code)));
	json_object_set_new(st, "code", json_integer(gt_err_http(code)));
	return gt_json_dump(st, len);
}

int gt_chan_send_exit(struct gt_ws *ws, const struct gt_chan_proto *p, int exit_code,
		      const char *const *argv, size_t argc)
{
	struct gt_buf b = GT_BUF_INIT;
	size_t len;
	char *s;
	int rc;

	if (p->version >= 4) {
		s = gt_chan_status_exit(exit_code, argv, argc, &len);
		rc = gt_chan_send(ws, p, GT_CHAN_ERROR, s, len);
		free(s);
		return rc;
	}
	if (!exit_code)
		return 0;
	/* v1 writes err.Error(): the message alone */
	gt_buf_reset(&b);
	exit_message(&b, exit_code, argv, argc);
	rc = gt_chan_send(ws, p, GT_CHAN_ERROR, b.data, b.len);
	gt_buf_release(&b);
	return rc;
}

int gt_chan_send_error(struct gt_ws *ws, const struct gt_chan_proto *p, int code,
		       const char *message)
{
	size_t len;
	char *s;
	int rc;

	if (p->version < 4)
		return gt_chan_send(ws, p, GT_CHAN_ERROR, message ? message : "",
				    message ? strlen(message) : 0);
	s = gt_chan_status_error(code, message, &len);
	rc = gt_chan_send(ws, p, GT_CHAN_ERROR, s, len);
	free(s);
	return rc;
}

/* ---- resize ---- */

int gt_chan_parse_resize(const void *data, size_t len, uint16_t *width, uint16_t *height,
			 struct gt_err *err)
{
	GT_AUTOJSON json_t *j = NULL;
	const char *key;
	json_t *v;
	uint16_t w = 0, h = 0;

	if (gt_json_parse_lenient(data, len, &j, err) < 0)
		return gt_err_prefix(err, -EINVAL, "resize");
	if (!json_is_object(j))
		return gt_err_set(err, -EINVAL, "resize: want a JSON object");
	json_object_foreach(j, key, v) {
		uint16_t *dst = !strcasecmp(key, "Width") ? &w : !strcasecmp(key, "Height") ? &h : NULL;
		json_int_t n;

		if (!dst)
			continue;
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 0 || n > 65535)
			return gt_err_set(err, -EINVAL, "resize.%s: want an integer 0..65535",
					  dst == &w ? "Width" : "Height");
		*dst = (uint16_t)n;
	}
	*width = w;
	*height = h;
	return 0;
}

#define RESIZE_MAX 4096

void gt_chan_resize_init(struct gt_chan_resize *r)
{
	gt_buf_init(&r->buf);
}

void gt_chan_resize_release(struct gt_chan_resize *r)
{
	gt_buf_release(&r->buf);
}

/* Length of the first complete top-level JSON value in p (an object:
 * brace matching outside strings), 0 if incomplete. */
static size_t object_end(const char *p, size_t len)
{
	int depth = 0;
	bool str = false, esc = false, started = false;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			depth++;
			started = true;
		} else if (c == '}' || c == ']') {
			if (--depth <= 0)
				return i + 1;
		} else if (!started && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			return i + 1; /* junk before an object: let the parser report it */
		}
	}
	return 0;
}

int gt_chan_resize_feed(struct gt_chan_resize *r, const void *data, size_t len,
			uint16_t *width, uint16_t *height, struct gt_err *err)
{
	int got = 0;
	size_t n;

	gt_buf_add(&r->buf, data, len);
	while ((n = object_end(r->buf.data, r->buf.len)) > 0) {
		int rc = gt_chan_parse_resize(r->buf.data, n, width, height, err);

		if (rc < 0)
			return rc;
		memmove(r->buf.data, r->buf.data + n, r->buf.len - n + 1);
		r->buf.len -= n;
		got = 1;
	}
	if (r->buf.len > RESIZE_MAX)
		return gt_err_set(err, -EINVAL, "resize: object over %d bytes", RESIZE_MAX);
	return got;
}

/* ---- port-forward ---- */

int gt_chan_pf_parse_ports(const char *const *vals, size_t nvals, uint16_t *ports,
			   size_t max, size_t *n, struct gt_err *err)
{
	*n = 0;
	if (max > GT_CHAN_PF_MAX_PORTS)
		max = GT_CHAN_PF_MAX_PORTS;
	for (size_t i = 0; i < nvals; i++) {
		const char *p = vals[i] ? vals[i] : "";

		for (;;) {
			const char *end = strchr(p, ',');
			size_t l = end ? (size_t)(end - p) : strlen(p);
			char tok[16];
			int64_t v;

			if (l == 0 || l >= sizeof(tok))
				return gt_err_set(err, -EINVAL, "ports: invalid port \"%.*s\"",
						  (int)(l < 32 ? l : 32), p);
			memcpy(tok, p, l);
			tok[l] = '\0';
			if (gt_parse_i64(tok, &v) < 0 || v < 1 || v > 65535)
				return gt_err_set(err, -EINVAL,
						  "ports: invalid port \"%s\": want 1..65535", tok);
			if (*n >= max)
				return gt_err_set(err, -EINVAL, "ports: at most %zu ports", max);
			ports[(*n)++] = (uint16_t)v;
			if (!end)
				break;
			p = end + 1;
		}
	}
	if (!*n)
		return gt_err_set(err, -EINVAL, "ports: at least one port is required");
	return 0;
}

int gt_chan_pf_preamble(struct gt_ws *ws, const struct gt_chan_proto *p, size_t index,
			uint16_t port)
{
	unsigned char le[2] = { (unsigned char)(port & 0xFF), (unsigned char)(port >> 8) };
	int rc;

	if (index >= GT_CHAN_PF_MAX_PORTS)
		return -EINVAL;
	rc = gt_chan_send(ws, p, GT_CHAN_PF_DATA(index), le, 2);
	if (rc == 0)
		rc = gt_chan_send(ws, p, GT_CHAN_PF_ERROR(index), le, 2);
	return rc;
}

/* ---- SPDY tunnel ---- */

void gt_chan_tunnel_init(struct gt_chan_tunnel *t, struct gt_ws *ws)
{
	memset(t, 0, sizeof(*t));
	t->ws = ws;
	gt_buf_init(&t->msg);
	gt_err_clear(&t->err);
}

void gt_chan_tunnel_release(struct gt_chan_tunnel *t)
{
	gt_buf_release(&t->msg);
}

static ssize_t tunnel_read(void *ctx, void *buf, size_t n)
{
	struct gt_chan_tunnel *t = ctx;
	size_t take;

	while (t->pos >= t->msg.len) {
		int opcode, rc;

		if (t->eof)
			return 0;
		if (t->done < 0)
			return t->done;
		rc = gt_ws_recv(t->ws, &opcode, &t->msg, &t->err);
		t->pos = 0;
		if (rc == 0) {
			t->eof = true;
			return 0;
		}
		if (rc < 0) {
			t->done = rc;
			return rc;
		}
		if (opcode != GT_WS_BINARY) {
			gt_buf_reset(&t->msg);
			gt_err_set(&t->err, -EPROTO, "tunnel: text message in a binary stream");
			gt_ws_close(t->ws, GT_WS_CLOSE_UNSUPPORTED, "text message in a binary stream");
			t->done = -EPROTO;
			return t->done;
		}
	}
	take = t->msg.len - t->pos < n ? t->msg.len - t->pos : n;
	memcpy(buf, t->msg.data + t->pos, take);
	t->pos += take;
	return (ssize_t)take;
}

static int tunnel_write(void *ctx, const void *buf, size_t n)
{
	struct gt_chan_tunnel *t = ctx;

	if (!n)
		return 0;
	return gt_ws_send(t->ws, GT_WS_BINARY, buf, n);
}

struct gt_ws_io gt_chan_tunnel_io(struct gt_chan_tunnel *t)
{
	struct gt_ws_io io = { tunnel_read, tunnel_write, t };

	return io;
}
