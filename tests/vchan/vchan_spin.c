/* tests/vchan/vchan_spin.c - two event loops that call vchan_spin before
 * every sleep, as rpc/ does, play ping-pong, then one streams through a
 * small ring to the other. vchan_spin takes back the loop's request for
 * an event while it spins and asks again when it gives up: the peer
 * answers at once, within the spin window, or long after it (and at
 * random points in between), and no answer may be lost, that is no poll
 * may wait out its time limit. The same runs again in spin-first mode,
 * where the calls ask for nothing and vchan_spin alone asks, and once
 * more with spinning off, where vchan_spin only asks. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"

#define ROUNDS	 3000
#define MSG	 48
#define BULK	 (1u << 20)
#define LIMIT_MS 30000

enum mode { PLAIN, SPIN_FIRST, ASK_ONLY };

struct ctx {
	char path[256];
	enum mode mode;
};

/* Non-blocking, in the test's mode. Returns 0 or -1. */
static int loop_mode(struct vchan *ch, enum mode m)
{
	CHECK(vchan_set_blocking(ch, 0) == 0);
	CHECK(vchan_set_spin_first(ch, m != PLAIN) == 0);
	if (m == ASK_ONLY)
		CHECK(vchan_set_spin(ch, 0) == 0);
	return 0;
}

/* The event loop's sleep: spin (or, at random, only ask) first, then poll
 * the fd and consume its events. Returns 1 when it slept, 0 when the spin
 * saw the peer move, -1 when no event came in time. */
static int loop_sleep(struct vchan *ch, enum mode m, unsigned turn)
{
	int r = m != PLAIN && turn % 5 == 0 ? vchan_ask(ch) : vchan_spin(ch);

	CHECK(r >= 0);
	if (r == 1)
		return 0;
	if (tu_readable(vchan_fd(ch), tu_ms(30000)) != 1)
		return -1;
	CHECK(vchan_wait(ch, 0) >= 0);
	return 1;
}

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

/* Read (or write, when `out`) exactly n bytes on a non-blocking channel
 * the way an event loop does: call, spin, sleep on the fd. Counts the
 * sleeps. Returns 0, or -1 when the channel closed or a sleep ran out of
 * time. */
static int loop_io(struct vchan *ch, enum mode m, uint8_t *buf, size_t n,
		   int out, int *sleeps)
{
	size_t done = 0;

	for (unsigned turn = 0; done < n; turn++) {
		ssize_t r = out ? vchan_write(ch, buf + done, n - done)
				: vchan_read(ch, buf + done, n - done);
		int slept;

		if (r < 0)
			return -1;
		done += (size_t)r;
		if (done == n || r > 0)
			continue;
		slept = loop_sleep(ch, m, turn);
		if (slept < 0) {
			fprintf(stderr, "no %s after %zu of %zu bytes\n",
				out ? "space" : "data", done, n);
			return -1;
		}
		*sleeps += slept;
	}
	return 0;
}

/* The server reads the stream in pieces of its own size, now and then
 * after a pause longer than any spin window: the writer must then wait for
 * space, and an event brings it. */
static int read_bulk(struct vchan *ch, enum mode m, int *sleeps)
{
	static uint8_t buf[3001];

	for (size_t off = 0, k = 0; off < BULK; k++) {
		size_t n = BULK - off < sizeof(buf) ? BULK - off : sizeof(buf);

		if (k % 90 == 7)
			usleep(20000);
		else if (k % 3 == 1)
			usleep((unsigned)(k * 37) % 150);
		CHECK(loop_io(ch, m, buf, n, 0, sleeps) == 0);
		CHECK(vt_check(buf, n, off, 7) == n);
		off += n;
	}
	return 0;
}

static int write_bulk(struct vchan *ch, enum mode m, int *sleeps)
{
	static uint8_t buf[8192];

	for (size_t off = 0; off < BULK; off += sizeof(buf)) {
		vt_fill(buf, sizeof(buf), off, 7);
		CHECK(loop_io(ch, m, buf, sizeof(buf), 1, sleeps) == 0);
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
	CHECK(vt_await_client(ch) == 0);
	CHECK(loop_mode(ch, c->mode) == 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		CHECK(loop_io(ch, c->mode, buf, MSG, 0, &sleeps) == 0);
		CHECK(vt_check(buf, MSG, (uint64_t)i * MSG, 5) == MSG);
		answer_delay(i + 1);
		vt_fill(buf, MSG, (uint64_t)i * MSG, 6);
		CHECK(vchan_write(ch, buf, MSG) == MSG);
	}
	CHECK(read_bulk(ch, c->mode, &sleeps) == 0);
	fprintf(stderr, "server (mode %d): %d rounds + %u bytes, %d sleeps\n",
		c->mode, ROUNDS, BULK, sleeps);
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
	int sleeps = 0, wsleeps = 0;
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));

	CHECK(ch != NULL);
	CHECK(loop_mode(ch, c->mode) == 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		answer_delay(i);
		vt_fill(buf, MSG, (uint64_t)i * MSG, 5);
		CHECK(vchan_write(ch, buf, MSG) == MSG);
		CHECK(loop_io(ch, c->mode, buf, MSG, 0, &sleeps) == 0);
		CHECK(vt_check(buf, MSG, (uint64_t)i * MSG, 6) == MSG);
	}
	CHECK(write_bulk(ch, c->mode, &wsleeps) == 0);
	fprintf(stderr,
		"client (mode %d): %d rounds, %d sleeps; %u bytes, "
		"%d sleeps\n",
		c->mode, ROUNDS, sleeps, BULK, wsleeps);
	/* Each 20 ms answer or pause outlasts any spin window, so what
	 * ended it came as an event after a sleep: the sleeps happened, and
	 * none was lost. */
	CHECK(sleeps >= ROUNDS / 50 / 2);
	CHECK(wsleeps >= 2);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

int main(void)
{
	static const char *names[] = {"spin", "spin-first", "ask-only"};
	struct ctx c;

	for (enum mode m = PLAIN; m <= ASK_ONLY; m++) {
		vt_path(c.path, sizeof(c.path), names[m]);
		c.mode = m;
		if (vt_run_pair(server, client, &c, tu_ms(LIMIT_MS)) != 0) {
			fprintf(stderr, "mode %s failed\n", names[m]);
			return 1;
		}
	}
	return 0;
}
