#!/bin/sh
# vchan-bench --xen PORT: the e2e row of a front already running (the Xen
# test points it at tls-terminator with web.xen behind it; here the same
# three example domains run on the simulator). The row is measured, every
# answer checked, the certificate verified; a port nobody listens on is a
# failed row with its reason, not a hang.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup
BENCH=${top_builddir:-.}/tools/vchan-bench/vchan-bench

start_storage
start_web
start_term || fail "start"
timeout 120 "$BENCH" --quick --json --xen "$PORT" \
	--xen-cert "$W/tls/cert.pem" >"$W/bench.json" 2>"$W/bench.err" ||
	fail "vchan-bench --xen: status $? $(cat "$W/bench.err")"
grep -q '"mode":"e2e","transport":"https-xen".*"status":"ok"' "$W/bench.json" ||
	fail "no measured https-xen row: $(cat "$W/bench.json" "$W/bench.err")"
grep -q '"transport":"https-xen".*"verified":true' "$W/bench.json" ||
	fail "https-xen row not verified: $(cat "$W/bench.json")"
stop_all
# Nothing listens there any more: the row fails and says why.
timeout 120 "$BENCH" --quick --json --xen "$PORT" >"$W/bench2.json" \
	2>"$W/bench2.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] ||
	fail "a front that is gone: status $rc"
grep -q '"transport":"https-xen".*connect' "$W/bench2.json" ||
	fail "a front that is gone: $(cat "$W/bench2.json" "$W/bench2.err")"
clean_logs || fail "sanitizer report"
echo "ok"
