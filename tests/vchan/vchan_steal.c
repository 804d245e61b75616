/* tests/vchan/vchan_steal.c - a channel that other tasks keep from a CPU
 * backs off, and comes back once they stop, though it slept all through
 * its back-off and each of those sleeps ended with a moment in the run
 * queue (the wake-up of a halted CPU). This test stands in for the
 * scheduler's account of that time (vchan_evt_stolen): for the first
 * BURST_MS of the run, half of the time; after that, `per_sleep` ns for
 * each sleep of the process. With spinning off, a call that stalls offers
 * the CPU (sched_yield, counted here and returning at once) before it
 * sleeps, unless the channel backs off. The writer stalls on every chunk,
 * the reader taking one every READ_GAP_US:
 *   - per_sleep of a wake-up (WAKE_NS, under LOST_CPU_NS): the offers are
 *     back in the second half of the run;
 *   - per_sleep of a time slice (SLICE_NS): contention goes on, and so
 *     does the back-off: almost no offers. */
#include "config.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "grant/grant.h"
#include "tests/vchan/vtest.h"

#define CHUNK	    1024
#define RUN_MS	    600
#define BURST_MS    20
#define READ_GAP_US 200
#define WAKE_NS	    30000u
#define SLICE_NS    2000000u
#define LIMIT_MS    30000

struct ctx {
	char path[256];
	uint64_t per_sleep;
};

/* This process's stand-ins (each process of the pair has its own). */
static uint64_t g_start_us; /* the run began (0: not yet) */
static uint64_t g_per_sleep;
static unsigned long g_yields;

int sched_yield(void)
{
	g_yields++;
	return 0;
}

int vchan_evt_stolen(vchan_evt *h, uint64_t *ns)
{
	uint64_t burst = 0;
	long sleeps = vt_sleeps();

	(void)h;
	if (sleeps < 0)
		return -1;
	if (g_start_us != 0) {
		burst = (uint64_t)tu_now_us() - g_start_us;
		if (burst > BURST_MS * 1000u)
			burst = BURST_MS * 1000u;
		burst = burst * 1000u / 2u;
	}
	*ns = (uint64_t)sleeps * g_per_sleep + burst;
	return 0;
}

static int writer(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[CHUNK];
	uint64_t sent = 0, half_at = 0;
	unsigned long yields_half = 0, stalls = 0, stalls_half = 0;
	long before;
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 0, 0);

	CHECK(ch != NULL);
	CHECK(vchan_set_spin(ch, 0) == 0);
	CHECK(vt_await_client(ch) == 0);
	g_per_sleep = c->per_sleep;
	g_start_us = (uint64_t)tu_now_us();
	g_yields = 0;
	for (;;) {
		uint64_t t = (uint64_t)tu_now_us() - g_start_us;

		if (t >= RUN_MS * 1000u)
			break;
		if (half_at == 0 && t >= RUN_MS * 1000u / 2) {
			half_at = t;
			yields_half = g_yields;
			stalls_half = stalls;
		}
		vt_fill(buf, CHUNK, sent, 9);
		CHECK((before = vt_sleeps()) >= 0);
		CHECK(vchan_write(ch, buf, CHUNK) == CHUNK);
		if (vt_sleeps() > before)
			stalls++;
		sent += CHUNK;
	}
	fprintf(stderr,
		"per sleep %llu ns: %lu stalls, %lu offers; second half %lu "
		"stalls, %lu offers\n",
		(unsigned long long)c->per_sleep, stalls, g_yields,
		stalls - stalls_half, g_yields - yields_half);
	/* The run was long enough to tell: the writer kept stalling. */
	CHECK(stalls - stalls_half >= 50);
	if (c->per_sleep < SLICE_NS)
		CHECK(2 * (g_yields - yields_half) >= stalls - stalls_half);
	else
		CHECK(10 * (g_yields - yields_half) < stalls - stalls_half);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int reader(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[CHUNK];
	uint64_t got = 0;
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	ssize_t r;

	CHECK(ch != NULL);
	CHECK(vchan_set_spin(ch, 0) == 0);
	while ((r = vchan_read(ch, buf, sizeof(buf))) > 0) {
		CHECK(vt_check(buf, (size_t)r, got, 9) == (size_t)r);
		got += (uint64_t)r;
		usleep(READ_GAP_US);
	}
	CHECK(r < 0 && errno == EPIPE);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

int main(void)
{
	struct ctx c;

	vt_path(c.path, sizeof(c.path), "steal-wake");
	c.per_sleep = WAKE_NS;
	if (vt_run_pair(writer, reader, &c, tu_ms(LIMIT_MS)) != 0)
		return 1;
	vt_path(c.path, sizeof(c.path), "steal-slice");
	c.per_sleep = SLICE_NS;
	return vt_run_pair(writer, reader, &c, tu_ms(LIMIT_MS));
}
