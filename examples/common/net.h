/* examples/common/net.h - the TCP bits the example domains share. */
#ifndef EXAMPLES_COMMON_NET_H
#define EXAMPLES_COMMON_NET_H

/* Listen on "HOST:PORT" (HOST may be empty for any address; PORT 0 lets
 * the kernel choose). The socket is non-blocking and close-on-exec.
 * Returns the socket and stores the port bound in *port, or -1 + errno
 * (EINVAL: not HOST:PORT; EADDRNOTAVAIL: the name does not resolve, or is
 * not an address of this machine). */
int net_listen(const char *spec, int *port);

/* Whether `s` is a TCP port number for net_listen: decimal 0..65535 (0:
 * any free port). Returns 0, or -1 for anything else. */
int net_port_ok(const char *s);

/* Write `port` and a newline to `path` as a whole: a reader sees either no
 * file or the complete line. Returns 0 or -1 + errno. */
int net_write_port(const char *path, int port);

/* Raise the soft limit of open files to the hard one: a server holds one
 * descriptor per client. Failure is not an error (the limit stays). */
void net_raise_nofile(void);

#endif
