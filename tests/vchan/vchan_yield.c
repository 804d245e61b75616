/* tests/vchan/vchan_yield.c - with spinning off, a blocking call that
 * cannot go on offers the CPU once (sched_yield) and looks again before it
 * sleeps. This test stands in for the scheduler: its own sched_yield, which
 * the library's call resolves to, lets the peer free space during the
 * yield in one case and not in the other; and its vchan_evt_stolen says
 * that nothing else keeps the writer from a CPU (a calm host: on a busy
 * one the library sleeps without offering the CPU, see vchan/wait.c). A write
 * whose peer moved during the yield goes on without sleeping; one whose peer
 * did not sleeps after exactly one yield, and completes on the peer's event. */
#include "config.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "grant/grant.h"
#include "tests/vchan/vtest.h"

#define CHUNK	 1024
#define LIMIT_MS 20000

enum { MOVE = 1, STAY = 2 };

/* Shared by the two processes (an anonymous shared mapping made before
 * they fork). */
struct shared {
	atomic_int mode;     /* what the writer's next yield does */
	atomic_int yields;   /* the writer's sched_yield calls */
	atomic_int go;	     /* the reader may take a chunk */
	atomic_int consumed; /* chunks the reader took */
};

struct ctx {
	char path[256];
	struct shared *sh;
};

static struct shared *g_sh;

static int64_t deadline(void)
{
	return tu_now_us() + (int64_t)tu_ms(LIMIT_MS) * 1000;
}

/* Every sched_yield of this program, the library's included. In MOVE mode
 * the peer takes a chunk while we "yield": we wait (without sleeping) until
 * it has. */
int sched_yield(void)
{
	struct shared *sh = g_sh;
	int64_t end;

	if (sh == NULL)
		return 0;
	atomic_fetch_add(&sh->yields, 1);
	if (atomic_load(&sh->mode) != MOVE)
		return 0;
	end = deadline();
	atomic_fetch_add(&sh->go, 1);
	while (atomic_load(&sh->consumed) < atomic_load(&sh->go) &&
	       tu_now_us() < end)
		;
	return 0;
}

/* The library's reading of the time other tasks took from us: none. */
int vchan_evt_stolen(vchan_evt *h, uint64_t *ns)
{
	(void)h;
	*ns = 0;
	return 0;
}

static int writer(void *arg)
{
	struct ctx *c = arg;
	uint8_t buf[CHUNK];
	uint64_t sent = 0;
	size_t size;
	long before;
	struct vchan *ch = vchan_server_create(CLI_DOMID, c->path, 0, 0);

	CHECK(ch != NULL);
	/* Spinning off before the first wait, too: a spin for the client
	 * that the scheduler cuts short (a loaded machine, a sanitizer's
	 * slowness) would start a back-off, and a channel backing off sleeps
	 * without offering the CPU, which is not what this test is about. */
	CHECK(vchan_set_spin(ch, 0) == 0);
	CHECK(vt_await_client(ch) == 0);
	/* Fill the ring: every write fits, nothing stalls or yields. */
	size = vchan_write_size(ch);
	CHECK(size % CHUNK == 0);
	for (; sent < size; sent += CHUNK) {
		vt_fill(buf, CHUNK, sent, 9);
		CHECK(vchan_write(ch, buf, CHUNK) == CHUNK);
	}
	g_sh = c->sh;
	CHECK(atomic_load(&c->sh->yields) == 0);

	/* The ring is full; the reader frees a chunk during the yield. */
	atomic_store(&c->sh->mode, MOVE);
	vt_fill(buf, CHUNK, sent, 9);
	CHECK((before = vt_sleeps()) >= 0);
	CHECK(vchan_write(ch, buf, CHUNK) == CHUNK);
	CHECK(vt_sleeps() == before);
	CHECK(atomic_load(&c->sh->yields) == 1);
	sent += CHUNK;
	/* The reader's event for that chunk came anyway: consume it, so the
	 * next stall starts clean. */
	CHECK(vchan_wait(ch, 0) >= 0);

	/* Full again; this time the reader waits until after the yield. */
	atomic_store(&c->sh->mode, STAY);
	vt_fill(buf, CHUNK, sent, 9);
	CHECK((before = vt_sleeps()) >= 0);
	CHECK(vchan_write(ch, buf, CHUNK) == CHUNK);
	CHECK(vt_sleeps() > before);
	CHECK(atomic_load(&c->sh->yields) == 2);
	g_sh = NULL;
	fprintf(stderr, "writer: %d yields\n", atomic_load(&c->sh->yields));
	CHECK(vchan_close(ch) == 0);
	return 0;
}

/* Read exactly n bytes of stream 9 from `at`. Returns 0 or 1 (the
 * checks' failure value). */
static int take(struct vchan *ch, size_t n, uint64_t at)
{
	uint8_t buf[CHUNK];

	CHECK(n <= sizeof(buf));
	CHECK(vchan_read(ch, buf, n) == (ssize_t)n);
	CHECK(vt_check(buf, n, at, 9) == n);
	return 0;
}

static int reader(void *arg)
{
	struct ctx *c = arg;
	struct shared *sh = c->sh;
	uint8_t buf[CHUNK];
	uint64_t got = 0;
	int64_t end = deadline();
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	ssize_t r;

	CHECK(ch != NULL);
	/* First case: one chunk when the writer's yield asks for it. */
	while (atomic_load(&sh->go) < 1 && tu_now_us() < end)
		usleep(1000);
	CHECK(atomic_load(&sh->go) == 1);
	CHECK(take(ch, CHUNK, got) == 0);
	got += CHUNK;
	atomic_store(&sh->consumed, 1);

	/* Second case: after the writer's second yield, and long enough
	 * after it that the writer is asleep. */
	while (atomic_load(&sh->yields) < 2 && tu_now_us() < end)
		usleep(1000);
	CHECK(atomic_load(&sh->yields) == 2);
	usleep(100000);
	CHECK(take(ch, CHUNK, got) == 0);
	got += CHUNK;

	/* The rest of the stream, then the writer's close. */
	while ((r = vchan_read(ch, buf, sizeof(buf))) > 0) {
		CHECK(vt_check(buf, (size_t)r, got, 9) == (size_t)r);
		got += (uint64_t)r;
	}
	CHECK(r < 0 && errno == EPIPE);
	CHECK(got == vchan_read_size(ch) + 2 * CHUNK);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

int main(void)
{
	struct ctx c;

	c.sh = mmap(NULL, sizeof(*c.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(c.sh != MAP_FAILED);
	vt_path(c.path, sizeof(c.path), "yield");
	return vt_run_pair(writer, reader, &c, tu_ms(LIMIT_MS));
}
