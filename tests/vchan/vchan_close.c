/* tests/vchan/vchan_close.c - the end of a channel, between two processes:
 * - data written before close (some of it before the client even came) is
 *   all read, then the stream ends (EPIPE), in both directions;
 * - the server's XenStore path is gone once it has closed;
 * - SIGKILL of either side: the other sees the channel closed within
 *   100 ms, once blocked in a read, once polling the fd;
 * - a NULL handle: vchan_close accepts it, every other call refuses it with
 *   EINVAL. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"
#include "xenstore/xs.h"

#define LIMIT_MS 20000
#define BEFORE	 5000  /* bytes the server writes before the client comes */
#define AFTER	 20000 /* bytes written after, more than the ring holds */
#define DEATH_US 100000

struct ctx {
	struct tu_chan pipe; /* to the parent */
	char path[256];
};

/* Read until the end of the stream; return the byte count or -1. */
static long drain_stream(struct vchan *ch, unsigned seed)
{
	uint8_t buf[3000];
	long got = 0;

	for (;;) {
		ssize_t r = vchan_read(ch, buf, sizeof(buf));

		if (r < 0)
			return errno == EPIPE ? got : -1;
		if (r == 0 ||
		    vt_check(buf, (size_t)r, (uint64_t)got, seed) != (size_t)r)
			return -1;
		got += r;
	}
}

/* A: the server writes, partly before the client connects, and closes. */
static int a_server(void *arg)
{
	struct ctx *c = arg;
	static uint8_t buf[BEFORE + AFTER];
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 1024, 8192);
	char go = 1;

	CHECK(ch != NULL);
	vt_fill(buf, sizeof(buf), 0, 11);
	CHECK(vchan_write(ch, buf, BEFORE) == BEFORE);
	CHECK(vchan_is_open(ch) == VCHAN_WAITING);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	CHECK(vt_write_all(ch, buf + BEFORE, AFTER) == 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int a_client(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch;
	vchan_xs *xs;
	char key[300];
	char go;

	/* Connect only once the server has written its first part. */
	CHECK(tu_recv(&c->pipe, 1, &go, 1) == 0);
	ch = vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	CHECK(ch != NULL);
	CHECK(drain_stream(ch, 11) == BEFORE + AFTER);
	CHECK(vchan_is_open(ch) == VCHAN_CLOSED);
	/* Writing to a closed channel fails. */
	CHECK(vchan_write(ch, "x", 1) == -1 && errno == EPIPE);
	CHECK(vchan_close(ch) == 0);
	/* The server removed its keys when it closed. */
	xs = vchan_xs_open();
	CHECK(xs != NULL);
	snprintf(key, sizeof(key), "%s/ring-ref", c->path);
	CHECK(vchan_xs_read(xs, key, NULL) == NULL && errno == ENOENT);
	vchan_xs_close(xs);
	return 0;
}

/* B: the client writes and closes at once; the server drains it. */
static int b_server(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 4096, 1024);

	CHECK(ch != NULL);
	CHECK(drain_stream(ch, 12) == AFTER);
	CHECK(vchan_is_open(ch) == VCHAN_CLOSED);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int b_client(void *arg)
{
	struct ctx *c = arg;
	static uint8_t buf[AFTER];
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));

	CHECK(ch != NULL);
	vt_fill(buf, sizeof(buf), 0, 12);
	CHECK(vt_write_all(ch, buf, sizeof(buf)) == 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int run_pair(const char *name, int (*srv)(void *), int (*cli)(void *))
{
	struct ctx c;
	pid_t s, k;
	int rs, rc;

	vt_path(c.path, sizeof(c.path), name);
	CHECK(tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, srv, &c);
	k = tu_spawn(CLI_DOMID, cli, &c);
	CHECK(s > 0 && k > 0);
	/* The server tells the client (through the parent) when to come. */
	if (srv == a_server) {
		char go;

		CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
		CHECK(tu_send(&c.pipe, 0, &go, 1) == 0);
	}
	rc = tu_wait(k, LIMIT_MS);
	rs = tu_wait(s, LIMIT_MS);
	tu_chan_close(&c.pipe);
	return rs == 0 && rc == 0 ? 0 : 1;
}

/* Kill tests: the victim connects (or serves), says so, and sleeps; the
 * survivor reports when it saw the channel closed. */
struct kctx {
	struct tu_chan pipe;
	char path[256];
	int survivor_polls; /* 1: poll the fd; 0: block in vchan_read */
};

static int survive(struct vchan *ch, struct kctx *k)
{
	char ready = 1;
	int64_t seen;

	CHECK(tu_send(&k->pipe, 1, &ready, 1) == 0);
	if (k->survivor_polls) {
		CHECK(vchan_set_blocking(ch, 0) == 0);
		CHECK(vchan_read(ch, &ready, 1) == 0);
		for (;;) {
			int st;

			CHECK(tu_readable(vchan_fd(ch), tu_ms(30000)) == 1);
			CHECK(vchan_wait(ch, 0) >= 0);
			st = vchan_is_open(ch);
			CHECK(st >= 0);
			if (st == VCHAN_CLOSED)
				break;
		}
	} else {
		CHECK(vchan_read(ch, &ready, 1) == -1);
		CHECK(errno == EPIPE);
	}
	seen = tu_now_us();
	CHECK(vchan_is_open(ch) == VCHAN_CLOSED);
	CHECK(tu_send(&k->pipe, 1, &seen, sizeof(seen)) == 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int victim(struct vchan *ch, struct kctx *k)
{
	char ready = 1;

	CHECK(ch != NULL);
	CHECK(tu_send(&k->pipe, 1, &ready, 1) == 0);
	for (;;)
		pause();
}

static int k_server_survives(void *arg)
{
	struct kctx *k = arg;
	struct vchan *ch = vchan_server_create(CLI_DOMID, k->path, 0, 0);

	CHECK(ch != NULL);
	/* Wait for the client to be there before saying we are ready. */
	CHECK(vt_await_client(ch) == 0);
	return survive(ch, k);
}

static int k_client_victim(void *arg)
{
	struct kctx *k = arg;

	return victim(vchan_client_connect(SRV_DOMID, k->path, tu_ms(30000)),
		      k);
}

static int k_server_victim(void *arg)
{
	struct kctx *k = arg;

	return victim(vchan_server_create(CLI_DOMID, k->path, 0, 0), k);
}

static int k_client_survives(void *arg)
{
	struct kctx *k = arg;
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, k->path, tu_ms(30000));

	CHECK(ch != NULL);
	return survive(ch, k);
}

static int run_kill(const char *name, int kill_client, int polls)
{
	struct kctx k;
	pid_t s, c;
	char ready;
	int64_t killed, seen;
	int rv, ro;

	vt_path(k.path, sizeof(k.path), name);
	k.survivor_polls = polls;
	CHECK(tu_chan_init(&k.pipe) == 0);
	s = tu_spawn(SRV_DOMID,
		     kill_client ? k_server_survives : k_server_victim, &k);
	c = tu_spawn(CLI_DOMID,
		     kill_client ? k_client_victim : k_client_survives, &k);
	CHECK(s > 0 && c > 0);
	/* Both are ready: the victim is connected, the survivor waiting. */
	CHECK(tu_recv(&k.pipe, 0, &ready, 1) == 0);
	CHECK(tu_recv(&k.pipe, 0, &ready, 1) == 0);
	usleep(20000);
	killed = tu_now_us();
	rv = tu_kill(kill_client ? c : s, LIMIT_MS);
	CHECK(tu_recv(&k.pipe, 0, &seen, sizeof(seen)) == 0);
	ro = tu_wait(kill_client ? s : c, LIMIT_MS);
	tu_chan_close(&k.pipe);
	fprintf(stderr, "%s: closed seen %lld us after SIGKILL\n", name,
		(long long)(seen - killed));
	CHECK(seen - killed < (int64_t)tu_ms(DEATH_US / 1000) * 1000);
	CHECK(ro == 0);
	CHECK(rv == 128 + SIGKILL);
	return 0;
}

/* -1 + EINVAL from `call`. */
#define REFUSED(call) (errno = 0, (call) == -1 && errno == EINVAL)

static int null_handle(void)
{
	uint8_t b[1];
	struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)}, seg[2];

	errno = 0;
	CHECK(vchan_close(NULL) == 0 && errno == 0);
	errno = 0;
	CHECK(vchan_read_size(NULL) == 0 && errno == EINVAL);
	errno = 0;
	CHECK(vchan_write_size(NULL) == 0 && errno == EINVAL);
	CHECK(REFUSED(vchan_read(NULL, b, 1)));
	CHECK(REFUSED(vchan_write(NULL, b, 1)));
	CHECK(REFUSED(vchan_readv(NULL, &iov, 1)));
	CHECK(REFUSED(vchan_writev(NULL, &iov, 1)));
	CHECK(REFUSED(vchan_recv(NULL, b, 1)));
	CHECK(REFUSED(vchan_send(NULL, b, 1)));
	CHECK(REFUSED(vchan_reserve(NULL, 1, seg)));
	CHECK(REFUSED(vchan_commit(NULL, 0)));
	CHECK(REFUSED(vchan_peek(NULL, 1, seg)));
	CHECK(REFUSED(vchan_consume(NULL, 0)));
	CHECK(REFUSED(vchan_data_ready(NULL)));
	CHECK(REFUSED(vchan_buffer_space(NULL)));
	CHECK(REFUSED(vchan_wait(NULL, 0)));
	CHECK(REFUSED(vchan_spin(NULL)));
	CHECK(REFUSED(vchan_fd(NULL)));
	CHECK(REFUSED(vchan_is_open(NULL)));
	CHECK(REFUSED(vchan_set_blocking(NULL, 0)));
	CHECK(REFUSED(vchan_set_spin(NULL, 0)));
	return 0;
}

int main(void)
{
	struct tu_scenarios r = {0};

	TU_SCENARIO(&r, "null_handle", null_handle());
	TU_SCENARIO(&r, "close_a", run_pair("close_a", a_server, a_client));
	TU_SCENARIO(&r, "close_b", run_pair("close_b", b_server, b_client));
	TU_SCENARIO(&r, "kill_cli_read", run_kill("kill_cli_read", 1, 0));
	TU_SCENARIO(&r, "kill_cli_poll", run_kill("kill_cli_poll", 1, 1));
	TU_SCENARIO(&r, "kill_srv_read", run_kill("kill_srv_read", 0, 0));
	TU_SCENARIO(&r, "kill_srv_poll", run_kill("kill_srv_poll", 0, 1));
	return tu_scenarios_done(&r);
}
