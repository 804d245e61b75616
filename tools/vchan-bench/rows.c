/* tools/vchan-bench/rows.c - the rows of the modes that report rates (rpc,
 * e2e): kept apart from the byte figures, printed after them, each with
 * its ratios against the row it names as its base (and, for rpc, against
 * the gRPC row). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vchan-bench/bench.h"

struct bench_row *bench_rows_add(struct bench_rows *rows, const char *mode)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? 2 * rows->cap : 8;
		struct bench_row *v = realloc(rows->v, cap * sizeof(*v));

		if (v == NULL) {
			fprintf(stderr, "vchan-bench: out of memory\n");
			exit(2);
		}
		rows->v = v;
		rows->cap = cap;
	}
	memset(&rows->v[rows->n], 0, sizeof(rows->v[0]));
	rows->v[rows->n].mode = mode;
	return &rows->v[rows->n++];
}

static const struct bench_row *row_base(const struct bench_rows *rows,
					const struct bench_row *x)
{
	if (x->base == NULL || x->ok != 1)
		return NULL;
	for (size_t i = 0; i < rows->n; i++) {
		const struct bench_row *b = &rows->v[i];

		if (b != x && b->ok == 1 && strcmp(b->mode, x->mode) == 0 &&
		    strcmp(b->transport, x->base) == 0 && b->rate > 0 &&
		    b->p50 > 0)
			return b;
	}
	return NULL;
}

/* The gRPC row the other rpc rows are also compared with, if measured. */
static const struct bench_row *row_grpc(const struct bench_rows *rows,
					const struct bench_row *x)
{
	if (x->ok != 1 || strcmp(x->mode, "rpc") != 0 ||
	    strcmp(x->transport, BENCH_GRPC_ROW) == 0)
		return NULL;
	for (size_t i = 0; i < rows->n; i++) {
		const struct bench_row *g = &rows->v[i];

		if (g->ok == 1 && strcmp(g->mode, "rpc") == 0 &&
		    strcmp(g->transport, BENCH_GRPC_ROW) == 0 && g->rate > 0 &&
		    g->p50 > 0)
			return g;
	}
	return NULL;
}

static const char *status_name(const struct bench_row *x)
{
	return x->ok == 1 ? "ok" : x->ok < 0 ? "unavailable" : "failed";
}

static void print_row_json(const struct bench_rows *rows,
			   const struct bench_row *x)
{
	const struct bench_row *b = row_base(rows, x);
	const struct bench_row *g = row_grpc(rows, x);
	int rpc = strcmp(x->mode, "rpc") == 0;

	printf("{\"mode\":\"%s\",\"transport\":", x->mode);
	bench_json_str(x->transport);
	printf(",\"msg_size\":%u,\"ring_size\":0,\"load\":%u,\"status\":\"%s\"",
	       x->size, x->load, status_name(x));
	if (x->ok == 1)
		printf(",\"%s\":%.0f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
		       "\"%s\":%u,\"in_flight\":%u",
		       rpc ? "calls_per_s" : "requests_per_s", x->rate, x->p50,
		       x->p99, rpc ? "calls" : "requests", x->count,
		       x->in_flight);
	if (b != NULL) {
		printf(",\"base\":");
		bench_json_str(b->transport);
		printf(",\"rate_vs_base\":%.3f,\"p50_vs_base\":%.3f",
		       x->rate / b->rate, x->p50 / b->p50);
	}
	if (g != NULL)
		printf(",\"rate_vs_grpc\":%.3f,\"p50_vs_grpc\":%.3f",
		       x->rate / g->rate, x->p50 / g->p50);
	if (x->ok == 1 && x->pingpong_p50 > 0)
		printf(",\"pingpong_p50_us\":%.2f,\"p50_vs_pingpong\":%.3f",
		       x->pingpong_p50, x->p50 / x->pingpong_p50);
	printf(",\"repeats\":%u,\"verified\":%s", x->ok == 1 ? 1u : 0u,
	       x->verified ? "true" : "false");
	if (x->ok != 1) {
		printf(",\"reason\":");
		bench_json_str(x->why);
	}
	printf("}\n");
}

static void print_row_csv(const struct bench_rows *rows,
			  const struct bench_row *x)
{
	const struct bench_row *b = row_base(rows, x);

	/* The columns of the other modes; the rate goes in the last one. */
	printf("%s,%s,%u,0,%u,,,", x->mode, x->transport, x->size, x->load);
	if (x->ok == 1)
		printf("%.2f,%.2f", x->p50, x->p99);
	else
		printf(",");
	printf(",,");
	if (b != NULL && strcmp(b->transport, "unix") == 0)
		printf("%.3f", x->p50 / b->p50);
	printf(",,%u,%d,%s,\"", x->ok == 1 ? 1u : 0u, x->verified,
	       status_name(x));
	for (const char *c = x->why; *c; c++)
		putchar(*c == '"' ? '\'' : *c);
	printf("\",");
	if (x->ok == 1)
		printf("%.0f", x->rate);
	printf("\n");
}

static void print_rows_table(const struct bench_rows *rows)
{
	const char *mode = "";

	for (size_t i = 0; i < rows->n; i++) {
		const struct bench_row *x = &rows->v[i];
		const struct bench_row *b = row_base(rows, x), *g;
		int rpc = strcmp(x->mode, "rpc") == 0;

		if (strcmp(mode, x->mode) != 0) {
			mode = x->mode;
			printf("\n%s",
			       rpc ? "rpc: echo calls through rpc/ (rate with "
				     "many calls in flight; latency with one)"
				   : "end to end: HTTP requests through the "
				     "example's domains (see the man page)");
			if (x->load != 0)
				printf(", %u CPU hogs beside", x->load);
			printf("\n");
			printf("%-16s %12s %10s %10s %10s %10s  %s\n",
			       "transport", rpc ? "calls/s" : "requests/s",
			       "p50", "p99", "x rate", "x p50", "against");
		}
		printf("%-16s", x->transport);
		if (x->ok != 1) {
			printf("  %s: %s\n",
			       x->ok < 0 ? "unavailable" : "FAILED", x->why);
			continue;
		}
		printf(" %12.0f %10.1f %10.1f", x->rate, x->p50, x->p99);
		if (b != NULL)
			printf(" %9.2fx %9.2fx  %s\n", x->rate / b->rate,
			       x->p50 / b->p50, b->transport);
		else
			printf(" %10s %10s\n", "-", "-");
		/* The ratios against gRPC: a second line, in the same
		 * columns. */
		g = row_grpc(rows, x);
		if (g != NULL)
			printf("%-16s %12s %10s %10s %9.2fx %9.2fx  %s\n", "",
			       "", "", "", x->rate / g->rate, x->p50 / g->p50,
			       g->transport);
		/* And the call's p50 against the raw round trip it adds to. */
		if (x->pingpong_p50 > 0)
			printf("%-16s %12s %10s %10s %10s %9.2fx  %s\n", "", "",
			       "", "", "-", x->p50 / x->pingpong_p50,
			       "vchan 64 B ping-pong");
	}
}

void bench_rows_print(const struct bench_rows *rows, enum bench_format format)
{
	if (format == BENCH_TABLE) {
		print_rows_table(rows);
		return;
	}
	for (size_t i = 0; i < rows->n; i++) {
		if (format == BENCH_CSV)
			print_row_csv(rows, &rows->v[i]);
		else
			print_row_json(rows, &rows->v[i]);
	}
}
