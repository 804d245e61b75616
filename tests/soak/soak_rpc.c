/* tests/soak/soak_rpc.c - one RPC server with 1,000 Unix clients and 100
 * vchan client domains connected at once (VCHAN_SOAK_SCALE scales both):
 * - every client makes a call, then all wait until every other one is
 *   connected (the server then holds a descriptor for each connection,
 *   which the test counts in /proc), then each makes a second call on
 *   the same connection;
 * - every reply must be the answer to its own request. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"
#include "tests/soak/soak.h"

#define FULL_UNIX  1000
#define FULL_VCHAN 100
#define FIRST_DOM  10u
#define LIMIT_MS   120000

struct ctx {
	long n_unix, n_vchan;
	char sock[200];
	int up[2];   /* each client process writes one byte when connected */
	int down[2]; /* closed by the parent: everybody is connected */
};

static int server(void *arg)
{
	struct ctx *c = arg;
	size_t n = (size_t)c->n_vchan + 1;
	char **a = calloc(n, sizeof(*a));
	int r;

	close(c->up[0]);
	close(c->up[1]);
	close(c->down[0]);
	close(c->down[1]);
	CHECK(a != NULL);
	soak_nofile("server");
	for (size_t i = 0; i < n; i++) {
		a[i] = malloc(256);
		CHECK(a[i] != NULL);
		/* The socket last: once it exists, every vchan is offered,
		 * and a client finds its keys without waiting on a watch
		 * (an inotify instance, of which the user has 128). */
		if (i == n - 1)
			snprintf(a[i], 256, "unix:%s", c->sock);
		else
			snprintf(a[i], 256, "vchan:%u/echo",
				 FIRST_DOM + (unsigned)i);
	}
	r = echo_serve((const char *const *)a, n, NULL);
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
	return r;
}

/* One call of client `cli`, checked: the reply carries its seq back. */
static int call(struct vchan_rpc_client *cli, uint32_t seq)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	Rpctest__EchoReply *rep = NULL;
	int st;

	req.text = "soak";
	req.seq = seq;
	req.reply_size = seq % 32;
	/* A capacity test, not a latency one: 1,100 connections call at
	 * once, on a loaded machine perhaps, so the deadline is the test's
	 * own bound rather than the client's default 10 s. */
	st = vchan_rpc_call_sync(cli, 0, &req.base, tu_ms(LIMIT_MS / 2),
				 (ProtobufCMessage **)&rep);
	if (st != VCHAN_RPC_OK)
		fprintf(stderr, "call %u: %s\n", seq,
			st < 0
			    ? strerror(errno)
			    : vchan_rpc_status_str((enum vchan_rpc_status)st));
	CHECK(st == VCHAN_RPC_OK && rep != NULL);
	CHECK(rep->seq == seq && rep->blob.len == seq % 32);
	CHECK(strcmp(rep->text, "soak") == 0);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return 0;
}

/* Clients `n` at `addr` in this process: connect and call each, report,
 * wait for everybody, call each again. */
static int clients(struct ctx *c, const char *addr, long n)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client **cl = calloc((size_t)n, sizeof(*cl));
	char one = 1, eof;

	CHECK(loop != NULL && cl != NULL);
	close(c->up[0]);
	close(c->down[1]);
	for (long i = 0; i < n; i++) {
		cl[i] = vchan_rpc_client_new(loop, addr,
					     &rpctest__echo__descriptor, NULL);
		CHECK(cl[i] != NULL);
		if (vchan_rpc_client_connect(cl[i], tu_ms(20000)) != 0)
			fprintf(stderr, "%s: client %ld: %s\n", addr, i,
				strerror(errno));
		CHECK(vchan_rpc_client_is_connected(cl[i]));
		CHECK(call(cl[i], (uint32_t)i) == 0);
	}
	CHECK(write(c->up[1], &one, 1) == 1);
	/* The parent closes `down` once every client process is here. */
	CHECK(tu_readable(c->down[0], tu_ms(LIMIT_MS)) == 1);
	CHECK(read(c->down[0], &eof, 1) == 0);
	for (long i = 0; i < n; i++) {
		CHECK(vchan_rpc_client_is_connected(cl[i]));
		CHECK(call(cl[i], (uint32_t)(n + i)) == 0);
	}
	for (long i = 0; i < n; i++)
		vchan_rpc_client_free(cl[i]);
	free(cl);
	ev_loop_destroy(loop);
	return 0;
}

static int unix_clients(void *arg)
{
	struct ctx *c = arg;
	char addr[256];

	soak_nofile("unix clients");
	snprintf(addr, sizeof(addr), "unix:%s", c->sock);
	return clients(c, addr, c->n_unix);
}

static int vchan_client(void *arg)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "vchan:%u/echo", SRV_DOMID);
	return clients(arg, addr, 1);
}

/* Descriptors process `pid` holds. */
static long fds_of(pid_t pid)
{
	char dir[64];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	struct ctx c;
	long nproc, got = 0, srv_fds;
	pid_t s, *k;
	int64_t t0 = tu_now_us();
	int fail = 0, rs;
	char b;

	c.n_unix = soak_n(FULL_UNIX, 1.0, 10);
	c.n_vchan = soak_n(FULL_VCHAN, 1.0, 2);
	nproc = c.n_vchan + 1;
	fprintf(stderr, "%ld Unix clients, %ld vchan client domains\n",
		c.n_unix, c.n_vchan);
	rt_tmp_path(c.sock, sizeof(c.sock), "soak.sock");
	CHECK(pipe(c.up) == 0 && pipe(c.down) == 0);
	k = calloc((size_t)nproc, sizeof(*k));
	CHECK(k != NULL);
	s = tu_spawn(SRV_DOMID, server, &c);
	CHECK(s > 0);
	CHECK(tu_wait_path(c.sock, tu_ms(5000)) == 0);
	k[0] = tu_spawn(CLI_DOMID, unix_clients, &c);
	for (long i = 1; i < nproc; i++)
		k[i] = tu_spawn(FIRST_DOM + (uint32_t)i - 1, vchan_client, &c);
	close(c.up[1]);
	close(c.down[0]);
	/* Every client process says it is connected; when one fails, the
	 * others wait (bounded) and the count stays short. */
	while (got < nproc && tu_readable(c.up[0], tu_ms(LIMIT_MS)) == 1 &&
	       read(c.up[0], &b, 1) == 1)
		got++;
	srv_fds = fds_of(s);
	fprintf(stderr,
		"%ld of %ld client processes connected; server holds "
		"%ld fds\n",
		got, nproc, srv_fds);
	fail |= got != nproc;
	/* A descriptor per Unix connection, at least one per channel. */
	if (srv_fds < c.n_unix + c.n_vchan) {
		fprintf(stderr, "the server holds fewer fds than clients\n");
		fail = 1;
	}
	close(c.down[1]);
	for (long i = 0; i < nproc; i++) {
		int r = k[i] > 0 ? tu_wait(k[i], tu_ms(LIMIT_MS)) : -1;

		fail |= r != 0;
	}
	close(c.up[0]);
	rs = tu_stop(s, tu_ms(10000));
	fprintf(stderr, "server %d; took %.1f s\n", rs,
		(double)(tu_now_us() - t0) / 1e6);
	free(k);
	return rs == 0 && !fail ? 0 : 1;
}
