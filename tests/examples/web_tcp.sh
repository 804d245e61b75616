#!/bin/sh
# The web domain's own TCP listener (-L): plain HTTP with the same routes
# and storage as its channel (page, PUT then GET, lists, keep-alive, 120
# connections at once), writes through TCP read back through the TLS
# terminator, garbage dropped while a good client carries on, the
# connection limit, and a clean SIGTERM.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup

start_storage
start_web_tcp || fail "start"
grep -q "listening on 127.0.0.1:0 (port $WEBPORT)" "$W/web.log" ||
	fail "port not reported on stderr"
client_tcp load 120 600 || fail "load over TCP"
client_tcp garbage || fail "garbage over TCP"
# Both entries reach the same storage: written over TCP, read over TLS.
start_term || fail "terminator start"
: >"$W/acked"
client_tcp writes 1 "$W/acked" || fail "writes over TCP"
client verify "$W/acked" || fail "TCP writes read back over TLS"
stop "$term_pid" tls-terminator || fail "terminator stop"
stop "$web_pid" web || fail "web stop"
term_pid= web_pid=

# The connection limit (-c) holds for TCP clients too.
start_web_tcp -c 4 || fail "start with -c 4"
client_tcp limit 4 || fail "limit over TCP"
stop_all
clean_logs || fail "sanitizer report"
echo "ok"
