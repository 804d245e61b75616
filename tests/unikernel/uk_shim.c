/* tests/unikernel/uk_shim.c - the runtime calls unikernel/ev.c makes,
 * on Linux: a descriptor's "port" is the descriptor itself, and waiting
 * on ports is poll(). With it, the unikernel's event loop runs the
 * Linux build of a service (tests/unikernel/ev_web.sh runs web on it
 * under the web example's load and garbage tests). */
#include "config.h"

#include <poll.h>
#include <time.h>

#include "unikernel/pv.h"

uint64_t uk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int uk_fd_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (fd < 0 || poll(&p, 1, 0) < 0 || (p.revents & POLLNVAL))
		return -1;
	return p.revents != 0;
}

unsigned uk_fd_ports(int fd, uint32_t *out, unsigned max)
{
	if (fd < 0 || max == 0)
		return 0;
	out[0] = (uint32_t)fd;
	return 1;
}

int uk_wait_ports(const uint32_t *ports, unsigned n, uint64_t deadline_ns)
{
	struct pollfd p[UK_WAIT_PORTS];
	int ms = -1;

	if (n > UK_WAIT_PORTS)
		n = UK_WAIT_PORTS;
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = (int)ports[i], .events = POLLIN};
	if (deadline_ns != 0) {
		uint64_t now = uk_now_ns();

		/* Rounded up: poll must not come back before the deadline
		 * (the loop would ask again, spinning). */
		ms = deadline_ns <= now
			 ? 0
			 : (int)((deadline_ns - now + 999999u) / 1000000u);
	}
	return poll(p, n, ms) > 0;
}
