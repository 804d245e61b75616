/* grant/linux.c - what the Linux backends (sim and xen) tell of the
 * scheduler, for the waiting strategy of vchan/wait.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "grant/backend.h"

/* /proc/thread-self/schedstat: time on the CPU, time runnable but waiting
 * for one (run_delay), and time slices, as three decimal numbers. The
 * second is the time other tasks of this kernel took from us. Read anew
 * each time (one open, read and close, about a microsecond) so that it is
 * the calling thread's, whichever thread that is. */
int vchan_linux_stolen(vchan_evt *h, uint64_t *ns)
{
	char buf[128];
	uint64_t run, wait;
	ssize_t n;
	int fd;

	(void)h;
	fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EIO : errno;
		return -1;
	}
	buf[n] = '\0';
	if (sscanf(buf, "%" SCNu64 " %" SCNu64, &run, &wait) != 2) {
		errno = EIO;
		return -1;
	}
	*ns = wait;
	return 0;
}
