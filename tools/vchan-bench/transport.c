/* tools/vchan-bench/transport.c - the transports vchan-bench runs in
 * its own processes: vchan (with and without spinning), pipe, Unix stream
 * socket, TCP loopback and a shared-memory ring that only spins. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/vchan-bench/transport.h"
#include "vchan/vchan.h"

const char *const bench_transport_names[TR_COUNT] = {
    "vchan", "vchan-nospin", "pipe", "unix", "tcp", "libxenvchan", "shm-spin",
};

int bench_transport_has_ring(enum transport t)
{
	return t == TR_VCHAN || t == TR_VCHAN_NOSPIN || t == TR_LIBXENVCHAN ||
	       t == TR_SHM;
}

/* ---- file descriptors: pipe, unix, tcp ---- */

struct fd_ep {
	struct bench_ep ep;
	int rfd, wfd;
};

static int fd_send(struct bench_ep *ep, const void *buf, size_t n)
{
	struct fd_ep *f = ep->priv;
	const uint8_t *b = buf;

	while (n > 0) {
		ssize_t w = write(f->wfd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t fd_recv(struct bench_ep *ep, void *buf, size_t n)
{
	struct fd_ep *f = ep->priv;

	for (;;) {
		ssize_t r = read(f->rfd, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		return r;
	}
}

static const struct bench_ep_ops fd_ops = {fd_send, fd_recv};

/* ---- vchan ---- */

static int vc_send(struct bench_ep *ep, const void *buf, size_t n)
{
	const uint8_t *b = buf;

	while (n > 0) {
		ssize_t w = vchan_write(ep->priv, b, n);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t vc_recv(struct bench_ep *ep, void *buf, size_t n)
{
	return vchan_read(ep->priv, buf, n);
}

static const struct bench_ep_ops vc_ops = {vc_send, vc_recv};

/* ---- shared-memory ring that only spins ---- */

/* One direction. The indexes sit on cache lines of their own, so the
 * producer's stores do not invalidate the line the consumer writes. */
struct shm_ring {
	_Alignas(64) uint32_t prod;
	_Alignas(64) uint32_t cons;
	_Alignas(64) uint8_t data[];
};

struct shm_ep {
	struct bench_ep ep;
	struct shm_ring *tx, *rx;
	uint32_t size;
};

/* A wait that never sleeps. After 2 us of it, the CPU is offered every 64
 * turns, as vchan's spin does: on 2 loaded cores a spinner that keeps its
 * CPU starves the peer it waits for, and the row would measure the
 * scheduler, not the ring. Start each wait with {0, 0}. */
struct spinner {
	unsigned turns;
	uint64_t since; /* ns, at the first turn */
};

static void relax(struct spinner *w)
{
	struct timespec ts;
	uint64_t now;

#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
	if ((w->turns++ & 63) != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (w->turns == 1)
		w->since = now;
	else if (now - w->since > 2000)
		sched_yield();
}

static int shm_send(struct bench_ep *ep, const void *buf, size_t n)
{
	struct shm_ep *s = ep->priv;
	struct shm_ring *r = s->tx;
	uint32_t prod = r->prod; /* only we write it */
	const uint8_t *b = buf;
	struct spinner w = {0, 0};

	while (n > 0) {
		/* Acquire: the reader is done with the bytes it freed. */
		uint32_t space =
		    s->size -
		    (prod - __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE));
		uint32_t pos = prod & (s->size - 1), k, first;

		if (space == 0) {
			relax(&w);
			continue;
		}
		w.turns = 0; /* the next wait is a new one */
		k = n < space ? (uint32_t)n : space;
		first = s->size - pos < k ? s->size - pos : k;
		memcpy(r->data + pos, b, first);
		memcpy(r->data, b + first, k - first);
		prod += k;
		/* Release: the bytes are in before the index says so. */
		__atomic_store_n(&r->prod, prod, __ATOMIC_RELEASE);
		b += k;
		n -= k;
	}
	return 0;
}

static ssize_t shm_recv(struct bench_ep *ep, void *buf, size_t n)
{
	struct shm_ep *s = ep->priv;
	struct shm_ring *r = s->rx;
	uint32_t cons = r->cons, avail, pos, k, first;
	struct spinner w = {0, 0};

	for (;;) {
		avail = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE) - cons;
		if (avail != 0)
			break;
		relax(&w);
	}
	pos = cons & (s->size - 1);
	k = n < avail ? (uint32_t)n : avail;
	first = s->size - pos < k ? s->size - pos : k;
	memcpy(buf, r->data + pos, first);
	memcpy((uint8_t *)buf + first, r->data, k - first);
	__atomic_store_n(&r->cons, cons + k, __ATOMIC_RELEASE);
	return (ssize_t)k;
}

static const struct bench_ep_ops shm_ops = {shm_send, shm_recv};

static size_t shm_ring_bytes(size_t ring)
{
	return sizeof(struct shm_ring) + ring;
}

/* ---- connecting ---- */

int bench_pair_prepare(struct pair *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	p->fd[0] = p->fd[1] = p->fd[2] = p->fd[3] = -1;
	p->shm = NULL;
	switch (p->transport) {
	case TR_PIPE:
		/* fd[0], fd[1]: server to client; fd[2], fd[3]: back. */
		if (pipe(p->fd) < 0 || pipe(p->fd + 2) < 0)
			return -1;
		return 0;
	case TR_UNIX:
		return socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd);
	case TR_TCP:
		p->fd[0] = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (p->fd[0] < 0 ||
		    bind(p->fd[0], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(p->fd[0], 1) < 0 ||
		    getsockname(p->fd[0], (struct sockaddr *)&a, &alen) < 0)
			return -1;
		p->port = ntohs(a.sin_port);
		return 0;
	case TR_SHM:
		p->shm_len = 2 * shm_ring_bytes(p->ring);
		p->shm = mmap(NULL, p->shm_len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p->shm == MAP_FAILED) {
			p->shm = NULL;
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

void bench_pair_release(struct pair *p)
{
	for (int i = 0; i < 4; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	if (p->shm != NULL)
		munmap(p->shm, p->shm_len);
	p->shm = NULL;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void close_all_but(struct pair *p, int keep1, int keep2)
{
	for (int i = 0; i < 4; i++)
		if (p->fd[i] >= 0 && p->fd[i] != keep1 && p->fd[i] != keep2)
			close(p->fd[i]);
}

static int run_vchan(struct pair *p, int srv, int res)
{
	struct bench_ep ep = {&vc_ops, NULL};
	struct vchan *ch;
	int r;

	if (srv)
		ch = vchan_server_create(BENCH_CLI_DOMID, p->path, p->ring,
					 p->ring);
	else
		ch = vchan_client_connect(BENCH_SRV_DOMID, p->path, 20000);
	if (ch == NULL) {
		bench_report(res, "E vchan %s: %s", srv ? "server" : "connect",
			     strerror(errno));
		return -1;
	}
	if (p->transport == TR_VCHAN_NOSPIN)
		vchan_set_spin(ch, 0);
	else if (p->spin_us >= 0)
		vchan_set_spin(ch, (unsigned)p->spin_us);
	ep.priv = ch;
	r = srv ? bench_run_srv(&ep, &p->job, res)
		: bench_run_cli(&ep, &p->job, res);
	vchan_close(ch);
	return r;
}

int bench_side_run(struct pair *p, int srv, int res)
{
	struct fd_ep f = {{&fd_ops, &f}, -1, -1};
	struct shm_ep s = {{&shm_ops, &s}, NULL, NULL, (uint32_t)p->ring};
	struct bench_ep *ep = &f.ep;
	struct sockaddr_in a = {.sin_family = AF_INET};
	int r;

	switch (p->transport) {
	case TR_VCHAN:
	case TR_VCHAN_NOSPIN:
		return run_vchan(p, srv, res);
	case TR_PIPE:
		f.wfd = srv ? p->fd[1] : p->fd[3];
		f.rfd = srv ? p->fd[2] : p->fd[0];
		close_all_but(p, f.wfd, f.rfd);
		break;
	case TR_UNIX:
		f.rfd = f.wfd = p->fd[srv ? 0 : 1];
		close_all_but(p, f.rfd, -1);
		break;
	case TR_TCP:
		if (srv) {
			f.rfd = accept(p->fd[0], NULL, NULL);
		} else {
			close(p->fd[0]);
			p->fd[0] = -1;
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			a.sin_port = htons(p->port);
			f.rfd = socket(AF_INET, SOCK_STREAM, 0);
			if (f.rfd >= 0 && connect(f.rfd, (struct sockaddr *)&a,
						  sizeof(a)) < 0) {
				close(f.rfd);
				f.rfd = -1;
			}
		}
		if (f.rfd < 0) {
			bench_report(res, "E tcp: %s", strerror(errno));
			return -1;
		}
		nodelay(f.rfd);
		f.wfd = f.rfd;
		break;
	case TR_SHM:
		s.tx = (struct shm_ring *)((uint8_t *)p->shm +
					   (srv ? 0 : shm_ring_bytes(p->ring)));
		s.rx = (struct shm_ring *)((uint8_t *)p->shm +
					   (srv ? shm_ring_bytes(p->ring) : 0));
		ep = &s.ep;
		break;
	default:
		bench_report(res, "E transport not run in-process");
		return -1;
	}
	r = srv ? bench_run_srv(ep, &p->job, res)
		: bench_run_cli(ep, &p->job, res);
	return r;
}

/* ---- connection set-up ---- */

static int fail_setup(int res, const char *what)
{
	bench_report(res, "E set-up %s: %s", what, strerror(errno));
	return -1;
}

/* Wait for the client's one byte on fd (it is connected and done). */
static int await_byte(int fd)
{
	char b;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, 20000) <= 0)
		return -1;
	return read(fd, &b, 1) == 1 ? 0 : -1;
}

static int setup_srv_once(struct pair *p, unsigned k, int res)
{
	char name[200];
	struct sockaddr_un u = {.sun_family = AF_UNIX};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	uint64_t t0 = bench_now_ns();
	int fd = -1, c = -1, r = -1;
	uint8_t *flag;
	struct vchan *ch;
	char b;

	switch (p->transport) {
	case TR_VCHAN:
	case TR_VCHAN_NOSPIN:
		snprintf(name, sizeof(name), "%s-%u", p->path, k);
		ch = vchan_server_create(BENCH_CLI_DOMID, name, p->ring,
					 p->ring);
		if (ch == NULL)
			return fail_setup(res, "vchan_server_create");
		if (bench_setup_post(p->sync[1], t0, 0) == 0 &&
		    vchan_read(ch, &b, 1) == 1)
			r = 0;
		vchan_close(ch);
		return r < 0 ? fail_setup(res, "vchan") : 0;
	case TR_PIPE:
		snprintf(u.sun_path, sizeof(u.sun_path), "%s/fifo%u", p->dir,
			 k);
		if (mkfifo(u.sun_path, 0600) < 0 ||
		    (fd = open(u.sun_path, O_RDONLY | O_NONBLOCK)) < 0)
			return fail_setup(res, "fifo");
		break;
	case TR_UNIX:
		snprintf(u.sun_path, sizeof(u.sun_path), "%s/sock%u", p->dir,
			 k);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&u, sizeof(u)) < 0 ||
		    listen(fd, 1) < 0)
			return fail_setup(res, "unix socket");
		break;
	case TR_TCP:
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(fd, 1) < 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
			return fail_setup(res, "tcp socket");
		break;
	case TR_SHM:
		snprintf(name, sizeof(name), "/vchan-bench-%d-%u",
			 (int)getpid(), k);
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)shm_ring_bytes(p->ring)) < 0)
			return fail_setup(res, "shm_open");
		flag = mmap(NULL, shm_ring_bytes(p->ring),
			    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (flag == MAP_FAILED)
			return fail_setup(res, "mmap");
		if (bench_setup_post(p->sync[1], t0, 0) == 0) {
			struct spinner w = {0, 0};

			while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 0)
				relax(&w);
			r = 0;
		}
		munmap(flag, shm_ring_bytes(p->ring));
		shm_unlink(name);
		close(fd);
		return r < 0 ? fail_setup(res, "shm") : 0;
	default:
		errno = EINVAL;
		return fail_setup(res, "transport");
	}
	if (bench_setup_post(p->sync[1], t0, ntohs(a.sin_port)) < 0)
		return fail_setup(res, "post");
	if (p->transport == TR_PIPE) {
		r = await_byte(fd);
		unlink(u.sun_path);
	} else {
		c = accept(fd, NULL, NULL);
		r = c < 0 ? -1 : await_byte(c);
		if (p->transport == TR_UNIX)
			unlink(u.sun_path);
	}
	if (c >= 0)
		close(c);
	close(fd);
	return r < 0 ? fail_setup(res, "waiting for the client") : 0;
}

static int setup_cli_once(struct pair *p, unsigned k, int res)
{
	char name[200];
	struct sockaddr_un u = {.sun_family = AF_UNIX};
	struct sockaddr_in a = {.sin_family = AF_INET};
	uint64_t t0, t1, aux;
	struct vchan *ch;
	uint8_t *flag;
	int fd;

	if (bench_setup_take(p->sync[0], &t0, &aux) < 0)
		return fail_setup(res, "waiting for the server");
	switch (p->transport) {
	case TR_VCHAN:
	case TR_VCHAN_NOSPIN:
		snprintf(name, sizeof(name), "%s-%u", p->path, k);
		ch = vchan_client_connect(BENCH_SRV_DOMID, name, 20000);
		t1 = bench_now_ns();
		if (ch == NULL)
			return fail_setup(res, "vchan_client_connect");
		bench_report(res, "U %llu", (unsigned long long)(t1 - t0));
		fd = vchan_write(ch, "c", 1) == 1 ? 0 : -1;
		vchan_close(ch);
		return fd < 0 ? fail_setup(res, "vchan_write") : 0;
	case TR_PIPE:
		snprintf(u.sun_path, sizeof(u.sun_path), "%s/fifo%u", p->dir,
			 k);
		fd = open(u.sun_path, O_WRONLY);
		break;
	case TR_UNIX:
		snprintf(u.sun_path, sizeof(u.sun_path), "%s/sock%u", p->dir,
			 k);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&u, sizeof(u)) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	case TR_TCP:
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)aux);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	case TR_SHM:
		/* The server's pid names the segment: it is our sibling. */
		snprintf(name, sizeof(name), "/vchan-bench-%d-%u",
			 (int)p->srv_pid, k);
		fd = shm_open(name, O_RDWR, 0);
		if (fd < 0)
			return fail_setup(res, "shm_open");
		flag = mmap(NULL, shm_ring_bytes(p->ring),
			    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		t1 = bench_now_ns();
		close(fd);
		if (flag == MAP_FAILED)
			return fail_setup(res, "mmap");
		bench_report(res, "U %llu", (unsigned long long)(t1 - t0));
		__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
		munmap(flag, shm_ring_bytes(p->ring));
		return 0;
	default:
		errno = EINVAL;
		return fail_setup(res, "transport");
	}
	t1 = bench_now_ns();
	if (fd < 0)
		return fail_setup(res, "connect");
	bench_report(res, "U %llu", (unsigned long long)(t1 - t0));
	if (write(fd, "c", 1) != 1) {
		close(fd);
		return fail_setup(res, "write");
	}
	close(fd);
	return 0;
}

int bench_setup_run(struct pair *p, int srv, int res)
{
	close(p->sync[srv ? 0 : 1]);
	for (unsigned k = 0; k < p->setups; k++) {
		int r =
		    srv ? setup_srv_once(p, k, res) : setup_cli_once(p, k, res);

		if (r < 0)
			return -1;
	}
	return 0;
}
