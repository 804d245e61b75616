/* tests/rpc/storage_halfclose.c - requests that arrive together with the
 * end of the client's stream are still carried out, and answered while
 * the client reads. A client sends a Put and a Get over a Unix socket and
 * shuts down its writing side: it gets both replies (the Get sees the
 * Put), then the end of the stream. A vchan client writes a Put and closes
 * the channel: the Put is applied. The server is stopped (SIGSTOP) while
 * the clients do so, so that it reads the requests and the end in one go.
 * Raw frames (docs/rpc-wire.md) on both transports. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "examples/storage/service.h"
#include "examples/storage/storage.pb-c.h"
#include "tests/testutil.h"
#include "vchan/vchan.h"

#define CHECK	  TU_CHECK
#define SRV_DOMID 3u
#define CLI_DOMID 5u
#define LIMIT_MS  20000
#define HDR	  20
#define GET	  0
#define PUT	  1

static char logpath[300], sock_path[300], unix_addr[320];

static int server(void *arg)
{
	const char *a[2] = {"vchan:5/storage", unix_addr};

	(void)arg;
	return storage_serve(a, 2, logpath, 0, NULL);
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

/* A request frame for method m of Storage with `msg` as its body. */
static size_t frame(uint8_t *out, uint32_t id, unsigned m,
		    const ProtobufCMessage *msg)
{
	const ProtobufCServiceDescriptor *d = &storage__storage__descriptor;
	size_t len = protobuf_c_message_get_packed_size(msg);

	out[0] = 1; /* version */
	out[1] = 1; /* request */
	out[2] = out[3] = 0;
	put32(out + 4, id);
	put32(out + 8, name_hash(d->name));
	put32(out + 12, name_hash(d->methods[m].name));
	put32(out + 16, (uint32_t)len);
	protobuf_c_message_pack(msg, out + HDR);
	return HDR + len;
}

static size_t put_frame(uint8_t *out, uint32_t id, const char *key,
			const char *val)
{
	Storage__PutRequest q = STORAGE__PUT_REQUEST__INIT;

	q.key = (char *)key;
	q.value.data = (uint8_t *)val;
	q.value.len = strlen(val);
	return frame(out, id, PUT, &q.base);
}

static size_t get_frame(uint8_t *out, uint32_t id, const char *key)
{
	Storage__GetRequest q = STORAGE__GET_REQUEST__INIT;

	q.key = (char *)key;
	return frame(out, id, GET, &q.base);
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

static int write_all(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read until the end of the stream (bounded). Returns the bytes read, or
 * -1 when the stream did not end in time. */
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

/* The reply frame with `id` in b[0..n-1]: its status and body, or -1. */
static int find_reply(const uint8_t *b, size_t n, uint32_t id,
		      const uint8_t **body, uint32_t *len)
{
	for (size_t at = 0; n - at >= HDR;) {
		uint32_t l = get32(b + at + 16);

		if (n - at - HDR < l)
			return -1;
		if (b[at + 1] == 2 && get32(b + at + 4) == id) {
			*body = b + at + HDR;
			*len = l;
			return b[at + 2] | b[at + 3] << 8;
		}
		at += HDR + l;
	}
	return -1;
}

/* Read exactly n bytes (bounded). Returns 0 or -1. */
static int read_exact(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r;

		if (tu_readable(fd, tu_ms(10000)) != 1)
			return -1;
		r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Get `key` on a fresh connection (which stays open until the reply is
 * in): 1 found with `want`, 0 not found, -1 no answer. */
static int get_over_socket(const char *key, const char *want)
{
	uint8_t b[4096];
	Storage__GetReply *g = NULL;
	int fd = sock_connect(), found = -1;
	size_t n;

	if (fd < 0)
		return -1;
	n = get_frame(b, 9, key);
	if (write_all(fd, b, n) == 0 && read_exact(fd, b, HDR) == 0 &&
	    b[1] == 2 && b[2] == 0 && b[3] == 0 && get32(b + 4) == 9 &&
	    get32(b + 16) <= sizeof(b) - HDR &&
	    read_exact(fd, b + HDR, get32(b + 16)) == 0)
		g = storage__get_reply__unpack(NULL, get32(b + 16), b + HDR);
	close(fd);
	if (g == NULL)
		return -1;
	found = g->found && g->value.len == strlen(want) &&
		memcmp(g->value.data, want, g->value.len) == 0;
	storage__get_reply__free_unpacked(g, NULL);
	return found;
}

/* Domain 5: write a Put over the vchan and close the channel. */
static int vchan_client(void *arg)
{
	uint8_t b[512];
	size_t n = put_frame(b, 1, "k-vchan", "v-vchan");
	struct vchan *vc =
	    vchan_client_connect(SRV_DOMID, arg, tu_ms(LIMIT_MS / 2));

	CHECK(vc != NULL);
	CHECK(vchan_write(vc, b, n) == (ssize_t)n);
	vchan_close(vc);
	return 0;
}

/* Over the socket: Put then Get, then the end of our stream. */
static int socket_client(int fd)
{
	uint8_t b[4096];
	size_t n = put_frame(b, 1, "k-sock", "v-sock");

	n += get_frame(b + n, 2, "k-sock");
	CHECK(write_all(fd, b, n) == 0);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	return 0;
}

static int check_replies(int fd)
{
	uint8_t b[4096];
	const uint8_t *body;
	uint32_t len;
	Storage__GetReply *g;
	ssize_t n = read_to_end(fd, b, sizeof(b));

	CHECK(n >= 0);
	fprintf(stderr, "%zd bytes of replies, then the end\n", n);
	CHECK(find_reply(b, (size_t)n, 1, &body, &len) == 0); /* VCHAN_RPC_OK */
	CHECK(find_reply(b, (size_t)n, 2, &body, &len) == 0);
	g = storage__get_reply__unpack(NULL, len, body);
	CHECK(g != NULL);
	CHECK(g->found && g->value.len == 6 &&
	      memcmp(g->value.data, "v-sock", 6) == 0);
	storage__get_reply__free_unpacked(g, NULL);
	return 0;
}

static int run(pid_t s, char *path)
{
	pid_t v;
	int fd, found = 0, bad;

	/* Serving (both listeners are up once the socket answers). */
	CHECK(get_over_socket("none", "") == 0);
	CHECK(kill(s, SIGSTOP) == 0);
	fd = sock_connect();
	CHECK(fd >= 0);
	CHECK(socket_client(fd) == 0);
	v = tu_spawn(CLI_DOMID, vchan_client, path);
	CHECK(v > 0);
	CHECK(tu_wait(v, tu_ms(LIMIT_MS)) == 0);
	CHECK(kill(s, SIGCONT) == 0);
	/* Both parts are looked at, whatever the first shows. */
	bad = check_replies(fd) != 0;
	close(fd);
	for (int i = 0; i < 100 && found != 1; i++) {
		found = get_over_socket("k-vchan", "v-vchan");
		if (found != 1)
			usleep((useconds_t)tu_ms(50) * 1000);
	}
	if (found != 1)
		fprintf(stderr, "the Put sent before a vchan close is lost\n");
	CHECK(found == 1);
	CHECK(!bad);
	return 0;
}

int main(void)
{
	const char *d = getenv("VCHAN_TEST_TMP");
	char path[256];
	pid_t s;
	int rc, rs;

	signal(SIGPIPE, SIG_IGN);
	snprintf(logpath, sizeof(logpath), "%s/halfclose.log",
		 d != NULL ? d : "/tmp");
	snprintf(sock_path, sizeof(sock_path), "%s/halfclose.sock",
		 d != NULL ? d : "/tmp");
	snprintf(unix_addr, sizeof(unix_addr), "unix:%s", sock_path);
	snprintf(path, sizeof(path), "/local/domain/%u/data/vchan/%u/storage",
		 SRV_DOMID, CLI_DOMID);
	unlink(logpath);
	s = tu_spawn(SRV_DOMID, server, NULL);
	CHECK(s > 0);
	rc = run(s, path);
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	unlink(logpath);
	CHECK(rc == 0);
	CHECK(rs == 0);
	return 0;
}
