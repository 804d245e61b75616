/* examples/mux/mux.c - many byte streams over one vchan (see mux.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/buf.h"
#include "examples/mux/mux.h"
#include "vchan/vchan.h"

#define SLOT_MASK 0xfffu
#define GEN_SHIFT 12
/* Above this many queued bytes DATA is refused; control frames are always
 * queued (they are few: at most a CLOSE and a CREDIT per stream). */
#define QUEUE_HIGH (1024u * 1024)
/* Grant credit back once this much has been consumed, not per byte. */
#define CREDIT_BATCH (MUX_WINDOW / 4)
#define IN_SIZE	     (2 * (MUX_HDR + MUX_DATA_MAX))

struct stream {
	uint32_t id;
	int open;
	int blocked;	   /* a send was cut short: tell when to retry */
	uint32_t credit;   /* bytes we may still send */
	uint32_t window;   /* bytes the peer may still send */
	uint32_t unacked;  /* received, not yet consumed */
	uint32_t consumed; /* consumed, not yet granted back */
	void *user;
};

struct mux {
	struct vchan *ch;
	const struct mux_ops *ops;
	void *ctx;
	int dead;     /* errno of the failure, 0 while alive */
	uint32_t gen; /* generation of the next opened stream */
	size_t nopen;
	size_t any_blocked;
	struct buf out; /* frames not yet in the ring */
	uint8_t in[IN_SIZE];
	size_t in_len;
	struct stream s[MUX_MAX_STREAMS];
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

struct mux *mux_new(struct vchan *ch, const struct mux_ops *ops, void *ctx)
{
	struct mux *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->ch = ch;
	m->ops = ops;
	m->ctx = ctx;
	m->gen = 1;
	vchan_set_blocking(ch, 0);
	return m;
}

void mux_free(struct mux *m)
{
	if (m == NULL)
		return;
	vchan_close(m->ch);
	buf_free(&m->out);
	free(m);
}

int mux_fd(const struct mux *m)
{
	return vchan_fd(m->ch);
}

static int fail(struct mux *m, int err)
{
	if (m->dead == 0)
		m->dead = err;
	errno = m->dead;
	return -1;
}

static int flush(struct mux *m)
{
	while (buf_size(&m->out) > 0) {
		ssize_t n =
		    vchan_write(m->ch, buf_data(&m->out), buf_size(&m->out));
		if (n < 0)
			return fail(m, errno == EPROTO ? EPROTO : EPIPE);
		if (n == 0)
			break; /* the write asked the peer for an event */
		buf_consume(&m->out, (size_t)n);
	}
	return 0;
}

/* Append a frame to the queue (and try to pass it on at once: a ring
 * write is a copy, and the peer gets an event only if it asked for one). */
static int queue(struct mux *m, uint32_t id, uint8_t type, const void *p,
		 size_t len)
{
	uint8_t *h = buf_extend(&m->out, MUX_HDR + len);

	if (h == NULL)
		return fail(m, ENOMEM);
	put32(h, id);
	h[4] = type;
	h[5] = 0;
	h[6] = (uint8_t)len;
	h[7] = (uint8_t)(len >> 8);
	if (len > 0)
		memcpy(h + MUX_HDR, p, len);
	return flush(m);
}

static struct stream *lookup(struct mux *m, uint32_t id)
{
	struct stream *s = &m->s[id & SLOT_MASK];

	return s->open && s->id == id ? s : NULL;
}

size_t mux_streams(const struct mux *m)
{
	return m->nopen;
}

size_t mux_queued(const struct mux *m)
{
	return buf_size(&m->out);
}

static void stream_init(struct mux *m, struct stream *s, uint32_t id,
			void *user)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->open = 1;
	s->credit = MUX_WINDOW;
	s->window = MUX_WINDOW;
	s->user = user;
	m->nopen++;
}

static void stream_forget(struct mux *m, struct stream *s)
{
	s->open = 0;
	s->user = NULL;
	m->nopen--;
}

int64_t mux_open(struct mux *m, void *user)
{
	/* Start the search after the last generation's slot so that slots
	 * are reused round-robin, not the same one over and over. */
	uint32_t start = m->gen & SLOT_MASK;

	if (m->dead)
		return fail(m, m->dead);
	for (uint32_t i = 0; i < MUX_MAX_STREAMS; i++) {
		uint32_t slot = (start + i) & SLOT_MASK;
		uint32_t id;

		if (m->s[slot].open)
			continue;
		id = (m->gen << GEN_SHIFT) | slot;
		m->gen = (m->gen + 1) & (UINT32_MAX >> GEN_SHIFT);
		stream_init(m, &m->s[slot], id, user);
		if (queue(m, id, MUX_OPEN, NULL, 0) < 0)
			return -1;
		return id;
	}
	errno = EAGAIN;
	return -1;
}

int mux_set_user(struct mux *m, uint32_t id, void *user)
{
	struct stream *s = lookup(m, id);

	if (s == NULL) {
		errno = ENOENT;
		return -1;
	}
	s->user = user;
	return 0;
}

ssize_t mux_send(struct mux *m, uint32_t id, const void *buf, size_t len)
{
	struct stream *s = lookup(m, id);
	const uint8_t *p = buf;
	size_t done = 0;

	if (m->dead)
		return fail(m, m->dead);
	if (s == NULL) {
		errno = ENOENT;
		return -1;
	}
	while (done < len) {
		size_t n = len - done;

		if (n > MUX_DATA_MAX)
			n = MUX_DATA_MAX;
		if (n > s->credit)
			n = s->credit;
		if (n == 0 || mux_queued(m) >= QUEUE_HIGH)
			break;
		if (queue(m, id, MUX_DATA, p + done, n) < 0)
			return -1;
		s->credit -= (uint32_t)n;
		done += n;
	}
	if (done < len && !s->blocked) {
		s->blocked = 1;
		m->any_blocked++;
	}
	return (ssize_t)done;
}

int mux_close(struct mux *m, uint32_t id)
{
	struct stream *s = lookup(m, id);

	if (m->dead)
		return fail(m, m->dead);
	if (s == NULL)
		return 0;
	if (s->blocked)
		m->any_blocked--;
	stream_forget(m, s);
	return queue(m, id, MUX_CLOSE, NULL, 0);
}

int mux_consumed(struct mux *m, uint32_t id, size_t n)
{
	struct stream *s = lookup(m, id);
	uint8_t p[4];

	if (m->dead)
		return fail(m, m->dead);
	if (s == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (n > s->unacked) {
		errno = EINVAL;
		return -1;
	}
	s->unacked -= (uint32_t)n;
	s->consumed += (uint32_t)n;
	/* A peer that has used its whole window is owed at least
	 * MUX_WINDOW - CREDIT_BATCH, so batching never stalls it. */
	if (s->consumed < CREDIT_BATCH)
		return 0;
	put32(p, s->consumed);
	s->window += s->consumed;
	s->consumed = 0;
	return queue(m, id, MUX_CREDIT, p, sizeof(p));
}

static void wake(struct mux *m, struct stream *s)
{
	if (!s->blocked)
		return;
	s->blocked = 0;
	m->any_blocked--;
	m->ops->writable(m->ctx, s->id, s->user);
}

/* One frame of the input. Returns 0 or -1 (protocol error). */
static int frame(struct mux *m, uint32_t id, uint8_t type, const uint8_t *p,
		 size_t len)
{
	struct stream *s = &m->s[id & SLOT_MASK];
	int mine = s->open && s->id == id;

	switch (type) {
	case MUX_OPEN:
		if (len != 0 || s->open)
			return -1;
		stream_init(m, s, id, NULL);
		m->ops->open(m->ctx, id);
		return 0;
	case MUX_DATA:
		if (len == 0 || len > MUX_DATA_MAX)
			return -1;
		if (!mine)
			return 0;
		if (len > s->window)
			return -1;
		s->window -= (uint32_t)len;
		s->unacked += (uint32_t)len;
		m->ops->data(m->ctx, id, s->user, p, len);
		return 0;
	case MUX_CLOSE:
		if (len != 0)
			return -1;
		if (mine) {
			void *user = s->user;

			if (s->blocked)
				m->any_blocked--;
			stream_forget(m, s);
			m->ops->close(m->ctx, id, user);
		}
		return 0;
	case MUX_CREDIT:
		if (len != 4)
			return -1;
		if (!mine)
			return 0;
		if (get32(p) > MUX_WINDOW - s->credit)
			return -1;
		s->credit += get32(p);
		wake(m, s);
		return 0;
	default:
		return -1;
	}
}

/* Deliver the complete frames of the input buffer. */
static int parse(struct mux *m)
{
	size_t off = 0;
	int rc = 0;

	while (m->in_len - off >= MUX_HDR) {
		/* Copy the header: the payload pointer handed to a callback
		 * stays in our own buffer, never in the shared ring. */
		const uint8_t *h = m->in + off;
		uint32_t id = get32(h);
		uint8_t type = h[4];
		size_t len = (size_t)h[6] | (size_t)h[7] << 8;

		if (h[5] != 0 || (id & SLOT_MASK) >= MUX_MAX_STREAMS ||
		    len > MUX_DATA_MAX) {
			rc = -1;
			break;
		}
		if (m->in_len - off < MUX_HDR + len)
			break;
		if (frame(m, id, type, h + MUX_HDR, len) < 0) {
			rc = -1;
			break;
		}
		off += MUX_HDR + len;
		if (m->dead)
			break;
	}
	memmove(m->in, m->in + off, m->in_len - off);
	m->in_len -= off;
	return rc < 0 ? fail(m, EPROTO) : 0;
}

/* Tell blocked streams that the queue has room again. */
static void wake_all(struct mux *m)
{
	if (m->any_blocked == 0 || mux_queued(m) >= QUEUE_HIGH / 2)
		return;
	for (uint32_t i = 0; i < MUX_MAX_STREAMS && m->any_blocked > 0; i++) {
		struct stream *s = &m->s[i];

		if (s->open && s->blocked && s->credit > 0)
			wake(m, s);
	}
}

int mux_run(struct mux *m)
{
	int progress;

	if (m->dead)
		return fail(m, m->dead);
	/* Consume the pending events first, then look at the rings: an
	 * event that comes after this is for data we have not seen yet. */
	if (vchan_wait(m->ch, 0) < 0 && errno != EINTR)
		return fail(m, errno == EPROTO ? EPROTO : EPIPE);
	do {
		ssize_t n;

		progress = 0;
		if (flush(m) < 0)
			return -1;
		wake_all(m);
		if (m->dead)
			return fail(m, m->dead);
		n = vchan_read(m->ch, m->in + m->in_len,
			       sizeof(m->in) - m->in_len);
		if (n < 0)
			return fail(m, errno == EPROTO ? EPROTO : EPIPE);
		if (n > 0) {
			m->in_len += (size_t)n;
			progress = 1;
		}
		if (parse(m) < 0)
			return -1;
	} while (progress && !m->dead);
	return m->dead ? fail(m, m->dead) : 0;
}
