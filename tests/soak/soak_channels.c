/* tests/soak/soak_channels.c - 1,000 channels open at once between two
 * domains (VCHAN_SOAK_SCALE scales the count):
 * - the server creates them all, the client connects to every one;
 * - with all of them open, a message goes each way on each channel, and
 *   every answer names its own channel (no crossed rings or events);
 * - each side prints its file descriptors per channel, and once all are
 *   closed holds no more descriptors than before it opened the first, and
 *   the simulator directory holds nothing of them. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/soak/soak.h"
#include "tests/vchan/vtest.h"

#define FULL	 1000
#define LIMIT_MS 120000

struct ctx {
	long n;
};

static void port_name(char *buf, size_t size, long i)
{
	snprintf(buf, size, "soak%ld", i);
}

static int server(void *arg)
{
	struct ctx *c = arg;
	struct vchan **ch = calloc((size_t)c->n, sizeof(*ch));
	struct soak_use before, open, after;
	char port[32];

	CHECK(ch != NULL);
	soak_nofile("server");
	soak_measure(&before);
	soak_print("server", "before", &before);
	for (long i = 0; i < c->n; i++) {
		port_name(port, sizeof(port), i);
		ch[i] = vchan_server_create_port(CLI_DOMID, port, 1024, 1024);
		if (ch[i] == NULL)
			fprintf(stderr, "server: channel %ld of %ld: %s\n", i,
				c->n, strerror(errno));
		CHECK(ch[i] != NULL);
	}
	/* Each request names its channel; the answer is its successor. */
	for (long i = 0; i < c->n; i++) {
		uint32_t v;

		CHECK(vchan_recv(ch[i], &v, sizeof(v)) == sizeof(v));
		CHECK(v == (uint32_t)i);
		v++;
		CHECK(vchan_send(ch[i], &v, sizeof(v)) == sizeof(v));
	}
	soak_measure(&open);
	soak_print("server", "all open", &open);
	fprintf(stderr, "server: %ld channels, %.1f fds each\n", c->n,
		(double)(open.fds - before.fds) / (double)c->n);
	for (long i = 0; i < c->n; i++)
		CHECK(vchan_close(ch[i]) == 0);
	free(ch);
	soak_measure(&after);
	soak_print("server", "after", &after);
	CHECK(after.fds <= before.fds);
	return 0;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct vchan **ch = calloc((size_t)c->n, sizeof(*ch));
	struct soak_use before, open, after;
	char port[32];

	CHECK(ch != NULL);
	soak_nofile("client");
	soak_measure(&before);
	soak_print("client", "before", &before);
	for (long i = 0; i < c->n; i++) {
		uint32_t v = (uint32_t)i;

		port_name(port, sizeof(port), i);
		ch[i] =
		    vchan_client_connect_port(SRV_DOMID, port, tu_ms(20000));
		if (ch[i] == NULL)
			fprintf(stderr, "client: channel %ld of %ld: %s\n", i,
				c->n, strerror(errno));
		CHECK(ch[i] != NULL);
		CHECK(vchan_send(ch[i], &v, sizeof(v)) == sizeof(v));
	}
	/* Every channel is open now; collect the answers. */
	for (long i = 0; i < c->n; i++) {
		uint32_t v;

		CHECK(vchan_is_open(ch[i]) != VCHAN_WAITING);
		CHECK(vchan_recv(ch[i], &v, sizeof(v)) == sizeof(v));
		CHECK(v == (uint32_t)i + 1);
	}
	soak_measure(&open);
	soak_print("client", "all open", &open);
	fprintf(stderr, "client: %ld channels, %.1f fds each\n", c->n,
		(double)(open.fds - before.fds) / (double)c->n);
	for (long i = 0; i < c->n; i++)
		CHECK(vchan_close(ch[i]) == 0);
	free(ch);
	soak_measure(&after);
	soak_print("client", "after", &after);
	CHECK(after.fds <= before.fds);
	return 0;
}

int main(void)
{
	struct ctx c = {.n = soak_n(FULL, 1.0, 10)};
	int64_t t0 = tu_now_us();
	int r;

	fprintf(stderr, "%ld channels at once\n", c.n);
	r = vt_run_pair(server, client, &c, tu_ms(LIMIT_MS));
	fprintf(stderr, "took %.1f s\n", (double)(tu_now_us() - t0) / 1e6);
	CHECK(r == 0);
	CHECK(soak_sim_left() == 0);
	return 0;
}
