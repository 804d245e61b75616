#!/bin/sh
# vchan-bench --quick --json completes, every transport gives well-formed
# JSON rows, and every measured row carried verified data; the rpc and e2e
# rows are there too (tests/bench/check_rows.py). Timings are printed for
# the log, never asserted.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
BENCH=$top_builddir/tools/vchan-bench/vchan-bench
WORK=${VCHAN_TEST_TMP:-$(mktemp -d)}/bench
mkdir -p "$WORK"
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$BENCH" ] || fail "$BENCH not built"
# In a sanitizer build the libxenvchan helper links the ASan runtime while
# vchan-sim preloads its (uninstrumented) library ahead of it.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS
# The libxenvchan row needs the simulator's drop-ins and the helper, both
# built with libxen-dev: then it must be measured, not "unavailable".
want_xen=0
if [ -x "$top_builddir/tools/vchan-sim/vchan-sim" ] &&
	[ -x "$top_builddir/tools/vchan-bench/vchan-bench-xen" ]; then
	VCHAN_BENCH_SIM=$top_builddir/tools/vchan-sim/vchan-sim
	VCHAN_BENCH_XEN_HELPER=$top_builddir/tools/vchan-bench/vchan-bench-xen
	export VCHAN_BENCH_SIM VCHAN_BENCH_XEN_HELPER
	want_xen=1
fi
want_rpc=0 want_e2e=0
[ -e "$top_builddir/libvchan-rpc.la" ] && want_rpc=1
[ -x "$top_builddir/examples/tls-terminator/tls-terminator" ] && want_e2e=1
TMPDIR=$WORK "$BENCH" --quick --json >"$WORK/out.json" 2>"$WORK/err"
rc=$?
cat "$WORK/out.json"
[ $rc -eq 0 ] || fail "vchan-bench exited $rc: $(cat "$WORK/err")"
python3 - "$WORK/out.json" "$want_xen" <<'PY' || fail "bad JSON output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want_xen = sys.argv[2] == "1"
transports = ["vchan", "vchan-nospin", "pipe", "unix", "tcp", "libxenvchan", "shm-spin"]
fields = {
    "throughput": ["mb_per_s", "cpu_s_per_gb"],
    "latency": ["p50_us", "p99_us", "p999_us"],
    "notify": ["p50_us", "p99_us", "p999_us"],
    "setup": ["p50_us"],
}
seen = {}
for r in rows:
    if r.get("mode") in ("rpc", "e2e"):
        continue  # their own fields: check_rows.py
    for k in ("mode", "transport", "msg_size", "ring_size", "status", "verified"):
        assert k in r, f"row without {k}: {r}"
    assert r["transport"] in transports, r
    assert r["mode"] in fields, r
    if r["status"] == "unavailable":
        assert r["transport"] == "libxenvchan" and not want_xen, f"unavailable: {r}"
        assert r.get("reason"), r
        continue
    assert r["status"] == "ok", f"not measured: {r}"
    assert r["verified"] is True, f"data not verified: {r}"
    for f in fields[r["mode"]]:
        v = r[f]
        assert isinstance(v, (int, float)) and v > 0, f"{f} of {r}"
    if r["mode"] in ("latency", "notify"):
        assert r["p50_us"] <= r["p99_us"] <= r["p999_us"], r
    if r["mode"] == "throughput":
        assert r["bytes"] > 0 and r["repeats"] >= 1, r
    seen.setdefault(r["transport"], set()).add(r["mode"])
expect = {t: {"throughput", "latency", "setup", "notify"} for t in transports}
expect["vchan"].discard("notify")
expect["shm-spin"].discard("notify")
if not want_xen:
    del expect["libxenvchan"]
for t, modes in expect.items():
    assert seen.get(t) == modes, f"{t}: modes {seen.get(t)}, want {modes}"
# Ratios against the baselines are there for what was measured.
assert any("vs_unix" in r for r in rows if r["transport"] == "vchan")
if want_xen:
    assert any("vs_libxenvchan" in r for r in rows if r["transport"] == "vchan")
print("json ok:", len(rows), "rows")
PY
python3 "$top_srcdir/tests/bench/check_rows.py" "$WORK/out.json" \
	$want_rpc $want_e2e || fail "bad rpc/e2e rows"
echo PASS
