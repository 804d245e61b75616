/* tests/vchan/vchan_poll.c - a non-blocking client driven by poll() on the
 * channel's fd sleeps while the server is idle: the server sends bursts
 * with pauses between them, and the client must wake about once per burst
 * (counted) and use little CPU while waiting. */
#include "config.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"

#define BURSTS	 20
#define BURST	 700
#define PAUSE_US 30000
#define LIMIT_MS 20000

struct ctx {
	char path[256];
};

static int server(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[BURST];
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 0, 4096);

	CHECK(ch != NULL);
	CHECK(vt_await_client(ch) == 0);
	for (int i = 0; i < BURSTS; i++) {
		usleep(PAUSE_US);
		vt_fill(buf, BURST, (uint64_t)i * BURST, 21);
		CHECK(vchan_write(ch, buf, BURST) == BURST);
	}
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[4096];
	struct vchan *ch = vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	uint64_t got = 0;
	int wakeups = 0, idle_wakeups = 0;
	double cpu0;
	int64_t t0;

	CHECK(ch != NULL);
	CHECK(vchan_set_blocking(ch, 0) == 0);
	cpu0 = cpu_seconds();
	t0 = tu_now_us();
	for (;;) {
		ssize_t r;
		int moved = 0;

		while ((r = vchan_read(ch, buf, sizeof(buf))) > 0) {
			CHECK(vt_check(buf, (size_t)r, got, 21) == (size_t)r);
			got += (uint64_t)r;
			moved = 1;
		}
		if (r < 0) {
			CHECK(errno == EPIPE);
			break;
		}
		if (!moved && wakeups > 0)
			idle_wakeups++;
		CHECK(tu_readable(vchan_fd(ch), tu_ms(30000)) == 1);
		wakeups++;
		CHECK(vchan_wait(ch, 0) >= 0);
	}
	fprintf(stderr,
		"%d bursts: %d wake-ups (%d with nothing to read), "
		"%.1f ms CPU in %.0f ms\n",
		BURSTS, wakeups, idle_wakeups, (cpu_seconds() - cpu0) * 1e3,
		(double)(tu_now_us() - t0) / 1e3);
	CHECK(got == (uint64_t)BURSTS * BURST);
	/* One wake-up per burst, plus a few for connecting and closing;
	 * a client that spun or busy-polled would count thousands. */
	CHECK(wakeups >= BURSTS / 2);
	CHECK(wakeups <= 2 * BURSTS + 4);
	CHECK(idle_wakeups <= BURSTS / 4 + 2);
	/* It slept through the ~600 ms of pauses. */
	CHECK(cpu_seconds() - cpu0 < 0.2);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

int main(void)
{
	struct ctx c;

	vt_path(c.path, sizeof(c.path), "poll");
	return vt_run_pair(server, client, &c, LIMIT_MS);
}
