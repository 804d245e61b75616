#!/bin/sh
# The unikernel's event loop (unikernel/ev.c) under the web example's
# tests: web built with it (and rpc/ with it) instead of libev, on Linux
# through tests/unikernel/uk_shim.c, between the Linux storage and
# tls-terminator. 1,000 requests on 120 connections at once, every answer
# checked; garbage clients dropped while a keep-alive client carries on;
# a storage domain that does not answer (504) or is gone (502) and comes
# back; web killed and started again. (No SIGTERM stop: a unikernel has
# no signals, so this web is killed at the end.)
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup
WEB_BIN=${top_builddir:-.}/tests/unikernel/web-ukloop

start_storage
start_web -t 1000
start_term -t 2 || fail "start"
client load 120 1000 || fail "load"
client garbage || fail "garbage"
client load 5 50 || fail "load after garbage"

kill -STOP "$storage_pid"
client status /api/kv/a 504 || fail "slow storage"
kill -CONT "$storage_pid"
until_status /api/kv/a 404 || fail "storage back from SIGSTOP"
kill -KILL "$storage_pid"
wait "$storage_pid" 2>/dev/null
client status /api/kv/a 502 || fail "dead storage"
start_storage
until_status /api/kv/a 404 || fail "storage restarted"

kill -KILL "$web_pid"
wait "$web_pid" 2>/dev/null
client status / 502 || fail "dead web"
start_web -t 1000
until_status / 200 || fail "web restarted"
kill -0 "$web_pid" || fail "web ended"
clean_logs || fail "sanitizer report"
echo "ok"
