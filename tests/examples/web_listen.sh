#!/bin/sh
# The web example with listeners: storage serves "vchan:*/storage" and web
# offers its channel to '*', so no domain names its clients. The load runs
# through it; web is stopped and started again and the terminator finds
# the new listener by itself; what was written before is read back.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup
STORAGE_ADDR='vchan:*/storage'
WEB_PEER='*'

start_storage
start_web
start_term || fail "start"
grep -q "serving at vchan:\*/storage" "$W/storage.log" ||
	fail "storage does not say it serves vchan:*/storage"
client load 20 200 || fail "load through the listeners"
: >"$W/acked"
client writes 1 "$W/acked" || fail "writes"
# web again: the terminator's link comes back by itself.
stop "$web_pid" web || fail "web stop"
web_pid=
start_web
n=$(grep -c 'connected to' "$W/term.log")
i=0
until [ "$(grep -c 'connected to' "$W/term.log")" -gt "$n" ] 2>/dev/null ||
	[ "$(grep -c 'connected to' "$W/term.log")" -ge 2 ]; do
	i=$((i + 1))
	[ $i -le 400 ] || fail "the terminator did not reach the new web"
	sleep 0.05
done
until_status / 200 || fail "no answer after web came back"
client verify "$W/acked" || fail "writes read back after web came back"
stop_all
clean_logs || fail "sanitizer report"
echo "ok"
