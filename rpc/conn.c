/* rpc/conn.c - addresses, transports, buffers and frames of one rpc
 * connection. */
#include "config.h"

#include "rpc/codec.h"
#include "rpc/conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/rpc.h"
#include "rpc/sock.h"
#include "rpc/tls.h"
#include "vchan/vchan.h"

/* Read in chunks of at least this much, so that many small frames cost one
 * read call. */
#define READ_CHUNK (64u * 1024)

struct vchan_rpc_conn {
	struct vchan *vc;	  /* NULL for a socket */
	struct vchan_connect *pc; /* a vchan connect in progress, or NULL */
	int fd;
	struct rpc_tls *tls; /* a tls: socket's session, else NULL */
	int tls_ready;	     /* its handshake is done: frames may go */
	size_t max_message;
	int dead;	/* 0 or the vchan_rpc_status it ended with */
	int eof;	/* the peer sends no more (it may still read) */
	int spin_first; /* the loop calls vchan_rpc_conn_spin before sleeping */
	uint8_t *in;
	size_t in_off, in_len, in_cap; /* unparsed bytes: [in_off, in_len) */
	size_t skip;		       /* body bytes still to discard */
	uint8_t *out;
	size_t out_off, out_len, out_cap; /* unsent bytes: [out_off, out_len) */
};

uint32_t vchan_rpc_name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

uint16_t vchan_rpc_deadline_encode(int64_t ms)
{
	unsigned e = 0;

	if (ms <= 0)
		return 0;
	while (e < 15 && (ms >> e) > 0xfff)
		e++;
	if ((ms >> e) > 0xfff)
		return 0xffff; /* beyond the largest: the largest */
	return (uint16_t)(e << 12 | (unsigned)(ms >> e));
}

int64_t vchan_rpc_deadline_decode(uint16_t v)
{
	if ((v & 0xfff) == 0)
		return -1;
	return (int64_t)(v & 0xfff) << (v >> 12);
}

int vchan_rpc_status_sendable(int status)
{
	return (status >= VCHAN_RPC_UNKNOWN_SERVICE &&
		status <= VCHAN_RPC_TOO_LARGE) ||
	       status == VCHAN_RPC_INVALID_ARGUMENT;
}

int64_t vchan_rpc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int einval(void)
{
	errno = EINVAL;
	return -1;
}

static int port_name_ok(const char *s)
{
	if (*s == '\0' ||
	    strlen(s) >= sizeof(((struct vchan_rpc_addr *)0)->name))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

int vchan_rpc_addr_parse(const char *s, struct vchan_rpc_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL)
		return einval();
	if (strncmp(s, "vchan:", 6) == 0) {
		const char *slash = strchr(s + 6, '/');
		char *end;
		unsigned long d;
		size_t dl;

		s += 6;
		if (slash == NULL || !port_name_ok(slash + 1))
			return einval();
		dl = (size_t)(slash - s);
		if (dl == 0 || dl >= sizeof(a->domain))
			return einval();
		a->kind = VCHAN_RPC_ADDR_VCHAN;
		if (dl == 1 && *s == '*') {
			a->many = 1;
		} else if (memchr(s, ',', dl) != NULL) {
			/* "1,2,3": ids only, each 0..32751, at most the
			 * listener's allow-list. */
			a->many = 1;
			for (const char *p = s; p <= slash; p++) {
				if (a->nallow == VCHAN_LISTEN_ALLOW_MAX ||
				    *p < '0' || *p > '9')
					return einval();
				errno = 0;
				d = strtoul(p, &end, 10);
				if (errno != 0 || d > 32751 ||
				    (end != slash && *end != ','))
					return einval();
				a->allow[a->nallow++] = (uint32_t)d;
				p = end;
			}
		} else if (*s >= '0' && *s <= '9') {
			errno = 0;
			d = strtoul(s, &end, 10);
			if (end != slash || errno != 0 || d > 32751)
				return einval();
			a->domid = (uint32_t)d;
		} else {
			memcpy(a->domain, s, dl);
			a->domain[dl] = '\0';
		}
		strcpy(a->name, slash + 1);
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		if (*s == '\0' || strlen(s) >= sizeof(a->name))
			return einval();
		a->kind = VCHAN_RPC_ADDR_UNIX;
		strcpy(a->name, s);
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "tls:", 4) == 0) {
		const char *colon = strrchr(s + 4, ':');
		int tls = s[1] == 'l';
		unsigned long port;
		size_t hl;

		s += 4;
		if (colon == NULL || colon[1] == '\0' ||
		    strlen(colon + 1) >= sizeof(a->service))
			return einval();
		if (*s == '[') { /* [v6]:port */
			s++;
			if (colon == s || colon[-1] != ']')
				return einval();
			hl = (size_t)(colon - 1 - s);
		} else {
			hl = (size_t)(colon - s);
		}
		if (hl == 0 || hl >= sizeof(a->host))
			return einval();
		memcpy(a->host, s, hl);
		a->host[hl] = '\0';
		strcpy(a->service, colon + 1);
		/* A port is 1..65535: getaddrinfo would take 99999 modulo
		 * 65536. */
		port = 0;
		for (const char *p = a->service; *p; p++) {
			if (*p < '0' || *p > '9')
				return einval();
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return einval();
		}
		if (port == 0)
			return einval();
		a->kind = tls ? VCHAN_RPC_ADDR_TLS : VCHAN_RPC_ADDR_TCP;
		return 0;
	}
	return einval();
}

static struct vchan_rpc_conn *conn_alloc(size_t max_message)
{
	struct vchan_rpc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->max_message = max_message;
	return c;
}

struct vchan_rpc_conn *vchan_rpc_conn_idle(size_t max_message)
{
	return conn_alloc(max_message);
}

void vchan_rpc_conn_adopt(struct vchan_rpc_conn *to,
			  struct vchan_rpc_conn *from)
{
	uint8_t *out = to->out;
	size_t cap = to->out_cap;

	to->out = from->out;
	to->out_off = from->out_off;
	to->out_len = from->out_len;
	to->out_cap = from->out_cap;
	from->out = out;
	from->out_off = from->out_len = 0;
	from->out_cap = cap;
}

struct vchan_rpc_conn *vchan_rpc_conn_from_fd(int fd, size_t max_message)
{
	struct vchan_rpc_conn *c = conn_alloc(max_message);

	if (c == NULL) {
		rpc_sock_close(fd);
		return NULL;
	}
	c->fd = fd;
	rpc_sock_setup(fd);
	return c;
}

static void take_vchan(struct vchan_rpc_conn *c, struct vchan *vc)
{
	c->vc = vc;
	vchan_set_blocking(vc, 0);
	vchan_set_spin_first(vc, c->spin_first);
}

struct vchan_rpc_conn *vchan_rpc_conn_from_vchan(struct vchan *vc,
						 size_t max_message)
{
	struct vchan_rpc_conn *c = conn_alloc(max_message);

	if (c == NULL) {
		vchan_close(vc);
		return NULL;
	}
	take_vchan(c, vc);
	return c;
}

int vchan_rpc_addr_domid(const struct vchan_rpc_addr *a)
{
	if (a->domain[0] == '\0')
		return (int)a->domid;
	return vchan_domid_lookup(a->domain);
}

static struct vchan_rpc_conn *open_vchan(const struct vchan_rpc_addr *a,
					 int timeout_ms, size_t max_message,
					 int *pending)
{
	int domid = a->many ? einval() : vchan_rpc_addr_domid(a);
	struct vchan_rpc_conn *c;
	struct vchan_connect *pc;
	struct vchan *vc;

	if (domid < 0)
		return NULL;
	if (timeout_ms != VCHAN_RPC_CONN_ASYNC &&
	    timeout_ms != VCHAN_RPC_CONN_ASYNC_WAIT) {
		vc = vchan_client_connect_port((uint32_t)domid, a->name,
					       timeout_ms);
		return vc != NULL ? vchan_rpc_conn_from_vchan(vc, max_message)
				  : NULL;
	}
	/* Without blocking: a listener answers our request later. */
	pc = vchan_connect_start((uint32_t)domid, a->name);
	if (pc == NULL)
		return NULL;
	vc = vchan_connect_step(pc);
	/* Only a listener that has our request is worth waiting for: with
	 * nobody there, the caller hears so at once, as from a socket. */
	if (vc == NULL && errno == EAGAIN &&
	    timeout_ms != VCHAN_RPC_CONN_ASYNC_WAIT &&
	    vchan_connect_requested(pc) != 1)
		errno = ECONNREFUSED;
	if (vc != NULL || errno != EAGAIN) {
		vchan_connect_cancel(pc);
		return vc != NULL ? vchan_rpc_conn_from_vchan(vc, max_message)
				  : NULL;
	}
	c = conn_alloc(max_message);
	if (c == NULL) {
		vchan_connect_cancel(pc);
		return NULL;
	}
	c->pc = pc;
	*pending = 1;
	return c;
}

static struct vchan_rpc_conn *open_socket(const struct vchan_rpc_addr *a,
					  size_t max_message, int *pending)
{
	int fd = rpc_sock_connect(a, pending);

	if (fd < 0)
		return NULL;
	return vchan_rpc_conn_from_fd(fd, max_message);
}

struct vchan_rpc_conn *vchan_rpc_conn_open(const struct vchan_rpc_addr *a,
					   int timeout_ms, size_t max_message,
					   int *pending)
{
	*pending = 0;
	if (a->kind == VCHAN_RPC_ADDR_VCHAN)
		return open_vchan(a, timeout_ms, max_message, pending);
	return open_socket(a, max_message, pending);
}

int vchan_rpc_conn_step(struct vchan_rpc_conn *c)
{
	struct vchan *vc;

	if (c->pc == NULL)
		return 1;
	vc = vchan_connect_step(c->pc);
	if (vc == NULL)
		return errno == EAGAIN ? 0 : -1;
	vchan_connect_cancel(c->pc);
	c->pc = NULL;
	take_vchan(c, vc);
	return 1;
}

int vchan_rpc_conn_start_tls(struct vchan_rpc_conn *c, struct rpc_tls_ctx *x,
			     const char *host)
{
	c->tls = rpc_tls_new(x, c->fd, host);
	return c->tls != NULL ? 0 : -1;
}

int vchan_rpc_conn_connected(struct vchan_rpc_conn *c)
{
	return rpc_sock_connected(c->fd);
}

int vchan_rpc_conn_wait_connected(struct vchan_rpc_conn *c, int timeout_ms)
{
	/* The handshake gets the time given again: this is for program
	 * start, where a bound is what matters, not its precision. */
	if (rpc_sock_wait_connected(c->fd, timeout_ms) < 0)
		return -1;
	if (c->tls != NULL && rpc_tls_wait_handshake(c->tls, timeout_ms) < 0) {
		vchan_rpc_conn_kill(c, VCHAN_RPC_PEER_GONE);
		return -1;
	}
	return 0;
}

int vchan_rpc_conn_want_write(const struct vchan_rpc_conn *c)
{
	if (c->tls != NULL && rpc_tls_want_write(c->tls))
		return 1;
	/* Frames wait for a handshake that waits for the peer: writability
	 * would only wake us in vain. */
	if (c->tls != NULL && !c->tls_ready)
		return 0;
	return c->out_off < c->out_len;
}

const char *vchan_rpc_conn_why(const struct vchan_rpc_conn *c)
{
	return c->tls != NULL ? rpc_tls_why(c->tls) : "";
}

void vchan_rpc_conn_free(struct vchan_rpc_conn *c)
{
	if (c == NULL)
		return;
	if (c->vc != NULL)
		vchan_close(c->vc);
	vchan_connect_cancel(c->pc);
	rpc_tls_free(c->tls); /* before its socket */
	if (c->fd >= 0)
		rpc_sock_close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

int vchan_rpc_conn_fd(const struct vchan_rpc_conn *c)
{
	if (c->pc != NULL)
		return vchan_connect_fd(c->pc);
	return c->vc != NULL ? vchan_fd(c->vc) : c->fd;
}

int vchan_rpc_conn_is_socket(const struct vchan_rpc_conn *c)
{
	return c->vc == NULL && c->pc == NULL;
}

int vchan_rpc_conn_peer_gone(struct vchan_rpc_conn *c)
{
	return c->vc != NULL && vchan_is_open(c->vc) == VCHAN_CLOSED;
}

int vchan_rpc_conn_waiting(struct vchan_rpc_conn *c)
{
	return c->vc != NULL && vchan_is_open(c->vc) == VCHAN_WAITING;
}

void vchan_rpc_conn_events(struct vchan_rpc_conn *c)
{
	if (c->vc != NULL && vchan_wait(c->vc, 0) < 0 && errno != EINTR)
		vchan_rpc_conn_kill(c, errno == EPROTO
					   ? VCHAN_RPC_PROTOCOL_ERROR
					   : VCHAN_RPC_PEER_GONE);
}

void vchan_rpc_conn_spin_first(struct vchan_rpc_conn *c)
{
	c->spin_first = 1;
	if (c->vc != NULL)
		vchan_set_spin_first(c->vc, 1);
}

int vchan_rpc_conn_spin(struct vchan_rpc_conn *c, int spin)
{
	if (c->vc == NULL || c->dead || c->eof)
		return 0;
	/* A poisoned channel (-1) needs looking at now too: the read that
	 * follows ends the connection. */
	return (spin ? vchan_spin(c->vc) : vchan_ask(c->vc)) != 0;
}

int vchan_rpc_conn_dead(const struct vchan_rpc_conn *c)
{
	return c->dead;
}

int vchan_rpc_conn_eof(const struct vchan_rpc_conn *c)
{
	return c->eof;
}

void vchan_rpc_conn_kill(struct vchan_rpc_conn *c, int status)
{
	if (c->dead == 0)
		c->dead = status;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	uint8_t *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* Room the input buffer needs: a chunk, or the whole of a frame already
 * announced (its size was checked against max_message). */
static size_t in_need(const struct vchan_rpc_conn *c)
{
	size_t avail = c->in_len - c->in_off, need = READ_CHUNK;

	if (c->skip == 0 && avail >= VCHAN_RPC_HDR_SIZE) {
		uint32_t len = get32(c->in + c->in_off + 16);

		if (len <= c->max_message &&
		    VCHAN_RPC_HDR_SIZE + (size_t)len > need)
			need = VCHAN_RPC_HDR_SIZE + (size_t)len;
	}
	return need;
}

static ssize_t tr_read(struct vchan_rpc_conn *c, void *buf, size_t len)
{
	if (c->vc != NULL)
		return vchan_read(c->vc, buf, len);
	if (c->tls != NULL)
		return rpc_tls_read(c->tls, buf, len);
	return rpc_sock_read(c->fd, buf, len);
}

static ssize_t tr_write(struct vchan_rpc_conn *c, const void *buf, size_t len)
{
	if (c->vc != NULL)
		return vchan_write(c->vc, buf, len);
	if (c->tls != NULL)
		return rpc_tls_write(c->tls, buf, len);
	return rpc_sock_write(c->fd, buf, len);
}

/* The status of a connection whose read or write failed with errno: a
 * vchan's EPROTO is its peer breaking the ring's rules; a TLS session's
 * failures, EPROTO too, are the connection's (rpc_tls_why says which). */
static int failure(const struct vchan_rpc_conn *c)
{
	return errno == EPROTO && c->tls == NULL ? VCHAN_RPC_PROTOCOL_ERROR
						 : VCHAN_RPC_PEER_GONE;
}

int vchan_rpc_conn_fill(struct vchan_rpc_conn *c)
{
	size_t need;

	if (c->dead || c->eof)
		return 0;
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	need = in_need(c);
	if (reserve(&c->in, &c->in_cap, need) < 0) {
		vchan_rpc_conn_kill(c, VCHAN_RPC_PEER_GONE);
		return 0;
	}
	while (c->in_len < c->in_cap) {
		size_t want = c->in_cap - c->in_len;
		ssize_t n = tr_read(c, c->in + c->in_len, want);

		if (n == 0)
			return 0;
		/* The end of the stream is not the end of the connection:
		 * frames that came before it (maybe in this very call) are
		 * still to be taken and answered, and a socket's peer that
		 * only shut down its writing side still reads. */
		if (n < 0 && errno == EPIPE) {
			c->eof = 1;
			return 0;
		}
		if (n < 0) {
			vchan_rpc_conn_kill(c, failure(c));
			return 0;
		}
		c->in_len += (size_t)n;
		/* A vchan's short count has asked the peer for an event and
		 * looked at the ring once more after asking (vchan.h): a
		 * second read would find nothing, at the cost of asking
		 * again. Unless the peer has closed: the next read is then
		 * the one that says the stream has ended. */
		if (c->vc != NULL && (size_t)n < want &&
		    vchan_is_open(c->vc) == VCHAN_CONNECTED)
			return 0;
	}
	return 1;
}

int vchan_rpc_conn_next(struct vchan_rpc_conn *c, struct vchan_rpc_hdr *h,
			const uint8_t **body)
{
	const uint8_t *p;
	size_t avail = c->in_len - c->in_off;

	if (c->skip > 0) {
		size_t k = avail < c->skip ? avail : c->skip;

		c->in_off += k;
		c->skip -= k;
		avail -= k;
		if (c->skip > 0)
			return 0;
	}
	if (avail < VCHAN_RPC_HDR_SIZE)
		return 0;
	/* The header is copied out of the buffer once: for a vchan the
	 * buffer is private memory already, so nothing here can change
	 * under us. */
	p = c->in + c->in_off;
	h->version = p[0];
	h->kind = p[1];
	h->status = (uint16_t)(p[2] | p[3] << 8);
	h->id = get32(p + 4);
	h->service = get32(p + 8);
	h->method = get32(p + 12);
	h->len = get32(p + 16);
	if (h->version != VCHAN_RPC_WIRE_VERSION ||
	    (h->kind != VCHAN_RPC_KIND_REQUEST &&
	     h->kind != VCHAN_RPC_KIND_REPLY)) {
		vchan_rpc_conn_kill(c, VCHAN_RPC_PROTOCOL_ERROR);
		return -1;
	}
	if (h->len > c->max_message) {
		/* Too large for us: drop the body as it comes and let the
		 * caller answer for this frame alone. */
		c->in_off += VCHAN_RPC_HDR_SIZE;
		c->skip = h->len;
		*body = NULL;
		return 1;
	}
	if (avail < VCHAN_RPC_HDR_SIZE + (size_t)h->len)
		return 0;
	*body = p + VCHAN_RPC_HDR_SIZE;
	c->in_off += VCHAN_RPC_HDR_SIZE + (size_t)h->len;
	return 1;
}

/* Room for a frame of `len` body bytes at the end of the output buffer,
 * its header written; returns where the body goes, or NULL. */
static uint8_t *queue_frame(struct vchan_rpc_conn *c, struct vchan_rpc_hdr *h,
			    size_t len)
{
	uint8_t *p;

	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_off > 0 && c->out_off >= c->out_cap / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (reserve(&c->out, &c->out_cap,
		    c->out_len + VCHAN_RPC_HDR_SIZE + len) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	p = c->out + c->out_len;
	h->version = VCHAN_RPC_WIRE_VERSION;
	h->len = (uint32_t)len;
	p[0] = h->version;
	p[1] = h->kind;
	p[2] = (uint8_t)h->status;
	p[3] = (uint8_t)(h->status >> 8);
	put32(p + 4, h->id);
	put32(p + 8, h->service);
	put32(p + 12, h->method);
	put32(p + 16, h->len);
	c->out_len += VCHAN_RPC_HDR_SIZE + len;
	return p + VCHAN_RPC_HDR_SIZE;
}

int vchan_rpc_conn_queue(struct vchan_rpc_conn *c, struct vchan_rpc_hdr *h,
			 const struct rpc_codec_prep *msg)
{
	uint8_t *body = queue_frame(c, h, msg != NULL ? msg->size : 0);

	if (body == NULL)
		return -1;
	if (msg != NULL)
		rpc_codec_write(msg, body);
	return 0;
}

int vchan_rpc_conn_queue_bytes(struct vchan_rpc_conn *c,
			       struct vchan_rpc_hdr *h, const void *body,
			       size_t len)
{
	uint8_t *p = queue_frame(c, h, len);

	if (p == NULL)
		return -1;
	if (len > 0)
		memcpy(p, body, len);
	return 0;
}

size_t vchan_rpc_conn_queued(const struct vchan_rpc_conn *c)
{
	return c->out_len - c->out_off;
}

int vchan_rpc_conn_flush(struct vchan_rpc_conn *c)
{
	/* A client's handshake starts here, before any call is queued, so
	 * that a refusal is seen as soon as it comes. */
	if (c->tls != NULL && !c->tls_ready && !c->dead) {
		int r = rpc_tls_handshake(c->tls);

		if (r < 0)
			vchan_rpc_conn_kill(c, VCHAN_RPC_PEER_GONE);
		if (r <= 0)
			return 0;
		c->tls_ready = 1;
	}
	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n =
		    tr_write(c, c->out + c->out_off, c->out_len - c->out_off);

		if (n == 0)
			break;
		if (n < 0) {
			vchan_rpc_conn_kill(c, failure(c));
			break;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return 0;
}

static void *arena_alloc(void *data, size_t size)
{
	struct vchan_rpc_arena *ar = data;
	size_t al = _Alignof(max_align_t);

	/* `used` stays a multiple of the alignment, as the size is. */
	if (size <= sizeof(ar->buf) - ar->used) {
		void *p = ar->buf.b + ar->used;

		ar->used += (size + al - 1) / al * al;
		return p;
	}
	ar->spilled++;
	return malloc(size);
}

static void arena_free(void *data, void *p)
{
	struct vchan_rpc_arena *ar = data;
	uintptr_t b = (uintptr_t)p, start = (uintptr_t)ar->buf.b;

	/* What the arena holds goes with it. */
	if (b >= start && b - start < sizeof(ar->buf))
		return;
	free(p);
}

ProtobufCMessage *vchan_rpc_arena_unpack(struct vchan_rpc_arena *ar,
					 const struct rpc_codec_plan *pl,
					 const ProtobufCMessageDescriptor *d,
					 size_t len, const uint8_t *data)
{
	ProtobufCMessage *m;

	ar->a.alloc = arena_alloc;
	ar->a.free = arena_free;
	ar->a.allocator_data = ar;
	ar->used = 0;
	ar->spilled = 0;
	if (pl != NULL &&
	    (m = rpc_codec_flat_unpack(pl, &ar->a, len, data)) != NULL)
		return m;
	/* Left to protobuf-c: what the one-pass decoder took is free again
	 * (it gave back what went to malloc). */
	ar->used = 0;
	ar->spilled = 0;
	return protobuf_c_message_unpack(d, &ar->a, len, data);
}

void vchan_rpc_arena_free(struct vchan_rpc_arena *ar, ProtobufCMessage *m)
{
	/* All of it in the arena: nothing to walk. */
	if (m != NULL && ar->spilled > 0)
		protobuf_c_message_free_unpacked(m, &ar->a);
}
