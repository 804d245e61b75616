/* examples/tls-terminator/tls-terminator.c - HTTPS on a TCP port, plain
 * bytes to the web domain over one vchan.
 *
 * Each accepted connection does its TLS handshake here (the key never
 * leaves this domain), then becomes one stream of the channel
 * (examples/mux). The terminator does not parse HTTP; it only knows
 * whether the client is waiting: bytes went to the web domain and none
 * came back. A client kept waiting too long, or whose web domain went
 * away, gets a 504 or 502 instead of a hang.
 *
 * A certificate and key are made on first run in the state directory
 * (key.pem mode 0600, cert.pem), self-signed for localhost and 127.0.0.1.
 *
 * Usage: tls-terminator [-l HOST:PORT] [-d STATEDIR] [-p PORT] [-t SECS]
 *                       [-c MAXCONN] [-r READYFILE] WEB
 * (tls-terminator --help, man/tls-terminator.1)
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "examples/common/args.h"
#include "examples/common/buf.h"
#include "examples/common/net.h"
#include "examples/common/stop.h"
#include "examples/mux/link.h"
#include "examples/mux/mux.h"
#include "grant/grant.h"
#include "vchan/vchan.h"

#define HANDSHAKE_S 10.0
#define IDLE_S	    60.0
#define GRACE_S	    5.0
#define CHUNK	    16384

struct term;

struct tconn {
	struct term *t;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer timer;
	int64_t id; /* stream id, -1 when none */
	int handshaken;
	int awaiting;	   /* bytes went to the backend, none came back */
	int answered;	   /* backend bytes since the client last sent */
	int closing;	   /* close once `out` is written */
	int no_backend;	   /* answer 502 to the first request */
	uint8_t in[CHUNK]; /* from the client, not yet in the channel */
	size_t in_off, in_len;
	struct buf out; /* from the backend, not yet in TLS */
	struct tconn *prev, *next;
};

struct term {
	struct ev_loop *loop;
	SSL_CTX *ctx;
	int lfd;
	ev_io accept_io;
	const char *web; /* the web domain: an id or a name */
	struct mux_link *link;
	struct mux *mux; /* the link's, NULL while it is down */
	struct stopper stop;
	struct tconn *conns;
	size_t nconns, max_conns;
	double resp_s;
	int stopping;
};

static void pump(struct tconn *c);

/* ---- certificate ----------------------------------------------------- */

static int write_pem(const char *dir, const char *name, mode_t mode,
		     EVP_PKEY *key, X509 *cert)
{
	char tmp[4096], path[4096];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* Make a P-256 key and a self-signed certificate valid for a year. */
static int make_cert(const char *dir)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	int ok = 0;

	if (key == NULL || x == NULL)
		goto out;
	name = X509_get_subject_name(x);
	ok = X509_set_version(x, 2) &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600) &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1,
					-1, 0) &&
	     X509_set_issuer_name(x, name) &&
	     add_ext(x, NID_subject_alt_name,
		     "DNS:localhost,IP:127.0.0.1,IP:::1") &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
	     X509_sign(x, key, EVP_sha256()) > 0;
	/* The key first: a certificate without its key is useless, and the
	 * next run makes both again when either is missing. */
	ok = ok && write_pem(dir, "key.pem", 0600, key, NULL) == 0 &&
	     write_pem(dir, "cert.pem", 0644, NULL, x) == 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* Why the last call failed, into buf: OpenSSL's newest error when it has
 * one, else errno's. */
static const char *why(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, size);
	else
		snprintf(buf, size, "%s", strerror(errno));
	return buf;
}

/* The TLS context, with the state directory's certificate and key (made
 * when either is missing). NULL after one line on stderr saying what
 * failed and why. */
static SSL_CTX *tls_setup(const char *dir)
{
	char cert[4096], key[4096], reason[256];
	SSL_CTX *ctx;
	struct stat st;

	if (snprintf(cert, sizeof(cert), "%s/cert.pem", dir) >=
		(int)sizeof(cert) ||
	    snprintf(key, sizeof(key), "%s/key.pem", dir) >= (int)sizeof(key)) {
		fprintf(stderr, "tls-terminator: -d: '%s' is too long\n", dir);
		return NULL;
	}
	/* The directory itself, never its parents. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr,
			"tls-terminator: TLS setup failed: cannot create the "
			"state directory %s: %s%s\n",
			dir, strerror(errno),
			errno == ENOENT ? " (its parent must exist)" : "");
		return NULL;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"tls-terminator: TLS setup failed: the state directory "
			"%s is not a directory\n",
			dir);
		return NULL;
	}
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
		ERR_clear_error();
		if (make_cert(dir) < 0) {
			fprintf(stderr,
				"tls-terminator: TLS setup failed: cannot "
				"make a key and certificate in %s: %s\n",
				dir, why(reason, sizeof(reason)));
			return NULL;
		}
		fprintf(stderr, "tls-terminator: made a certificate in %s\n",
			dir);
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		fprintf(stderr, "tls-terminator: TLS setup failed: %s\n",
			why(reason, sizeof(reason)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr,
			"tls-terminator: TLS setup failed: cannot use %s and "
			"%s: %s (remove both to make new ones)\n",
			cert, key, why(reason, sizeof(reason)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- client connections ---------------------------------------------- */

static void check_done(struct term *t)
{
	if (t->stopping && t->nconns == 0 &&
	    (t->mux == NULL || mux_queued(t->mux) == 0))
		ev_break(t->loop, EVBREAK_ALL);
}

static void conn_free(struct tconn *c)
{
	struct term *t = c->t;

	if (c->id >= 0 && t->mux != NULL)
		mux_close(t->mux, (uint32_t)c->id);
	ev_io_stop(t->loop, &c->io);
	ev_timer_stop(t->loop, &c->timer);
	SSL_free(c->ssl);
	close(c->fd);
	buf_free(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->nconns--;
	free(c);
	check_done(t);
}

static void arm(struct tconn *c, double secs)
{
	ev_timer_stop(c->t->loop, &c->timer);
	ev_timer_set(&c->timer, secs, 0);
	ev_timer_start(c->t->loop, &c->timer);
}

/* Answer for the web domain and hang up: it is gone or too slow. A
 * client that has had part of an answer only sees the connection end. */
static void fail_request(struct tconn *c, int status)
{
	char msg[256];
	const char *why = status == 504 ? "Gateway Timeout" : "Bad Gateway";
	int n;

	if (c->id >= 0 && c->t->mux != NULL)
		mux_close(c->t->mux, (uint32_t)c->id);
	c->id = -1;
	c->closing = 1;
	c->in_len = c->in_off = 0;
	if (!c->answered) {
		n = snprintf(msg, sizeof(msg),
			     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n"
			     "%s\n",
			     status, why, strlen(why) + 1, why);
		buf_add(&c->out, msg, (size_t)n);
	}
	pump(c);
}

/* Pass client bytes on to the backend, as far as the stream takes them. */
static int forward(struct tconn *c)
{
	struct term *t = c->t;

	while (c->in_off < c->in_len) {
		ssize_t n;

		if (c->no_backend || c->id < 0 || t->mux == NULL) {
			c->no_backend = 0;
			fail_request(c, 502);
			return -1;
		}
		n = mux_send(t->mux, (uint32_t)c->id, c->in + c->in_off,
			     c->in_len - c->in_off);
		if (n < 0) {
			fail_request(c, 502);
			return -1;
		}
		if (n == 0)
			return 0; /* the writable callback resumes */
		c->in_off += (size_t)n;
		if (!c->awaiting || c->answered) {
			c->awaiting = 1;
			c->answered = 0;
			arm(c, t->resp_s);
		}
	}
	c->in_off = c->in_len = 0;
	return 0;
}

/* An OpenSSL call on c returned r <= 0: add what it waits for to *events
 * and return 0, or return -1 when the connection is over (not TLS, the
 * client has gone, a TLS error). */
static int ssl_wait(struct tconn *c, int r, int *events)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*events |= EV_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*events |= EV_WRITE;
		return 0;
	default:
		return -1;
	}
}

/* Do all that can be done now on the connection, then wait for the
 * socket as OpenSSL asks. May free c. */
static void pump(struct tconn *c)
{
	struct term *t = c->t;
	int events = 0, r;

	if (!c->handshaken) {
		ERR_clear_error();
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			if (ssl_wait(c, r, &events) < 0) {
				conn_free(c); /* not TLS, or not for us */
				return;
			}
			goto wait;
		}
		c->handshaken = 1;
		arm(c, IDLE_S);
		c->id = t->mux ? mux_open(t->mux, c) : -1;
		if (c->id < 0)
			c->no_backend = 1;
	}
	while (buf_size(&c->out) > 0) {
		size_t n = buf_size(&c->out);

		ERR_clear_error();
		r = SSL_write(c->ssl, buf_data(&c->out),
			      n > CHUNK ? CHUNK : (int)n);
		if (r <= 0) {
			if (ssl_wait(c, r, &events) < 0) {
				conn_free(c);
				return;
			}
			break;
		}
		buf_consume(&c->out, (size_t)r);
		/* Written into TLS: the web domain may send as much more. */
		if (c->id >= 0 && t->mux != NULL)
			mux_consumed(t->mux, (uint32_t)c->id, (size_t)r);
	}
	if (buf_size(&c->out) == 0) {
		if (c->closing || (t->stopping && !c->awaiting)) {
			SSL_shutdown(c->ssl); /* best effort: a close_notify */
			conn_free(c);
			return;
		}
	}
	while (!c->closing && c->in_len == 0) {
		ERR_clear_error();
		r = SSL_read(c->ssl, c->in, sizeof(c->in));
		if (r <= 0) {
			if (ssl_wait(c, r, &events) < 0) {
				conn_free(c); /* the client has gone */
				return;
			}
			break;
		}
		c->in_len = (size_t)r;
		if (forward(c) < 0)
			return; /* fail_request took over */
	}
wait:
	ev_io_stop(t->loop, &c->io);
	if (events) {
		ev_io_set(&c->io, c->fd, events);
		ev_io_start(t->loop, &c->io);
	}
}

static void on_conn_io(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	pump(io->data);
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *tm, int revents)
{
	struct tconn *c = tm->data;

	(void)loop;
	(void)revents;
	if (c->handshaken && c->awaiting && !c->closing) {
		fail_request(c, 504);
		return;
	}
	conn_free(c); /* a handshake or an idle keep-alive too long */
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct term *t = io->data;

	(void)revents;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(t->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC),
		    one = 1;
		struct tconn *c;

		if (fd < 0)
			return;
		if (t->nconns >= t->max_conns ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->ssl = SSL_new(t->ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			SSL_free(c->ssl);
			free(c);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		SSL_set_accept_state(c->ssl);
		c->t = t;
		c->fd = fd;
		c->id = -1;
		ev_init(&c->io, on_conn_io);
		c->io.data = c;
		ev_init(&c->timer, on_conn_timer);
		c->timer.data = c;
		c->next = t->conns;
		if (t->conns)
			t->conns->prev = c;
		t->conns = c;
		t->nconns++;
		arm(c, HANDSHAKE_S);
		pump(c);
		(void)loop;
	}
}

/* ---- the channel to the web domain ----------------------------------- */

static void on_open(void *ctx, uint32_t id)
{
	struct term *t = ctx;

	mux_close(t->mux, id); /* only we open streams */
}

static void on_data(void *ctx, uint32_t id, void *user, const uint8_t *buf,
		    size_t len)
{
	struct tconn *c = user;

	(void)ctx;
	(void)id;
	if (c->awaiting) {
		c->awaiting = 0;
		arm(c, IDLE_S);
	}
	c->answered = 1;
	if (buf_add(&c->out, buf, len) < 0) {
		conn_free(c);
		return;
	}
	pump(c);
}

static void on_close(void *ctx, uint32_t id, void *user)
{
	struct tconn *c = user;

	(void)ctx;
	(void)id;
	c->id = -1;
	c->closing = 1; /* after the answer is written */
	c->awaiting = 0;
	pump(c);
}

static void on_writable(void *ctx, uint32_t id, void *user)
{
	struct tconn *c = user;

	(void)ctx;
	(void)id;
	if (forward(c) == 0)
		pump(c);
}

static const struct mux_ops OPS = {on_open, on_data, on_close, on_writable};

static void on_up(void *ctx, struct mux *m)
{
	struct term *t = ctx;

	t->mux = m;
	fprintf(stderr, "tls-terminator: connected to %s\n",
		mux_link_path(t->link));
}

/* The web domain has gone: its clients waiting for an answer get a 502,
 * the others one on their next request. The link connects again when the
 * web domain offers a new channel. */
static void on_down(void *ctx, int err)
{
	struct term *t = ctx;
	struct tconn *c, *next;

	fprintf(stderr, "tls-terminator: lost the web domain (%s)\n",
		strerror(err));
	/* Forget the mux and the stream ids first: they are going. */
	t->mux = NULL;
	for (c = t->conns; c != NULL; c = c->next)
		if (c->id >= 0) {
			c->id = -1;
			c->no_backend = 1;
		}
	for (c = t->conns; c != NULL; c = next) {
		next = c->next;
		if (c->no_backend && c->awaiting)
			fail_request(c, 502);
	}
	check_done(t);
}

static void on_ran(void *ctx)
{
	check_done(ctx);
}

static const struct mux_link_cb LINK_CB = {on_up, on_down, on_ran};

/* ---- start and stop -------------------------------------------------- */

/* SIGTERM: no new clients; finish the answers owed, then end. */
static void begin_stop(void *ctx)
{
	struct term *t = ctx;
	struct tconn *c, *next;

	t->stopping = 1;
	ev_io_stop(t->loop, &t->accept_io);
	close(t->lfd);
	t->lfd = -1;
	mux_link_hold(t->link);
	/* Connections not waiting for an answer end now; the others once
	 * it is written (pump checks `stopping`). */
	for (c = t->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->awaiting && buf_size(&c->out) == 0)
			conn_free(c);
	}
	check_done(t);
}

static const char USAGE[] =
    "usage: tls-terminator [OPTIONS] WEB\n"
    "HTTPS on a TCP port: each TLS connection becomes one stream of a\n"
    "single vchan to the web domain WEB, which serves it. The key never\n"
    "leaves this domain. WEB is a domain id, or a domain's name (as xl\n"
    "shows it), looked up again for each new channel: a web domain\n"
    "created again under its name is found at its new id (looking names\n"
    "up needs dom0's rights on Xen).\n"
    "\n"
    "  -l HOST:PORT  the TCP address to listen on; PORT 0 picks a free\n"
    "                port (default: 127.0.0.1:8443)\n"
    "  -d STATEDIR   where key.pem and cert.pem are kept: made on first\n"
    "                run (a self-signed certificate for localhost and\n"
    "                127.0.0.1, valid a year); STATEDIR is created, its\n"
    "                parent must exist (default: tls-state, in the\n"
    "                current directory)\n"
    "  -p PORT       the channel's name: the web domain publishes it at\n"
    "                /local/domain/WEB_ID/data/vchan/OUR_DOMID/PORT\n"
    "                (default: http)\n"
    "  -t SECS       how long a client waits for the web domain's answer\n"
    "                before a 504, 0.001 to 86400 (default: 10)\n"
    "  -c MAXCONN    most TLS clients at once, 1 to 1000000\n"
    "                (default: 1000)\n"
    "  -r READYFILE  write the TCP port to READYFILE once listening\n"
    "                (default: none)\n"
    "  -h, --help    show this text\n"
    "\n"
    "Stops on SIGTERM or SIGINT once the answers owed are written (at most\n"
    "5 s). Exit status: 0 stopped, 1 could not start, 2 bad arguments.\n";

/* After the line that names the bad argument. */
static int usage_error(void)
{
	fputs("usage: tls-terminator [-l HOST:PORT] [-d STATEDIR] [-p PORT] "
	      "[-t SECS] [-c MAXCONN] [-r READYFILE] WEB\n"
	      "Try 'tls-terminator --help'.\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option LONGOPTS[] = {
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *lspec = "127.0.0.1:8443", *dir = "tls-state";
	const char *port = "http", *ready = NULL;
	struct term t;
	int opt, lport = 0;
	long v;

	memset(&t, 0, sizeof(t));
	t.max_conns = 1000;
	t.resp_s = 10;
	t.lfd = -1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":l:d:p:t:c:r:h", LONGOPTS,
				  NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (args_hostport("tls-terminator", "-l", optarg) < 0)
				return usage_error();
			lspec = optarg;
			break;
		case 'd':
			if (*optarg == '\0') {
				fprintf(stderr, "tls-terminator: -d: an empty "
						"directory name\n");
				return usage_error();
			}
			dir = optarg;
			break;
		case 'p':
			if (args_port("tls-terminator", "-p", optarg) < 0)
				return usage_error();
			port = optarg;
			break;
		case 't':
			if (args_double("tls-terminator", "-t", optarg, 0.001,
					86400, &t.resp_s) < 0)
				return usage_error();
			break;
		case 'c':
			if (args_long("tls-terminator", "-c", optarg, 1,
				      1000000, &v) < 0)
				return usage_error();
			t.max_conns = (size_t)v;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			args_getopt_error("tls-terminator", opt, argv);
			return usage_error();
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "tls-terminator: no WEB domain\n");
		return usage_error();
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "tls-terminator: unexpected argument '%s'\n",
			argv[optind + 1]);
		return usage_error();
	}
	if (args_domain("tls-terminator", "WEB", argv[optind]) < 0)
		return usage_error();
	t.web = argv[optind];
	net_raise_nofile();
	/* A bad platform environment is one line, naming the variable. */
	if (vchan_platform_check() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* Listen first: an address that cannot be had stops us before the
	 * state directory is touched. */
	t.lfd = net_listen(lspec, &lport);
	if (t.lfd < 0) {
		fprintf(stderr, "tls-terminator: -l: cannot listen on %s: %s\n",
			lspec, strerror(errno));
		return 1;
	}
	t.ctx = tls_setup(dir);
	if (t.ctx == NULL) {
		close(t.lfd);
		return 1;
	}
	t.loop = ev_loop_new(EVFLAG_AUTO);
	if (t.loop == NULL) {
		close(t.lfd);
		SSL_CTX_free(t.ctx);
		return 1;
	}
	ev_io_init(&t.accept_io, on_accept, t.lfd, EV_READ);
	t.accept_io.data = &t;
	ev_io_start(t.loop, &t.accept_io);
	t.link = mux_link_new(t.loop, 0, t.web, port, 0, &OPS, &LINK_CB, &t);
	if (t.link == NULL) {
		perror("tls-terminator: the channel");
		ev_loop_destroy(t.loop);
		close(t.lfd);
		SSL_CTX_free(t.ctx);
		return 1;
	}
	stopper_start(&t.stop, t.loop, "tls-terminator", GRACE_S, begin_stop,
		      &t);
	fprintf(stderr,
		"tls-terminator: listening on %s (port %d), web in domain "
		"%s, channel %s\n",
		lspec, lport, t.web, port);
	if (ready != NULL && net_write_port(ready, lport) < 0)
		fprintf(stderr, "tls-terminator: writing %s: %s\n", ready,
			strerror(errno));
	ev_run(t.loop, 0);
	while (t.conns != NULL)
		conn_free(t.conns);
	mux_link_free(t.link);
	if (t.lfd >= 0)
		close(t.lfd);
	ev_loop_destroy(t.loop);
	SSL_CTX_free(t.ctx);
	return 0;
}
