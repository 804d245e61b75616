/* vchan/data.c - the data calls: stream and packet reads and writes,
 * zero-copy reserve/commit and peek/consume, and the ring's fill levels.
 * The ring protocol is ring.c's; a call that cannot go on waits in
 * wait.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vchan/channel.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"
#include "vchan/wait.h"

static int kick(struct vchan *ch, int k)
{
	return k ? vchan_evt_notify(ch->evt, ch->port) : 0;
}

static int epipe(void)
{
	errno = EPIPE;
	return -1;
}

static int iov_total(const struct iovec *iov, int iovcnt, size_t *total)
{
	size_t t = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0))
		goto bad;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - t)
			goto bad;
		if (iov[i].iov_base == NULL && iov[i].iov_len != 0)
			goto bad;
		t += iov[i].iov_len;
	}
	*total = t;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Read `total` bytes (all of them when `all`) into iov. */
static ssize_t do_read(struct vchan *ch, const struct iovec *iov, int iovcnt,
		       size_t total, int all)
{
	struct stall s = {0};
	size_t done = 0;

	if (all && total > ch->ring.rd.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int k = 0, st = vchan_ring_state(&ch->ring);
		long n;

		if (st < 0)
			return -1;
		n = vchan_ring_read(&ch->ring, iov, iovcnt, done, total - done,
				    all, &k);
		if (n < 0)
			return -1;
		if (n > 0) {
			if (kick(ch, k) < 0)
				return -1;
			done += (size_t)n;
			if (done == total)
				return (ssize_t)done;
			/* A short read. A spin-first loop asks before it polls:
			 * nothing to ask, no race to look again for. Else ask
			 * for the next write before looking once more, so that
			 * a caller who polls the fd after a short count is
			 * woken when more comes. */
			if (vchan_asks_later(ch))
				return (ssize_t)done;
			vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_WRITE);
			continue;
		}
		if (done > 0)
			return (ssize_t)done;
		/* The state was loaded before the indexes: closed and empty
		 * means nothing more can come. */
		if (st == VCHAN_CLOSED)
			return epipe();
		n = vchan_stall(ch, &s, VCHAN_RING_NOTIFY_WRITE);
		if (n <= 0)
			return n;
	}
}

/* Write iov (`total` bytes): as a packet when `all`, else as a stream
 * (everything when blocking, what fits otherwise). */
static ssize_t do_write(struct vchan *ch, const struct iovec *iov, int iovcnt,
			size_t total, int all)
{
	struct stall s = {0};
	size_t done = 0;

	if (all && total > ch->ring.wr.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int k = 0, st = vchan_ring_state(&ch->ring);
		long n;

		if (st < 0)
			return -1;
		if (st == VCHAN_CLOSED)
			return done > 0 ? (ssize_t)done : epipe();
		n = vchan_ring_write(&ch->ring, iov, iovcnt, done, total - done,
				     all, &k);
		if (n < 0)
			return -1;
		if (n > 0) {
			if (kick(ch, k) < 0)
				return -1;
			done += (size_t)n;
			if (done == total) {
				ch->want_space = 0;
				return (ssize_t)done;
			}
			s = (struct stall){0};
		}
		n = vchan_stall(ch, &s, VCHAN_RING_NOTIFY_READ);
		if (n < 0)
			return done > 0 && errno == EINTR ? (ssize_t)done : -1;
		if (n == 0)
			return (ssize_t)done;
	}
}

ssize_t vchan_readv(struct vchan *ch, const struct iovec *iov, int iovcnt)
{
	size_t total;

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(iov, iovcnt, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (total == 0)
		return 0;
	return do_read(ch, iov, iovcnt, total, 0);
}

ssize_t vchan_writev(struct vchan *ch, const struct iovec *iov, int iovcnt)
{
	size_t total;

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(iov, iovcnt, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (total == 0)
		return 0;
	return do_write(ch, iov, iovcnt, total, 0);
}

ssize_t vchan_read(struct vchan *ch, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};

	return vchan_readv(ch, &iov, 1);
}

ssize_t vchan_write(struct vchan *ch, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

	return vchan_writev(ch, &iov, 1);
}

ssize_t vchan_recv(struct vchan *ch, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	size_t total;

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(&iov, 1, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 0;
	return do_read(ch, &iov, 1, len, 1);
}

ssize_t vchan_send(struct vchan *ch, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	size_t total;

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(&iov, 1, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 0;
	return do_write(ch, &iov, 1, len, 1);
}

int vchan_reserve(struct vchan *ch, size_t len, struct iovec seg[2])
{
	struct stall s = {0};

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || seg == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (len > ch->ring.wr.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int n, st = vchan_ring_state(&ch->ring);

		if (st < 0)
			return -1;
		if (st == VCHAN_CLOSED)
			return epipe();
		n = vchan_ring_reserve(&ch->ring, len, seg);
		if (n != 0)
			return n;
		n = vchan_stall(ch, &s, VCHAN_RING_NOTIFY_READ);
		if (n <= 0)
			return n;
	}
}

int vchan_commit(struct vchan *ch, size_t len)
{
	int k = 0;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_ring_commit(&ch->ring, len, &k) < 0)
		return -1;
	if (len > 0)
		ch->want_space = 0;
	return kick(ch, k);
}

static size_t seg_total(const struct iovec *seg, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += seg[i].iov_len;
	return t;
}

int vchan_peek(struct vchan *ch, size_t min, struct iovec seg[2])
{
	struct stall s = {0};

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || seg == NULL || min == 0) {
		errno = EINVAL;
		return -1;
	}
	if (min > ch->ring.rd.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int n, st = vchan_ring_state(&ch->ring);

		if (st < 0)
			return -1;
		n = vchan_ring_peek(&ch->ring, seg);
		if (n < 0)
			return -1;
		if (n > 0 && seg_total(seg, n) >= min)
			return n;
		if (st == VCHAN_CLOSED)
			return epipe();
		n = vchan_stall(ch, &s, VCHAN_RING_NOTIFY_WRITE);
		if (n <= 0)
			return n;
	}
}

int vchan_consume(struct vchan *ch, size_t len)
{
	int k = 0;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_ring_consume(&ch->ring, len, &k) < 0)
		return -1;
	return kick(ch, k);
}

ssize_t vchan_data_ready(struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_poisoned(ch))
		return -1;
	vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_WRITE);
	return vchan_ring_ready(&ch->ring);
}

ssize_t vchan_buffer_space(struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_poisoned(ch))
		return -1;
	vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_READ);
	ch->want_space = 1;
	return vchan_ring_space(&ch->ring);
}

size_t vchan_read_size(const struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return 0;
	}
	return ch->ring.rd.size;
}

size_t vchan_write_size(const struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return 0;
	}
	return ch->ring.wr.size;
}
