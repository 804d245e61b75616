#!/bin/sh
# A second web domain on the channel of a live one, or on its TCP port, and
# a second TLS terminator on the first one's port: each exits 1 saying the
# address is in use, and the first keeps serving. A web killed leaves its
# keys; the next web takes the channel over.
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/examples/lib.sh"
test_setup

# second NAME CMD...: CMD exits 1 at once and says "in use".
second() {
	_name=$1
	shift
	timeout 30 "$@" </dev/null >/dev/null 2>"$W/second.err"
	_rc=$?
	[ $_rc -eq 1 ] || fail "$_name: exit $_rc: $(cat "$W/second.err")"
	grep -q "in use" "$W/second.err" ||
		fail "$_name does not say the address is in use: $(cat "$W/second.err")"
	echo "ok   $_name"
}

start_storage
start_web_tcp || fail "start"
start_term || fail "terminator start"
second "a second web on the channel" env VCHAN_DOMID=2 \
	"$B/examples/web/web" -s vchan:1/storage 3
second "a second web on the TCP port" env VCHAN_DOMID=2 \
	"$B/examples/web/web" -s vchan:1/storage -L "127.0.0.1:$WEBPORT" 3
second "a second terminator on its port" env VCHAN_DOMID=3 \
	"$B/examples/tls-terminator/tls-terminator" -l "127.0.0.1:$PORT" \
	-d "$W/tls2" 2
kill -0 "$web_pid" || fail "the first web died"
client load 4 20 || fail "the first web and terminator serve on"
client_tcp load 4 20 || fail "the first web's TCP port serves on"
echo "ok   the first ones serve on"

# Killed, the web leaves its keys: a new web takes the channel over, and
# the terminator (which reconnects) reaches it.
kill -KILL "$web_pid"
wait "$web_pid" 2>/dev/null
web_pid=
start_web_tcp || fail "a web after the killed one"
i=0
until client load 1 1 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "the terminator does not reach the new web"
	sleep 0.1
done
echo "ok   a killed web's channel is taken over"
stop_all
clean_logs || fail "sanitizer report"
