/* tools/vchan-bench/peer.c - the vchan rows of vchan-bench with the two
 * ends in two real domains: `vchan-bench --peer DOMID` measures, and
 * `vchan-bench --serve DOMID`, started in domain DOMID's peer, is the
 * other end.
 *
 * One channel per measurement, at
 *   /local/domain/<measuring>/data/vchan/<serving>/vchan-bench
 * with the measuring side as the vchan server (it chooses the rings). On it:
 *   1. the server writes a job header (HDR_LEN bytes of text, NUL-padded):
 *      "VB1 <mode> <msg> <bytes> <iters> <repeats> <gap_us> <spin>" or
 *      "VB1 quit";
 *   2. both run bench.h's loops, the measuring side as "cli" (throughput
 *      receiver, latency pinger), the serving side as "srv";
 *   3. the serving side sends its result lines: 8 hex digits of length,
 *      then the lines; the server reads them and closes, which removes its
 *      keys before the client sees the close, so the client's next connect
 *      waits for the next job's keys instead of finding the old ones.
 * The domains' clocks are not comparable, so every time is taken on the
 * measuring side: a throughput repeat runs from the moment its "go" byte
 * is sent to the moment the last byte arrives (the sender's start in its
 * "T S" line is replaced by that moment), a latency sample is a round
 * trip. Notification and set-up times would need both clocks: they are not
 * measured across domains. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/vchan-bench/bench.h"
#include "tools/vchan-bench/transport.h"
#include "vchan/vchan.h"

#define HDR_LEN 64
#define PORT	"vchan-bench"
#define MAX_GO	64	  /* repeats + 1, as vchan-bench allows */
#define RES_MAX (1 << 20) /* result lines of one side */
#define QUIT_MS 10000

int bench_peer_parse_domid(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	/* 32752 and above are Xen's reserved ids (DOMID_FIRST_RESERVED). */
	if (errno != 0 || end == s || *end != '\0' || v >= 32752)
		return -1;
	return (int)v;
}

/* ---- the channel as a bench endpoint ---- */

struct peer_ep {
	struct bench_ep ep;
	struct vchan *ch;
	int stamp_go; /* record when a throughput "go" byte is sent */
	uint64_t go[MAX_GO];
	unsigned n_go;
};

static int pe_send(struct bench_ep *ep, const void *buf, size_t n)
{
	struct peer_ep *p = ep->priv;
	const uint8_t *b = buf;

	/* In a throughput job the receiver sends only "g" (go) and "a"
	 * (acknowledged), one byte each. */
	if (p->stamp_go && n == 1 && b[0] == 'g' && p->n_go < MAX_GO)
		p->go[p->n_go++] = bench_now_ns();
	while (n > 0) {
		ssize_t w = vchan_write(p->ch, b, n);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t pe_recv(struct bench_ep *ep, void *buf, size_t n)
{
	struct peer_ep *p = ep->priv;

	return vchan_read(p->ch, buf, n);
}

static const struct bench_ep_ops pe_ops = {pe_send, pe_recv};

static int read_all(struct vchan *ch, void *buf, size_t n)
{
	uint8_t *b = buf;

	while (n > 0) {
		ssize_t r = vchan_read(ch, b, n);

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

static int write_all(struct vchan *ch, const void *buf, size_t n)
{
	const uint8_t *b = buf;

	while (n > 0) {
		ssize_t w = vchan_write(ch, b, n);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int64_t ms_left(uint64_t deadline)
{
	uint64_t now = bench_now_ns();

	return now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000u) + 1;
}

/* Sleep until the channel's fd is readable, at most `left_ms` and 1 s,
 * then take its events. Returns 0, or -1 + errno. */
static int nap(struct vchan *ch, int64_t left_ms)
{
	struct pollfd pfd = {.fd = vchan_fd(ch), .events = POLLIN};

	if (poll(&pfd, 1, left_ms > 1000 ? 1000 : (int)left_ms) < 0 &&
	    errno != EINTR)
		return -1;
	if (vchan_wait(ch, 0) < 0 && errno != EINTR)
		return -1;
	return 0;
}

/* Wait (non-blocking, through the channel's fd) until the peer's state is
 * `want`, at most until deadline. Returns 0, or -1 + errno: ETIMEDOUT,
 * EPIPE (the peer left while we waited for it to come), EPROTO. */
static int await_state(struct vchan *ch, int want, uint64_t deadline)
{
	int r = -1;

	vchan_set_blocking(ch, 0);
	for (;;) {
		int st = vchan_is_open(ch);
		int64_t left;

		if (st < 0)
			break;
		if (st == want) {
			r = 0;
			break;
		}
		if (st == VCHAN_CLOSED) {
			errno = EPIPE;
			break;
		}
		left = ms_left(deadline);
		if (left == 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (nap(ch, left) < 0)
			break;
	}
	vchan_set_blocking(ch, 1);
	return r;
}

/* Read and drop whatever comes until the peer closes, at most until
 * deadline (0: no limit). Returns 0 when it closed, -1 + errno. */
static int drain_to_close(struct vchan *ch, uint64_t deadline)
{
	char b[4096];
	int r = -1;

	vchan_set_blocking(ch, 0);
	for (;;) {
		ssize_t n = vchan_read(ch, b, sizeof(b));
		int64_t left = deadline ? ms_left(deadline) : 1000;

		if (n < 0) {
			if (errno == EPIPE)
				r = 0;
			break;
		}
		if (n > 0)
			continue;
		if (left == 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (nap(ch, left) < 0)
			break;
	}
	vchan_set_blocking(ch, 1);
	return r;
}

/* ---- the measuring side ---- */

static int spin_of(const struct pair *p)
{
	return p->transport == TR_VCHAN_NOSPIN ? 0 : p->spin_us;
}

static void apply_spin(struct vchan *ch, int spin)
{
	if (spin >= 0)
		vchan_set_spin(ch, (unsigned)spin);
}

/* Pass the serving side's result lines on to fd, its throughput start
 * times replaced by the moments our "go" bytes left. */
static void relay(char *lines, const struct peer_ep *pe, int fd)
{
	unsigned k = 0;

	for (char *s = lines, *nl; *s != '\0'; s = nl + 1) {
		unsigned long long start, cpu;

		nl = strchr(s, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (sscanf(s, "T S %llu %llu", &start, &cpu) == 2) {
			if (k >= pe->n_go) {
				bench_report(fd,
					     "E %u throughput reports for "
					     "%u repeats",
					     k + 1, pe->n_go);
				return;
			}
			bench_report(fd, "T S %" PRIu64 " %llu", pe->go[k++],
				     cpu);
		} else {
			bench_report(fd, "%s", s);
		}
	}
}

/* Take the serving side's result lines and relay them. Returns 0 or -1
 * after an "E" line. */
static int take_results(struct vchan *ch, const struct peer_ep *pe, int fd)
{
	char len[9] = "", *end, *lines;
	unsigned long n;

	if (read_all(ch, len, 8) < 0) {
		bench_report(fd, "E peer results: %s", strerror(errno));
		return -1;
	}
	n = strtoul(len, &end, 16);
	if (*end != '\0' || n > RES_MAX) {
		bench_report(fd, "E peer results: bad length \"%s\"", len);
		return -1;
	}
	lines = calloc(1, n + 1);
	if (lines == NULL || read_all(ch, lines, n) < 0) {
		bench_report(fd, "E peer results: %s", strerror(errno));
		free(lines);
		return -1;
	}
	relay(lines, pe, fd);
	free(lines);
	return 0;
}

static int peer_side(uint32_t peer, struct pair *p, unsigned wait_s,
		     int res_srv, int res_cli)
{
	struct peer_ep pe = {.ep = {&pe_ops, &pe}};
	char path[VCHAN_PATH_MAX], hdr[HDR_LEN] = "";
	int r;
	const struct bench_job *j = &p->job;

	pe.ch = vchan_server_create_port(peer, PORT, p->ring, p->ring);
	if (pe.ch == NULL) {
		bench_report(res_cli,
			     "E vchan server for domain %" PRIu32 ": %s", peer,
			     strerror(errno));
		return -1;
	}
	apply_spin(pe.ch, spin_of(p));
	pe.stamp_go = j->mode == BENCH_THROUGHPUT;
	snprintf(hdr, sizeof(hdr), "VB1 %d %zu %" PRIu64 " %u %u %u %d",
		 (int)j->mode, j->msg, j->bytes, j->iters, j->repeats,
		 j->notify_gap_us, spin_of(p));
	if (await_state(pe.ch, VCHAN_CONNECTED,
			bench_now_ns() + (uint64_t)wait_s * 1000000000u) < 0) {
		int e = errno;

		if (vchan_path(path, sizeof(path), VCHAN_DOMID_SELF, peer,
			       PORT) < 0)
			strcpy(path, PORT);
		bench_report(res_cli,
			     "E domain %" PRIu32 " did not connect within %u "
			     "s to %s (is `vchan-bench --serve` running "
			     "there?): %s",
			     peer, wait_s, path, strerror(e));
		vchan_close(pe.ch);
		return -1;
	}
	r = write_all(pe.ch, hdr, sizeof(hdr));
	if (r < 0)
		bench_report(res_cli, "E job header: %s", strerror(errno));
	else
		r = bench_run_cli(&pe.ep, j, res_cli);
	if (r == 0)
		r = take_results(pe.ch, &pe, res_srv);
	vchan_close(pe.ch);
	return r;
}

pid_t bench_peer_spawn(uint32_t peer, struct pair *p, unsigned wait_s,
		       int fds[2])
{
	int a[2], b[2];
	pid_t pid;

	if (pipe(a) < 0)
		return -1;
	if (pipe(b) < 0) {
		close(a[0]);
		close(a[1]);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(a[0]);
		close(b[0]);
		_exit(peer_side(peer, p, wait_s, a[1], b[1]) < 0);
	}
	close(a[1]);
	close(b[1]);
	if (pid < 0) {
		close(a[0]);
		close(b[0]);
		return -1;
	}
	fds[0] = a[0];
	fds[1] = b[0];
	return pid;
}

int bench_peer_quit(uint32_t peer)
{
	char hdr[HDR_LEN] = "VB1 quit";
	int r;
	struct vchan *ch;
	uint64_t deadline = bench_now_ns() + QUIT_MS * 1000000ull;

	ch = vchan_server_create_port(peer, PORT, 1024, 1024);
	if (ch == NULL)
		return -1;
	/* It reads the header and closes: wait for that, so the header is
	 * known to have arrived before our close removes the keys. */
	r = await_state(ch, VCHAN_CONNECTED, deadline);
	if (r == 0)
		r = write_all(ch, hdr, sizeof(hdr));
	if (r == 0)
		r = drain_to_close(ch, deadline);
	vchan_close(ch);
	return r;
}

/* ---- the serving side ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vchan-bench --serve: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int parse_header(const char *hdr, struct bench_job *j, int *spin)
{
	unsigned long long bytes;
	int mode;

	memset(j, 0, sizeof(*j));
	if (sscanf(hdr, "VB1 %d %zu %llu %u %u %u %d", &mode, &j->msg, &bytes,
		   &j->iters, &j->repeats, &j->notify_gap_us, spin) != 7 ||
	    mode < 0 || mode >= BENCH_MODES || j->repeats >= MAX_GO)
		return -1;
	j->mode = (enum bench_mode)mode;
	j->bytes = bytes;
	return 0;
}

/* Send the result lines written to file f. Returns 0 or -1 + errno. */
static int send_results(struct vchan *ch, FILE *f)
{
	char len[9], *buf;
	long n;
	int r;

	fflush(f);
	n = ftell(f);
	if (n < 0 || n > RES_MAX) {
		errno = EFBIG;
		return -1;
	}
	buf = malloc((size_t)n + 1);
	if (buf == NULL)
		return -1;
	rewind(f);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		errno = EIO;
		return -1;
	}
	snprintf(len, sizeof(len), "%08lx", (unsigned long)n);
	r = write_all(ch, len, 8);
	if (r == 0)
		r = write_all(ch, buf, (size_t)n);
	free(buf);
	return r;
}

/* One job on a connected channel. Returns 1 after "quit", 0 after a job
 * whose results were sent, -1 after a failure (told on standard error;
 * the measuring side sees the channel close). */
static int serve_one(struct vchan *ch, unsigned *jobs)
{
	char hdr[HDR_LEN + 1] = "";
	struct peer_ep pe = {.ep = {&pe_ops, &pe}, .ch = ch};
	struct bench_job j;
	int spin, r;
	FILE *res;

	if (read_all(ch, hdr, HDR_LEN) < 0) {
		say("job header: %s", strerror(errno));
		return -1;
	}
	if (strcmp(hdr, "VB1 quit") == 0)
		return 1;
	if (parse_header(hdr, &j, &spin) < 0) {
		say("bad job header \"%.*s\"", HDR_LEN, hdr);
		return -1;
	}
	apply_spin(ch, spin);
	res = tmpfile();
	if (res == NULL) {
		say("tmpfile: %s", strerror(errno));
		return -1;
	}
	r = bench_run_srv(&pe.ep, &j, fileno(res));
	if (r == 0) {
		r = send_results(ch, res);
		if (r < 0)
			say("sending results: %s", strerror(errno));
		else
			(*jobs)++;
	} else {
		char line[512];

		fflush(res);
		rewind(res);
		while (fgets(line, sizeof(line), res) != NULL)
			say("job %u failed: %s", *jobs + 1,
			    line[0] == 'E' ? line + 2 : line);
	}
	fclose(res);
	return r;
}

int bench_peer_serve(uint32_t peer, unsigned idle_s)
{
	unsigned jobs = 0;
	uint64_t deadline;

	deadline = bench_now_ns() + (uint64_t)idle_s * 1000000000u;
	for (;;) {
		struct vchan *ch;
		int64_t left = ms_left(deadline);
		int r;

		if (left == 0) {
			say("no job from domain %" PRIu32 " in %u s (%u done)",
			    peer, idle_s, jobs);
			return -1;
		}
		ch = vchan_client_connect_port(
		    peer, PORT, left > INT32_MAX ? INT32_MAX : (int)left);
		if (ch == NULL) {
			/* The keys of a measurement that was killed before
			 * its server could remove them: the next one
			 * replaces them. */
			if (errno == ECONNREFUSED) {
				usleep(50000);
				continue;
			}
			/* On Xen, xenstored answers a read of a missing node
			 * under a directory we may not read (the measuring
			 * domain's .../data/vchan/<us>, left by earlier
			 * channels) with EACCES, not ENOENT, so the connect
			 * cannot wait for the keys: look again. */
			if (errno == EACCES) {
				usleep(200000);
				continue;
			}
			if (errno == ETIMEDOUT)
				continue;
			say("connecting to domain %" PRIu32 ": %s", peer,
			    strerror(errno));
			return -1;
		}
		r = serve_one(ch, &jobs);
		/* Its server reads our results and closes, removing its keys
		 * first: wait for that, so the next connect cannot find
		 * them. After a failure close at once instead, so the
		 * measuring side stops waiting for data that will not come
		 * (the stale keys are then refused and retried above). */
		if (r == 0)
			drain_to_close(ch, 0);
		vchan_close(ch);
		if (r == 1)
			return 0;
		deadline = bench_now_ns() + (uint64_t)idle_s * 1000000000u;
	}
}
