/* tests/soak/soak_limits.c - what happens at the file descriptor limit:
 * - a server domain whose RLIMIT_NOFILE is low creates channels until one
 *   fails: it fails with EMFILE, at once, and once the channels are closed
 *   the process holds no more descriptors than before (the failed
 *   creation left nothing behind);
 * - likewise a client domain connecting to more channels than its limit
 *   allows: EMFILE, not a time-out or ECONNREFUSED, and a server whose
 *   client failed half-way can still be reached by another;
 * - an RPC client out of descriptors fails to connect with EMFILE;
 * - an RPC server out of descriptors neither spins nor leaves a client
 *   hanging: a client it cannot take is told at once (its connection is
 *   closed: "peer gone"), and once descriptors are free again the next
 *   client is served;
 * - on the simulator, a client waiting for its server watches the store
 *   with an inotify instance: when the user has none left
 *   (fs.inotify.max_user_instances, lowered here in a user namespace of
 *   the test's own), connecting fails with EUSERS, not EMFILE, which
 *   would point at a file descriptor limit that is nowhere near. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"
#include "tests/soak/soak.h"
#include "vchan/vchan.h"
#include "xenstore/xs.h"

#define LOW	 64 /* RLIMIT_NOFILE of the domain under test */
#define LIMIT_MS 30000

static int set_nofile(rlim_t n)
{
	struct rlimit r;

	CHECK(getrlimit(RLIMIT_NOFILE, &r) == 0);
	r.rlim_cur = n;
	CHECK(setrlimit(RLIMIT_NOFILE, &r) == 0);
	return 0;
}

static void port_name(char *buf, size_t size, int i)
{
	snprintf(buf, size, "lim%d", i);
}

/* ---- a server domain out of descriptors --------------------------- */

static int server_out(void *arg)
{
	struct vchan *ch[LOW];
	long before;
	int n = 0, err;
	char port[32];

	(void)arg;
	CHECK(set_nofile(LOW) == 0);
	before = soak_fds();
	for (;;) {
		CHECK(n < LOW);
		port_name(port, sizeof(port), n);
		ch[n] = vchan_server_create_port(CLI_DOMID, port, 1024, 1024);
		if (ch[n] == NULL)
			break;
		n++;
	}
	err = errno;
	fprintf(stderr,
		"server, RLIMIT_NOFILE %d: %d channels, then \"%s\" (%d)\n",
		LOW, n, strerror(err), err);
	CHECK(n > 0);
	CHECK(err == EMFILE);
	while (n > 0)
		CHECK(vchan_close(ch[--n]) == 0);
	CHECK(soak_fds() == before);
	return 0;
}

/* ---- a client domain out of descriptors --------------------------- */

struct cctx {
	struct tu_chan pipe;
	int nsrv;
};

static int server_many(void *arg)
{
	struct cctx *c = arg;
	struct vchan **ch = calloc((size_t)c->nsrv, sizeof(*ch));
	char port[32], done;
	int i;

	CHECK(ch != NULL);
	for (i = 0; i < c->nsrv; i++) {
		port_name(port, sizeof(port), i);
		ch[i] = vchan_server_create_port(CLI_DOMID, port, 1024, 1024);
		CHECK(ch[i] != NULL);
	}
	CHECK(tu_send(&c->pipe, 1, "r", 1) == 0);
	CHECK(tu_recv(&c->pipe, 1, &done, 1) == 0);
	for (i = 0; i < c->nsrv; i++)
		CHECK(vchan_close(ch[i]) == 0);
	free(ch);
	return 0;
}

static int client_out(void *arg)
{
	struct cctx *c = arg;
	struct vchan *ch[LOW], *again;
	char port[32];
	long before;
	int n = 0, err;

	CHECK(set_nofile(LOW) == 0);
	before = soak_fds();
	for (;;) {
		CHECK(n < c->nsrv);
		port_name(port, sizeof(port), n);
		ch[n] = vchan_client_connect_port(SRV_DOMID, port, tu_ms(5000));
		if (ch[n] == NULL)
			break;
		n++;
	}
	err = errno;
	fprintf(stderr,
		"client, RLIMIT_NOFILE %d: %d channels, then \"%s\" (%d)\n",
		LOW, n, strerror(err), err);
	CHECK(n > 0);
	CHECK(err == EMFILE);
	/* With descriptors free again, the channel that failed works. */
	CHECK(vchan_close(ch[0]) == 0);
	CHECK(vchan_close(ch[1]) == 0);
	port_name(port, sizeof(port), n);
	again = vchan_client_connect_port(SRV_DOMID, port, tu_ms(5000));
	if (again == NULL)
		fprintf(stderr, "client: %s again: %s\n", port,
			strerror(errno));
	CHECK(again != NULL);
	CHECK(vchan_close(again) == 0);
	for (int i = 2; i < n; i++)
		CHECK(vchan_close(ch[i]) == 0);
	CHECK(soak_fds() == before);
	return 0;
}

static int vchan_limits(void)
{
	struct cctx c = {.nsrv = LOW};
	pid_t s, k;
	int rs, rk;

	/* A server alone: it needs no client to run out. */
	s = tu_spawn(SRV_DOMID, server_out, NULL);
	CHECK(s > 0);
	rs = tu_wait(s, tu_ms(LIMIT_MS));
	fprintf(stderr, "server out of fds: %d\n", rs);
	CHECK(rs == 0);

	CHECK(tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, server_many, &c);
	CHECK(s > 0);
	{
		char r;

		CHECK(tu_recv(&c.pipe, 0, &r, 1) == 0);
	}
	k = tu_spawn(CLI_DOMID, client_out, &c);
	CHECK(k > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS));
	CHECK(tu_send(&c.pipe, 0, "d", 1) == 0);
	rs = tu_wait(s, tu_ms(LIMIT_MS));
	tu_chan_close(&c.pipe);
	fprintf(stderr, "client out of fds: server %d, client %d\n", rs, rk);
	CHECK(rs == 0 && rk == 0);
	return 0;
}

/* ---- RPC at the limit --------------------------------------------- */

struct rctx {
	char sock[200];
	char addr[220];
	int srv_low; /* the server's RLIMIT_NOFILE, or 0 */
};

static int rpc_server(void *arg)
{
	struct rctx *c = arg;
	const char *a[1] = {c->addr};

	if (c->srv_low > 0)
		CHECK(set_nofile((rlim_t)c->srv_low) == 0);
	return echo_serve(a, 1, NULL);
}

/* One call on `cli`: its status (-1 when it could not start). */
static int one_call(struct vchan_rpc_client *cli, uint32_t seq)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	int st;

	req.text = "lim";
	req.seq = seq;
	st = vchan_rpc_call_sync(cli, 0, &req.base, tu_ms(10000), &rep);
	if (rep != NULL)
		protobuf_c_message_free_unpacked(rep, NULL);
	return st;
}

/* Clients with few descriptors: connecting fails with EMFILE. */
static int rpc_client_out(void *arg)
{
	struct rctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cl[LOW];
	int n = 0, err;

	CHECK(loop != NULL);
	CHECK(set_nofile(LOW) == 0);
	for (;;) {
		CHECK(n < LOW);
		cl[n] = vchan_rpc_client_new(loop, c->addr,
					     &rpctest__echo__descriptor, NULL);
		CHECK(cl[n] != NULL);
		if (vchan_rpc_client_connect(cl[n], tu_ms(5000)) < 0)
			break;
		CHECK(one_call(cl[n], (uint32_t)n) == VCHAN_RPC_OK);
		n++;
	}
	err = errno;
	fprintf(stderr,
		"rpc client, RLIMIT_NOFILE %d: %d connections, then \"%s\" "
		"(%d)\n",
		LOW, n, strerror(err), err);
	CHECK(n > 0);
	CHECK(err == EMFILE);
	vchan_rpc_client_free(cl[n]);
	while (n > 0)
		vchan_rpc_client_free(cl[--n]);
	ev_loop_destroy(loop);
	return 0;
}

/* A server with few descriptors, and more clients than it can take. */
static int rpc_clients_many(void *arg)
{
	struct rctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cl[2 * LOW];
	int ok = 0, refused = 0, other = 0, st, tries = 0;
	int64_t until;

	CHECK(loop != NULL);
	for (int i = 0; i < 2 * LOW; i++) {
		cl[i] = vchan_rpc_client_new(loop, c->addr,
					     &rpctest__echo__descriptor, NULL);
		CHECK(cl[i] != NULL);
		CHECK(vchan_rpc_client_connect(cl[i], tu_ms(5000)) == 0);
		st = one_call(cl[i], (uint32_t)i);
		if (st == VCHAN_RPC_OK)
			ok++;
		else if (st == VCHAN_RPC_PEER_GONE)
			refused++;
		else {
			if (other++ == 0)
				fprintf(stderr, "rpc client %d: %s\n", i,
					st < 0 ? strerror(errno)
					       : vchan_rpc_status_str((
						     enum vchan_rpc_status)st));
		}
	}
	fprintf(stderr,
		"rpc server, RLIMIT_NOFILE %d: %d of %d clients served, %d "
		"turned away, %d other\n",
		LOW, ok, 2 * LOW, refused, other);
	CHECK(ok > 0 && refused > 0 && other == 0);
	/* Descriptors free again: a new client is served. The server
	 * frees them as it sees the closes, which may come after this
	 * client's connect: turned away meanwhile, it tries again (for at
	 * most 10 s, stretched on a loaded machine). */
	for (int i = 0; i < 2 * LOW; i++)
		vchan_rpc_client_free(cl[i]);
	until = tu_now_us() + (int64_t)tu_ms(10000) * 1000;
	do {
		cl[0] = vchan_rpc_client_new(loop, c->addr,
					     &rpctest__echo__descriptor, NULL);
		CHECK(cl[0] != NULL);
		st = one_call(cl[0], 1);
		vchan_rpc_client_free(cl[0]);
		tries++;
		if (st == VCHAN_RPC_PEER_GONE)
			usleep(20000);
	} while (st == VCHAN_RPC_PEER_GONE && tu_now_us() < until);
	fprintf(stderr, "rpc client after: %s (try %d)\n",
		st < 0 ? strerror(errno)
		       : vchan_rpc_status_str((enum vchan_rpc_status)st),
		tries);
	CHECK(st == VCHAN_RPC_OK);
	ev_loop_destroy(loop);
	return 0;
}

static int rpc_limits(void)
{
	struct rctx c = {0};
	pid_t s, k;
	int rs, rk;

	rt_tmp_path(c.sock, sizeof(c.sock), "lim.sock");
	snprintf(c.addr, sizeof(c.addr), "unix:%s", c.sock);
	for (int round = 0; round < 2; round++) {
		c.srv_low = round == 0 ? 0 : LOW;
		unlink(c.sock);
		s = tu_spawn(SRV_DOMID, rpc_server, &c);
		CHECK(s > 0);
		CHECK(tu_wait_path(c.sock, tu_ms(5000)) == 0);
		k = tu_spawn(CLI_DOMID,
			     round == 0 ? rpc_client_out : rpc_clients_many,
			     &c);
		CHECK(k > 0);
		rk = tu_wait(k, tu_ms(LIMIT_MS));
		rs = tu_stop(s, tu_ms(10000));
		fprintf(stderr, "rpc round %d: server %d, client %d\n", round,
			rs, rk);
		CHECK(rs == 0 && rk == 0);
	}
	return 0;
}

/* ---- inotify instances used up (simulator) ------------------------ */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Returns 0 passed, 1 failed, 2 no user namespace to try it in. */
static int no_inotify(void *arg)
{
	char map[64];
	uid_t uid = getuid();
	struct vchan *ch;
	vchan_xs *xs;
	int in[4], n = 0;

	(void)arg;
	if (unshare(CLONE_NEWUSER) != 0)
		return 2;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) != 0 ||
	    write_file("/proc/sys/user/max_inotify_instances", "2") != 0)
		return 2;
	/* Use up what is left (at most 2; fewer when the user has fewer
	 * outside). */
	while (n < 4 && (in[n] = inotify_init1(IN_CLOEXEC)) >= 0)
		n++;
	CHECK(n < 4 && errno == EMFILE);
	xs = vchan_xs_open();
	CHECK(xs != NULL);
	errno = 0;
	CHECK(vchan_xs_watch(xs, "/local/domain/3/data", "t") == -1);
	fprintf(stderr, "watch without inotify instances: \"%s\" (%d)\n",
		strerror(errno), errno);
	CHECK(errno == EUSERS);
	CHECK(vchan_xs_close(xs) == 0);
	ch = vchan_client_connect_port(SRV_DOMID, "nobody", 100);
	CHECK(ch == NULL && errno == EUSERS);
	while (n > 0)
		close(in[--n]);
	return 0;
}

static int inotify_limit(void)
{
	pid_t k = tu_spawn(CLI_DOMID, no_inotify, NULL);
	int r;

	CHECK(k > 0);
	r = tu_wait(k, tu_ms(LIMIT_MS));
	if (r == 2) {
		fprintf(stderr,
			"inotify limit: no user namespace, not tried\n");
		return 0;
	}
	CHECK(r == 0);
	return 0;
}

/* Valgrind checks the descriptor limit after the system call: an open
 * with O_CREAT that it then fails with EMFILE has made its file all the
 * same, which no real limit does. */
static int under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

int main(void)
{
	struct tu_scenarios r = {0};

	if (under_valgrind()) {
		fprintf(stderr, "under valgrind: the descriptor limits are "
				"not tried\n");
	} else {
		TU_SCENARIO(&r, "vchan limits", vchan_limits());
		TU_SCENARIO(&r, "nothing left", tu_sim_dir_entries());
		TU_SCENARIO(&r, "rpc limits", rpc_limits());
	}
	TU_SCENARIO(&r, "inotify limit", inotify_limit());
	return tu_scenarios_done(&r);
}
