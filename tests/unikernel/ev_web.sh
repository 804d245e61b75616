#!/bin/sh
# The unikernel's event loop (unikernel/ev.c) under load: web built with
# it (and rpc/ with it) instead of libev, on Linux through
# tests/unikernel/uk_shim.c, between the Linux storage and tls-terminator;
# 1,000 requests on 120 connections at once, every answer checked, then
# garbage clients dropped while a keep-alive client carries on. (No
# SIGTERM stop: a unikernel has no signals, so this web is killed.)
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup
WEB_BIN=${top_builddir:-.}/tests/unikernel/web-ukloop

start_storage
start_web
start_term || fail "start"
client load 120 1000 || fail "load"
client garbage || fail "garbage"
client load 5 50 || fail "load after garbage"
kill -0 "$web_pid" || fail "web ended"
clean_logs || fail "sanitizer report"
echo "ok"
