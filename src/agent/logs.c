/*
 * logs.c - the agent's HTTP endpoint the API server proxies `pods/log` to:
 * GET /containerLogs/<ns>/<pod>/<container>?follow&previous&tailLines&
 * sinceSeconds&timestamps&limitBytes.  Containers log through their shim
 * into files in the CRI format ("<RFC3339Nano> <stream> <F|P> <text>");
 * this file turns them back into the container's output.
 */
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "agent/metrics.h"
#include "base/log.h"
#include "http/server.h"

struct logq {
	bool follow, previous, timestamps;
	int64_t tail, since, limit;
};

/* Appends the text of the CRI lines in buf (complete lines only) to out. */
static size_t render(const char *buf, size_t len, const struct logq *q, time_t since_t,
		     struct gt_buf *out)
{
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		const char *line = buf + off, *sp1, *sp2, *sp3;
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - line);
		off += n + 1;
		sp1 = memchr(line, ' ', n);
		sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
		sp3 = sp2 ? memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - line)) : NULL;
		if (!sp3) {
			sp3 = sp2; /* "ts stream F" with empty text */
			if (!sp3)
				continue;
		}
		if (since_t) {
			char ts[64];
			time_t t;

			snprintf(ts, sizeof(ts), "%.*s", (int)(sp1 - line), line);
			if (gt_time_parse(ts, &t) == 0 && t < since_t)
				continue;
		}
		if (q->timestamps)
			gt_buf_add(out, line, (size_t)(sp1 - line + 1));
		if (sp3 < line + n)
			gt_buf_add(out, sp3 + 1, n - (size_t)(sp3 + 1 - line));
		/* "P" marks a partial line: no newline of its own */
		if (!(sp2 && sp2[1] == 'P'))
			gt_buf_addc(out, '\n');
	}
	return off;
}

static void tail_lines(struct gt_buf *b, int64_t n)
{
	size_t i = b->len;
	int64_t seen = 0;

	if (n < 0)
		return;
	if (i && b->data[i - 1] == '\n')
		i--;
	while (i > 0) {
		if (b->data[i - 1] == '\n' && ++seen == n)
			break;
		i--;
	}
	if (n == 0)
		i = b->len;
	memmove(b->data, b->data + i, b->len - i);
	b->len -= i;
	b->data[b->len] = '\0';
}

struct follow {
	char log[4096], exitp[4096];
	struct logq q;
	off_t pos;
	struct gt_buf pending, out;
	size_t off;
	int64_t sent;
	struct gt_http_req *req;
	struct gt_agent *a;
};

static ssize_t follow_fn(void *arg, char *buf, size_t max)
{
	struct follow *f = arg;

	while (f->out.len == f->off) {
		char chunk[65536];
		ssize_t r;
		int fd;

		gt_buf_reset(&f->out);
		f->off = 0;
		if (atomic_load(&f->a->stop) || gt_http_peer_closed(f->req))
			return -1;
		if (f->q.limit > 0 && f->sent >= f->q.limit)
			return -1;
		fd = open(f->log, O_RDONLY | O_CLOEXEC);
		r = -1;
		if (fd >= 0) {
			struct stat st;

			/* rotated: start over on the new file */
			if (fstat(fd, &st) == 0 && st.st_size < f->pos)
				f->pos = 0;
			r = pread(fd, chunk, sizeof(chunk), f->pos);
			close(fd);
		}
		if (r > 0) {
			size_t used;

			f->pos += r;
			gt_buf_add(&f->pending, chunk, (size_t)r);
			used = render(f->pending.data, f->pending.len, &f->q, 0, &f->out);
			memmove(f->pending.data, f->pending.data + used, f->pending.len - used);
			f->pending.len -= used;
			continue;
		}
		if (access(f->exitp, F_OK) == 0)
			return -1; /* the container is gone and everything is sent */
		{
			struct timespec ts = { 0, 200 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	{
		size_t n = f->out.len - f->off;

		if (n > max)
			n = max;
		if (f->q.limit > 0 && (int64_t)n > f->q.limit - f->sent)
			n = (size_t)(f->q.limit - f->sent);
		memcpy(buf, f->out.data + f->off, n);
		f->off += n;
		f->sent += (int64_t)n;
		return (ssize_t)n;
	}
}

static void follow_free(void *arg)
{
	struct follow *f = arg;

	gt_buf_release(&f->pending);
	gt_buf_release(&f->out);
	free(f);
}

static void reply_text(struct gt_http_req *req, int code, const char *msg)
{
	gt_http_reply(req, code, "text/plain", msg, strlen(msg));
}

static bool qbool(struct gt_http_req *req, const char *name)
{
	const char *v = gt_http_query(req, name);
	bool b = false;

	return v && gt_parse_bool(v, &b) == 0 && b;
}

bool gt_agent_stream_handler(struct gt_agent *a, struct gt_http_req *req);
void gt_agent_logs_handler(struct gt_http_req *req, void *ctx);
void gt_agent_logs_handler(struct gt_http_req *req, void *ctx)
{
	struct gt_agent *a = ctx;
	const char *auth = gt_http_header(req, "Authorization");
	const char *path = gt_http_path(req);
	char ns[254], name[254], cname[64], dir[4096], logp[4096], exitp[4096];
	struct logq q = { .tail = -1 };
	const char *v;
	struct pod *p;
	int attempt = -1;

	/* only the API server (which presents the token) may read logs or open
	 * exec / port-forward streams; an agent without a token serves nobody */
	if (!a->token || !auth || strncmp(auth, "Bearer ", 7) || !gt_secret_eq(auth + 7, a->token)) {
		reply_text(req, 401, "Unauthorized");
		return;
	}
	if (gt_agent_stream_handler(a, req))
		return;
	if (!strcmp(path, "/stats/resource")) {
		gt_agent_metrics_reply(a, req);
		return;
	}
	if (sscanf(path, "/containerLogs/%253[^/]/%253[^/]/%63[^/]", ns, name, cname) != 3) {
		reply_text(req, 404, "not found");
		return;
	}
	q.follow = qbool(req, "follow");
	q.previous = qbool(req, "previous");
	q.timestamps = qbool(req, "timestamps");
	if ((v = gt_http_query(req, "tailLines")))
		gt_parse_i64(v, &q.tail);
	if ((v = gt_http_query(req, "sinceSeconds")))
		gt_parse_i64(v, &q.since);
	if ((v = gt_http_query(req, "limitBytes")))
		gt_parse_i64(v, &q.limit);
	char reason[64] = "ContainerCreating";

	pthread_mutex_lock(&a->lock);
	for (p = a->pods; p; p = p->next) {
		if (strcmp(p->ns, ns) || strcmp(p->name, name))
			continue;
		for (size_t i = 0; i < p->nctrs; i++) {
			if (strcmp(p->ctrs[i].name, cname))
				continue;
			if (p->ctrs[i].started)
				attempt = p->ctrs[i].attempt - (q.previous ? 1 : 0);
			else if (p->ctrs[i].waiting_reason[0])
				snprintf(reason, sizeof(reason), "%s", p->ctrs[i].waiting_reason);
		}
		snprintf(dir, sizeof(dir), "%s", p->dir);
		break;
	}
	pthread_mutex_unlock(&a->lock);
	if (!p || attempt < 0) {
		char msg[600];

		if (q.previous)
			snprintf(msg, sizeof(msg), "previous terminated container \"%s\" in pod \"%s\" not found",
				 cname, name);
		else
			snprintf(msg, sizeof(msg), "container \"%s\" in pod \"%s\" is waiting to start: %s",
				 cname, name, reason);
		reply_text(req, 400, msg);
		return;
	}
	snprintf(logp, sizeof(logp), "%s/containers/%s/%d/log", dir, cname, attempt);
	snprintf(exitp, sizeof(exitp), "%s/containers/%s/%d/exit", dir, cname, attempt);
	{
		struct gt_buf out = GT_BUF_INIT;
		char rot[4200], *data = NULL;
		size_t len = 0;
		time_t since_t = q.since > 0 ? time(NULL) - q.since : 0;

		gt_buf_init(&out);
		snprintf(rot, sizeof(rot), "%s.1", logp);
		if (gt_read_file(rot, &data, &len) == 0)
			render(data, len, &q, since_t, &out);
		free(data);
		data = NULL;
		len = 0;
		gt_read_file(logp, &data, &len);
		{
			size_t used = data ? render(data, len, &q, since_t, &out) : 0;

			if (q.tail >= 0)
				tail_lines(&out, q.tail);
			if (!q.follow) {
				size_t n = out.len;

				if (q.limit > 0 && (int64_t)n > q.limit)
					n = (size_t)q.limit;
				gt_http_reply(req, 200, "text/plain", out.data, n);
				gt_buf_release(&out);
				free(data);
				return;
			}
			{
				struct follow *f = xcalloc(1, sizeof(*f));

				snprintf(f->log, sizeof(f->log), "%s", logp);
				snprintf(f->exitp, sizeof(f->exitp), "%s", exitp);
				f->q = q;
				f->pos = (off_t)used;
				f->req = req;
				f->a = a;
				gt_buf_init(&f->pending);
				f->out = out;
				f->off = 0;
				free(data);
				gt_http_reply_stream(req, 200, "text/plain", follow_fn, f, follow_free);
			}
		}
	}
}
