/* examples/common/args.h - command-line arguments of the example domains,
 * checked so that every error names the argument at fault.
 *
 * Each function returns 0 with the value stored, or -1 after printing one
 * line on stderr: "PROG: OPT: 'VALUE' is not ..." (the caller exits 2). */
#ifndef EXAMPLES_COMMON_ARGS_H
#define EXAMPLES_COMMON_ARGS_H

#include <stdint.h>

/* A decimal integer from min to max. */
int args_long(const char *prog, const char *opt, const char *s, long min,
	      long max, long *out);

/* A decimal number (a fraction allowed) from min to max. */
int args_double(const char *prog, const char *opt, const char *s, double min,
		double max, double *out);

/* A domain id: 0 to 32751 (Xen's ids from 0x7FF0 on are reserved). */
int args_domid(const char *prog, const char *opt, const char *s, uint32_t *out);

/* A domain as vchan_domid_lookup takes it: an id (as args_domid) or a
 * domain's name, looked up when it is used. */
int args_domain(const char *prog, const char *opt, const char *s);

/* A channel's name, as vchan_path takes it: one XenStore node name of
 * [A-Za-z0-9_@-], 1 to VCHAN_PORT_MAX bytes. */
int args_port(const char *prog, const char *opt, const char *s);

/* A TCP address to listen on: HOST:PORT, HOST possibly empty (any
 * address), PORT a number from 0 to 65535 (0: the kernel picks one). The
 * host is resolved when listening. */
int args_hostport(const char *prog, const char *opt, const char *s);

/* getopt(3) ended an option with '?' or ':' (its optstring starts with
 * ':', opterr is 0): say in one line which option was unknown or lacked
 * its value. */
void args_getopt_error(const char *prog, int c, char **argv);

#endif
