#!/bin/sh
# tests/bench/bench_args.sh - vchan-bench refuses negative and absurd
# sizes and other bad values at once (exit 2, the value echoed back),
# -h works, --plot to a file it cannot write fails before anything is
# measured, and the plot has an opaque background with each legend clear
# of its plot's curves.
set -u
: "${top_builddir:=.}"
BENCH=$top_builddir/tools/vchan-bench/vchan-bench
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/bench-args.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT
. "${top_srcdir:-.}/tests/scenarios.sh"

# refused TEXT ARG...: exit 2, nothing measured, stderr says TEXT. Bounded:
# a refused value must not start a run (--bytes -5 used to hang).
refused() {
	text=$1
	shift
	TMPDIR=$W timeout 60 "$BENCH" "$@" >"$W/out" 2>"$W/err"
	check "$*: exit status" 2 $?
	check "$*: nothing measured" "" "$(cat "$W/out")"
	grep -qF -- "$text" "$W/err"
	check "$*: says $text" 0 $?
	sed 's/^/     said: /' "$W/err"
}

refused "'-5'" --bytes -5
refused "'-1'" --bytes -1 --quick
refused "'99999999999G'" --bytes 99999999999G
refused "'18446744073709551615'" --bytes 18446744073709551615
refused "'1'" --bytes 1
refused "'1T'" --bytes 1T
refused "' 5'" --bytes " 5"
refused "'-3'" --max-writes -3
refused "'0'" --repeats 0
refused "'-1'" --iterations -1
refused "'3K'" --ring 3K
refused "'3000'" --ring-sizes 4K,3000
refused "'-64'" --msg-sizes -64
refused "'nosuchmode'" nosuchmode
refused "'nosuchmode'" --modes latency,nosuchmode
refused "'frob'" --transports pipe,frob
refused "'--bogus'" --bogus
refused "'--bytes'" --bytes

# -h and --help: the usage, on stdout, exit 0.
for h in -h --help; do
	timeout 60 "$BENCH" $h >"$W/out" 2>"$W/err"
	check "$h: exit status" 0 $?
	grep -q -- "--bytes" "$W/out"
	check "$h: the usage" 0 $?
done

# --plot to a file that cannot be written: refused before measuring (the
# run would take a while otherwise; here a small one, so that a late
# refusal shows as measured output rather than as a hang).
small="--transports pipe,unix --modes throughput,latency --msg-sizes 64,4K
	--ring-sizes 4K --latency-sizes 64 --bytes 1M --repeats 1
	--iterations 100 --timeout 60"
# shellcheck disable=SC2086
refused "$W/missing/p.svg" --plot "$W/missing/p.svg" $small
test -e "$W/missing"
check "--plot: nothing made" 1 $?
# shellcheck disable=SC2086
refused "Is a directory" --plot "$W" $small

if ! command -v gnuplot >/dev/null || ! command -v python3 >/dev/null; then
	echo "skip the plot itself: no gnuplot or python3"
else
	# shellcheck disable=SC2086
	TMPDIR=$W timeout 300 "$BENCH" $small --plot "$W/p.svg" >"$W/out" \
		2>"$W/err"
	check "--plot: exit status" 0 $?
	python3 - "$W/p.svg" <<'PY'
import re, sys
svg = open(sys.argv[1]).read()
ok = True
def fail(msg):
    global ok
    print("FAIL", msg)
    ok = False
# The canvas: a first rectangle over all of it, filled (not "none").
m = re.search(r'<rect x="0" y="0" width="(\d+)" height="(\d+)" fill="([^"]*)"', svg)
if not m:
    fail("no background rectangle")
elif m.group(3) in ("none", "") or "opacity" in m.group(0):
    fail("background not opaque: fill=%r" % m.group(3))
else:
    print("ok   background fill", m.group(3))
# The plots' borders: closed axis-aligned rectangles (each may be drawn
# more than once).
boxes = set()
for a, b, c, d in re.findall(
        r"d='M([\d.]+),([\d.]+) L\1,([\d.]+) L([\d.]+),\3 L\4,\2 L\1,\2 Z", svg):
    x0, x1 = sorted((float(a), float(d)))
    y0, y1 = sorted((float(b), float(c)))
    boxes.add((x0, y0, x1, y1))
if len(boxes) != 2:
    fail("expected 2 plot borders, found %d" % len(boxes))
# Each curve's legend entry: its title's text position.
keys = re.findall(r'<title>([^<]*)</title>\s*<g[^>]*>\s*<g transform="translate\(([\d.]+),([\d.]+)\)', svg)
if len(keys) < 4:
    fail("expected a legend entry per curve, found %d" % len(keys))
for name, x, y in keys:
    x, y = float(x), float(y)
    for (x0, y0, x1, y1) in boxes:
        if x0 <= x <= x1 and y0 <= y <= y1:
            fail("legend entry %s at %.0f,%.0f is inside a plot" % (name, x, y))
if ok:
    print("ok   %d legend entries, all outside the %d plots" % (len(keys), len(boxes)))
sys.exit(0 if ok else 1)
PY
	check "--plot: the SVG" 0 $?
fi

scenarios_done
