/* examples/web/web.c - a small HTTP/1.1 server whose only network is one
 * vchan to the TLS terminator's domain (and, when asked, a plain TCP port).
 *
 * Each stream of the channel (examples/mux) is one client connection. With
 * -L the same server also listens on TCP, for measuring it without the
 * terminator: each TCP connection is served just like a stream (the same
 * routes, limits, and count of connections), with plain HTTP.
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
 * Usage: web [-p PORT] [-s ADDRESS] [-t MS] [-c MAXCONN] [-L HOST:PORT]
 *            [-r PORTFILE] TERMINATOR      (web --help, man/web.1)
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "examples/common/args.h"
#include "examples/common/buf.h"
#include "examples/common/net.h"
#include "examples/common/stop.h"
#include "examples/mux/link.h"
#include "examples/mux/mux.h"
#include "examples/web/http.h"
#include "examples/web/store.h"
#include "grant/grant.h"
#include "vchan/vchan.h"

#define KEY_MAX 256
/* Ring sizes of the channel, each way. */
#define RING (256u * 1024)
/* How long a stopping server waits for answers still owed. */
#define GRACE_S 5.0
/* A TCP client silent this long is dropped (the terminator does the same
 * for the channel's clients). */
#define IDLE_S 60.0
/* Unanswered bytes a TCP connection may have buffered: the same bound as a
 * stream's window, and more than the largest request. */
#define TCP_IN_MAX MUX_WINDOW

struct web;

struct op {
	struct conn *c; /* NULL once the connection has gone */
	int method;	/* 'G', 'P', 'D', 'L' */
	char key[KEY_MAX + 1];
};

struct conn {
	struct web *w;
	int fd;	     /* a TCP client's socket; -1 for a stream of the channel */
	uint32_t id; /* the stream (fd < 0) */
	ev_io io;    /* fd >= 0 */
	ev_timer idle;
	struct buf in;	  /* requests not yet answered */
	struct buf out;	  /* answers not yet sent */
	size_t req_total; /* bytes of the request being answered */
	int keep_alive;
	int closing; /* close once the answer is out */
	struct op *op;
	struct conn *prev, *next;
};

struct web {
	struct ev_loop *loop;
	const char *peer; /* the terminator's domain: an id or a name */
	struct mux_link *link;
	struct mux *mux; /* the link's, NULL while it is down */
	struct stopper stop;
	struct store *st;
	int lfd; /* the TCP listener, -1 without */
	ev_io accept_io;
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
static void conn_end(struct conn *c);

/* A stopping server ends once nothing is owed to anyone. */
static void check_done(struct web *w)
{
	if (w->stopping && w->nconns == 0 &&
	    (w->mux == NULL || mux_queued(w->mux) == 0))
		ev_break(w->loop, EVBREAK_ALL);
}

/* ---- output ---------------------------------------------------------- */

/* A JSON text being built; an allocation failure sticks. */
struct jbuf {
	struct buf b;
	int err;
};

static void jb_add(struct jbuf *b, const char *s, size_t n)
{
	if (!b->err && buf_add(&b->b, s, n) < 0)
		b->err = 1;
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
	if (buf_add(&c->out, head, (size_t)n) < 0 ||
	    buf_add(&c->out, body, len) < 0)
		c->closing = 1; /* out of memory: end the connection */
	if (c->req_total > 0) {
		buf_consume(&c->in, c->req_total);
		if (c->fd < 0)
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
		respond(c, status, "application/json",
			(const char *)buf_data(&b->b), buf_size(&b->b));
	}
	buf_free(&b->b);
}

static void respond_error(struct conn *c, int status, const char *msg)
{
	struct jbuf b = {{0}, 0};

	jb_str(&b, "{\"error\":");
	jb_json(&b, msg, strlen(msg));
	jb_str(&b, "}");
	respond_json(c, status, &b);
}

/* ---- connections ----------------------------------------------------- */

/* A new connection counts against the limit whichever way it came. */
static struct conn *conn_new(struct web *w)
{
	struct conn *c;

	if (w->stopping || w->nconns >= w->max_conns)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->w = w;
	c->fd = -1;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	return c;
}

static void conn_free(struct conn *c)
{
	struct web *w = c->w;

	if (c->fd >= 0) {
		ev_io_stop(w->loop, &c->io);
		ev_timer_stop(w->loop, &c->idle);
		close(c->fd);
	}
	if (c->op != NULL)
		c->op->c = NULL; /* the store's answer will find no one */
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void conn_end(struct conn *c)
{
	if (c->fd < 0)
		mux_close(c->w->mux, c->id);
	conn_free(c);
}

/* Queue bytes of the answer: into the stream, or the socket. Returns the
 * bytes taken (0: none now, the writable callback or watcher resumes) or
 * -1 when the connection is broken. */
static ssize_t conn_send(struct conn *c, const void *p, size_t n)
{
	ssize_t r;

	if (c->fd < 0)
		return mux_send(c->w->mux, c->id, p, n);
	r = send(c->fd, p, n, MSG_NOSIGNAL);
	if (r < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return r;
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
	case STORE_INVALID:
		respond_error(c, 400, "refused by storage");
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
	struct jbuf b = {{0}, 0};
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

/* Move what we can of the output on, then answer the next request if there
 * is one. Returns 0, or -1 when c has been freed. */
static int serve(struct conn *c)
{
	struct http_request r;

	for (;;) {
		int rc;

		while (buf_size(&c->out) > 0) {
			ssize_t n =
			    conn_send(c, buf_data(&c->out), buf_size(&c->out));
			if (n < 0) {
				conn_free(c);
				return -1;
			}
			if (n == 0)
				return 0; /* resumed when writable */
			buf_consume(&c->out, (size_t)n);
		}
		if (c->closing) {
			conn_end(c);
			return -1;
		}
		if (c->op != NULL)
			return 0; /* waiting for the storage domain */
		rc = http_parse((const char *)buf_data(&c->in),
				buf_size(&c->in), &r);
		if (rc == 0) {
			if (c->w->stopping && buf_size(&c->in) == 0) {
				conn_end(c); /* idle: nothing owed */
				return -1;
			}
			return 0;
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

/* A TCP connection waits for what it can use: more of the client's bytes
 * while it has room for them and is not closing, and for room in the socket
 * while an answer is unsent. */
static void tcp_watch(struct conn *c)
{
	struct ev_loop *loop = c->w->loop;
	int events = 0;

	if (!c->closing && buf_size(&c->in) < TCP_IN_MAX)
		events |= EV_READ;
	if (buf_size(&c->out) > 0)
		events |= EV_WRITE;
	if (ev_is_active(&c->io) &&
	    events == (c->io.events & (EV_READ | EV_WRITE)))
		return;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	if (events)
		ev_io_start(loop, &c->io);
}

/* serve(), then, for a TCP connection still there, its watcher. May free
 * c. */
static void process(struct conn *c)
{
	if (serve(c) == 0 && c->fd >= 0)
		tcp_watch(c);
}

/* ---- TCP clients ----------------------------------------------------- */

static void on_tcp_io(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;
	struct web *w = c->w;

	if (revents & EV_READ) {
		char buf[16384];
		size_t room = TCP_IN_MAX - buf_size(&c->in);
		ssize_t n = recv(c->fd, buf,
				 room < sizeof(buf) ? room : sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN &&
			       errno != EWOULDBLOCK && errno != EINTR)) {
			conn_free(c); /* the client has gone */
			check_done(w);
			return;
		}
		if (n > 0) {
			ev_timer_again(loop, &c->idle);
			if (buf_add(&c->in, buf, (size_t)n) < 0) {
				conn_free(c);
				check_done(w);
				return;
			}
		}
	}
	process(c);
	check_done(w);
}

static void on_tcp_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct conn *c = t->data;
	struct web *w = c->w;

	(void)loop;
	(void)revents;
	conn_free(c);
	check_done(w);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct web *w = io->data;

	(void)revents;
	/* A few at a time, so that a burst does not hold up the channel. */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(w->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC),
		    one = 1;
		struct conn *c;

		if (fd < 0)
			return;
		c = conn_new(w);
		if (c == NULL) {
			close(fd); /* over the limit: as a refused stream */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		ev_io_init(&c->io, on_tcp_io, fd, EV_READ);
		c->io.data = c;
		ev_io_start(loop, &c->io);
		ev_init(&c->idle, on_tcp_idle);
		c->idle.repeat = IDLE_S;
		c->idle.data = c;
		ev_timer_again(loop, &c->idle);
	}
}

/* ---- the channel ----------------------------------------------------- */

static void on_open(void *ctx, uint32_t id)
{
	struct web *w = ctx;
	struct conn *c = conn_new(w);

	if (c == NULL) {
		mux_close(w->mux, id);
		return;
	}
	c->id = id;
	mux_set_user(w->mux, id, c);
}

static void on_data(void *ctx, uint32_t id, void *user, const uint8_t *buf,
		    size_t len)
{
	struct conn *c = user;

	(void)ctx;
	(void)id;
	/* The mux's window bounds the input: at most MUX_WINDOW bytes are
	 * unconsumed, and bytes are consumed as requests are answered. */
	if (buf_add(&c->in, buf, len) < 0) {
		conn_end(c);
		return;
	}
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

static void on_up(void *ctx, struct mux *m)
{
	struct web *w = ctx;

	w->mux = m;
}

/* The channel has gone: so have its streams (TCP clients stay). The link
 * offers a new one. */
static void on_down(void *ctx, int err)
{
	struct web *w = ctx;
	struct conn *c, *next;

	if (err == EPROTO)
		fprintf(stderr, "web: the terminator broke the protocol; "
				"offering a new channel\n");
	w->mux = NULL;
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->fd < 0)
			conn_free(c);
	}
	check_done(w);
}

static void on_ran(void *ctx)
{
	check_done(ctx);
}

static const struct mux_link_cb LINK_CB = {on_up, on_down, on_ran};

/* SIGTERM: no new connections; answer what is owed, then end. */
static void begin_stop(void *ctx)
{
	struct web *w = ctx;
	struct conn *c, *next;

	w->stopping = 1;
	mux_link_hold(w->link);
	if (w->lfd >= 0) {
		ev_io_stop(w->loop, &w->accept_io);
		close(w->lfd);
		w->lfd = -1;
	}
	/* Idle connections go now; the others after their answer. */
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->op == NULL && buf_size(&c->out) == 0 &&
		    buf_size(&c->in) == 0)
			conn_end(c);
	}
	check_done(w);
}

static const char USAGE[] =
    "usage: web [OPTIONS] TERMINATOR\n"
    "Serve HTTP/1.1 over one vchan offered to the TLS terminator's domain\n"
    "TERMINATOR (each stream of the channel is one client connection),\n"
    "with the data in the storage domain. TERMINATOR is a domain id, or a\n"
    "domain's name, looked up again for each new channel (looking names\n"
    "up needs dom0's rights on Xen), or '*': a terminator of any domain,\n"
    "one at a time (a listener: see vchan-cat(1)).\n"
    "\n"
    "  -p PORT       the channel's name: it is published at\n"
    "                /local/domain/OUR_DOMID/data/vchan/TERMINATOR_ID/PORT\n"
    "                (default: http)\n"
    "  -s ADDRESS    the storage service: vchan:DOMID/PORT, unix:PATH or\n"
    "                tcp:HOST:PORT (default: vchan:1/storage)\n"
    "  -t MS         deadline of each storage call, and how long to wait\n"
    "                for the storage service at start, in milliseconds,\n"
    "                1 to 3600000 (default: 5000)\n"
    "  -c MAXCONN    most client connections at once, streams and TCP\n"
    "                together, 1 to 1000000 (default: 1024)\n"
    "  -L HOST:PORT  also serve plain HTTP on this TCP address; PORT 0\n"
    "                picks a free port (default: no TCP listener)\n"
    "  -r PORTFILE   with -L: write the TCP port to PORTFILE once\n"
    "                listening (default: none)\n"
    "  -h, --help    show this text\n"
    "\n"
    "Stops on SIGTERM or SIGINT once the answers owed are sent (at most\n"
    "5 s). Exit status: 0 stopped, 1 could not start, 2 bad arguments.\n";

/* After the line that names the bad argument. */
static int usage_error(void)
{
	fputs("usage: web [-p PORT] [-s ADDRESS] [-t MS] [-c MAXCONN] "
	      "[-L HOST:PORT [-r PORTFILE]] TERMINATOR\n"
	      "Try 'web --help'.\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option LONGOPTS[] = {
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *port = "http", *address = "vchan:1/storage";
	const char *lspec = NULL, *portfile = NULL;
	int timeout_ms = 5000, opt, lport = 0;
	struct web w;
	long v;

	memset(&w, 0, sizeof(w));
	w.max_conns = 1024;
	w.lfd = -1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:s:t:c:L:r:h", LONGOPTS,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (args_port("web", "-p", optarg) < 0)
				return usage_error();
			port = optarg;
			break;
		case 's':
			address = optarg;
			break;
		case 't':
			if (args_long("web", "-t", optarg, 1, 3600000, &v) < 0)
				return usage_error();
			timeout_ms = (int)v;
			break;
		case 'c':
			if (args_long("web", "-c", optarg, 1, 1000000, &v) < 0)
				return usage_error();
			w.max_conns = (size_t)v;
			break;
		case 'L':
			if (args_hostport("web", "-L", optarg) < 0)
				return usage_error();
			lspec = optarg;
			break;
		case 'r':
			portfile = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			args_getopt_error("web", opt, argv);
			return usage_error();
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "web: no TERMINATOR domain\n");
		return usage_error();
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "web: unexpected argument '%s'\n",
			argv[optind + 1]);
		return usage_error();
	}
	if (portfile != NULL && lspec == NULL) {
		fprintf(stderr,
			"web: -r: '%s' needs -L (it is the TCP "
			"listener's port)\n",
			portfile);
		return usage_error();
	}
	if (strcmp(argv[optind], "*") != 0 &&
	    args_domain("web", "TERMINATOR", argv[optind]) < 0)
		return usage_error();
	w.peer = argv[optind];
	/* A bad platform environment is one line, naming the variable. */
	if (vchan_platform_check() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	w.loop = ev_loop_new(EVFLAG_AUTO);
	if (w.loop == NULL) {
		fprintf(stderr, "web: no event loop\n");
		return 1;
	}
	/* The storage address is checked (parsed) before anything is
	 * opened. */
	w.st = store_open(w.loop, address, timeout_ms);
	if (w.st == NULL) {
		int bad_address = errno == EINVAL;

		if (bad_address)
			fprintf(stderr,
				"web: -s: '%s' is not vchan:DOMID/PORT, "
				"unix:PATH or tcp:HOST:PORT\n",
				address);
		else
			perror("web: storage address");
		ev_loop_destroy(w.loop);
		return bad_address ? usage_error() : 1;
	}
	if (lspec != NULL) {
		net_raise_nofile();
		w.lfd = net_listen(lspec, &lport);
		if (w.lfd < 0) {
			fprintf(stderr, "web: -L: cannot listen on %s: %s\n",
				lspec, strerror(errno));
			store_close(w.st);
			ev_loop_destroy(w.loop);
			return 1;
		}
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
	stopper_start(&w.stop, w.loop, "web", GRACE_S, begin_stop, &w);
	w.link =
	    mux_link_new(w.loop, 1, w.peer, port, RING, &OPS, &LINK_CB, &w);
	if (w.link == NULL) {
		if (errno == EADDRINUSE)
			fprintf(stderr,
				"web: offering the channel: another server "
				"is serving it (address in use)\n");
		else
			perror("web: offering the channel");
		if (w.lfd >= 0)
			close(w.lfd);
		store_close(w.st);
		ev_loop_destroy(w.loop);
		return 1;
	}
	fprintf(stderr, "web: serving %s, storage at %s\n",
		mux_link_path(w.link), address);
	if (w.lfd >= 0) {
		ev_io_init(&w.accept_io, on_accept, w.lfd, EV_READ);
		w.accept_io.data = &w;
		ev_io_start(w.loop, &w.accept_io);
		fprintf(stderr, "web: listening on %s (port %d)\n", lspec,
			lport);
		if (portfile != NULL && net_write_port(portfile, lport) < 0)
			fprintf(stderr, "web: writing %s: %s\n", portfile,
				strerror(errno));
	}
	ev_run(w.loop, 0);
	while (w.conns != NULL)
		conn_free(w.conns);
	mux_link_free(w.link);
	if (w.lfd >= 0)
		close(w.lfd);
	store_close(w.st);
	ev_loop_destroy(w.loop);
	return 0;
}
