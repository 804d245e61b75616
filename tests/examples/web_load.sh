#!/bin/sh
# The three domains under 1,000 requests on 120 connections open at once,
# every answer checked; then clients sending garbage are dropped while a
# keep-alive client carries on.
set -u
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 77; }
B=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/web.XXXXXX")
. "$top_srcdir/tests/examples/lib.sh"
trap 'kill_all; rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$W"/storage.log "$W"/web.log "$W"/term.log >&2; exit 1; }

start_storage
start_web
start_term || fail "start"
client load 120 1000 || fail "load"
client garbage || fail "garbage"
client load 5 50 || fail "load after garbage"
stop "$term_pid" tls-terminator || fail "terminator stop"
stop "$web_pid" web || fail "web stop"
stop "$storage_pid" storage || fail "storage stop"
term_pid= web_pid= storage_pid=
clean_logs || fail "sanitizer report"
echo "ok"
