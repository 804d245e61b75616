/* tests/rpc/rpc_halfclose.c - a client that sends its requests and then
 * shuts down its writing side gets every reply before the server closes:
 * replies of handlers that answer at once, of one that fails, and of one
 * that answers later from a timer (the connection waits for it). A frame
 * cut short by the end of the stream is dropped without a hang. The server
 * is stopped (SIGSTOP) while the client writes, so that it reads the
 * requests and the end of the stream in one go. Raw frames over a Unix
 * socket (docs/rpc-wire.md). */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000
#define HDR	 20
#define M_ECHO	 0
#define M_FAIL	 1

static char srv_addr[256], sock_path[200];

static int server(void *arg)
{
	const char *a[1] = {srv_addr};

	(void)arg;
	return echo_serve(a, 1, NULL);
}

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

/* The wire's name hash (FNV-1a, 32 bits). */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* A request frame for method m of Echo: text, seq, delay. */
static size_t request(uint8_t *out, unsigned m, const char *text, uint32_t seq,
		      uint32_t delay_ms)
{
	const ProtobufCServiceDescriptor *d = &rpctest__echo__descriptor;
	Rpctest__EchoRequest q = RPCTEST__ECHO_REQUEST__INIT;
	size_t len;

	q.text = (char *)text;
	q.seq = seq;
	q.delay_ms = delay_ms;
	len = protobuf_c_message_get_packed_size(&q.base);
	out[0] = 1; /* version */
	out[1] = 1; /* request */
	out[2] = out[3] = 0;
	put32(out + 4, seq); /* the id */
	put32(out + 8, name_hash(d->name));
	put32(out + 12, name_hash(d->methods[m].name));
	put32(out + 16, (uint32_t)len);
	protobuf_c_message_pack(&q.base, out + HDR);
	return HDR + len;
}

static int sock_connect(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", sock_path);
	for (int i = 0; fd >= 0 && i < 500; i++) {
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		usleep(10000);
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Read until the end of the stream (bounded): the bytes, or -1. */
static ssize_t read_to_end(int fd, uint8_t *b, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r;

		if (tu_readable(fd, tu_ms(10000)) != 1)
			return -1;
		r = read(fd, b + got, size - got);
		if (r == 0)
			return (ssize_t)got;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return -1;
}

struct reply {
	uint32_t id;
	int status;
	Rpctest__EchoReply *r; /* status 0 only */
};

/* Split b[0..n-1] into reply frames. Returns how many, or -1. */
static int replies(const uint8_t *b, size_t n, struct reply *out, int max)
{
	int k = 0;

	for (size_t at = 0; at < n; k++) {
		uint32_t len;

		if (k == max || n - at < HDR ||
		    n - at - HDR < (len = get32(b + at + 16)) || b[at + 1] != 2)
			return -1;
		out[k].id = get32(b + at + 4);
		out[k].status = b[at + 2] | b[at + 3] << 8;
		out[k].r =
		    out[k].status != 0
			? NULL
			: rpctest__echo_reply__unpack(NULL, len, b + at + HDR);
		if (out[k].status == 0 && out[k].r == NULL)
			return -1;
		at += HDR + len;
	}
	return k;
}

static void free_replies(struct reply *r, int n)
{
	for (int i = 0; i < n; i++)
		if (r[i].r != NULL)
			rpctest__echo_reply__free_unpacked(r[i].r, NULL);
}

/* Send b[0..n-1] and the end of the stream while the server is stopped;
 * return what comes back before the server closes (-1: it did not). */
static ssize_t exchange(pid_t s, const uint8_t *b, size_t n, uint8_t *in,
			size_t size)
{
	int fd;
	ssize_t got;

	if (kill(s, SIGSTOP) < 0)
		return -1;
	fd = sock_connect();
	if (fd < 0 || write(fd, b, n) != (ssize_t)n ||
	    shutdown(fd, SHUT_WR) < 0) {
		kill(s, SIGCONT);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	kill(s, SIGCONT);
	got = read_to_end(fd, in, size);
	close(fd);
	return got;
}

/* Requests answered later, at once, and failed: all three answers come
 * before the end. */
static int three_answers(pid_t s)
{
	uint8_t b[1024], in[4096];
	struct reply r[8];
	size_t n = 0;
	ssize_t got;
	int k, seen = 0;

	n += request(b + n, M_ECHO, "slow", 1, (uint32_t)tu_ms(150));
	n += request(b + n, M_ECHO, "fast", 2, 0);
	n += request(b + n, M_FAIL, "fail", 3, 0);
	got = exchange(s, b, n, in, sizeof(in));
	CHECK(got >= 0);
	k = replies(in, (size_t)got, r, 8);
	fprintf(stderr, "%zd bytes, %d replies before the end\n", got, k);
	CHECK(k == 3);
	for (int i = 0; i < k; i++) {
		seen |= 1 << r[i].id;
		if (r[i].id == 3)
			CHECK(r[i].status != 0);
		else
			CHECK(r[i].status == 0 && r[i].r->seq == r[i].id &&
			      strcmp(r[i].r->text,
				     r[i].id == 1 ? "slow" : "fast") == 0);
	}
	/* The late answer comes last. */
	CHECK(r[2].id == 1);
	free_replies(r, k);
	CHECK(seen == (1 << 1 | 1 << 2 | 1 << 3));
	return 0;
}

/* A whole request, then half of one: one reply, then the end. */
static int half_request(pid_t s)
{
	uint8_t b[1024], in[4096];
	struct reply r[8];
	size_t n, cut;
	ssize_t got;
	int k;

	n = request(b, M_ECHO, "whole", 4, 0);
	cut = request(b + n, M_ECHO, "half", 5, 0) / 2;
	got = exchange(s, b, n + cut, in, sizeof(in));
	CHECK(got >= 0);
	k = replies(in, (size_t)got, r, 8);
	CHECK(k == 1 && r[0].id == 4 && r[0].status == 0);
	free_replies(r, k);
	return 0;
}

/* The server is listening: a connection that ends at once is just
 * closed. */
static int listening(void)
{
	int k = sock_connect();

	CHECK(k >= 0);
	close(k);
	return 0;
}

int main(void)
{
	struct tu_scenarios r = {0};
	pid_t s;

	signal(SIGPIPE, SIG_IGN);
	rt_tmp_path(sock_path, sizeof(sock_path), "halfclose.sock");
	snprintf(srv_addr, sizeof(srv_addr), "unix:%s", sock_path);
	/* One server for every scenario. */
	s = tu_spawn(SRV_DOMID, server, NULL);
	CHECK(s > 0);
	TU_SCENARIO(&r, "listening", listening());
	TU_SCENARIO(&r, "three answers", three_answers(s));
	TU_SCENARIO(&r, "half a request", half_request(s));
	TU_SCENARIO(&r, "server stops", tu_stop(s, tu_ms(LIMIT_MS)));
	return tu_scenarios_done(&r);
}
