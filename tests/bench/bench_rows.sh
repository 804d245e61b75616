#!/bin/sh
# `vchan-bench rpc e2e` (modes given as arguments) in JSON and CSV: the rpc
# rows (echo calls over vchan, a Unix socket and, when built, gRPC) and the
# end-to-end rows (HTTPS through the web example's three domains, and plain
# HTTP to the same web domain's own TCP listener) are measured, with every reply checked, and
# well-formed. Timings are printed for the log, never asserted.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
BENCH=$top_builddir/tools/vchan-bench/vchan-bench
WORK=${VCHAN_TEST_TMP:-$(mktemp -d)}/bench-rows
mkdir -p "$WORK"
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$BENCH" ] || fail "$BENCH not built"
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 77; }
# What this build has decides what must be measured.
want_rpc=0 want_e2e=0
[ -e "$top_builddir/libvchan-rpc.la" ] && want_rpc=1
[ -x "$top_builddir/examples/tls-terminator/tls-terminator" ] && want_e2e=1
TMPDIR=$WORK "$BENCH" --quick --json rpc e2e >"$WORK/out.json" 2>"$WORK/err"
rc=$?
cat "$WORK/out.json"
[ $rc -eq 0 ] || fail "vchan-bench exited $rc: $(cat "$WORK/err")"
python3 "$top_srcdir/tests/bench/check_rows.py" "$WORK/out.json" \
	$want_rpc $want_e2e || fail "bad rpc/e2e rows"
# Only the modes asked for.
if grep -v '"mode":"rpc"\|"mode":"e2e"' "$WORK/out.json" | grep -q .; then
	fail "rows of modes not asked for"
fi
# CSV: one header, the same number of columns on every line.
TMPDIR=$WORK "$BENCH" --quick --csv --modes rpc >"$WORK/out.csv" \
	2>"$WORK/err" || fail "csv run: $(cat "$WORK/err")"
cat "$WORK/out.csv"
python3 - "$WORK/out.csv" "$want_rpc" <<'PY' || fail "bad CSV"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = rows[0]
assert head[-1] == "per_s" and head[0] == "mode", head
assert len(rows) == 4, rows  # vchan, unix, grpc-unix
for r in rows[1:]:
    assert len(r) == len(head), r
    d = dict(zip(head, r))
    assert d["mode"] == "rpc", d
    if sys.argv[2] != "1" or (d["transport"] == "grpc-unix" and
                              d["status"] != "ok"):
        assert d["status"] == "unavailable" and d["note"], d
    else:
        assert d["status"] == "ok" and float(d["per_s"]) > 0, d
        assert 0 < float(d["p50_us"]) <= float(d["p99_us"]), d
print("csv ok")
PY
# A mode that does not exist is a usage error.
"$BENCH" no-such-mode >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown mode not refused"
echo PASS
