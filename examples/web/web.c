/* examples/web/web.c - a small HTTP/1.1 server whose only network is one
 * vchan to the TLS terminator's domain.
 *
 * Each stream of the channel (examples/mux) is one client connection.
 * Requests of a connection are answered in order, one at a time: the next
 * is parsed once the previous answer is on its way, which bounds what a
 * connection can make us hold. Data lives in the storage domain (store.h).
 *
 *   GET    /                      a page
 *   GET    /api/kv?prefix=P       {"keys":[...]}, sorted
 *   GET    /api/kv/KEY            {"key":K,"value":V} or 404
 *   PUT    /api/kv/KEY            body = value (UTF-8, at most 64 KiB),
 *                                 answered once it is stored durably
 *   DELETE /api/kv/KEY            {"key":K,"deleted":true} or 404
 * The storage domain gone gives 502, too slow 504.
 *
 * Usage: web [-p PORT] [-s ADDRESS] [-t MS] [-c MAXCONN] TERMINATOR_DOMID
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/mux/mux.h"
#include "examples/web/http.h"
#include "examples/web/store.h"
#include "vchan/vchan.h"
#include "xenstore/xs.h"

#define KEY_MAX 256
/* Ring sizes of the channel, each way. */
#define RING (256u * 1024)
/* How long a stopping server waits for answers still owed. */
#define GRACE_S 5.0

struct web;

struct op {
	struct conn *c; /* NULL once the connection has gone */
	int method;	/* 'G', 'P', 'D', 'L' */
	char key[KEY_MAX + 1];
};

struct conn {
	struct web *w;
	uint32_t id;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	size_t req_total; /* bytes of the request being answered */
	int keep_alive;
	int closing; /* close once the answer is out */
	struct op *op;
	struct conn *prev, *next;
};

struct web {
	struct ev_loop *loop;
	uint32_t peer;
	char path[160];
	struct mux *mux;
	ev_io io;
	ev_timer retry, grace;
	ev_signal sigterm, sigint;
	struct store *st;
	struct conn *conns;
	size_t nconns, max_conns;
	int stopping;
};

static const char PAGE[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    "<title>vchan web domain</title></head>\n<body>\n"
    "<h1>Hello from the web domain</h1>\n"
    "<p>This page came over TLS to the terminator domain, then over a "
    "vchan to this domain, which has no network of its own.</p>\n"
    "<p>API: <code>GET /api/kv?prefix=P</code>, "
    "<code>GET|PUT|DELETE /api/kv/KEY</code>; the data lives in the "
    "storage domain.</p>\n</body></html>\n";

static void process(struct conn *c);

/* A stopping server ends once nothing is owed to anyone. */
static void check_done(struct web *w)
{
	if (w->stopping && w->nconns == 0 &&
	    (w->mux == NULL || mux_queued(w->mux) == 0))
		ev_break(w->loop, EVBREAK_ALL);
}

/* ---- output ---------------------------------------------------------- */

static int out_add(struct conn *c, const void *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *o;

		while (cap < c->out_len + n)
			cap *= 2;
		o = realloc(c->out, cap);
		if (o == NULL)
			return -1;
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void jb_add(struct jbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->err = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void jb_str(struct jbuf *b, const char *s)
{
	jb_add(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; the
 * text is known to be UTF-8 already. */
static void jb_json(struct jbuf *b, const char *s, size_t n)
{
	jb_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			jb_add(b, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			jb_add(b, esc, 6);
		} else {
			jb_add(b, s + i, 1);
		}
	}
	jb_add(b, "\"", 1);
}

/* Queue an answer to the current request and release the request's bytes
 * (so the terminator may send more). */
static void respond(struct conn *c, int status, const char *type,
		    const char *body, size_t len)
{
	char head[256];
	int n;

	if (!c->keep_alive || c->w->stopping)
		c->closing = 1;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nServer: vchan-web\r\n"
		     "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
		     status, http_reason(status), type, len,
		     c->closing ? "Connection: close\r\n" : "");
	if (out_add(c, head, (size_t)n) < 0 || out_add(c, body, len) < 0)
		c->closing = 1; /* out of memory: end the connection */
	if (c->req_total > 0) {
		memmove(c->in, c->in + c->req_total, c->in_len - c->req_total);
		c->in_len -= c->req_total;
		mux_consumed(c->w->mux, c->id, c->req_total);
		c->req_total = 0;
	}
}

static void respond_json(struct conn *c, int status, struct jbuf *b)
{
	if (b->err) {
		static const char oom[] = "{\"error\":\"out of memory\"}";

		respond(c, 500, "application/json", oom, sizeof(oom) - 1);
	} else {
		jb_add(b, "\n", 1);
		respond(c, status, "application/json", b->p, b->len);
	}
	free(b->p);
}

static void respond_error(struct conn *c, int status, const char *msg)
{
	struct jbuf b = {0};

	jb_str(&b, "{\"error\":");
	jb_json(&b, msg, strlen(msg));
	jb_str(&b, "}");
	respond_json(c, status, &b);
}

/* ---- connections ----------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct web *w = c->w;

	if (c->op != NULL)
		c->op->c = NULL; /* the store's answer will find no one */
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void conn_end(struct conn *c)
{
	mux_close(c->w->mux, c->id);
	conn_free(c);
}

/* ---- storage answers ------------------------------------------------- */

static int store_failed(struct conn *c, enum store_status s)
{
	switch (s) {
	case STORE_OK:
		return 0;
	case STORE_UNAVAILABLE:
		respond_error(c, 502, "storage unavailable");
		break;
	case STORE_TIMEOUT:
		respond_error(c, 504, "storage timed out");
		break;
	default:
		respond_error(c, 500, "storage failed");
		break;
	}
	return 1;
}

static void stored(const struct store_result *r, void *data)
{
	struct op *op = data;
	struct conn *c = op->c;
	struct jbuf b = {0};
	struct web *w;

	if (c == NULL) {
		free(op);
		return;
	}
	w = c->w;
	c->op = NULL;
	if (store_failed(c, r->status))
		goto out;
	switch (op->method) {
	case 'G':
		if (!r->found) {
			respond_error(c, 404, "not found");
			goto out;
		}
		jb_str(&b, "{\"key\":");
		jb_json(&b, op->key, strlen(op->key));
		jb_str(&b, ",\"value\":");
		jb_json(&b, (const char *)r->value, r->len);
		jb_str(&b, "}");
		break;
	case 'P':
	case 'D':
		if (op->method == 'D' && !r->found) {
			respond_error(c, 404, "not found");
			goto out;
		}
		jb_str(&b, "{\"key\":");
		jb_json(&b, op->key, strlen(op->key));
		jb_str(&b, op->method == 'P' ? ",\"stored\":true}"
					     : ",\"deleted\":true}");
		break;
	default:
		jb_str(&b, "{\"keys\":[");
		for (size_t i = 0; i < r->nkeys; i++) {
			if (i > 0)
				jb_str(&b, ",");
			jb_json(&b, r->keys[i], strlen(r->keys[i]));
		}
		jb_str(&b, "]}");
		break;
	}
	respond_json(c, 200, &b);
out:
	free(op);
	process(c);
	check_done(w);
}

/* ---- routes ---------------------------------------------------------- */

static void start(struct conn *c, int method, const char *key,
		  const struct http_request *r)
{
	struct op *op = calloc(1, sizeof(*op));
	struct store *st = c->w->st;
	int rc;

	if (op == NULL) {
		respond_error(c, 500, "out of memory");
		return;
	}
	op->c = c;
	op->method = method;
	snprintf(op->key, sizeof(op->key), "%s", key);
	if (method == 'G')
		rc = store_get(st, key, stored, op);
	else if (method == 'P')
		rc = store_put(st, key, r->body, r->body_len, stored, op);
	else if (method == 'D')
		rc = store_delete(st, key, stored, op);
	else
		rc = store_list(st, key, stored, op);
	if (rc < 0) {
		free(op);
		respond_error(c, 500, "storage call failed");
		return;
	}
	c->op = op;
}

/* The value of `name` in a query string, decoded; "" when absent. */
static int query_param(const char *q, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	out[0] = '\0';
	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);

		if (n > nl && strncmp(q, name, nl) == 0 && q[nl] == '=')
			return http_unescape(q + nl + 1, n - nl - 1, out,
					     outsz);
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

static void route(struct conn *c, const struct http_request *r)
{
	char path[sizeof(r->target)], key[KEY_MAX + 1];
	const char *query = strchr(r->target, '?');
	size_t plen = query ? (size_t)(query - r->target) : strlen(r->target);
	int get = strcmp(r->method, "GET") == 0;
	int klen;

	memcpy(path, r->target, plen);
	path[plen] = '\0';
	if (query)
		query++;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		if (get)
			respond(c, 200, "text/html; charset=utf-8", PAGE,
				sizeof(PAGE) - 1);
		else
			respond_error(c, 405, "method not allowed");
		return;
	}
	if (strcmp(path, "/api/kv") == 0) {
		klen = query_param(query, "prefix", key, sizeof(key));
		if (!get)
			respond_error(c, 405, "method not allowed");
		else if (klen < 0 || !http_utf8_ok(key, (size_t)klen, 0))
			respond_error(c, 400, "bad prefix");
		else
			start(c, 'L', key, r);
		return;
	}
	if (strncmp(path, "/api/kv/", 8) != 0) {
		respond_error(c, 404, "no such page");
		return;
	}
	klen = http_unescape(path + 8, plen - 8, key, sizeof(key));
	if (klen <= 0 || !http_utf8_ok(key, (size_t)klen, 0))
		respond_error(c, 400, "bad key");
	else if (get)
		start(c, 'G', key, r);
	else if (strcmp(r->method, "DELETE") == 0)
		start(c, 'D', key, r);
	else if (strcmp(r->method, "PUT") != 0)
		respond_error(c, 405, "method not allowed");
	else if (!http_utf8_ok(r->body, r->body_len, 1))
		respond_error(c, 400, "value is not UTF-8");
	else
		start(c, 'P', key, r);
}

/* Move what we can of the output into the channel, then answer the next
 * request if there is one. May free c. */
static void process(struct conn *c)
{
	struct http_request r;

	for (;;) {
		int rc;

		while (c->out_off < c->out_len) {
			ssize_t n =
			    mux_send(c->w->mux, c->id, c->out + c->out_off,
				     c->out_len - c->out_off);
			if (n < 0) {
				conn_free(c);
				return;
			}
			if (n == 0)
				return; /* the writable callback resumes */
			c->out_off += (size_t)n;
		}
		c->out_off = c->out_len = 0;
		if (c->closing) {
			conn_end(c);
			return;
		}
		if (c->op != NULL)
			return; /* waiting for the storage domain */
		rc = http_parse(c->in, c->in_len, &r);
		if (rc == 0) {
			if (c->w->stopping && c->in_len == 0)
				conn_end(c); /* idle: nothing owed */
			return;
		}
		if (rc < 0) {
			/* Not a request we can parse: answer and hang up
			 * (the rest of the bytes cannot be trusted). */
			c->keep_alive = 0;
			c->req_total = 0;
			respond_error(c, -rc, "bad request");
			continue;
		}
		c->req_total = r.total;
		c->keep_alive = r.keep_alive;
		route(c, &r);
	}
}

/* ---- the channel ----------------------------------------------------- */

static void on_open(void *ctx, uint32_t id)
{
	struct web *w = ctx;
	struct conn *c;

	if (w->stopping || w->nconns >= w->max_conns ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		mux_close(w->mux, id);
		return;
	}
	c->w = w;
	c->id = id;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	mux_set_user(w->mux, id, c);
}

static void on_data(void *ctx, uint32_t id, void *user, const uint8_t *buf,
		    size_t len)
{
	struct conn *c = user;

	(void)ctx;
	(void)id;
	/* The mux's window bounds in_len: at most MUX_WINDOW bytes are
	 * unconsumed, and bytes are consumed as requests are answered. */
	if (c->in_len + len > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 4096;
		char *p;

		while (cap < c->in_len + len)
			cap *= 2;
		p = realloc(c->in, cap);
		if (p == NULL) {
			conn_end(c);
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, buf, len);
	c->in_len += len;
	process(c);
}

static void on_close(void *ctx, uint32_t id, void *user)
{
	(void)ctx;
	(void)id;
	conn_free(user);
}

static void on_writable(void *ctx, uint32_t id, void *user)
{
	(void)ctx;
	(void)id;
	process(user);
}

static const struct mux_ops OPS = {on_open, on_data, on_close, on_writable};

static void drop_channel(struct web *w)
{
	while (w->conns != NULL)
		conn_free(w->conns);
	ev_io_stop(w->loop, &w->io);
	mux_free(w->mux);
	w->mux = NULL;
}

static void on_channel(struct ev_loop *loop, ev_io *io, int revents)
{
	struct web *w = io->data;

	(void)loop;
	(void)revents;
	if (mux_run(w->mux) < 0) {
		if (errno == EPROTO)
			fprintf(stderr, "web: the terminator broke the "
					"protocol; offering a new channel\n");
		drop_channel(w);
		if (w->stopping) {
			check_done(w);
			return;
		}
		ev_timer_set(&w->retry, 0.05, 0);
		ev_timer_start(w->loop, &w->retry);
		return;
	}
	check_done(w);
}

static int offer(struct web *w)
{
	struct vchan *ch = vchan_server_create(w->peer, w->path, RING, RING);

	if (ch == NULL)
		return -1;
	w->mux = mux_new(ch, &OPS, w);
	if (w->mux == NULL) {
		vchan_close(ch);
		return -1;
	}
	ev_io_set(&w->io, mux_fd(w->mux), EV_READ);
	ev_io_start(w->loop, &w->io);
	ev_feed_event(w->loop, &w->io, EV_READ);
	return 0;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct web *w = t->data;

	(void)loop;
	(void)revents;
	if (offer(w) < 0) {
		perror("web: offering the channel");
		ev_timer_set(&w->retry, 0.5, 0);
		ev_timer_start(w->loop, &w->retry);
	}
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct web *w = s->data;
	struct conn *c, *next;

	(void)revents;
	if (w->stopping)
		return;
	w->stopping = 1;
	ev_timer_stop(loop, &w->retry);
	ev_timer_start(loop, &w->grace);
	/* Idle connections go now; the others after their answer. */
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->op == NULL && c->out_len == 0 && c->in_len == 0)
			conn_end(c);
	}
	check_done(w);
}

static void on_grace(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	fprintf(stderr, "web: answers still owed after %.0f s; stopping\n",
		GRACE_S);
	ev_break(loop, EVBREAK_ALL);
}

static void usage(void)
{
	fprintf(stderr, "usage: web [-p PORT] [-s ADDRESS] [-t MS] "
			"[-c MAXCONN] TERMINATOR_DOMID\n");
}

int main(int argc, char **argv)
{
	const char *port = "http", *address = "vchan:1/storage";
	int timeout_ms = 5000, opt, self;
	struct web w;
	vchan_xs *xs;
	char *end;

	memset(&w, 0, sizeof(w));
	w.max_conns = 1024;
	while ((opt = getopt(argc, argv, "p:s:t:c:h")) != -1) {
		switch (opt) {
		case 'p':
			port = optarg;
			break;
		case 's':
			address = optarg;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 'c':
			w.max_conns = (size_t)atoi(optarg);
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc || timeout_ms <= 0 || w.max_conns == 0) {
		usage();
		return 2;
	}
	errno = 0;
	w.peer = (uint32_t)strtoul(argv[optind], &end, 10);
	if (*end != '\0' || errno != 0) {
		usage();
		return 2;
	}
	xs = vchan_xs_open();
	self = xs ? vchan_xs_domid(xs) : -1;
	vchan_xs_close(xs);
	if (self < 0) {
		perror("web: own domain id");
		return 1;
	}
	snprintf(w.path, sizeof(w.path), "/local/domain/%d/data/vchan/%u/%s",
		 self, w.peer, port);
	signal(SIGPIPE, SIG_IGN);
	w.loop = ev_loop_new(EVFLAG_AUTO);
	if (w.loop == NULL) {
		fprintf(stderr, "web: no event loop\n");
		return 1;
	}
	w.st = store_open(w.loop, address, timeout_ms);
	if (w.st == NULL) {
		perror("web: storage address");
		ev_loop_destroy(w.loop);
		return 2;
	}
	/* Storage is usually started alongside: give it the call timeout to
	 * appear before offering our channel, so that the first requests do
	 * not get a 502 from a race at start-up. Not fatal: calls keep
	 * trying, and answer 502 while it is away. */
	if (store_connect(w.st, timeout_ms) < 0)
		fprintf(stderr,
			"web: storage at %s not reachable yet (%s); "
			"requests get 502 until it is\n",
			address, strerror(errno));
	ev_init(&w.io, on_channel);
	w.io.data = &w;
	ev_init(&w.retry, on_retry);
	w.retry.data = &w;
	ev_timer_init(&w.grace, on_grace, GRACE_S, 0);
	w.grace.data = &w;
	ev_signal_init(&w.sigterm, on_signal, SIGTERM);
	w.sigterm.data = &w;
	ev_signal_start(w.loop, &w.sigterm);
	ev_signal_init(&w.sigint, on_signal, SIGINT);
	w.sigint.data = &w;
	ev_signal_start(w.loop, &w.sigint);
	if (offer(&w) < 0) {
		perror("web: offering the channel");
		store_close(w.st);
		ev_loop_destroy(w.loop);
		return 1;
	}
	fprintf(stderr, "web: serving %s, storage at %s\n", w.path, address);
	ev_run(w.loop, 0);
	if (w.mux != NULL)
		drop_channel(&w);
	store_close(w.st);
	ev_loop_destroy(w.loop);
	return 0;
}
