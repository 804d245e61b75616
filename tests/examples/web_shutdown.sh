#!/bin/sh
# SIGTERM to all three domains at once under a stream of writes: each
# exits 0 in time, and every write the client saw acknowledged (200) is
# there after they are started again.
set -u
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 77; }
B=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/web.XXXXXX")
. "$top_srcdir/tests/examples/lib.sh"
trap 'kill_all; [ -n "${cpid:-}" ] && kill "$cpid" 2>/dev/null; rm -rf "$W"' EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$W/storage.log" "$W/web.log" "$W/term.log" >&2
	exit 1
}

start_storage
start_web
start_term || fail "start"
: >"$W/acked"
client writes 60 "$W/acked" &
cpid=$!
i=0
until [ "$(wc -l <"$W/acked")" -ge 200 ]; do
	i=$((i + 1))
	[ $i -lt 400 ] || fail "no writes acknowledged"
	sleep 0.05
done
kill -TERM "$term_pid" "$web_pid" "$storage_pid"
stop "$term_pid" tls-terminator || fail "terminator stop"
stop "$web_pid" web || fail "web stop"
stop "$storage_pid" storage || fail "storage stop"
term_pid= web_pid= storage_pid=
wait "$cpid"
cpid=
echo "$(wc -l <"$W/acked") writes acknowledged before SIGTERM"

start_storage
start_web
start_term || fail "restart"
client verify "$W/acked" || fail "acknowledged writes lost"
stop "$term_pid" tls-terminator || fail "terminator stop"
stop "$web_pid" web || fail "web stop"
stop "$storage_pid" storage || fail "storage stop"
term_pid= web_pid= storage_pid=
clean_logs || fail "sanitizer report"
echo "ok"
