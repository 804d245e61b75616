/* tools/vchan-bench/output.c - vchan-bench's results as a table, CSV or
 * JSON Lines, with their ratios against the baselines. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "tools/vchan-bench/run.h"

static const struct result *find(const struct run *r, unsigned load, int mode,
				 enum transport tr, size_t msg, size_t ring)
{
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];

		if (x->load == load && x->mode == mode && x->tr == tr &&
		    x->msg == msg && x->ok == 1 &&
		    (x->ring == 0 || x->ring == ring))
			return x;
	}
	return NULL;
}

/* The headline figure: MB/s for throughput (higher is better), else p50. */
static double figure(const struct result *x)
{
	return x->mode == BENCH_THROUGHPUT ? x->mbps : x->p50;
}

/* x against the baseline transport at the same load, message and ring size:
 * how many times better (throughput) or how many times the time
 * (latencies). 0 when there is no baseline. */
static double ratio(const struct run *r, const struct result *x,
		    enum transport base)
{
	const struct result *b =
	    find(r, x->load, x->mode, base, x->msg, x->ring);

	if (b == NULL || x->ok != 1 || figure(b) <= 0)
		return 0;
	return figure(x) / figure(b);
}

static void print_ratio(double v)
{
	if (v > 0)
		printf(" %9.2fx", v);
	else
		printf(" %10s", "-");
}

/* The results of one mode at one load. */
static void print_section(const struct run *r, unsigned load, int m)
{
	static const char *const titles[] = {
	    "throughput: stream from server to client (MB/s: higher is "
	    "better; ratios are MB/s over the baseline's)",
	    "latency: ping-pong round trip in microseconds (ratios are p50 "
	    "over the baseline's: lower is better)",
	    "notification: one-way latency to a sleeping receiver, in "
	    "microseconds (ratios: p50 over the baseline's)",
	    "connection set-up: server init to client connected, median in "
	    "microseconds"};
	int first = 1;

	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];
		char a[24], b[24];

		if (x->mode != m || x->load != load)
			continue;
		if (first) {
			printf("\n%s\n", titles[m]);
			if (load != 0)
				printf("[load %u: %u CPU hogs beside each "
				       "row]\n",
				       load, load);
			else if (r->o.n_loads > 1)
				printf("[load 0: idle]\n");
			printf("%-13s %6s %6s", "transport", "msg", "ring");
			if (m == BENCH_THROUGHPUT)
				printf(" %10s %10s", "MB/s", "CPU s/GB");
			else if (m == MODE_SETUP)
				printf(" %10s", "median");
			else
				printf(" %10s %10s %10s", "p50", "p99",
				       "p99.9");
			printf(" %10s %10s", "x unix", "x libxenv");
			if (m == BENCH_THROUGHPUT)
				printf(" %10s", "x shm-spin");
			printf("\n");
			first = 0;
		}
		printf("%-13s %6s %6s", bench_transport_names[x->tr],
		       human(x->msg, a, sizeof(a)),
		       human(x->ring, b, sizeof(b)));
		if (x->ok != 1) {
			printf("  %s: %s\n",
			       x->ok < 0 ? "unavailable" : "FAILED", x->why);
			continue;
		}
		if (m == BENCH_THROUGHPUT)
			printf(" %10.0f %10.3f", x->mbps, x->cpu_gb);
		else if (m == MODE_SETUP)
			printf(" %10.1f", x->p50);
		else
			printf(" %10.1f %10.1f %10.1f", x->p50, x->p99,
			       x->p999);
		print_ratio(ratio(r, x, TR_UNIX));
		print_ratio(ratio(r, x, TR_LIBXENVCHAN));
		if (m == BENCH_THROUGHPUT)
			print_ratio(ratio(r, x, TR_SHM));
		printf("\n");
	}
}

/* Each load's sections, in the order of the run. */
static void print_table(const struct run *r)
{
	for (int l = 0; l < r->o.n_loads; l++)
		for (int m = 0; m <= MODE_SETUP; m++)
			print_section(r, r->o.loads[l], m);
}

static void num_or_empty(double v, int have, int decimals)
{
	if (have)
		printf("%.*f", decimals, v);
}

static void print_csv(const struct run *r)
{
	printf("mode,transport,msg_size,ring_size,load,mb_per_s,cpu_s_per_gb,"
	       "p50_us,p99_us,p999_us,vs_unix,vs_libxenvchan,repeats,"
	       "verified,status,note,per_s\n");
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];
		int ok = x->ok == 1, tp = x->mode == BENCH_THROUGHPUT;
		double ru = ratio(r, x, TR_UNIX),
		       rx = ratio(r, x, TR_LIBXENVCHAN);

		printf("%s,%s,%zu,%zu,%u,", mode_names[x->mode],
		       bench_transport_names[x->tr], x->msg, x->ring, x->load);
		num_or_empty(x->mbps, ok && tp, 1);
		printf(",");
		num_or_empty(x->cpu_gb, ok && tp, 4);
		printf(",");
		num_or_empty(x->p50, ok && !tp, 2);
		printf(",");
		num_or_empty(x->p99, ok && !tp && x->mode != MODE_SETUP, 2);
		printf(",");
		num_or_empty(x->p999, ok && !tp && x->mode != MODE_SETUP, 2);
		printf(",");
		num_or_empty(ru, ru > 0, 3);
		printf(",");
		num_or_empty(rx, rx > 0, 3);
		printf(",%u,%d,%s,", x->repeats, x->verified,
		       ok	   ? "ok"
		       : x->ok < 0 ? "unavailable"
				   : "failed");
		/* Notes never hold a double quote (ours are plain), but keep
		 * the field well-formed whatever the layers below said. */
		printf("\"");
		for (const char *c = x->why; *c; c++)
			putchar(*c == '"' ? '\'' : *c);
		printf("\",\n"); /* per_s: rpc and e2e rows only */
	}
}

void bench_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct run *r)
{
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];
		double ru = ratio(r, x, TR_UNIX),
		       rx = ratio(r, x, TR_LIBXENVCHAN),
		       rs = x->mode == BENCH_THROUGHPUT ? ratio(r, x, TR_SHM)
							: 0;

		printf("{\"mode\":\"%s\",\"transport\":\"%s\",\"msg_size\":%zu,"
		       "\"ring_size\":%zu,\"load\":%u,\"status\":\"%s\"",
		       mode_names[x->mode], bench_transport_names[x->tr],
		       x->msg, x->ring, x->load,
		       x->ok == 1  ? "ok"
		       : x->ok < 0 ? "unavailable"
				   : "failed");
		if (x->ok == 1 && x->mode == BENCH_THROUGHPUT)
			printf(",\"bytes\":%" PRIu64 ",\"mb_per_s\":%.1f,"
			       "\"cpu_s_per_gb\":%.4f",
			       x->bytes, x->mbps, x->cpu_gb);
		else if (x->ok == 1 && x->mode == MODE_SETUP)
			printf(",\"p50_us\":%.2f", x->p50);
		else if (x->ok == 1)
			printf(
			    ",\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f",
			    x->p50, x->p99, x->p999);
		if (ru > 0)
			printf(",\"vs_unix\":%.3f", ru);
		if (rx > 0)
			printf(",\"vs_libxenvchan\":%.3f", rx);
		if (rs > 0)
			printf(",\"vs_shm_spin\":%.3f", rs);
		printf(",\"repeats\":%u,\"verified\":%s", x->repeats,
		       x->verified ? "true" : "false");
		if (x->ok != 1) {
			printf(",\"reason\":");
			bench_json_str(x->why);
		}
		printf("}\n");
	}
}

void print_results(const struct run *r)
{
	if (r->o.format == BENCH_CSV)
		print_csv(r);
	else if (r->o.format == BENCH_JSON)
		print_json(r);
	else
		print_table(r);
	bench_rows_print(&r->rows, r->o.format);
}
