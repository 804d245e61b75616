#!/bin/sh
# SIGTERM to all three domains at once under a stream of writes: each
# exits 0 in time, and every write the client saw acknowledged (200) is
# there after they are started again.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
. "$top_srcdir/tests/proc.sh"
test_setup
# The client is a subshell running python: the whole tree goes.
trap 'kill_all; [ -n "${cpid:-}" ] && proc_kill_tree "$cpid"; rm -rf "$W"' EXIT

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
stop_all
wait "$cpid"
cpid=
echo "$(wc -l <"$W/acked") writes acknowledged before SIGTERM"

start_storage
start_web
start_term || fail "restart"
client verify "$W/acked" || fail "acknowledged writes lost"
stop_all
clean_logs || fail "sanitizer report"
echo "ok"
