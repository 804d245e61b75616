/* tools/vchan-bench/plot.c - --plot: throughput and latency drawn by
 * gnuplot. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/vchan-bench/run.h"

static int find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name) <
			(int)sizeof(buf) &&
		    is_exec(buf))
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* --plot FILE, before anything is measured: the name can be given to
 * gnuplot, gnuplot is there, and FILE can be written (tried: an existing
 * file is opened for writing, untouched; a new one is made and removed).
 * Exits 2 after one line saying why not. */
void plot_check(const char *file)
{
	int fd;

	if (strpbrk(file, "'\"\\\n") != NULL)
		bad_arg("--plot", file,
			"a file name without quotes, backslashes or newlines");
	if (!find_in_path("gnuplot"))
		die("--plot: gnuplot not found (Debian: apt-get install "
		    "gnuplot-nox)");
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0)
			unlink(file);
	}
	if (fd < 0) {
		fprintf(stderr, "vchan-bench: --plot: cannot write %s: %s\n",
			file, strerror(errno));
		exit(2);
	}
	close(fd);
}

/* gnuplot: throughput against message size (at the sweep's ring size),
 * and the CDF of the smallest ping-pong's round trips; on white, each
 * legend to the right of its plot, clear of the curves. */
int plot(const struct run *r, const char *file)
{
	size_t lat_msg = r->o.n_lat_msgs ? r->o.lat_msgs[0] : 0;
	FILE *g;
	int first;

	fflush(NULL);
	g = popen("gnuplot", "w");
	if (g == NULL)
		return -1;
	fprintf(g,
		"set terminal svg size 1400,500 dynamic background rgb "
		"'white'\n"
		"set output '%s'\n"
		"set multiplot layout 1,2\n"
		"set key outside right top vertical Left reverse\n",
		file);
	for (int t = 0; t < TR_COUNT; t++) {
		fprintf(g, "$tp%d << EOD\n", t);
		for (size_t i = 0; i < r->n_res; i++) {
			const struct result *x = &r->res[i];

			if (x->tr == (enum transport)t && x->ok == 1 &&
			    x->mode == BENCH_THROUGHPUT &&
			    (x->ring == 0 || x->ring == r->o.ring))
				fprintf(g, "%zu %.1f\n", x->msg, x->mbps);
		}
		fprintf(g, "EOD\n$lat%d << EOD\n", t);
		for (size_t i = 0; i < r->n_res; i++) {
			const struct result *x = &r->res[i];

			if (x->tr != (enum transport)t || x->ok != 1 ||
			    x->mode != BENCH_LATENCY || x->msg != lat_msg)
				continue;
			for (int k = 0; k <= 100; k++)
				fprintf(g, "%.3f %.2f\n", x->q[k], k / 100.0);
		}
		fprintf(g, "EOD\n");
	}
	fprintf(g,
		"set title 'throughput (ring %zu KiB)'\n"
		"set logscale xy\nset xlabel 'write size (bytes)'\n"
		"set ylabel 'MB/s'\nplot ",
		r->o.ring / 1024);
	first = 1;
	for (int t = 0; t < TR_COUNT; t++) {
		if (!r->o.want_tr[t])
			continue;
		fprintf(g, "%s$tp%d with linespoints title '%s'",
			first ? "" : ", ", t, bench_transport_names[t]);
		first = 0;
	}
	fprintf(g,
		"\nunset logscale\nset logscale x\n"
		"set title 'ping-pong round trip, %zu B: CDF'\n"
		"set xlabel 'microseconds'\nset ylabel 'fraction'\n"
		"set yrange [0:1]\nplot ",
		lat_msg);
	first = 1;
	for (int t = 0; t < TR_COUNT; t++) {
		if (!r->o.want_tr[t])
			continue;
		fprintf(g, "%s$lat%d with lines title '%s'", first ? "" : ", ",
			t, bench_transport_names[t]);
		first = 0;
	}
	fprintf(g, "\nunset multiplot\n");
	if (pclose(g) != 0) {
		fprintf(stderr, "vchan-bench: gnuplot failed\n");
		return -1;
	}
	return 0;
}
