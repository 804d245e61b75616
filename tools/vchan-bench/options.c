/* tools/vchan-bench/options.c - vchan-bench's command line. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/vchan-bench/run.h"

/* Bounds of --bytes and --max-writes: a row must finish. */
#define BYTES_MIN      (64u * 1024u)
#define BYTES_MAX      (64ull << 30)
#define MAX_WRITES_MAX (1u << 30)

/* A positive number with an optional K, M or G suffix (powers of 1024).
 * Anything else, a sign or blank included, is refused, as is a value
 * that the suffix would carry past 64 bits. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift != 0)
		end++;
	if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_list(const char *s, size_t *out, int *n, size_t max)
{
	char buf[512], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (*n >= MAX_SIZES || parse_size(t, &v) < 0 || v > max)
			return -1;
		out[(*n)++] = (size_t)v;
	}
	return *n > 0 ? 0 : -1;
}

/* --load: numbers of CPU hogs, 0 to LOAD_MAX, comma-separated. */
static int parse_loads(const char *s, unsigned *out, int *n)
{
	char buf[256], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v;

		if (*t < '0' || *t > '9' || *n >= MAX_SIZES)
			return -1;
		errno = 0;
		v = strtoul(t, &end, 10);
		if (errno != 0 || *end != '\0' || v > LOAD_MAX)
			return -1;
		out[(*n)++] = (unsigned)v;
	}
	return *n > 0 ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vchan-bench [OPTIONS] [MODE...]\n"
	    "Measure vchan against a pipe, a Unix socket, TCP, libxenvchan and "
	    "a\n"
	    "spin-only ring, in one run, with ratios (man vchan-bench).\n"
	    "\n"
	    "  -q, --quick           a one-minute subset (changes the defaults "
	    "below)\n"
	    "      --csv, --json     CSV or JSON Lines instead of the table\n"
	    "      --plot FILE.svg   also plot throughput and latency with "
	    "gnuplot\n"
	    "      --bytes N         bytes per throughput repeat, 64K to 64G\n"
	    "                        (default 1G; --quick 32M)\n"
	    "      --max-writes N    most writes per repeat, 1 to 1G\n"
	    "                        (default 1M; --quick 64K)\n"
	    "      --repeats N       timed repeats per figure, 1 to 63\n"
	    "                        (default 5; --quick 3)\n"
	    "      --transports LIST default: all of vchan,vchan-nospin,pipe,"
	    "unix,\n"
	    "                        tcp,libxenvchan,shm-spin\n"
	    "      --modes LIST      default: all of throughput,latency,"
	    "notify,\n"
	    "                        setup,rpc,e2e (also as arguments: "
	    "vchan-bench rpc)\n"
	    "      --msg-sizes LIST  throughput write sizes (default "
	    "64,1K,4K,64K,1M;\n"
	    "                        --quick 64,64K)\n"
	    "      --ring-sizes LIST ring sizes swept (default "
	    "4K,64K,256K,1M;\n"
	    "                        --quick 4K,256K)\n"
	    "      --latency-sizes LIST  ping-pong sizes (default "
	    "64,1K,4K,64K;\n"
	    "                        --quick 64,4K)\n"
	    "      --ring N          ring of the size sweeps, a power of two "
	    "from\n"
	    "                        1K to 1M (default 256K)\n"
	    "      --iterations N    messages per latency and notify repeat,\n"
	    "                        1 to 10000000 (default 10000 and 2000;\n"
	    "                        --quick 500 and 100)\n"
	    "      --timeout S       give up a measurement after S seconds,\n"
	    "                        1 to 86400 (default 600; --quick 60)\n"
	    "      --spin USEC       vchan's spin budget, 1 to 1000000 "
	    "(default:\n"
	    "                        the library's, 200)\n"
	    "      --load LIST       CPU hogs beside every row, 0 to 64; one "
	    "pass\n"
	    "                        per entry (default: 0, then 2 with the "
	    "rows of\n"
	    "                        64K writes, 64-byte ping-pong and "
	    "notify)\n"
	    "      --peer DOMID      measure vchan against --serve in domain "
	    "DOMID\n"
	    "      --serve DOMID     serve the measurements of domain DOMID\n"
	    "      --xen PORT        e2e: measure the HTTPS front already\n"
	    "                        listening on 127.0.0.1:PORT "
	    "(tls-terminator\n"
	    "                        in dom0, web.xen behind it) instead of\n"
	    "                        starting the example's domains; only the\n"
	    "                        e2e mode unless modes are given\n"
	    "      --xen-cert FILE   verify that front's certificate "
	    "(default:\n"
	    "                        not verified)\n"
	    "  -h, --help            show this text\n"
	    "      --version         show the version\n"
	    "Sizes take K, M, G suffixes (powers of 1024).\n");
}

/* Names from `names` in the comma-separated list s: want[i] set for each.
 * Returns 0, or -1 with the first name not in `names` (or s, when it is
 * too long or empty) in bad[]. */
static int name_list(const char *s, const char *const *names, int count,
		     int *want, char *bad, size_t badsz)
{
	char buf[256], *save = NULL;
	int n = 0;

	snprintf(bad, badsz, "%s", s);
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	memset(want, 0, sizeof(int) * (size_t)count);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save), n++) {
		int i = 0;

		while (i < count && strcmp(t, names[i]) != 0)
			i++;
		if (i == count) {
			snprintf(bad, badsz, "%s", t);
			return -1;
		}
		want[i] = 1;
	}
	return n > 0 ? 0 : -1;
}

/* An unknown name of a list: echo it, with the names there are. */
static void bad_name(const char *what, const char *bad,
		     const char *const *names, int count)
{
	fprintf(stderr, "vchan-bench: unknown %s '%s' (%ss:", what, bad, what);
	for (int i = 0; i < count; i++)
		fprintf(stderr, "%s %s", i ? "," : "", names[i]);
	fprintf(stderr, ")\nTry 'vchan-bench --help'.\n");
	exit(2);
}

static void defaults(struct opts *o, int quick)
{
	static const size_t tp_full[] = {64, 1024, 4096, 65536, 1u << 20};
	static const size_t rings[] = {4096, 65536, 262144, 1u << 20};
	static const size_t lat_full[] = {64, 1024, 4096, 65536};

	o->quick = quick;
	o->bytes = quick ? 32u * MIB : 1024u * MIB;
	o->max_writes = quick ? 65536 : 1u << 20;
	o->repeats = quick ? 3 : 5;
	o->lat_iters = quick ? 500 : 10000;
	o->notify_iters = quick ? 100 : 2000;
	o->setups = quick ? 5 : 21;
	o->timeout_s = quick ? 60 : 600;
	o->ring = 262144;
	o->tp_msg = 65536;
	o->loads[0] = 0;
	o->loads[1] = LOAD_DEFAULT;
	o->n_loads = 2;
	if (quick) {
		o->tp_msgs[0] = 64;
		o->tp_msgs[1] = 65536;
		o->n_tp_msgs = 2;
		o->tp_rings[0] = 4096;
		o->tp_rings[1] = 262144;
		o->n_tp_rings = 2;
		o->lat_msgs[0] = 64;
		o->lat_msgs[1] = 4096;
		o->n_lat_msgs = 2;
		return;
	}
	memcpy(o->tp_msgs, tp_full, sizeof(tp_full));
	o->n_tp_msgs = 5;
	memcpy(o->tp_rings, rings, sizeof(rings));
	o->n_tp_rings = 4;
	memcpy(o->lat_msgs, lat_full, sizeof(lat_full));
	o->n_lat_msgs = 4;
}

void parse_opts(struct opts *o, int argc, char **argv)
{
	enum {
		O_CSV = 256,
		O_JSON,
		O_PLOT,
		O_BYTES,
		O_MAXW,
		O_REP,
		O_TR,
		O_MODES,
		O_MSGS,
		O_RINGS,
		O_LATS,
		O_RING,
		O_ITERS,
		O_TIMEOUT,
		O_SPIN,
		O_VERSION,
		O_PEER,
		O_SERVE,
		O_XEN,
		O_XEN_CERT,
		O_LOAD,
	};
	static const struct option lo[] = {
	    {"quick", no_argument, NULL, 'q'},
	    {"csv", no_argument, NULL, O_CSV},
	    {"json", no_argument, NULL, O_JSON},
	    {"plot", required_argument, NULL, O_PLOT},
	    {"bytes", required_argument, NULL, O_BYTES},
	    {"max-writes", required_argument, NULL, O_MAXW},
	    {"repeats", required_argument, NULL, O_REP},
	    {"transports", required_argument, NULL, O_TR},
	    {"modes", required_argument, NULL, O_MODES},
	    {"msg-sizes", required_argument, NULL, O_MSGS},
	    {"ring-sizes", required_argument, NULL, O_RINGS},
	    {"latency-sizes", required_argument, NULL, O_LATS},
	    {"ring", required_argument, NULL, O_RING},
	    {"iterations", required_argument, NULL, O_ITERS},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"spin", required_argument, NULL, O_SPIN},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VERSION},
	    {"peer", required_argument, NULL, O_PEER},
	    {"serve", required_argument, NULL, O_SERVE},
	    {"xen", required_argument, NULL, O_XEN},
	    {"xen-cert", required_argument, NULL, O_XEN_CERT},
	    {"load", required_argument, NULL, O_LOAD},
	    {NULL, 0, NULL, 0}};
	int c, quick = 0, tr_given = 0, modes_given = 0;
	char bad[256];
	uint64_t v;

	/* --quick changes the defaults the other options override. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0 ||
		    strcmp(argv[i], "-q") == 0)
			quick = 1;
	memset(o, 0, sizeof(*o));
	defaults(o, quick);
	for (int i = 0; i < TR_COUNT; i++)
		o->want_tr[i] = 1;
	for (int i = 0; i < MODE_COUNT; i++)
		o->want_mode[i] = 1;
	o->progress = isatty(2);
	o->spin_us = -1;
	o->peer = o->serve = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			break;
		case O_CSV:
		case O_JSON:
			if (o->format != BENCH_TABLE)
				die("--csv and --json exclude each other");
			o->format = c == O_CSV ? BENCH_CSV : BENCH_JSON;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_BYTES:
			if (parse_size(optarg, &o->bytes) < 0 ||
			    o->bytes < BYTES_MIN || o->bytes > BYTES_MAX)
				bad_arg("--bytes", optarg,
					"a size from 64K to 64G (K, M, G: "
					"powers of 1024)");
			break;
		case O_MAXW:
			if (parse_size(optarg, &o->max_writes) < 0 ||
			    o->max_writes > MAX_WRITES_MAX)
				bad_arg("--max-writes", optarg,
					"a number from 1 to 1G");
			break;
		case O_REP:
			if (parse_size(optarg, &v) < 0 || v >= MAX_REPS)
				bad_arg("--repeats", optarg,
					"a number from 1 to 63");
			o->repeats = (unsigned)v;
			break;
		case O_TR:
			if (name_list(optarg, bench_transport_names, TR_COUNT,
				      o->want_tr, bad, sizeof(bad)) < 0)
				bad_name("transport", bad,
					 bench_transport_names, TR_COUNT);
			tr_given = 1;
			break;
		case O_MODES:
			if (name_list(optarg, mode_names, MODE_COUNT,
				      o->want_mode, bad, sizeof(bad)) < 0)
				bad_name("mode", bad, mode_names, MODE_COUNT);
			modes_given = 1;
			break;
		case O_MSGS:
			if (parse_list(optarg, o->tp_msgs, &o->n_tp_msgs, MIB) <
			    0)
				bad_arg("--msg-sizes", optarg,
					"a list of sizes from 1 to 1M, "
					"comma-separated");
			break;
		case O_RINGS:
			if (parse_list(optarg, o->tp_rings, &o->n_tp_rings,
				       MIB) < 0)
				bad_arg("--ring-sizes", optarg,
					"a list of powers of two from 1K to "
					"1M, comma-separated");
			break;
		case O_LATS:
			if (parse_list(optarg, o->lat_msgs, &o->n_lat_msgs,
				       MIB) < 0)
				bad_arg("--latency-sizes", optarg,
					"a list of sizes from 1 to 1M, "
					"comma-separated");
			break;
		case O_RING:
			if (parse_size(optarg, &v) < 0 || v < 1024 || v > MIB ||
			    (v & (v - 1)) != 0)
				bad_arg("--ring", optarg,
					"a power of two from 1K to 1M");
			o->ring = (size_t)v;
			break;
		case O_ITERS:
			if (parse_size(optarg, &v) < 0 || v > 10000000)
				bad_arg("--iterations", optarg,
					"a number from 1 to 10000000");
			o->lat_iters = (unsigned)v;
			o->notify_iters = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (parse_size(optarg, &v) < 0 || v > 86400)
				bad_arg("--timeout", optarg,
					"a number of seconds from 1 to 86400");
			o->timeout_s = (unsigned)v;
			break;
		case O_SPIN:
			if (parse_size(optarg, &v) < 0 || v > 1000000)
				bad_arg("--spin", optarg,
					"a number of microseconds from 1 to "
					"1000000");
			o->spin_us = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("vchan-bench %s\n", PACKAGE_VERSION);
			exit(0);
		case O_PEER:
			o->peer = bench_peer_parse_domid(optarg);
			if (o->peer < 0)
				bad_arg("--peer", optarg,
					"a domain id from 0 to 32751");
			break;
		case O_SERVE:
			o->serve = bench_peer_parse_domid(optarg);
			if (o->serve < 0)
				bad_arg("--serve", optarg,
					"a domain id from 0 to 32751");
			break;
		case O_XEN: {
			char *end;
			long port;

			errno = 0;
			port = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0 || port < 1 || port > 65535)
				bad_arg("--xen", optarg,
					"a TCP port of 127.0.0.1, 1 to 65535");
			o->xen_port = (int)port;
			break;
		}
		case O_LOAD:
			if (parse_loads(optarg, o->loads, &o->n_loads) < 0)
				bad_arg("--load", optarg,
					"a list of numbers of CPU hogs from 0 "
					"to 64, comma-separated");
			o->loads_given = 1;
			break;
		case O_XEN_CERT:
			if (access(optarg, R_OK) != 0)
				bad_arg("--xen-cert", optarg,
					"a readable PEM certificate file");
			o->xen_cert = optarg;
			break;
		case ':':
			fprintf(stderr,
				"vchan-bench: option '%s' needs a value\n"
				"Try 'vchan-bench --help'.\n",
				argv[optind - 1]);
			exit(2);
		default:
			if (optopt != 0)
				fprintf(stderr,
					"vchan-bench: unknown option '-%c'\n",
					optopt);
			else
				fprintf(stderr,
					"vchan-bench: unknown option '%s'\n",
					argv[optind - 1]);
			fprintf(stderr, "Try 'vchan-bench --help'.\n");
			exit(2);
		}
	}
	/* Modes may also be given as arguments: `vchan-bench rpc e2e`. */
	if (optind < argc) {
		int want[MODE_COUNT] = {0};

		for (; optind < argc; optind++) {
			int m[MODE_COUNT];

			if (name_list(argv[optind], mode_names, MODE_COUNT, m,
				      bad, sizeof(bad)) < 0)
				bad_name("mode", bad, mode_names, MODE_COUNT);
			for (int i = 0; i < MODE_COUNT; i++)
				want[i] |= m[i];
		}
		memcpy(o->want_mode, want, sizeof(want));
		modes_given = 1;
	}
	/* --xen: the e2e row of a deployment already running; nothing
	 * else unless asked for. */
	if (o->xen_cert != NULL && o->xen_port == 0)
		die("--xen-cert goes with --xen");
	if (o->xen_port > 0 && !modes_given)
		for (int i = 0; i < MODE_COUNT; i++)
			o->want_mode[i] = i == MODE_E2E;
	/* Across domains: vchan's rows there, the baselines here; what
	 * runs only on the simulator (libxenvchan under vchan-sim, the rpc
	 * and e2e modes' domains) is not offered. */
	if (o->peer >= 0 && o->serve >= 0)
		die("--peer and --serve exclude each other");
	if (o->peer >= 0) {
		if (!tr_given)
			for (int i = 0; i < TR_COUNT; i++)
				o->want_tr[i] =
				    i == TR_VCHAN || i == TR_VCHAN_NOSPIN ||
				    i == TR_PIPE || i == TR_UNIX || i == TR_TCP;
		if (!modes_given)
			for (int i = 0; i < MODE_COUNT; i++)
				o->want_mode[i] =
				    i == BENCH_THROUGHPUT || i == BENCH_LATENCY;
		if (o->want_tr[TR_LIBXENVCHAN] || o->want_mode[MODE_RPC] ||
		    o->want_mode[MODE_E2E])
			die("--peer: libxenvchan, rpc and e2e run on the "
			    "simulator only");
	}
	for (int i = 0; i < o->n_tp_rings; i++)
		if (o->tp_rings[i] < 1024 ||
		    (o->tp_rings[i] & (o->tp_rings[i] - 1))) {
			char val[32];

			snprintf(val, sizeof(val), "%zu", o->tp_rings[i]);
			bad_arg("--ring-sizes", val,
				"a power of two from 1K to 1M");
		}
}
