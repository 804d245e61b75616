#!/bin/sh
# vchan-bench --peer / --serve on the simulator: two processes as domains
# 0 and 1 (VCHAN_DOMID), as on Xen with dom0 and a domU. The vchan rows
# must be measured through the serving process (verified data, figures
# present), the baselines locally; the serving process must exit 0 on the
# measuring side's quit. Without a serving process the vchan rows must
# fail, with the reason, within the time limit given (so they cannot come
# from anywhere else). Timings are printed for the log, never asserted.
set -u
: "${top_builddir:=.}"
BENCH=$top_builddir/tools/vchan-bench/vchan-bench
WORK=${VCHAN_TEST_TMP:-$(mktemp -d)}/bench-peer
mkdir -p "$WORK"
fail() {
	echo "FAIL: $*" >&2
	[ -s "$WORK/serve.err" ] && sed 's/^/serve: /' "$WORK/serve.err" >&2
	exit 1
}
[ -x "$BENCH" ] || fail "$BENCH not built"
: "${VCHAN_PLATFORM:=sim}"
export VCHAN_PLATFORM
[ "$VCHAN_PLATFORM" = sim ] || fail "needs the simulator (VCHAN_PLATFORM=sim)"
if [ -z "${VCHAN_SIM_DIR:-}" ]; then
	VCHAN_SIM_DIR=$WORK/sim
	mkdir -m 700 "$VCHAN_SIM_DIR" || fail "cannot create $VCHAN_SIM_DIR"
fi
export VCHAN_SIM_DIR

# Small jobs: this proves the two ends meet and the data is checked, not
# speed.
opts="--quick --bytes 2M --repeats 2 --iterations 100 --timeout 60"

VCHAN_DOMID=1 timeout 120 "$BENCH" --serve 0 --timeout 60 \
	2>"$WORK/serve.err" &
spid=$!
# shellcheck disable=SC2086
VCHAN_DOMID=0 TMPDIR=$WORK timeout 150 "$BENCH" --peer 1 $opts --json \
	>"$WORK/out.json" 2>"$WORK/err"
rc=$?
wait $spid
src=$?
cat "$WORK/out.json"
[ $rc -eq 0 ] || fail "vchan-bench --peer exited $rc: $(cat "$WORK/err")"
[ $src -eq 0 ] || fail "vchan-bench --serve exited $src"
python3 - "$WORK/out.json" <<'PY' || fail "bad rows"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seen = {}
for r in rows:
    assert r["status"] == "ok", f"not measured: {r}"
    assert r["verified"] is True, f"data not verified: {r}"
    assert r["mode"] in ("throughput", "latency"), r
    if r["mode"] == "throughput":
        assert r["mb_per_s"] > 0 and r["bytes"] > 0 and r["repeats"] == 2, r
    else:
        assert 0 < r["p50_us"] <= r["p99_us"] <= r["p999_us"], r
    seen.setdefault(r["transport"], set()).add((r["mode"], r["msg_size"], r["ring_size"]))
want = {("throughput", 64, 262144), ("throughput", 65536, 262144),
        ("throughput", 65536, 4096), ("latency", 64, 262144),
        ("latency", 4096, 262144)}
for t in ("vchan", "vchan-nospin"):
    assert seen.get(t) == want, f"{t}: {seen.get(t)}"
for t in ("pipe", "unix", "tcp"):
    assert seen.get(t) == {(m, s, 0) for m, s, _ in want if _ == 262144}, f"{t}: {seen.get(t)}"
assert set(seen) == {"vchan", "vchan-nospin", "pipe", "unix", "tcp"}, seen
assert any("vs_unix" in r for r in rows if r["transport"] == "vchan")
print("peer rows ok:", len(rows))
PY

# Nobody serves domain 0 in domain 2: the vchan rows fail and say why.
VCHAN_DOMID=0 TMPDIR=$WORK timeout 60 "$BENCH" --peer 2 --transports vchan \
	--modes latency --latency-sizes 64 --iterations 10 --timeout 4 \
	--json >"$WORK/none.json" 2>"$WORK/none.err"
rc=$?
cat "$WORK/none.json"
[ $rc -eq 1 ] || fail "--peer without a peer exited $rc, not 1"
grep -q '"status":"failed".*did not connect' "$WORK/none.json" ||
	fail "--peer without a peer: no failed row saying why"
echo PASS
