/* grant/sim_evt.c - event channels between processes (sim backend).
 *
 * A port pair is a SOCK_SEQPACKET connection plus a page with one pending
 * bit per side. Notify sets the peer's bit and writes a byte only when the
 * bit was clear, so events coalesce as on Xen and a burst of notifies costs
 * one system call. The receiver drains the bytes, then clears its bit, then
 * reports the port: anything notified after that writes a fresh byte, so no
 * wake-up is lost (a stray extra one is allowed, as on Xen).
 *
 * The handle's fd is an epoll set over its sockets; a handle with one
 * bound port (a vchan's) may instead sleep in recv on that port's socket,
 * which wakes with the event's byte (sim_wait). A peer's death closes
 * its socket (the kernel does that even on SIGKILL), which we see as EOF:
 * we then apply the dead side's unmap-notify records and report the port. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "grant/sim.h"

enum port_state {
	PORT_UNBOUND, /* listening for the remote's bind */
	PORT_HELLO,   /* connection accepted, waiting for the binder's hello */
	PORT_BOUND,
	PORT_CLOSED, /* the peer went away */
};

struct port {
	struct port *next;
	uint32_t local;
	uint32_t remote_dom;
	uint32_t remote_port; /* 0 until known */
	enum port_state state;
	int lockfd;   /* e.<domid>.<port>, flocked */
	int listenfd; /* PORT_UNBOUND only */
	int connfd;
	int side; /* index of our pending bit: 0 listener, 1 binder */
	_Atomic uint32_t *bits; /* shared pending bits, NULL until known */
	int fired;		/* an event is waiting for vchan_evt_pending */
	int owed; /* PORT_HELLO: we notified; tell the binder once known */
};

struct sim_evt {
	struct vchan_evt base;
	struct sim_ctx ctx;
	int epfd;
	struct port *ports;
};

static const struct evt_ops sim_evt_ops;

static struct sim_evt *to_sim(vchan_evt *h)
{
	return (struct sim_evt *)h;
}

static struct port *find_port(struct sim_evt *e, uint32_t local)
{
	for (struct port *p = e->ports; p != NULL; p = p->next)
		if (p->local == local)
			return p;
	return NULL;
}

static void sock_name(char *buf, size_t size, uint32_t dom, uint32_t port)
{
	snprintf(buf, size, "e.%u.%u.sock", dom, port);
}

/* sun_path is short; reach the socket through our directory fd instead of
 * its full path, whatever VCHAN_SIM_DIR is. */
static void sock_addr(struct sim_evt *e, struct sockaddr_un *a, uint32_t dom,
		      uint32_t port)
{
	char name[64];

	sock_name(name, sizeof(name), dom, port);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s",
		 e->ctx.dirfd, name);
}

static int watch_fd(struct sim_evt *e, int fd, uint32_t local)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = local};

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Claim a fresh port number of our domain, for `remote`. */
static struct port *new_port(struct sim_evt *e, uint32_t remote)
{
	struct sim_port_hdr hdr = {SIM_PORT_MAGIC, e->ctx.domid, remote, 0};
	struct port *p = calloc(1, sizeof(*p));
	char name[64];

	if (p == NULL)
		return NULL;
	p->listenfd = p->connfd = p->lockfd = -1;
	for (int tries = 0; tries < 64 && p->lockfd < 0; tries++) {
		p->local = sim_random(&e->ctx, SIM_MAX_PORT);
		if (find_port(e, p->local) != NULL)
			continue;
		snprintf(name, sizeof(name), "e.%u.%u", e->ctx.domid, p->local);
		p->lockfd = sim_claim(&e->ctx, name, LOCK_EX);
		if (p->lockfd < 0 && errno != EEXIST)
			break;
	}
	if (p->lockfd < 0) {
		if (errno == EEXIST)
			errno = ENOSPC;
		free(p);
		return NULL;
	}
	if (pwrite(p->lockfd, &hdr, sizeof(hdr), 0) != sizeof(hdr)) {
		unlinkat(e->ctx.dirfd, name, 0);
		close(p->lockfd);
		free(p);
		errno = EIO;
		return NULL;
	}
	p->remote_dom = remote;
	return p;
}

static void free_port(struct sim_evt *e, struct port *p)
{
	char name[64];

	if (p->listenfd >= 0)
		close(p->listenfd);
	if (p->connfd >= 0)
		close(p->connfd);
	if (p->bits != NULL)
		munmap((void *)p->bits, VCHAN_PAGE_SIZE);
	if (p->state == PORT_UNBOUND) {
		sock_name(name, sizeof(name), e->ctx.domid, p->local);
		unlinkat(e->ctx.dirfd, name, 0);
	}
	close(p->lockfd);
	free(p);
}

static void unlink_port(struct sim_evt *e, struct port *p)
{
	char name[64];

	/* Remove our records first: a clean unbind is no death, so the peer
	 * must not apply them when it sees our socket close. */
	snprintf(name, sizeof(name), "e.%u.%u", e->ctx.domid, p->local);
	unlinkat(e->ctx.dirfd, name, 0);
	free_port(e, p);
}

static void link_port(struct sim_evt *e, struct port *p)
{
	p->next = e->ports;
	e->ports = p;
}

/* A connection's socket stays blocking, for sim_wait's blocking recv;
 * every other call on it passes MSG_DONTWAIT. With a receive time limit
 * set, a signal interrupts that recv even when its handler was installed
 * with SA_RESTART (socket(7)), as it would interrupt poll: a blocked
 * vchan call returns EINTR either way. The limit itself only makes
 * sim_wait look again. */
static int set_wait_limit(int fd)
{
	struct timeval tv = {.tv_sec = 3600, .tv_usec = 0};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Listen for the remote's bind on our socket e.<domid>.<port>.sock. */
static int listen_port(struct sim_evt *e, struct port *p)
{
	struct sockaddr_un a;
	char name[64];

	p->state = PORT_UNBOUND;
	p->listenfd =
	    socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->listenfd < 0)
		return -1;
	sock_name(name, sizeof(name), e->ctx.domid, p->local);
	unlinkat(e->ctx.dirfd, name, 0); /* a dead holder's leftover */
	sock_addr(e, &a, e->ctx.domid, p->local);
	if (bind(p->listenfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(p->listenfd, 4) < 0 ||
	    watch_fd(e, p->listenfd, p->local) < 0)
		return -1;
	return 0;
}

static int sim_alloc_unbound(vchan_evt *h, uint32_t remote)
{
	struct sim_evt *e = to_sim(h);
	struct port *p = new_port(e, remote);
	int err;

	if (p == NULL)
		return -1;
	if (listen_port(e, p) < 0) {
		err = errno;
		unlink_port(e, p);
		errno = err;
		return -1;
	}
	link_port(e, p);
	return (int)p->local;
}

/* Map a pair's pending bits. The binder makes the page and seals it
 * before passing it on; the listener maps it only after checking the seal
 * (sim_check_pages): the bits are touched by every notify, and a page
 * the binder could shrink would be a SIGBUS for the listener to take at
 * the binder's whim. */
static _Atomic uint32_t *map_bits(int fd)
{
	void *m;

	if (sim_check_pages(fd, VCHAN_PAGE_SIZE) < 0)
		return NULL;
	m = mmap(NULL, VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	return m == MAP_FAILED ? NULL : (_Atomic uint32_t *)m;
}

static int sim_bind(vchan_evt *h, uint32_t remote, uint32_t remote_port)
{
	struct sim_evt *e = to_sim(h);
	struct sim_port_hdr hdr;
	struct sockaddr_un a;
	struct sim_hello hi;
	char name[64];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {&hi, sizeof(hi)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf)};
	struct cmsghdr *cm;
	struct port *p;
	int fd, memfd = -1, err;
	ssize_t n;

	/* The remote port must exist and be meant for us. */
	snprintf(name, sizeof(name), "e.%u.%u", remote, remote_port);
	fd = openat(e->ctx.dirfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		errno = EINVAL;
		return -1;
	}
	n = pread(fd, &hdr, sizeof(hdr), 0);
	close(fd);
	if (n != sizeof(hdr) || hdr.magic != SIM_PORT_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	if (hdr.remote != e->ctx.domid) {
		errno = EPERM;
		return -1;
	}
	p = new_port(e, remote);
	if (p == NULL)
		return -1;
	p->remote_port = remote_port;
	p->side = 1;
	p->connfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (p->connfd < 0)
		goto fail;
	sock_addr(e, &a, remote, remote_port);
	if (connect(p->connfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		/* Gone, or already bound by someone else. */
		errno = EINVAL;
		goto fail;
	}
	memfd = sim_new_pages("vchan-evt", VCHAN_PAGE_SIZE);
	if (memfd < 0)
		goto fail;
	p->bits = map_bits(memfd);
	if (p->bits == NULL)
		goto fail;
	hi = (struct sim_hello){SIM_PORT_MAGIC, SIM_HELLO_VERSION, e->ctx.domid,
				p->local};
	memset(&cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	if (sendmsg(p->connfd, &msg, MSG_NOSIGNAL) != sizeof(hi))
		goto fail;
	close(memfd);
	memfd = -1;
	if (set_wait_limit(p->connfd) < 0 ||
	    watch_fd(e, p->connfd, p->local) < 0)
		goto fail;
	p->state = PORT_BOUND;
	link_port(e, p);
	return (int)p->local;
fail:
	err = errno;
	if (memfd >= 0)
		close(memfd);
	unlink_port(e, p);
	errno = err;
	return -1;
}

/* Our end of a pair is finished: stop watching its socket. On Xen, when
 * the other end of a pair closes, ours becomes unbound again for the same
 * remote domain; a port we allocated unbound (side 0) therefore listens
 * again, so that a binder that left (or failed its hello) does not keep
 * the next one out. A binder's port just closes. */
static void drop_conn(struct sim_evt *e, struct port *p)
{
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, p->connfd, NULL);
	close(p->connfd);
	p->connfd = -1;
	p->state = PORT_CLOSED;
	p->owed = 0; /* the next binder gets only what comes after it */
	if (p->side != 0)
		return;
	if (p->bits != NULL)
		munmap((void *)p->bits, VCHAN_PAGE_SIZE);
	p->bits = NULL;
	p->remote_port = 0;
	if (listen_port(e, p) < 0) {
		char name[64];

		if (p->listenfd >= 0)
			close(p->listenfd);
		p->listenfd = -1;
		sock_name(name, sizeof(name), e->ctx.domid, p->local);
		unlinkat(e->ctx.dirfd, name, 0);
		p->state = PORT_CLOSED;
	}
}

static int same_target(const struct sim_rec *a, const struct sim_rec *b)
{
	return a->owner == b->owner && a->block == b->block &&
	       a->page == b->page && a->offset == b->offset;
}

/* The peer holding (dom, port) has gone: apply the unmap notifications it
 * registered and did not cancel, as Xen's gntalloc/gntdev do for a dying
 * process. */
static void apply_records(struct sim_evt *e, uint32_t dom, uint32_t port)
{
	struct sim_rec *recs;
	struct stat st;
	char name[64];
	size_t count;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "e.%u.%u", dom, port);
	fd = openat(e->ctx.dirfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return; /* it closed cleanly: nothing registered is left */
	if (fstat(fd, &st) < 0 ||
	    st.st_size <= (off_t)sizeof(struct sim_port_hdr) ||
	    st.st_size > (1 << 20)) {
		close(fd);
		return;
	}
	count =
	    ((size_t)st.st_size - sizeof(struct sim_port_hdr)) / sizeof(*recs);
	recs = malloc(count * sizeof(*recs));
	n = recs == NULL ? -1
			 : pread(fd, recs, count * sizeof(*recs),
				 sizeof(struct sim_port_hdr));
	close(fd);
	if (n < 0) {
		free(recs);
		return;
	}
	count = (size_t)n / sizeof(*recs);
	for (size_t i = 0; i < count; i++) {
		int live = recs[i].op == SIM_REC_ADD;

		for (size_t j = i + 1; live && j < count; j++)
			if (recs[j].op == SIM_REC_DEL &&
			    same_target(&recs[i], &recs[j]))
				live = 0;
		if (live)
			sim_clear_byte(&recs[i]);
	}
	free(recs);
}

static void mark_closed(struct sim_evt *e, struct port *p)
{
	if (p->remote_port != 0)
		apply_records(e, p->remote_dom, p->remote_port);
	drop_conn(e, p);
	p->fired = 1;
}

/* Tell the peer of a bound port: set its bit, and write a byte only when
 * the bit was clear (a byte already on its way stands for this event). The
 * exchange is sequentially consistent, a full barrier: whatever the caller
 * stored before notifying is visible before the peer can see the bit. */
static void kick(struct port *p)
{
	if (atomic_exchange(&p->bits[1 - p->side], 1) != 0)
		return;
	/* A failure means the peer is gone, which its EOF will tell us. */
	(void)send(p->connfd, "n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The first message of a binder: who it is, and the pending-bits page. */
static void read_hello(struct sim_evt *e, struct port *p)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct sim_hello hi;
	struct iovec iov = {&hi, sizeof(hi)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf)};
	struct cmsghdr *cm;
	int memfd = -1;
	ssize_t n = recvmsg(p->connfd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&memfd, CMSG_DATA(cm), sizeof(int));
	if (n == sizeof(hi) && hi.magic == SIM_PORT_MAGIC &&
	    hi.version == SIM_HELLO_VERSION && hi.domid == p->remote_dom &&
	    hi.port != 0 && memfd >= 0)
		p->bits = map_bits(memfd);
	if (memfd >= 0)
		close(memfd);
	if (p->bits == NULL) {
		/* Gone before saying hello, or not a binder we accept. */
		drop_conn(e, p);
		p->fired = 1;
		return;
	}
	p->remote_port = hi.port;
	p->state = PORT_BOUND;
	if (p->owed) {
		p->owed = 0;
		kick(p);
	}
}

/* A binder connected to our unbound port: take the connection. */
static void accept_conn(struct sim_evt *e, struct port *p)
{
	char name[64];
	int fd = accept4(p->listenfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (set_wait_limit(fd) < 0) {
		close(fd);
		return;
	}
	/* One binder per port, as on Xen: later binds find no socket. */
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, p->listenfd, NULL);
	close(p->listenfd);
	p->listenfd = -1;
	sock_name(name, sizeof(name), e->ctx.domid, p->local);
	unlinkat(e->ctx.dirfd, name, 0);
	p->connfd = fd;
	p->state = PORT_HELLO;
	if (watch_fd(e, fd, p->local) < 0) {
		drop_conn(e, p);
		p->fired = 1;
		return;
	}
	read_hello(e, p);
}

static void conn_readable(struct sim_evt *e, struct port *p)
{
	char buf[64];
	int eof = 0;

	if (p->state == PORT_HELLO)
		read_hello(e, p);
	if (p->state != PORT_BOUND)
		return;
	/* The bytes only wake us; the pending bit says whether an event came
	 * that we have not reported yet. A notifier writes a byte only when
	 * it sets the bit, and we clear the bit below, so there is one byte
	 * per event to take: one recv, not a loop ending in EAGAIN (a byte
	 * left over would only make the fd readable once more, and the
	 * cleared bit makes that report nothing). */
	for (;;) {
		ssize_t n = recv(p->connfd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		eof = n == 0 ||
		      (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
		break;
	}
	/* Only after draining the bytes: a notify racing with us either sees
	 * the bit still set (and we report it now) or writes a new byte. */
	if (atomic_exchange(&p->bits[p->side], 0) != 0)
		p->fired = 1;
	if (eof)
		mark_closed(e, p);
}

static int sim_pending(vchan_evt *h)
{
	struct sim_evt *e = to_sim(h);
	struct epoll_event evs[16];

	for (;;) {
		int n;

		for (struct port *p = e->ports; p != NULL; p = p->next) {
			if (p->fired) {
				p->fired = 0;
				return (int)p->local;
			}
		}
		n = epoll_wait(e->epfd, evs, 16, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		for (int i = 0; i < n; i++) {
			struct port *p = find_port(e, evs[i].data.u32);

			if (p == NULL)
				continue;
			if (p->state == PORT_UNBOUND)
				accept_conn(e, p);
			else if (p->connfd >= 0)
				conn_readable(e, p);
		}
	}
}

/* Block until an event comes. The common handle (one port, bound, as a
 * vchan has) sleeps in recv on the port's socket, which wakes with the
 * event's byte: one system call per wake-up instead of poll, epoll_wait
 * and recv. Other handles return 0: the caller polls the epoll set. */
static int sim_wait(vchan_evt *h)
{
	struct sim_evt *e = to_sim(h);
	struct port *p = e->ports;

	if (p == NULL || p->next != NULL || p->state != PORT_BOUND)
		return 0;
	while (!p->fired) {
		char buf[64];
		ssize_t n = recv(p->connfd, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue; /* the receive time limit ran out */
		if (n < 0 && errno == EINTR)
			return -1;
		if (n <= 0) {
			mark_closed(e, p);
			break;
		}
		/* As in conn_readable: the byte only woke us; the bit says
		 * whether it stands for an event not yet reported (a byte
		 * left from a race with an earlier report does not). */
		if (atomic_exchange(&p->bits[p->side], 0) != 0)
			p->fired = 1;
	}
	p->fired = 0;
	return (int)p->local;
}

static int sim_notify(vchan_evt *h, uint32_t port)
{
	struct sim_evt *e = to_sim(h);
	struct port *p = find_port(e, port);

	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* The binder may have connected without our having looked yet. */
	if (p->state == PORT_UNBOUND)
		accept_conn(e, p);
	if (p->state == PORT_HELLO)
		read_hello(e, p);
	switch (p->state) {
	case PORT_BOUND:
		kick(p);
		return 0;
	case PORT_HELLO:
		/* Connected, hello not here yet: the binder's bind has not
		 * returned (it sends the hello first), so Xen could drop
		 * this event. Keep it pending instead, as Xen's bit keeps
		 * one on a bound port, for read_hello to deliver: never
		 * wait here, or a client that connects and stays silent
		 * would stall every notify of ours. */
		p->owed = 1;
		return 0;
	default:
		return 0; /* nobody to tell: dropped, as Xen does */
	}
}

static int sim_unbind(vchan_evt *h, uint32_t port)
{
	struct sim_evt *e = to_sim(h);

	for (struct port **pp = &e->ports; *pp != NULL; pp = &(*pp)->next) {
		struct port *p = *pp;

		if (p->local == port) {
			*pp = p->next;
			unlink_port(e, p);
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

static int sim_evt_close(vchan_evt *h)
{
	struct sim_evt *e = to_sim(h);

	while (e->ports != NULL) {
		struct port *p = e->ports;

		e->ports = p->next;
		unlink_port(e, p);
	}
	close(e->epfd);
	sim_ctx_close(&e->ctx);
	free(e);
	return 0;
}

static int sim_fd(const vchan_evt *h)
{
	return ((const struct sim_evt *)h)->epfd;
}

int sim_evt_record(vchan_evt *h, uint32_t port, const struct sim_rec *r)
{
	struct port *p;
	struct stat st;

	if (h == NULL || h->ops != &sim_evt_ops ||
	    (p = find_port(to_sim(h), port)) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (r == NULL)
		return 0;
	if (fstat(p->lockfd, &st) < 0)
		return -1;
	if (pwrite(p->lockfd, r, sizeof(*r), st.st_size) != sizeof(*r)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* A port's file e.<domid>.<port> is flocked for as long as its holder
 * lives (the kernel drops the lock when the holder dies, even by
 * SIGKILL): a file we can lock too, or none, is a port nobody holds. */
static int sim_held(vchan_evt *h, uint32_t port)
{
	struct sim_evt *e = to_sim(h);
	char name[64];
	int fd, held;

	if (find_port(e, port) != NULL)
		return 1;
	snprintf(name, sizeof(name), "e.%u.%u", e->ctx.domid, port);
	fd = openat(e->ctx.dirfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		held = 0;
	else if (errno == EWOULDBLOCK)
		held = 1;
	else
		held = -1;
	close(fd);
	return held;
}

static const struct evt_ops sim_evt_ops = {
    .close = sim_evt_close,
    .fd = sim_fd,
    .alloc_unbound = sim_alloc_unbound,
    .bind = sim_bind,
    .notify = sim_notify,
    .pending = sim_pending,
    .wait = sim_wait,
    .unbind = sim_unbind,
    .held = sim_held,
    .stolen = vchan_linux_stolen,
};

vchan_evt *vchan_evt_sim_open(void)
{
	struct sim_evt *e = calloc(1, sizeof(*e));
	int err;

	if (e == NULL)
		return NULL;
	e->base.ops = &sim_evt_ops;
	e->base.backend = VCHAN_BACKEND_SIM;
	e->epfd = -1;
	if (sim_ctx_open(&e->ctx) < 0)
		goto fail;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		goto fail;
	return &e->base;
fail:
	err = errno;
	if (e->epfd >= 0)
		close(e->epfd);
	sim_ctx_close(&e->ctx);
	free(e);
	errno = err;
	return NULL;
}
