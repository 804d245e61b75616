#!/bin/sh
# A slow or dead backend gives the client 504 or 502, not a hang, and the
# service recovers when the domain comes back: storage stopped (SIGSTOP)
# then killed, web stopped then killed, each restarted.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup

start_storage
start_web -t 1000
start_term -t 2
client status /api/kv/a 404 || fail "first request"

kill -STOP "$storage_pid"
client status /api/kv/a 504 || fail "slow storage"
kill -CONT "$storage_pid"
until_status /api/kv/a 404 || fail "storage back from SIGSTOP"

kill -KILL "$storage_pid"
wait "$storage_pid" 2>/dev/null
client status /api/kv/a 502 || fail "dead storage"
start_storage
until_status /api/kv/a 404 || fail "storage restarted"

kill -STOP "$web_pid"
client status / 504 || fail "slow web"
kill -CONT "$web_pid"
until_status / 200 || fail "web back from SIGSTOP"

kill -KILL "$web_pid"
wait "$web_pid" 2>/dev/null
client status / 502 || fail "dead web"
start_web -t 1000
until_status / 200 || fail "web restarted"

stop_all
clean_logs || fail "sanitizer report"
echo "ok"
