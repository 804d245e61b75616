/* tests/interop/dropin_api.c - the semantics of the simulator's
 * libxenevtchn.so.1 / libxengnttab.so.1 that Xen's programs rely on,
 * called through Xen's own API (linked against the drop-ins):
 *   - xenevtchn_pending blocks until an event, or fails with EAGAIN when the
 *     fd was made non-blocking; ports and grant refs are never 0;
 *   - an unmap notification names a port of another open event handle;
 *   - closing a grant handle leaves its address ranges alone (libxenvchan
 *     munmaps multi-page rings itself, and the range may be reused).
 * Domain 1 (this process) and domain 2 (a child) talk. Exits 0 when all
 * hold, 1 with a message otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "tests/testutil.h"

#define PAGE 4096

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "dropin_api:%d: %s failed (%s)\n",     \
				__LINE__, #cond, strerror(errno));             \
			exit(1);                                               \
		}                                                              \
	} while (0)

struct hello {
	int port;
	uint32_t ref;
};

/* Domain 2: bind to the parent's port, map its page with a notification
 * on cli_live-like byte 20, notify, then exit (which unmaps). */
static int child(void *arg)
{
	int *ends = arg; /* down[0], down[1], up[0], up[1] */
	int rd = ends[0], wr = ends[3];
	struct hello h;
	xenevtchn_handle *x;
	xengnttab_handle *gt;
	uint8_t *page;
	int local;

	close(ends[1]); /* the parent's ends */
	close(ends[2]);
	CHECK(read(rd, &h, sizeof(h)) == sizeof(h));
	x = xenevtchn_open(NULL, 0);
	gt = xengnttab_open(NULL, 0);
	CHECK(x != NULL && gt != NULL);
	local = xenevtchn_bind_interdomain(x, 1, (evtchn_port_t)h.port);
	CHECK(local > 0);
	page = xengnttab_map_grant_ref_notify(
	    gt, 1, h.ref, PROT_READ | PROT_WRITE, 20, (evtchn_port_t)local);
	CHECK(page != NULL);
	CHECK(page[0] == 0x5a);
	page[20] = 1;
	CHECK(xenevtchn_notify(x, (evtchn_port_t)local) == 0);
	CHECK(write(wr, "m", 1) == 1);
	/* Wait for the parent's go, then unmap by closing everything. */
	CHECK(read(rd, &h, 1) == 1);
	CHECK(xengnttab_unmap(gt, page, 1) == 0);
	CHECK(xengnttab_close(gt) == 0);
	CHECK(xenevtchn_close(x) == 0);
	close(rd);
	close(wr);
	return 0;
}

int main(void)
{
	int ends[4], *down = ends, *up = ends + 2, port, fd;
	xenevtchn_handle *x, *other;
	xengntshr_handle *gs;
	struct hello h;
	uint32_t refs[2];
	uint8_t *page, *pair, *reuse;
	pid_t pid;
	char c;

	setenv("VCHAN_DOMID", "1", 1);
	CHECK(pipe(down) == 0 && pipe(up) == 0);
	/* Fork before opening anything, so the child holds only its own. */
	pid = tu_spawn(2, child, ends);
	CHECK(pid > 0);
	close(down[0]);
	close(up[1]);
	other = xenevtchn_open(NULL, 0); /* the notify port is not in here */
	x = xenevtchn_open(NULL, 0);
	gs = xengntshr_open(NULL, 0);
	CHECK(other != NULL && x != NULL && gs != NULL);

	/* Non-blocking pending: EAGAIN, as a read of /dev/xen/evtchn. */
	fd = xenevtchn_fd(x);
	CHECK(fd >= 0);
	port = xenevtchn_bind_unbound_port(x, 2);
	CHECK(port > 0);
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	errno = 0;
	CHECK(xenevtchn_pending(x) == -1 && errno == EAGAIN);
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0);

	page = xengntshr_share_page_notify(gs, 2, &h.ref, 1, 21,
					   (evtchn_port_t)port);
	CHECK(page != NULL && h.ref != 0);
	page[0] = 0x5a;
	page[21] = 1;
	h.port = port;

	CHECK(write(down[1], &h, sizeof(h)) == sizeof(h));
	CHECK(read(up[0], &c, 1) == 1);
	/* Blocking pending returns the port the child notified. */
	CHECK(xenevtchn_pending(x) == port);
	CHECK(xenevtchn_unmask(x, (evtchn_port_t)port) == 0);
	CHECK(page[20] == 1);
	/* The child unmaps: its notification clears byte 20 and wakes us. */
	CHECK(write(down[1], "g", 1) == 1);
	CHECK(xenevtchn_pending(x) == port);
	CHECK(page[20] == 0);
	CHECK(tu_wait(pid, tu_ms(30000)) == 0);

	/* A port in no open handle is refused. */
	errno = 0;
	CHECK(xengntshr_share_page_notify(gs, 2, refs, 1, 21, 54321) == NULL &&
	      errno == EINVAL);

	/* Close after a plain munmap and a reuse of the range: the new
	 * mapping must survive xengntshr_close. */
	pair = xengntshr_share_pages(gs, 2, 2, refs, 1);
	CHECK(pair != NULL && refs[0] != 0 && refs[1] != 0);
	CHECK(munmap(pair, 2 * PAGE) == 0);
	reuse = mmap(pair, 2 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(reuse == pair);
	memset(reuse, 0x77, 2 * PAGE);
	CHECK(xengntshr_unshare(gs, page, 1) == 0);
	CHECK(xengntshr_close(gs) == 0);
	CHECK(reuse[0] == 0x77 && reuse[2 * PAGE - 1] == 0x77);
	CHECK(munmap(reuse, 2 * PAGE) == 0);

	CHECK(xenevtchn_close(x) == 0);
	CHECK(xenevtchn_close(other) == 0);
	close(down[1]);
	close(up[0]);
	printf("ok\n");
	return 0;
}
