/* tools/vchan-sim/preload.c - vchan-sim-preload.so, loaded with LD_PRELOAD
 * into the programs vchan-sim runs.
 *
 * 1. The few libxenctrl calls xenstored and vchan-socket-proxy make:
 *    xc_interface_open/close, and xc_domain_getinfo saying that every
 *    domain asked about exists and runs (the simulator has no list of
 *    domains). They carry libxenctrl's version node, VERS_4.17.0, so they
 *    take the place of the real library's.
 * 2. xenstored finds domain 0's XenStore ring through /proc/xen/xsd_port
 *    (an event channel port) and /proc/xen/xsd_kva (a page). When
 *    VCHAN_SIM_XENSTORED_DIR is set, opens of those two paths are sent to
 *    files of that directory: xsd_port holds a port that an event handle of
 *    this process allocated for domain 0 (kept open for the life of the
 *    process, so xenstored can bind to it), xsd_kva one zeroed page. */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>

#define XSD_PORT "/proc/xen/xsd_port"
#define XSD_KVA	 "/proc/xen/xsd_kva"

struct xc_interface_core {
	int unused;
};

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	(void)logger;
	(void)dombuild_logger;
	(void)open_flags;
	return calloc(1, sizeof(struct xc_interface_core));
}

int xc_interface_close(xc_interface *xch)
{
	free(xch);
	return 0;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
		      unsigned int max_doms, xc_dominfo_t *info)
{
	if (xch == NULL || info == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (max_doms == 0)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domid = first_domid;
	info->running = 1;
	return 1;
}

/* Write `len` bytes to a fresh file dir/name, replacing what was there. */
static int put_file(const char *path, const void *data, size_t len)
{
	int (*real_open)(const char *, int, ...) =
	    (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	int fd =
	    real_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	if (n != (ssize_t)len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Make the stand-in for `path` (one of the two /proc/xen files) and write
 * its name into buf. Returns 0, 1 when `path` is not redirected, or -1. */
static int redirect(const char *path, char *buf, size_t size)
{
	static const char zero_page[4096];
	const char *dir = getenv("VCHAN_SIM_XENSTORED_DIR");
	int is_port;

	if (path == NULL || dir == NULL || *dir == '\0')
		return 1;
	is_port = strcmp(path, XSD_PORT) == 0;
	if (!is_port && strcmp(path, XSD_KVA) != 0)
		return 1;
	if ((size_t)snprintf(buf, size, "%s/%s", dir,
			     is_port ? "xsd_port" : "xsd_kva") >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (is_port) {
		/* Deliberately never closed: the port must outlive this call
		 * for xenstored to bind to it. */
		xenevtchn_handle *x = xenevtchn_open(NULL, 0);
		char num[16];
		int port;

		if (x == NULL)
			return -1;
		port = xenevtchn_bind_unbound_port(x, 0);
		if (port < 0) {
			xenevtchn_close(x);
			return -1;
		}
		snprintf(num, sizeof(num), "%d\n", port);
		return put_file(buf, num, strlen(num));
	}
	if (access(buf, F_OK) == 0)
		return 0;
	return put_file(buf, zero_page, sizeof(zero_page));
}

static int open_common(const char *sym, const char *path, int flags,
		       mode_t mode)
{
	int (*real)(const char *, int, ...) =
	    (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);
	char buf[4096];
	int r = redirect(path, buf, sizeof(buf));

	if (r < 0)
		return -1;
	return real(r == 0 ? buf : path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common("open64", path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	int (*real)(int, const char *, int, ...) =
	    (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	mode_t mode = 0;
	char buf[4096];
	int r;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	r = redirect(path, buf, sizeof(buf));
	if (r < 0)
		return -1;
	return real(dirfd, r == 0 ? buf : path, flags, mode);
}

static FILE *fopen_common(const char *sym, const char *path, const char *mode)
{
	FILE *(*real)(const char *, const char *) =
	    (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, sym);
	char buf[4096];
	int r = redirect(path, buf, sizeof(buf));

	if (r < 0)
		return NULL;
	return real(r == 0 ? buf : path, mode);
}

FILE *fopen(const char *path, const char *mode)
{
	return fopen_common("fopen", path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return fopen_common("fopen64", path, mode);
}
