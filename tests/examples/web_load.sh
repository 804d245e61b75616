#!/bin/sh
# The three domains under 1,000 requests on 120 connections open at once,
# every answer checked; then clients sending garbage are dropped while a
# keep-alive client carries on.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup

start_storage
start_web
start_term || fail "start"
client load 120 1000 || fail "load"
client garbage || fail "garbage"
client load 5 50 || fail "load after garbage"
stop_all
clean_logs || fail "sanitizer report"
echo "ok"
