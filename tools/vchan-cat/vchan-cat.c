/* vchan-cat - copy stdin to a vchan and the vchan to stdout, between two
 * domains (netcat for vchan). See vchan-cat(1). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grant/grant.h"
#include "vchan/vchan.h"

/* Exit codes, documented in vchan-cat(1). */
enum {
	EXIT_OTHER = 1,	   /* the platform could not be set up */
	EXIT_USAGE = 2,	   /* bad arguments */
	EXIT_NOPEER = 3,   /* no such server, or not allowed to use it */
	EXIT_TIMEOUT = 4,  /* the peer did not come in time */
	EXIT_VANISHED = 5, /* the peer closed before all input was delivered */
	EXIT_PROTOCOL = 6, /* the peer broke the protocol */
	EXIT_IO = 7,	   /* reading stdin or writing stdout failed */
};

struct opts {
	int listen;
	uint32_t domid;
	/* -l '*' or -l 1,2,3: a listener for many client domains (nallow 0:
	 * any) */
	int many;
	size_t nallow;
	uint32_t allow[VCHAN_LISTEN_ALLOW_MAX];
	const char *port;
	size_t read_size, write_size;
	int timeout_ms;
	int keep_open;
	int keep_listening;
	int progress;
	int quiet;
	int spin_us;
};

struct stats {
	uint64_t sent, received;
	double start, last_report;
};

__attribute__((noreturn, format(printf, 2, 3))) static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("vchan-cat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(FILE *f)
{
	fputs(
	    "usage: vchan-cat [options] -l DOMID PORT   serve domain DOMID\n"
	    "       vchan-cat [options] -l '*' PORT     serve a client of any "
	    "domain\n"
	    "       vchan-cat [options] -l ID,ID PORT   serve a client of the "
	    "domains listed\n"
	    "       vchan-cat [options] DOMID PORT      connect to server "
	    "domain DOMID\n"
	    "PORT is a name ([A-Za-z0-9_-]+, the XenStore path\n"
	    "/local/domain/<server>/data/vchan/<client>/<PORT>, or the "
	    "server's\nlistener) or an absolute path (not with '*' or a "
	    "list).\n"
	    "  -l, --listen           be the server, for client domain DOMID\n"
	    "  -r, --read-size SIZE   server: minimum ring size for reading "
	    "(default 64K)\n"
	    "  -w, --write-size SIZE  server: minimum ring size for writing "
	    "(default 64K)\n"
	    "  -t, --timeout SECONDS  wait at most this long for the peer "
	    "(default: forever)\n"
	    "  -k, --keep-open        after stdin ends, keep receiving until "
	    "the peer closes\n"
	    "  -L, --keep-listening   server: after a client ends, serve the "
	    "next one\n"
	    "  -s, --spin USEC        spin this long before sleeping (0: "
	    "never)\n"
	    "  -p, --progress         show bytes and rates on stderr\n"
	    "  -q, --quiet            no messages but errors\n"
	    "  -h, --help             this text\n"
	    "  -V, --version          the version\n"
	    "SIZE takes a K or M suffix (1K..1M).\n",
	    f);
}

static size_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (errno != 0 || end == s || *end != '\0' || v == 0 ||
	    v > VCHAN_RING_SIZE_MAX)
		die(EXIT_USAGE, "bad %s '%s': a size from 1 to 1M", what, s);
	return v;
}

static long parse_num(const char *s, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		die(EXIT_USAGE, "bad %s '%s': a number from 0 to %ld", what, s,
		    max);
	return v;
}

/* "1,2,3": the domains a listener lets in. */
static void parse_list(const char *s, struct opts *o)
{
	char buf[64];

	for (const char *p = s;; p++) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(buf))
			die(EXIT_USAGE, "bad domain list '%s'", s);
		if (o->nallow == VCHAN_LISTEN_ALLOW_MAX)
			die(EXIT_USAGE, "more than %u domains in '%s'",
			    VCHAN_LISTEN_ALLOW_MAX, s);
		memcpy(buf, p, n);
		buf[n] = '\0';
		o->allow[o->nallow++] =
		    (uint32_t)parse_num(buf, 32751, "domain id");
		p += n;
		if (*p == '\0')
			break;
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"listen", no_argument, NULL, 'l'},
	    {"read-size", required_argument, NULL, 'r'},
	    {"write-size", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"keep-open", no_argument, NULL, 'k'},
	    {"keep-listening", no_argument, NULL, 'L'},
	    {"spin", required_argument, NULL, 's'},
	    {"progress", no_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.read_size = 65536,
			   .write_size = 65536,
			   .timeout_ms = -1,
			   .spin_us = -1};
	while ((c = getopt_long(argc, argv, "lr:w:t:kLs:pqhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = 1;
			break;
		case 'r':
			o->read_size = parse_size(optarg, "read size");
			break;
		case 'w':
			o->write_size = parse_size(optarg, "write size");
			break;
		case 't':
			o->timeout_ms =
			    (int)parse_num(optarg, 86400, "timeout") * 1000;
			break;
		case 'k':
			o->keep_open = 1;
			break;
		case 'L':
			o->keep_listening = 1;
			break;
		case 's':
			o->spin_us = (int)parse_num(optarg, 1000000, "spin");
			break;
		case 'p':
			o->progress = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vchan-cat %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	if (o->keep_listening && !o->listen)
		die(EXIT_USAGE, "--keep-listening needs --listen");
	o->port = argv[optind + 1];
	if (strcmp(argv[optind], "*") == 0 || strchr(argv[optind], ',')) {
		if (!o->listen)
			die(EXIT_USAGE,
			    "'%s': a client connects to one server domain",
			    argv[optind]);
		if (o->port[0] == '/')
			die(EXIT_USAGE,
			    "a listener ('%s') takes a port name, "
			    "not a path",
			    argv[optind]);
		o->many = 1;
		if (strcmp(argv[optind], "*") != 0)
			parse_list(argv[optind], o);
	} else {
		o->domid =
		    (uint32_t)parse_num(argv[optind], 32751, "domain id");
	}
	if (o->port[0] != '/' &&
	    (o->port[0] == '\0' ||
	     strspn(o->port,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-") != strlen(o->port)))
		die(EXIT_USAGE,
		    "bad port '%s': a name of [A-Za-z0-9_-] or an absolute "
		    "path",
		    o->port);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(struct stats *s, int final)
{
	double t = now(), dt = t - s->start;

	if (!final && t - s->last_report < 0.5)
		return;
	s->last_report = t;
	if (dt <= 0)
		dt = 1e-9;
	fprintf(stderr,
		"vchan-cat: sent %llu bytes (%.1f MB/s), received %llu bytes "
		"(%.1f MB/s)%s",
		(unsigned long long)s->sent, (double)s->sent / dt / 1e6,
		(unsigned long long)s->received, (double)s->received / dt / 1e6,
		final ? "\n" : "\r");
}

/* XenStore path of the channel, from our domid and the options. */
static void channel_path(const struct opts *o, char *buf, size_t size)
{
	if (o->port[0] == '/') {
		if (snprintf(buf, size, "%s", o->port) >= (int)size)
			die(EXIT_USAGE, "port path too long");
		return;
	}
	/* The name first, with ids that need no store: a store that cannot
	 * be opened (a bad platform, say) is no usage error. */
	if (vchan_path(buf, size, 0, 0, o->port) < 0)
		die(EXIT_USAGE, "bad port '%s': %s", o->port, strerror(errno));
	if (vchan_path(buf, size, o->listen ? VCHAN_DOMID_SELF : o->domid,
		       o->listen ? o->domid : VCHAN_DOMID_SELF, o->port) < 0)
		die(EXIT_OTHER, "cannot tell our domain id: %s",
		    strerror(errno));
}

static int poll_one(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r = poll(&p, 1, timeout_ms);

	return r < 0 && errno != EINTR ? -1 : r;
}

/* Server: wait until the client is there, at most timeout_ms. Returns
 * 0, or -1 when it did not come in time. */
static int await_client(struct vchan *ch, const struct opts *o)
{
	double deadline = now() + o->timeout_ms / 1000.0;

	if (!o->quiet)
		fprintf(stderr, "vchan-cat: waiting for domain %u\n", o->domid);
	while (vchan_is_open(ch) == VCHAN_WAITING) {
		int left = -1;

		if (o->timeout_ms >= 0) {
			left = (int)((deadline - now()) * 1000);
			if (left <= 0)
				return -1;
		}
		if (poll_one(vchan_fd(ch), POLLIN, left) < 0 ||
		    vchan_wait(ch, 0) < 0)
			die(EXIT_OTHER, "waiting for the client: %s",
			    strerror(errno));
	}
	return 0;
}

static struct vchan *connect_once(const struct opts *o, const char *path,
				  int timeout_ms)
{
	if (o->port[0] == '/')
		return vchan_client_connect(o->domid, path, timeout_ms);
	return vchan_client_connect_port(o->domid, o->port, timeout_ms);
}

/* -l '*' or a list: the listener, made once. */
static struct vchan_listener *open_listener(const struct opts *o)
{
	struct vchan_listener *l =
	    vchan_listen(o->port, o->nallow ? o->allow : NULL, o->nallow,
			 o->read_size, o->write_size);

	if (l == NULL && errno == EADDRINUSE)
		die(EXIT_OTHER,
		    "cannot listen on port %s: another listener is there "
		    "(address in use)",
		    o->port);
	if (l == NULL)
		die(errno == EINVAL ? EXIT_USAGE : EXIT_OTHER,
		    "cannot listen on port %s: %s", o->port, strerror(errno));
	return l;
}

/* The listener's next client, within the timeout; NULL when none came. */
static struct vchan *accept_client(struct vchan_listener *l,
				   const struct opts *o)
{
	struct vchan *ch;
	uint32_t peer;

	if (!o->quiet)
		fprintf(stderr, "vchan-cat: waiting for a client on port %s\n",
			o->port);
	do
		ch = vchan_accept(l, &peer, o->timeout_ms);
	while (ch == NULL && errno == EINTR);
	/* -t 0 looks once: nobody there is EAGAIN, as a timeout. */
	if (ch == NULL && errno != ETIMEDOUT && errno != EAGAIN)
		die(EXIT_OTHER, "accepting a client: %s", strerror(errno));
	if (ch != NULL && !o->quiet)
		fprintf(stderr, "vchan-cat: client from domain %u\n", peer);
	return ch;
}

static struct vchan *open_channel(const struct opts *o, const char *path)
{
	struct vchan *ch;

	if (o->listen) {
		ch = vchan_server_create(o->domid, path, o->read_size,
					 o->write_size);
		if (ch == NULL && errno == EADDRINUSE)
			die(EXIT_OTHER,
			    "cannot serve %s: another server is listening "
			    "there (address in use)",
			    path);
		if (ch == NULL)
			die(errno == EINVAL ? EXIT_USAGE : EXIT_OTHER,
			    "cannot serve %s: %s", path, strerror(errno));
		return ch;
	}
	/* Look once without waiting, to say that we wait. A port name
	 * also finds the server's listener. */
	ch = connect_once(o, path, 0);
	if (ch == NULL && o->timeout_ms != 0 &&
	    (errno == ETIMEDOUT || errno == EACCES)) {
		if (!o->quiet)
			fprintf(stderr,
				"vchan-cat: waiting for the server at %s\n",
				path);
		ch = connect_once(o, path, o->timeout_ms);
	}
	if (ch != NULL)
		return ch;
	switch (errno) {
	case ETIMEDOUT:
		if (o->timeout_ms == 0)
			die(EXIT_NOPEER, "no server at %s", path);
		die(EXIT_TIMEOUT, "no server at %s within %d s", path,
		    o->timeout_ms / 1000);
	case ECONNREFUSED:
		die(EXIT_NOPEER,
		    "the server at %s is gone (its keys are stale)", path);
	case ENOENT:
	case EACCES:
	case EPERM:
		die(EXIT_NOPEER, "cannot use the server at %s: %s", path,
		    strerror(errno));
	case EPROTO:
		die(EXIT_PROTOCOL, "the server at %s is malformed", path);
	default:
		die(EXIT_OTHER, "cannot connect to %s: %s", path,
		    strerror(errno));
	}
	return NULL;
}

static void write_all(int fd, const struct iovec *seg, int n)
{
	for (int i = 0; i < n; i++) {
		const char *p = seg[i].iov_base;
		size_t left = seg[i].iov_len;

		while (left > 0) {
			ssize_t w = write(fd, p, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				die(EXIT_IO, "writing stdout: %s",
				    strerror(errno));
			p += w;
			left -= (size_t)w;
		}
	}
}

/* Move what is ready from the channel to stdout. Returns bytes moved, or
 * -1 once the peer has closed and everything it wrote was read. */
static ssize_t to_stdout(struct vchan *ch, struct stats *st)
{
	struct iovec seg[2];
	int n = vchan_peek(ch, 1, seg);
	size_t len;

	if (n < 0 && errno == EPIPE)
		return -1;
	if (n < 0)
		die(errno == EPROTO ? EXIT_PROTOCOL : EXIT_OTHER,
		    "reading the channel: %s", strerror(errno));
	if (n == 0)
		return 0;
	write_all(STDOUT_FILENO, seg, n);
	len = seg[0].iov_len + (n > 1 ? seg[1].iov_len : 0);
	if (vchan_consume(ch, len) < 0)
		die(EXIT_PROTOCOL, "reading the channel: %s", strerror(errno));
	st->received += len;
	return (ssize_t)len;
}

/* Say that the peer vanished with our input undelivered; the session's
 * status. */
__attribute__((format(printf, 1, 2))) static int lost(const char *fmt, ...)
{
	va_list ap;

	fputs("vchan-cat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_VANISHED;
}

#define LOST (-2) /* from_stdin: the peer vanished (said) */

/* Read stdin straight into the write ring. Returns bytes moved, 0 when
 * nothing could move, -1 at end of input, LOST. */
static ssize_t from_stdin(struct vchan *ch, struct stats *st)
{
	struct iovec seg[2];
	ssize_t space = vchan_buffer_space(ch), r;
	int n;

	if (space < 0)
		die(EXIT_PROTOCOL, "writing the channel: %s", strerror(errno));
	if (space == 0 || poll_one(STDIN_FILENO, POLLIN, 0) <= 0)
		return 0;
	n = vchan_reserve(ch, (size_t)space, seg);
	/* The peer closed: nothing was read, so nothing is lost yet; the
	 * caller finds the close when it drains the channel. */
	if (n < 0 && errno == EPIPE)
		return 0;
	if (n <= 0)
		die(EXIT_PROTOCOL, "writing the channel: %s", strerror(errno));
	do
		r = readv(STDIN_FILENO, seg, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die(EXIT_IO, "reading stdin: %s", strerror(errno));
	if (vchan_commit(ch, (size_t)r) < 0) {
		if (errno == EPIPE && r == 0)
			return -1;
		if (errno == EPIPE) {
			lost("the peer closed before all input was delivered");
			return LOST;
		}
		die(EXIT_PROTOCOL, "writing the channel: %s", strerror(errno));
	}
	st->sent += (uint64_t)r;
	return r == 0 ? -1 : r;
}

/* How long a closed peer waits for input that is on its way (a writer
 * in the middle of its output) before taking our input as quiet. */
#define STDIN_GRACE_MS 200

/* The peer is gone: fine when it took everything we had for it. Only
 * input that we read and could not deliver is a loss: input that is
 * quiet (a terminal nobody types at, a writer that never wrote) or has
 * ended is none. Returns 0 or the session's status. */
static int peer_closed(struct vchan *ch, int in_open)
{
	ssize_t space = vchan_buffer_space(ch);
	ssize_t r;
	char c;

	if (space >= 0 && (size_t)space < vchan_write_size(ch))
		return lost("the peer closed with %zu bytes of ours unread",
			    vchan_write_size(ch) - (size_t)space);
	/* A terminal is left alone: a key typed now was meant for nobody
	 * yet, and reading it would take it from the shell. */
	if (!in_open || isatty(STDIN_FILENO))
		return 0;
	if (poll_one(STDIN_FILENO, POLLIN, STDIN_GRACE_MS) <= 0)
		return 0;
	do
		r = read(STDIN_FILENO, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return lost("the peer closed before all input was delivered");
	return 0;
}

/* One client's session on `ch`: copy both ways until done. *in_open is
 * cleared when our input ends. Returns 0 or an exit status (said). */
static int session(struct vchan *ch, const struct opts *o, struct stats *st,
		   int *in_open)
{
	vchan_set_blocking(ch, 0);
	for (;;) {
		struct pollfd p[2] = {{.fd = vchan_fd(ch), .events = POLLIN},
				      {.fd = STDIN_FILENO, .events = POLLIN}};
		ssize_t in = 0, out;
		int state;

		out = to_stdout(ch, st);
		if (out < 0) /* the peer closed; we read all it wrote */
			return peer_closed(ch, *in_open);
		if (*in_open) {
			in = from_stdin(ch, st);
			if (in == LOST)
				return EXIT_VANISHED;
			if (in < 0) {
				*in_open = 0;
				if (!o->keep_open)
					return 0;
			}
		}
		if (o->progress)
			report(st, 0);
		if (in != 0 || out != 0)
			continue;
		state = vchan_is_open(ch);
		if (state < 0) {
			fputs("vchan-cat: the peer broke the protocol\n",
			      stderr);
			return EXIT_PROTOCOL;
		}
		/* Sleep until the channel or stdin has something for us. The
		 * calls above asked the peer for the events we need. */
		if (poll(p, *in_open && vchan_buffer_space(ch) > 0 ? 2 : 1,
			 -1) < 0 &&
		    errno != EINTR)
			die(EXIT_OTHER, "poll: %s", strerror(errno));
		if (vchan_wait(ch, 0) < 0)
			die(errno == EPROTO ? EXIT_PROTOCOL : EXIT_OTHER,
			    "waiting: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct stats st = {0};
	char path[3200];
	struct vchan_listener *l = NULL;
	struct vchan *ch;
	int in_open = 1, rc = 0, served = 0;

	parse(argc, argv, &o);
	/* A bad environment is one line, the library's, naming the
	 * variable. */
	if (vchan_platform_check() < 0)
		exit(EXIT_OTHER);
	signal(SIGPIPE, SIG_IGN);
	if (o.many)
		l = open_listener(&o);
	else
		channel_path(&o, path, sizeof(path));
	for (;;) {
		if (l != NULL) {
			ch = accept_client(l, &o);
			if (ch == NULL) {
				if (served)
					break;
				vchan_listener_close(l);
				die(EXIT_TIMEOUT,
				    "no client connected within %d s",
				    o.timeout_ms / 1000);
			}
		} else {
			ch = open_channel(&o, path);
		}
		if (o.spin_us >= 0)
			vchan_set_spin(ch, (unsigned)o.spin_us);
		if (o.listen && l == NULL && await_client(ch, &o) < 0) {
			vchan_close(ch);
			/* With --keep-listening, a next client that does not
			 * come in time ends the server. */
			if (served)
				break;
			die(EXIT_TIMEOUT,
			    "domain %u did not connect within %d s", o.domid,
			    o.timeout_ms / 1000);
		}
		st.start = st.last_report = now();
		rc = session(ch, &o, &st, &in_open);
		if (o.progress)
			report(&st, 1);
		vchan_close(ch);
		served++;
		if (!o.keep_listening)
			break;
		/* The next client gets its own count. */
		st = (struct stats){0};
	}
	vchan_listener_close(l);
	return rc;
}
