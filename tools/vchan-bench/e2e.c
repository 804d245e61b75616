/* tools/vchan-bench/e2e.c - the e2e mode: HTTP requests through the web
 * example's domains.
 *
 * Two rows, against the same web and storage domains in one run:
 *   https-3dom  client --HTTPS/TCP--> tls-terminator (domain 3) --vchan-->
 *               web (domain 2) --rpc over vchan--> storage (domain 1)
 *   http-tcp    client --HTTP/TCP--> the same web, on its own TCP listener
 *               (web -L) --> the same storage
 * Both rows reach the same HTTP handling and the same storage calls; the
 * ratio is the price of the front domain: TLS, and the hop over the
 * multiplexed vchan between the terminator and the web domain.
 *
 * The client runs one thread per connection, blocking, with keep-alive;
 * each thread sends its next request once the previous answer is in. Every
 * answer is checked (status, body). The mix: 4 in 5 read a key stored in
 * the warm-up (web asks storage), 1 in 5 the page (web alone); no writes
 * while timed, since each is an fsync in the storage domain. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tools/vchan-bench/bench.h"

#define DOM_STORAGE 1u
#define DOM_WEB	    2u
#define DOM_FRONT   3u
#define IO_CHUNK    16384

/* ---- the client ---- */

struct client {
	int port;
	SSL_CTX *tls; /* NULL: plain HTTP */
	unsigned conns, total;
	atomic_uint next; /* requests handed out */
	uint64_t deadline_ns;
	uint64_t *lat; /* per request */
	pthread_mutex_t lock;
	char why[200]; /* first failure, under lock */
};

struct cconn {
	struct client *c;
	unsigned idx;
	int fd;
	SSL *ssl;
	char buf[IO_CHUNK];
	size_t have;
};

static void client_fail(struct client *c, const char *what)
{
	pthread_mutex_lock(&c->lock);
	if (c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "%s", what);
	pthread_mutex_unlock(&c->lock);
}

static int cc_write(struct cconn *k, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w =
		    k->ssl ? SSL_write(k->ssl, p, (int)n) : write(k->fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t cc_read(struct cconn *k, char *p, size_t n)
{
	return k->ssl ? SSL_read(k->ssl, p, (int)n) : read(k->fd, p, n);
}

/* One answer: its status, and its body (NUL-terminated) in *body, which
 * points into k->buf. Returns 0 or -1. */
static int cc_response(struct cconn *k, int *status, char **body)
{
	char *end, *cl;
	size_t head, len;

	k->have = 0;
	for (;;) {
		ssize_t r;

		k->buf[k->have] = '\0';
		end = strstr(k->buf, "\r\n\r\n");
		if (end != NULL)
			break;
		if (k->have + 1 >= sizeof(k->buf))
			return -1;
		r = cc_read(k, k->buf + k->have, sizeof(k->buf) - 1 - k->have);
		if (r <= 0)
			return -1;
		k->have += (size_t)r;
	}
	head = (size_t)(end - k->buf) + 4;
	if (sscanf(k->buf, "HTTP/1.1 %d", status) != 1)
		return -1;
	cl = strcasestr(k->buf, "\r\ncontent-length:");
	if (cl == NULL || cl > end)
		return -1;
	len = strtoul(cl + 17, NULL, 10);
	if (strcasestr(k->buf, "\r\nconnection: close") != NULL ||
	    head + len + 1 > sizeof(k->buf))
		return -1;
	while (k->have < head + len) {
		ssize_t r = cc_read(k, k->buf + k->have, head + len - k->have);

		if (r <= 0)
			return -1;
		k->have += (size_t)r;
	}
	if (k->have != head + len) /* one answer per request: no more */
		return -1;
	k->buf[k->have] = '\0';
	*body = k->buf + head;
	return 0;
}

static int cc_open(struct cconn *k)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)k->c->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;

	k->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0 || connect(k->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (k->c->tls == NULL)
		return 0;
	k->ssl = SSL_new(k->c->tls);
	if (k->ssl == NULL || SSL_set_fd(k->ssl, k->fd) != 1 ||
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl),
					  "127.0.0.1") != 1 ||
	    SSL_connect(k->ssl) != 1)
		return -1;
	return 0;
}

/* Request number n of connection k; checks the answer. */
static int cc_request(struct cconn *k, unsigned n, int put)
{
	char req[256], key[64], want[160], *body;
	int st, len;

	snprintf(key, sizeof(key), "bench/%u", k->idx);
	snprintf(want, sizeof(want), "{\"key\":\"%s\",\"value\":\"v%u\"}\n",
		 key, k->idx);
	if (put)
		len = snprintf(req, sizeof(req),
			       "PUT /api/kv/%s HTTP/1.1\r\nHost: b\r\n"
			       "Content-Length: %d\r\n\r\nv%u",
			       key, snprintf(NULL, 0, "v%u", k->idx), k->idx);
	else if (n % 5 == 0)
		len = snprintf(req, sizeof(req),
			       "GET / HTTP/1.1\r\nHost: b\r\n\r\n");
	else
		len =
		    snprintf(req, sizeof(req),
			     "GET /api/kv/%s HTTP/1.1\r\nHost: b\r\n\r\n", key);
	if (cc_write(k, req, (size_t)len) < 0 || cc_response(k, &st, &body) < 0)
		return -1;
	if (st != 200)
		return -1;
	if (put)
		return strstr(body, "\"stored\":true") != NULL ? 0 : -1;
	if (n % 5 == 0)
		return strstr(body, "web domain") != NULL ? 0 : -1;
	return strcmp(body, want) == 0 ? 0 : -1;
}

static void *cc_thread(void *arg)
{
	struct cconn *k = arg;
	struct client *c = k->c;

	for (;;) {
		unsigned n = atomic_fetch_add(&c->next, 1);
		uint64_t t0;

		if (n >= c->total)
			break;
		if (bench_now_ns() > c->deadline_ns) {
			client_fail(c, "timed out");
			break;
		}
		t0 = bench_now_ns();
		if (cc_request(k, n, 0) < 0) {
			client_fail(c, n % 5
					   ? "GET /api/kv/KEY: bad or no answer"
					   : "GET /: bad or no answer");
			break;
		}
		c->lat[n] = bench_now_ns() - t0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Open c->conns connections, store each one's key, then time c->total
 * requests over them. Fills the row. */
static void run_client(struct client *c, struct bench_row *row,
		       unsigned timeout_s)
{
	struct cconn *k = calloc(c->conns, sizeof(*k));
	pthread_t *th = calloc(c->conns, sizeof(*th));
	unsigned opened = 0, started = 0;
	uint64_t t0, t1;

	c->lat = calloc(c->total, sizeof(*c->lat));
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->next, 0);
	c->deadline_ns = bench_now_ns() + (uint64_t)timeout_s * 1000000000u;
	if (k == NULL || th == NULL || c->lat == NULL) {
		snprintf(row->why, sizeof(row->why), "out of memory");
		goto out;
	}
	for (; opened < c->conns; opened++) {
		k[opened].c = c;
		k[opened].idx = opened;
		k[opened].fd = -1;
		const char *step = NULL;

		if (cc_open(&k[opened]) < 0)
			step = c->tls ? "connect or TLS handshake" : "connect";
		else if (cc_request(&k[opened], 1, 1) < 0)
			step = "PUT /api/kv/KEY: bad or no answer";
		else if (cc_request(&k[opened], 1, 0) < 0)
			step = "GET /api/kv/KEY after PUT: bad or no answer";
		if (step != NULL) {
			snprintf(row->why, sizeof(row->why),
				 "connection %u: %s", opened, step);
			opened++;
			goto out;
		}
	}
	t0 = bench_now_ns();
	for (; started < c->conns; started++)
		if (pthread_create(&th[started], NULL, cc_thread, &k[started]))
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	t1 = bench_now_ns();
	if (started < c->conns) {
		snprintf(row->why, sizeof(row->why), "cannot start threads");
	} else if (c->why[0] != '\0') {
		snprintf(row->why, sizeof(row->why), "%s", c->why);
	} else {
		qsort(c->lat, c->total, sizeof(*c->lat), cmp_u64);
		row->ok = 1;
		row->verified = 1;
		row->rate = (double)c->total * 1e9 / (double)(t1 - t0);
		row->p50 = (double)c->lat[c->total / 2] / 1e3;
		row->p99 = (double)c->lat[(uint64_t)c->total * 99 / 100] / 1e3;
		row->count = c->total;
		row->in_flight = c->conns;
	}
out:
	for (unsigned i = 0; k != NULL && i < opened; i++) {
		if (k[i].ssl != NULL)
			SSL_free(k[i].ssl);
		if (k[i].fd >= 0)
			close(k[i].fd);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->lat);
	free(th);
	free(k);
}

/* ---- the domains ---- */

struct e2e {
	const struct bench_xopts *o;
	char dir[PATH_MAX];
	pid_t storage, web, front;
};

static pid_t start(const struct e2e *e, unsigned domid, const char *log,
		   char *const argv[])
{
	char dom[16], lp[PATH_MAX + 32];
	pid_t pid;

	snprintf(lp, sizeof(lp), "%s/%s", e->dir, log);
	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	snprintf(dom, sizeof(dom), "%u", domid);
	setenv("VCHAN_DOMID", dom, 1);
	int fd = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		dup2(fd, 2);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	}
	execv(argv[0], argv);
	_exit(127);
}

/* SIGTERM, then up to 10 s for it to end (then SIGKILL). Returns 0 when it
 * stopped cleanly with status 0. */
static int stop_domain(pid_t pid)
{
	int st;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int file_has(const char *path, const char *what, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return what == NULL ? n > 0 : strstr(buf, what) != NULL;
}

/* Wait for `pid` to write its port to `portf` (up to 15 s); returns the
 * port, or -1 when it ended or never did. */
static int wait_port(pid_t *pid, const char *portf)
{
	char buf[64];

	for (int i = 0; i < 1500 && *pid > 0; i++) {
		if (file_has(portf, NULL, buf, sizeof(buf)))
			return atoi(buf);
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = -1;
			break;
		}
		usleep(10000);
	}
	return -1;
}

/* Start the terminator; returns its port, or -1 (why in `why`). */
static int start_term(struct e2e *e, const char *prog, char *why, size_t wl)
{
	char l[PATH_MAX + 32], tls[PATH_MAX + 32], portf[PATH_MAX + 32];
	char buf[4096], dom[16];
	char *argv[] = {(char *)prog, "-l",  "127.0.0.1:0", "-d", tls,
			"-r",	      portf, dom,	    NULL};

	snprintf(tls, sizeof(tls), "%s/tls", e->dir);
	snprintf(portf, sizeof(portf), "%s/port", e->dir);
	snprintf(l, sizeof(l), "%s/term.log", e->dir);
	snprintf(dom, sizeof(dom), "%u", DOM_WEB);
	e->front = start(e, DOM_FRONT, "term.log", argv);
	for (int i = 0; i < 1500 && e->front > 0; i++) {
		if (file_has(portf, NULL, buf, sizeof(buf)) &&
		    file_has(l, "connected to", buf, sizeof(buf)) &&
		    file_has(portf, NULL, buf, sizeof(buf)))
			return atoi(buf);
		if (waitpid(e->front, NULL, WNOHANG) == e->front) {
			e->front = -1;
			break;
		}
		usleep(10000);
	}
	file_has(l, NULL, buf, sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(why, wl, "tls-terminator did not start: %.150s", buf);
	return -1;
}

/* The domains' logs on stderr (the work directory goes at exit). */
static void dump_logs(const struct e2e *e)
{
	static const char *const names[] = {"storage.log", "web.log",
					    "term.log"};
	char path[PATH_MAX + 32], buf[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", e->dir, names[i]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		fprintf(stderr, "vchan-bench: e2e: %s:\n", names[i]);
		while (fgets(buf, sizeof(buf), f) != NULL)
			fprintf(stderr, "  %s", buf);
		fclose(f);
	}
}

/* --xen: the HTTPS front of a deployment already running (on Xen:
 * tls-terminator in dom0, web.xen behind it, storage wherever web.xen
 * reaches it). One row, the same client and mix as https-3dom, fewer
 * connections: its figures are for the deployment as it is (under QEMU's
 * TCG, for no claims), and no baseline runs beside it. */
static int run_xen(const struct bench_xopts *o, struct bench_rows *rows)
{
	struct bench_row *x = bench_rows_add(rows, "e2e");
	struct client c;

	snprintf(x->transport, sizeof(x->transport), "https-xen");
	memset(&c, 0, sizeof(c));
	c.port = o->xen_port;
	c.conns = o->quick ? 4 : 16;
	c.total = o->quick ? 200 : 2000;
	c.tls = SSL_CTX_new(TLS_client_method());
	if (c.tls == NULL) {
		snprintf(x->why, sizeof(x->why), "TLS client set-up failed");
		return 1;
	}
	if (o->xen_cert == NULL) {
		SSL_CTX_set_verify(c.tls, SSL_VERIFY_NONE, NULL);
	} else if (SSL_CTX_load_verify_locations(c.tls, o->xen_cert, NULL) !=
		   1) {
		snprintf(x->why, sizeof(x->why), "cannot load %.200s",
			 o->xen_cert);
		SSL_CTX_free(c.tls);
		return 1;
	} else {
		SSL_CTX_set_verify(c.tls, SSL_VERIFY_PEER, NULL);
	}
	run_client(&c, x, o->timeout_s);
	SSL_CTX_free(c.tls);
	return x->ok == 1 ? 0 : 1;
}

int bench_e2e_run(const struct bench_xopts *o, struct bench_rows *rows)
{
	struct bench_row *tls, *tcp;
	struct e2e e = {.o = o, .storage = -1, .web = -1, .front = -1};
	char data[PATH_MAX + 32], dom[16], why[256] = "";
	char cert[PATH_MAX + 32], wport[PATH_MAX + 32];
	struct client c;
	int port, web_port, failures = 0;

	if (o->xen_port > 0)
		return run_xen(o, rows);
	bench_rows_add(rows, "e2e");
	bench_rows_add(rows, "e2e");
	tls = &rows->v[rows->n - 2];
	tcp = &rows->v[rows->n - 1];
	snprintf(tls->transport, sizeof(tls->transport), "https-3dom");
	snprintf(tcp->transport, sizeof(tcp->transport), "http-tcp");
	tls->base = "http-tcp";
	for (int i = 0; i < 3; i++)
		if (o->prog[i] == NULL || access(o->prog[i], X_OK) != 0) {
			tls->ok = tcp->ok = -1;
			snprintf(tls->why, sizeof(tls->why),
				 "example domains not found (%s); "
				 "see VCHAN_BENCH_WEB in vchan-bench(1)",
				 o->prog[i] ? o->prog[i] : "?");
			memcpy(tcp->why, tls->why, sizeof(tcp->why));
			return 0;
		}
	snprintf(e.dir, sizeof(e.dir), "%s/e2e", o->dir);
	mkdir(e.dir, 0700);
	snprintf(data, sizeof(data), "%s/kv.data", e.dir);
	snprintf(dom, sizeof(dom), "%u", DOM_FRONT);
	snprintf(wport, sizeof(wport), "%s/webport", e.dir);
	{
		char sa[32], wa[32];
		char *sargv[] = {(char *)o->prog[0], data, sa, NULL};
		char *wargv[] = {(char *)o->prog[1],
				 "-s",
				 wa,
				 "-L",
				 "127.0.0.1:0",
				 "-r",
				 wport,
				 dom,
				 NULL};

		snprintf(sa, sizeof(sa), "vchan:%u/storage", DOM_WEB);
		snprintf(wa, sizeof(wa), "vchan:%u/storage", DOM_STORAGE);
		e.storage = start(&e, DOM_STORAGE, "storage.log", sargv);
		e.web = start(&e, DOM_WEB, "web.log", wargv);
	}
	memset(&c, 0, sizeof(c));
	c.conns = o->quick ? 16 : 64;
	c.total = o->quick ? 2000 : 20000;
	/* The web domain writes its TCP port once it has reached storage and
	 * offered its channel: both entries are then ready. */
	web_port = wait_port(&e.web, wport);
	if (web_port <= 0) {
		for (struct bench_row *x = tls; x <= tcp; x++)
			snprintf(x->why, sizeof(x->why),
				 "web did not start (no port in %.180s)",
				 wport);
		goto stop;
	}
	/* The TLS row. */
	port = start_term(&e, o->prog[2], why, sizeof(why));
	if (port > 0) {
		snprintf(cert, sizeof(cert), "%s/tls/cert.pem", e.dir);
		c.port = port;
		c.tls = SSL_CTX_new(TLS_client_method());
		if (c.tls == NULL ||
		    SSL_CTX_load_verify_locations(c.tls, cert, NULL) != 1) {
			snprintf(tls->why, sizeof(tls->why),
				 "TLS client set-up failed");
		} else {
			SSL_CTX_set_verify(c.tls, SSL_VERIFY_PEER, NULL);
			run_client(&c, tls, o->timeout_s);
		}
		SSL_CTX_free(c.tls);
		c.tls = NULL;
	} else {
		snprintf(tls->why, sizeof(tls->why), "%s", why);
	}
	if (stop_domain(e.front) < 0 && tls->ok == 1) {
		tls->ok = 0;
		snprintf(tls->why, sizeof(tls->why),
			 "tls-terminator did not stop cleanly");
	}
	e.front = -1;
	/* The plain row: the same web and storage domains, on web's own TCP
	 * port (the terminator is gone: it takes no share of the CPUs). */
	c.port = web_port;
	run_client(&c, tcp, o->timeout_s);
stop:
	if (stop_domain(e.web) < 0 || stop_domain(e.storage) < 0) {
		for (struct bench_row *x = tls; x <= tcp; x++)
			if (x->ok == 1) {
				x->ok = 0;
				snprintf(x->why, sizeof(x->why),
					 "web or storage did not stop "
					 "cleanly");
			}
	}
	failures += tls->ok != 1;
	failures += tcp->ok != 1;
	if (failures > 0)
		dump_logs(&e);
	return failures;
}
