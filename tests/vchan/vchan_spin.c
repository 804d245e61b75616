/* tests/vchan/vchan_spin.c - two event loops that call vchan_spin before
 * every sleep, as rpc/ does, play ping-pong. vchan_spin takes back the
 * loop's request for an event while it spins and asks again when it gives
 * up: the peer answers at once, within the spin window, or long after it
 * (and at random points in between), and no answer may be lost, that is
 * no poll may wait out its time limit. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"

#define ROUNDS	 3000
#define MSG	 48
#define LIMIT_MS 30000

struct ctx {
	char path[256];
};

/* How long the side answering round i waits first: mostly nothing or a
 * few microseconds (the spin catches it), sometimes longer than any spin
 * window (it must come as an event). */
static void answer_delay(unsigned i)
{
	if (i % 50 == 7)
		usleep(20000);
	else if (i % 3 == 1)
		usleep((i * 37) % 150);
}

/* Read exactly n bytes from a non-blocking channel the way an event loop
 * does: read, spin, sleep on the fd. Counts the sleeps. Returns 0, or -1
 * when the channel closed or a sleep ran out of time. */
static int loop_read(struct vchan *ch, uint8_t *buf, size_t n, int *sleeps)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = vchan_read(ch, buf + got, n - got);

		if (r < 0)
			return -1;
		got += (size_t)r;
		if (got == n || r > 0)
			continue;
		if (vchan_spin(ch) == 1)
			continue;
		if (tu_readable(vchan_fd(ch), tu_ms(30000)) != 1) {
			fprintf(stderr, "no event after %zu of %zu bytes\n",
				got, n);
			return -1;
		}
		(*sleeps)++;
		CHECK(vchan_wait(ch, 0) >= 0);
	}
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[MSG];
	int sleeps = 0;
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 0, 0);

	CHECK(ch != NULL);
	while (vchan_is_open(ch) == VCHAN_WAITING)
		CHECK(vchan_wait(ch, tu_ms(30000)) == 1);
	CHECK(vchan_set_blocking(ch, 0) == 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		CHECK(loop_read(ch, buf, MSG, &sleeps) == 0);
		CHECK(vt_check(buf, MSG, (uint64_t)i * MSG, 5) == MSG);
		answer_delay(i + 1);
		vt_fill(buf, MSG, (uint64_t)i * MSG, 6);
		CHECK(vchan_write(ch, buf, MSG) == MSG);
	}
	fprintf(stderr, "server: %d rounds, %d sleeps\n", ROUNDS, sleeps);
	/* The client closes first; wait for that before going. */
	while (vchan_is_open(ch) == VCHAN_CONNECTED)
		CHECK(tu_readable(vchan_fd(ch), tu_ms(30000)) == 1 &&
		      vchan_wait(ch, 0) >= 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[MSG];
	int sleeps = 0;
	struct vchan *ch = vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));

	CHECK(ch != NULL);
	CHECK(vchan_set_blocking(ch, 0) == 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		answer_delay(i);
		vt_fill(buf, MSG, (uint64_t)i * MSG, 5);
		CHECK(vchan_write(ch, buf, MSG) == MSG);
		CHECK(loop_read(ch, buf, MSG, &sleeps) == 0);
		CHECK(vt_check(buf, MSG, (uint64_t)i * MSG, 6) == MSG);
	}
	fprintf(stderr, "client: %d rounds, %d sleeps\n", ROUNDS, sleeps);
	/* Each 20 ms answer outlasts any spin window, so it came as an
	 * event after a sleep: the sleeps happened, and none was lost. */
	CHECK(sleeps >= ROUNDS / 50 / 2);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

int main(void)
{
	struct ctx c;

	vt_path(c.path, sizeof(c.path), "spin");
	return vt_run_pair(server, client, &c, tu_ms(LIMIT_MS));
}
