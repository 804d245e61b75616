/* tests/rpc/rpc_hostile.c - bad input from a peer ends that call or that
 * connection with a status, never the process: a raw client sends garbage
 * to a server (which keeps serving others), and a fake server sends garbage
 * replies to a client. Over a Unix socket; the framing code is the same for
 * every transport. */
#include "config.h"

#include <ev.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/conn.h"
#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000

static char srv_addr[256], sock_path[200];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void hdr(uint8_t *p, int version, int kind, int status, uint32_t id,
		const char *service, const char *method, uint32_t len)
{
	p[0] = (uint8_t)version;
	p[1] = (uint8_t)kind;
	p[2] = (uint8_t)status;
	p[3] = (uint8_t)(status >> 8);
	put32(p + 4, id);
	put32(p + 8, vchan_rpc_name_hash(service));
	put32(p + 12, vchan_rpc_name_hash(method));
	put32(p + 16, len);
}

static int sock_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path) >= 100)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		usleep(10000);
	}
	close(fd);
	return -1;
}

/* Read exactly n bytes within 5 s. Returns 0, or -1 at EOF/timeout. */
static int read_all(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r;

		if (tu_readable(fd, tu_ms(5000)) != 1)
			return -1;
		r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* 1 when the peer closed the socket within 5 s. */
static int closed_by_peer(int fd)
{
	uint8_t b[64];

	while (tu_readable(fd, tu_ms(5000)) == 1) {
		ssize_t r = read(fd, b, sizeof(b));

		if (r <= 0)
			return 1;
	}
	return 0;
}

/* Send a valid Echo request with id and expect the reply's status. */
static int expect_status(int fd, uint32_t id, const uint8_t *body, size_t len,
			 int status)
{
	uint8_t h[VCHAN_RPC_HDR_SIZE], r[VCHAN_RPC_HDR_SIZE];
	uint8_t *rest;
	uint32_t rl;

	hdr(h, 1, VCHAN_RPC_KIND_REQUEST, 0, id, "rpctest.Echo", "Echo",
	    (uint32_t)len);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	if (len > 0)
		CHECK(write(fd, body, len) == (ssize_t)len);
	CHECK(read_all(fd, r, sizeof(r)) == 0);
	CHECK(r[0] == 1 && r[1] == VCHAN_RPC_KIND_REPLY && get32(r + 4) == id);
	rl = get32(r + 16);
	CHECK(rl < 1000);
	rest = malloc(rl + 1);
	CHECK(rest != NULL && read_all(fd, rest, rl) == 0);
	free(rest);
	if ((r[2] | r[3] << 8) != status)
		fprintf(stderr, "status %d, want %d\n", r[2] | r[3] << 8,
			status);
	CHECK((r[2] | r[3] << 8) == status);
	return 0;
}

static int server(void *arg)
{
	const char *a[1] = {srv_addr};
	struct vchan_rpc_options o;

	(void)arg;
	vchan_rpc_options_init(&o);
	o.max_message = 64 * 1024;
	return echo_serve(a, 1, &o);
}

static int hostile_client(void)
{
	static uint8_t big[100000];
	uint8_t garbage[32], h[VCHAN_RPC_HDR_SIZE];
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	uint8_t good[64];
	size_t glen;
	int fd, keep;

	req.text = "ok";
	glen = rpctest__echo_request__pack(&req, good);
	memset(garbage, 0xff, sizeof(garbage));

	/* A connection kept open through all of this: served throughout. */
	keep = sock_connect(sock_path);
	CHECK(keep >= 0);
	CHECK(expect_status(keep, 1, good, glen, VCHAN_RPC_OK) == 0);

	/* Garbage protobuf: that call fails, the connection goes on. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	CHECK(expect_status(fd, 2, garbage, sizeof(garbage),
			    VCHAN_RPC_MALFORMED) == 0);
	CHECK(expect_status(fd, 3, good, glen, VCHAN_RPC_OK) == 0);
	/* Above the server's limit: skipped and answered, then go on. */
	CHECK(expect_status(fd, 4, big, sizeof(big), VCHAN_RPC_TOO_LARGE) == 0);
	CHECK(expect_status(fd, 5, good, glen, VCHAN_RPC_OK) == 0);
	/* A reply sent to a server: the connection ends. */
	hdr(h, 1, VCHAN_RPC_KIND_REPLY, 0, 6, "rpctest.Echo", "Echo", 0);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(closed_by_peer(fd));
	close(fd);

	/* An unknown version: the connection ends. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	hdr(h, 2, VCHAN_RPC_KIND_REQUEST, 0, 1, "rpctest.Echo", "Echo", 0);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(closed_by_peer(fd));
	close(fd);
	/* An unknown kind. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	hdr(h, 1, 77, 0, 1, "rpctest.Echo", "Echo", 0);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(closed_by_peer(fd));
	close(fd);

	/* A length that lies (the body never comes), then the end. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	hdr(h, 1, VCHAN_RPC_KIND_REQUEST, 0, 1, "rpctest.Echo", "Echo", 1000);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(write(fd, garbage, 10) == 10);
	close(fd);
	/* A truncated header. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	CHECK(write(fd, h, 7) == 7);
	close(fd);
	/* A length far above any limit, the body never sent. */
	fd = sock_connect(sock_path);
	CHECK(fd >= 0);
	hdr(h, 1, VCHAN_RPC_KIND_REQUEST, 0, 9, "rpctest.Echo", "Echo",
	    0xffffffffu);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(read_all(fd, h, sizeof(h)) == 0);
	CHECK(get32(h + 4) == 9 && (h[2] | h[3] << 8) == VCHAN_RPC_TOO_LARGE);
	close(fd);

	/* The server still serves. */
	CHECK(expect_status(keep, 10, good, glen, VCHAN_RPC_OK) == 0);
	close(keep);
	return 0;
}

/* ---- a fake server against a real client ---- */

struct one {
	int done;
	enum vchan_rpc_status st;
};

static void one_done(enum vchan_rpc_status st, const ProtobufCMessage *m,
		     void *data)
{
	struct one *o = data;

	(void)m;
	o->done = 1;
	o->st = st;
}

/* Accept (once) and read one request; returns its id in *id. */
static int take_request(int lfd, int *cfd, uint32_t *id)
{
	uint8_t h[VCHAN_RPC_HDR_SIZE], b[256];

	if (*cfd < 0) {
		CHECK(tu_readable(lfd, tu_ms(5000)) == 1);
		*cfd = accept(lfd, NULL, NULL);
		CHECK(*cfd >= 0);
	}
	CHECK(read_all(*cfd, h, sizeof(h)) == 0);
	CHECK(get32(h + 16) < sizeof(b));
	CHECK(read_all(*cfd, b, get32(h + 16)) == 0);
	*id = get32(h + 4);
	return 0;
}

static int run_call(struct ev_loop *loop, struct vchan_rpc_client *cli, int lfd,
		    int *cfd, const uint8_t *reply, size_t len, int patch_id,
		    struct one *o)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	uint8_t buf[256];
	uint32_t id;
	int64_t end;

	o->done = 0;
	CHECK(vchan_rpc_call(cli, 0, &req.base, 3000, one_done, o) == 0);
	/* Let the client connect and send. */
	for (int i = 0; i < 5; i++)
		ev_run(loop, EVRUN_NOWAIT);
	CHECK(take_request(lfd, cfd, &id) == 0);
	memcpy(buf, reply, len);
	if (patch_id)
		put32(buf + 4, id);
	CHECK(write(*cfd, buf, len) == (ssize_t)len);
	end = tu_now_us() + (int64_t)tu_ms(5000) * 1000;
	while (!o->done && tu_now_us() < end)
		ev_run(loop, EVRUN_ONCE);
	CHECK(o->done);
	return 0;
}

static int fake_server(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char addr[256], path[200];
	struct vchan_rpc_client *cli;
	uint8_t r[VCHAN_RPC_HDR_SIZE + 8];
	struct one o;
	int lfd, cfd = -1;

	CHECK(loop != NULL);
	rt_tmp_path(path, sizeof(path), "fake.sock");
	if (snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path) >= 100)
		return -1;
	snprintf(addr, sizeof(addr), "unix:%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(lfd, 4) == 0);
	cli =
	    vchan_rpc_client_new(loop, addr, &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);

	/* A reply whose body does not decode. */
	hdr(r, 1, VCHAN_RPC_KIND_REPLY, 0, 0, "rpctest.Echo", "Echo", 8);
	memset(r + VCHAN_RPC_HDR_SIZE, 0xff, 8);
	CHECK(run_call(loop, cli, lfd, &cfd, r, sizeof(r), 1, &o) == 0);
	CHECK(o.st == VCHAN_RPC_MALFORMED);
	/* A status no version of the wire has. */
	hdr(r, 1, VCHAN_RPC_KIND_REPLY, 999, 0, "rpctest.Echo", "Echo", 0);
	CHECK(run_call(loop, cli, lfd, &cfd, r, VCHAN_RPC_HDR_SIZE, 1, &o) ==
	      0);
	CHECK(o.st == VCHAN_RPC_PROTOCOL_ERROR);
	CHECK(vchan_rpc_client_is_connected(cli) == 1);
	/* A reply naming another method: the connection is not to be
	 * trusted any more. */
	hdr(r, 1, VCHAN_RPC_KIND_REPLY, 0, 0, "rpctest.Echo", "Fail", 0);
	CHECK(run_call(loop, cli, lfd, &cfd, r, VCHAN_RPC_HDR_SIZE, 1, &o) ==
	      0);
	CHECK(o.st == VCHAN_RPC_PROTOCOL_ERROR);
	CHECK(vchan_rpc_client_is_connected(cli) == 0);
	close(cfd);
	cfd = -1;
	/* An unknown version. */
	hdr(r, 9, VCHAN_RPC_KIND_REPLY, 0, 0, "rpctest.Echo", "Echo", 0);
	CHECK(run_call(loop, cli, lfd, &cfd, r, VCHAN_RPC_HDR_SIZE, 1, &o) ==
	      0);
	CHECK(o.st == VCHAN_RPC_PROTOCOL_ERROR);
	close(cfd);
	cfd = -1;
	/* A header cut short, then the server goes. */
	hdr(r, 1, VCHAN_RPC_KIND_REPLY, 0, 0, "rpctest.Echo", "Echo", 0);
	o.done = 0;
	{
		Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
		uint32_t id;

		CHECK(vchan_rpc_call(cli, 0, &req.base, 3000, one_done, &o) ==
		      0);
		for (int i = 0; i < 5; i++)
			ev_run(loop, EVRUN_NOWAIT);
		CHECK(take_request(lfd, &cfd, &id) == 0);
		CHECK(write(cfd, r, 9) == 9);
		close(cfd);
		while (!o.done)
			ev_run(loop, EVRUN_ONCE);
		CHECK(o.st == VCHAN_RPC_PEER_GONE);
	}
	vchan_rpc_client_free(cli);
	close(lfd);
	unlink(path);
	ev_loop_destroy(loop);
	return 0;
}

/* Our server, against a hostile client played here. */
static int against_client(void)
{
	pid_t s = tu_spawn(SRV_DOMID, server, NULL);
	int rs, rc;

	CHECK(s > 0);
	rc = hostile_client();
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	return rc == 0 && rs == 0 ? 0 : 1;
}

int main(void)
{
	struct tu_scenarios r = {0};

	rt_tmp_path(sock_path, sizeof(sock_path), "hostile.sock");
	snprintf(srv_addr, sizeof(srv_addr), "unix:%s", sock_path);
	TU_SCENARIO(&r, "hostile client", against_client());
	TU_SCENARIO(&r, "fake server", fake_server());
	return tu_scenarios_done(&r);
}
