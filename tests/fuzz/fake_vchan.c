/* tests/fuzz/fake_vchan.c - see fake_vchan.h. */
#include "config.h"

#include "tests/fuzz/fake_vchan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "vchan/vchan.h"

struct vchan *fake_vchan_cur;
int fake_vchan_open_count;
int fake_vchan_refuse;
void (*fake_vchan_on_close)(struct vchan *ch);

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 256;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	*buf = realloc(*buf, n);
	CHECK(*buf != NULL);
	*cap = n;
}

struct vchan *fake_vchan_new(void)
{
	struct vchan *ch = calloc(1, sizeof(*ch));

	CHECK(ch != NULL);
	ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(ch->efd >= 0);
	ch->room = (size_t)-1;
	fake_vchan_open_count++;
	fake_vchan_cur = ch;
	return ch;
}

void fake_vchan_signal(struct vchan *ch)
{
	uint64_t one = 1;

	CHECK(write(ch->efd, &one, sizeof(one)) == sizeof(one));
}

void fake_vchan_push(struct vchan *ch, const void *buf, size_t len)
{
	if (ch->in_off == ch->in_len)
		ch->in_off = ch->in_len = 0;
	grow(&ch->in, &ch->in_cap, ch->in_len + len);
	if (len > 0)
		memcpy(ch->in + ch->in_len, buf, len);
	ch->in_len += len;
	fake_vchan_signal(ch);
}

void fake_vchan_take(struct vchan *ch, size_t n)
{
	CHECK(n <= ch->out_len);
	if (n == 0)
		return;
	memmove(ch->out, ch->out + n, ch->out_len - n);
	ch->out_len -= n;
}

/* libvchan, as the rpc layer uses it. */
int vchan_domid_lookup(const char *name)
{
	(void)name;
	errno = ENOENT;
	return -1;
}

struct vchan *vchan_server_create_port(uint32_t peer, const char *port,
				       size_t read_min, size_t write_min)
{
	struct vchan *ch;

	(void)peer;
	(void)port;
	(void)read_min;
	(void)write_min;
	if (fake_vchan_refuse) {
		errno = ECONNREFUSED;
		return NULL;
	}
	ch = fake_vchan_new();
	ch->waiting = 1;
	return ch;
}

struct vchan *vchan_client_connect_port(uint32_t server, const char *port,
					int timeout_ms)
{
	(void)server;
	(void)port;
	(void)timeout_ms;
	if (fake_vchan_refuse) {
		errno = ECONNREFUSED;
		return NULL;
	}
	return fake_vchan_new();
}

/* A connect that does not block: done at its first step, as the
 * blocking one (refused when fake_vchan_refuse is set). */
struct vchan_connect {
	int unused;
};

struct vchan_connect *vchan_connect_start(uint32_t server, const char *port)
{
	(void)server;
	(void)port;
	return calloc(1, sizeof(struct vchan_connect));
}

struct vchan *vchan_connect_step(struct vchan_connect *c)
{
	(void)c;
	return vchan_client_connect_port(0, "fake", 0);
}

int vchan_connect_fd(const struct vchan_connect *c)
{
	(void)c;
	errno = EINVAL;
	return -1;
}

int vchan_connect_timeout(const struct vchan_connect *c)
{
	(void)c;
	return -1;
}

int vchan_connect_requested(const struct vchan_connect *c)
{
	(void)c;
	return 0;
}

int vchan_connect_cancel(struct vchan_connect *c)
{
	free(c);
	return 0;
}

/* No listener: the harnesses serve one fake channel per domain. */
struct vchan_listener *vchan_listen(const char *port, const uint32_t *allow,
				    size_t n_allow, size_t read_min,
				    size_t write_min)
{
	(void)port, (void)allow, (void)n_allow, (void)read_min;
	(void)write_min;
	errno = ENOSYS;
	return NULL;
}

struct vchan *vchan_accept(struct vchan_listener *l, uint32_t *peer,
			   int timeout_ms)
{
	(void)l, (void)peer, (void)timeout_ms;
	errno = EAGAIN;
	return NULL;
}

int vchan_listener_fd(const struct vchan_listener *l)
{
	(void)l;
	errno = EINVAL;
	return -1;
}

int vchan_listener_close(struct vchan_listener *l)
{
	(void)l;
	return 0;
}

int vchan_close(struct vchan *ch)
{
	if (ch == NULL)
		return 0;
	if (fake_vchan_on_close != NULL)
		fake_vchan_on_close(ch);
	close(ch->efd);
	free(ch->in);
	free(ch->out);
	if (fake_vchan_cur == ch)
		fake_vchan_cur = NULL;
	fake_vchan_open_count--;
	free(ch);
	return 0;
}

int vchan_set_blocking(struct vchan *ch, int blocking)
{
	(void)ch;
	CHECK(blocking == 0);
	return 0;
}

int vchan_fd(const struct vchan *ch)
{
	return ch->efd;
}

int vchan_wait(struct vchan *ch, int timeout_ms)
{
	uint64_t v;

	CHECK(timeout_ms == 0);
	if (ch->poisoned) {
		errno = EPROTO;
		return -1;
	}
	return read(ch->efd, &v, sizeof(v)) == sizeof(v);
}

int vchan_spin(struct vchan *ch)
{
	if (ch->poisoned) {
		errno = EPROTO;
		return -1;
	}
	return ch->in_off < ch->in_len;
}

int vchan_ask(struct vchan *ch)
{
	return vchan_spin(ch);
}

int vchan_set_spin_first(struct vchan *ch, int on)
{
	(void)ch;
	(void)on;
	return 0;
}

int vchan_is_open(struct vchan *ch)
{
	if (ch->poisoned) {
		errno = EPROTO;
		return -1;
	}
	if (ch->peer_gone)
		return VCHAN_CLOSED;
	return ch->waiting ? VCHAN_WAITING : VCHAN_CONNECTED;
}

ssize_t vchan_read(struct vchan *ch, void *buf, size_t len)
{
	size_t n = ch->in_len - ch->in_off;

	if (ch->poisoned) {
		errno = EPROTO;
		return -1;
	}
	if (n > len)
		n = len;
	if (n == 0 && len > 0 && ch->peer_gone) {
		errno = EPIPE;
		return -1;
	}
	if (n > 0) {
		ch->waiting = 0;
		memcpy(buf, ch->in + ch->in_off, n);
	}
	ch->in_off += n;
	ch->read_total += n;
	return (ssize_t)n;
}

ssize_t vchan_write(struct vchan *ch, const void *buf, size_t len)
{
	size_t n = len < ch->room ? len : ch->room;

	if (ch->poisoned) {
		errno = EPROTO;
		return -1;
	}
	if (ch->peer_gone) {
		errno = EPIPE;
		return -1;
	}
	grow(&ch->out, &ch->out_cap, ch->out_len + n);
	if (n > 0)
		memcpy(ch->out + ch->out_len, buf, n);
	ch->out_len += n;
	if (ch->room != (size_t)-1)
		ch->room -= n;
	return (ssize_t)n;
}
