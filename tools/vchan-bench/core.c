/* tools/vchan-bench/core.c - the measuring loops, the same for every
 * transport. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tools/vchan-bench/bench.h"

/* The stream is a random block repeated with a period that is no multiple
 * of any ring size, so a byte delivered at the wrong place (a lost,
 * repeated or misplaced chunk) differs from what was expected. The block
 * is followed by a copy of its first MSG_MAX bytes: any slice of up to
 * MSG_MAX bytes starting anywhere in the period is contiguous. */
#define PERIOD	((1u << 20) + 4093u)
#define MSG_MAX (1u << 20)

struct pattern {
	uint8_t *buf;
};

static int pattern_init(struct pattern *p)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	p->buf = malloc((size_t)PERIOD + MSG_MAX);
	if (p->buf == NULL)
		return -1;
	for (size_t i = 0; i < PERIOD; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p->buf + i, &x, PERIOD - i < 8 ? PERIOD - i : 8);
	}
	memcpy(p->buf + PERIOD, p->buf, MSG_MAX);
	return 0;
}

static const uint8_t *pattern_at(const struct pattern *p, uint64_t off)
{
	return p->buf + off % PERIOD;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		   1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		   1000u;
}

void bench_report(int fd, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* Lines are far below PIPE_BUF... except the quantile lines; a pipe
	 * with one writer keeps them whole either way. */
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (int)w;
	}
}

static int fail(int fd, const char *what)
{
	bench_report(fd, "E %s: %s", what, strerror(errno));
	return -1;
}

static int recv_all(struct bench_ep *ep, void *buf, size_t n)
{
	uint8_t *b = buf;

	while (n > 0) {
		ssize_t r = ep->ops->recv(ep, b, n);

		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort the samples and report p50, p99, p99.9 and the 101 quantiles. */
static void report_lat(int fd, uint64_t *s, unsigned n, int verified)
{
	char q[101 * 21 + 1];
	size_t off = 0;

	qsort(s, n, sizeof(*s), cmp_u64);
	for (unsigned k = 0; k <= 100; k++)
		off += (size_t)snprintf(
		    q + off, sizeof(q) - off, " %llu",
		    (unsigned long long)s[(uint64_t)k * (n - 1) / 100]);
	bench_report(fd, "L %llu %llu %llu %d%s",
		     (unsigned long long)s[(uint64_t)(n - 1) * 50 / 100],
		     (unsigned long long)s[(uint64_t)(n - 1) * 99 / 100],
		     (unsigned long long)s[(uint64_t)(n - 1) * 999 / 1000],
		     verified, q);
}

static unsigned warmup(const struct bench_job *job)
{
	return job->iters / 10 < 10 ? 10 : job->iters / 10;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Throughput, sending side: wait for the receiver's go, stream, and wait
 * for its acknowledgement (so the next repeat starts on an empty ring). */
static int tp_send(struct bench_ep *ep, const struct bench_job *job,
		   const struct pattern *pat, int fd)
{
	uint64_t start, cpu;
	uint8_t b;

	if (recv_all(ep, &b, 1) < 0)
		return fail(fd, "waiting for the receiver");
	start = bench_now_ns();
	cpu = bench_cpu_ns();
	for (uint64_t sent = 0; sent < job->bytes;) {
		size_t k = job->msg;

		if (job->bytes - sent < k)
			k = (size_t)(job->bytes - sent);
		if (ep->ops->send(ep, pattern_at(pat, sent), k) < 0)
			return fail(fd, "send");
		sent += k;
	}
	cpu = bench_cpu_ns() - cpu;
	if (recv_all(ep, &b, 1) < 0)
		return fail(fd, "waiting for the acknowledgement");
	bench_report(fd, "T S %llu %llu", (unsigned long long)start,
		     (unsigned long long)cpu);
	return 0;
}

static int tp_recv(struct bench_ep *ep, const struct bench_job *job,
		   const struct pattern *pat, uint8_t *buf, int verify, int fd)
{
	uint64_t cpu = bench_cpu_ns(), end;

	if (ep->ops->send(ep, "g", 1) < 0)
		return fail(fd, "send go");
	for (uint64_t got = 0; got < job->bytes;) {
		size_t k = job->msg;
		ssize_t n;

		if (job->bytes - got < k)
			k = (size_t)(job->bytes - got);
		n = ep->ops->recv(ep, buf, k);
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return fail(fd, "recv");
		}
		if (verify && memcmp(buf, pattern_at(pat, got), (size_t)n)) {
			bench_report(
			    fd,
			    "E data differs in bytes %llu..%llu of the "
			    "stream",
			    (unsigned long long)got,
			    (unsigned long long)(got + (uint64_t)n));
			return -1;
		}
		got += (uint64_t)n;
	}
	end = bench_now_ns();
	cpu = bench_cpu_ns() - cpu;
	if (ep->ops->send(ep, "a", 1) < 0)
		return fail(fd, "send acknowledgement");
	bench_report(fd, "T R %llu %llu %d", (unsigned long long)end,
		     (unsigned long long)cpu, verify);
	return 0;
}

/* Message i of a latency or notify run: a slice of the pattern that
 * differs from one message to the next. */
static uint64_t msg_off(unsigned i)
{
	return (uint64_t)i * 40503u;
}

static int lat_echo(struct bench_ep *ep, const struct bench_job *job,
		    const struct pattern *pat, uint8_t *buf, int verify, int fd)
{
	unsigned total = warmup(job) + job->iters;

	for (unsigned i = 0; i < total; i++) {
		if (recv_all(ep, buf, job->msg) < 0)
			return fail(fd, "recv");
		if (verify &&
		    memcmp(buf, pattern_at(pat, msg_off(i)), job->msg)) {
			bench_report(fd, "E message %u differs", i);
			return -1;
		}
		if (ep->ops->send(ep, buf, job->msg) < 0)
			return fail(fd, "send");
	}
	return 0;
}

static int lat_ping(struct bench_ep *ep, const struct bench_job *job,
		    const struct pattern *pat, uint8_t *buf, uint64_t *s,
		    int verify, int fd)
{
	unsigned w = warmup(job);

	for (unsigned i = 0; i < w + job->iters; i++) {
		const uint8_t *m = pattern_at(pat, msg_off(i));
		uint64_t t0 = bench_now_ns();

		if (ep->ops->send(ep, m, job->msg) < 0)
			return fail(fd, "send");
		if (recv_all(ep, buf, job->msg) < 0)
			return fail(fd, "recv");
		if (i >= w)
			s[i - w] = bench_now_ns() - t0;
		if (verify && memcmp(buf, m, job->msg)) {
			bench_report(fd, "E echo %u differs", i);
			return -1;
		}
	}
	report_lat(fd, s, job->iters, verify);
	return 0;
}

/* Notify, receiving side: sleeps in recv (the sender waits before each
 * message), then takes the time the message was stamped with. */
static int nt_recv(struct bench_ep *ep, const struct bench_job *job,
		   const struct pattern *pat, uint8_t *buf, uint64_t *s,
		   int verify, int fd)
{
	unsigned w = warmup(job);

	for (unsigned i = 0; i < w + job->iters; i++) {
		uint64_t stamp, now;

		if (recv_all(ep, buf, job->msg) < 0)
			return fail(fd, "recv");
		now = bench_now_ns();
		memcpy(&stamp, buf, sizeof(stamp));
		if (i >= w)
			s[i - w] = now > stamp ? now - stamp : 0;
		if (verify && memcmp(buf + 8, pattern_at(pat, msg_off(i)) + 8,
				     job->msg - 8)) {
			bench_report(fd, "E message %u differs", i);
			return -1;
		}
		if (ep->ops->send(ep, "a", 1) < 0)
			return fail(fd, "send acknowledgement");
	}
	report_lat(fd, s, job->iters, verify);
	return 0;
}

static int nt_send(struct bench_ep *ep, const struct bench_job *job,
		   const struct pattern *pat, uint8_t *buf, int fd)
{
	unsigned w = warmup(job);

	for (unsigned i = 0; i < w + job->iters; i++) {
		uint64_t stamp;
		uint8_t b;

		memcpy(buf, pattern_at(pat, msg_off(i)), job->msg);
		/* Give the receiver time to fall asleep. */
		sleep_us(job->notify_gap_us);
		stamp = bench_now_ns();
		memcpy(buf, &stamp, sizeof(stamp));
		if (ep->ops->send(ep, buf, job->msg) < 0)
			return fail(fd, "send");
		if (recv_all(ep, &b, 1) < 0)
			return fail(fd, "recv acknowledgement");
	}
	return 0;
}

struct side {
	struct pattern pat;
	uint8_t *buf;
	uint64_t *samples;
};

static int side_init(struct side *sd, const struct bench_job *job, int fd)
{
	memset(sd, 0, sizeof(*sd));
	if (job->msg == 0 || job->msg > MSG_MAX ||
	    (job->mode == BENCH_NOTIFY && job->msg < 8) ||
	    (job->mode != BENCH_THROUGHPUT && job->iters == 0)) {
		errno = EINVAL;
		return fail(fd, "job");
	}
	if (pattern_init(&sd->pat) < 0)
		return fail(fd, "pattern");
	sd->buf = malloc(job->msg);
	sd->samples = calloc(job->iters ? job->iters : 1, sizeof(uint64_t));
	if (sd->buf == NULL || sd->samples == NULL)
		return fail(fd, "malloc");
	return 0;
}

static void side_free(struct side *sd)
{
	free(sd->pat.buf);
	free(sd->buf);
	free(sd->samples);
}

int bench_run_srv(struct bench_ep *ep, const struct bench_job *job, int fd)
{
	struct side sd;
	int r = side_init(&sd, job, fd);

	for (unsigned rep = 0; r == 0 && rep <= job->repeats; rep++) {
		switch (job->mode) {
		case BENCH_THROUGHPUT:
			r = tp_send(ep, job, &sd.pat, fd);
			break;
		case BENCH_LATENCY:
			r = lat_echo(ep, job, &sd.pat, sd.buf, rep == 0, fd);
			break;
		default:
			r = nt_recv(ep, job, &sd.pat, sd.buf, sd.samples,
				    rep == 0, fd);
			break;
		}
	}
	side_free(&sd);
	return r;
}

int bench_run_cli(struct bench_ep *ep, const struct bench_job *job, int fd)
{
	struct side sd;
	int r = side_init(&sd, job, fd);

	for (unsigned rep = 0; r == 0 && rep <= job->repeats; rep++) {
		switch (job->mode) {
		case BENCH_THROUGHPUT:
			r = tp_recv(ep, job, &sd.pat, sd.buf, rep == 0, fd);
			break;
		case BENCH_LATENCY:
			r = lat_ping(ep, job, &sd.pat, sd.buf, sd.samples,
				     rep == 0, fd);
			break;
		default:
			r = nt_send(ep, job, &sd.pat, sd.buf, fd);
			break;
		}
	}
	side_free(&sd);
	return r;
}

int bench_setup_post(int fd, uint64_t start_ns, uint64_t aux)
{
	uint64_t m[2] = {start_ns, aux};

	return write(fd, m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

int bench_setup_take(int fd, uint64_t *start_ns, uint64_t *aux)
{
	uint64_t m[2];
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	for (;;) {
		/* 16 bytes written at once arrive at once (< PIPE_BUF). */
		ssize_t n = read(fd, m, sizeof(m));

		if (n == sizeof(m)) {
			*start_ns = m[0];
			*aux = m[1];
			return 0;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		/* Two cores shared with the server: let it run. */
		sched_yield();
	}
}
