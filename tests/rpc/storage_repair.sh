#!/bin/sh
# tests/rpc/storage_repair.sh - a log damaged in the middle stops
# storage-server: it names the offset and the cause, points at --repair and
# changes nothing. `storage-server --repair` moves the damaged record aside
# (byte for byte, to LOG.bad) and keeps every other one, which the server
# then serves. --help documents --repair.
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/repair.XXXXXX")
srv=
cleanup() {
	if [ -n "$srv" ]; then
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$W/srv.err" >&2 2>/dev/null
	exit 1
}
# Start the server and wait (bounded) until it serves.
start() {
	: >"$W/srv.err"
	"$B/storage-server" "$W/kv.log" "unix:$W/sock" 2>"$W/srv.err" &
	srv=$!
	i=0
	until grep -q "serving at" "$W/srv.err"; do
		i=$((i + 1))
		[ $i -le 200 ] && kill -0 "$srv" 2>/dev/null ||
			fail "the server did not start"
		sleep 0.05
	done
}
stop() {
	kill "$srv"
	wait "$srv"
	srv=
}
cli() { "$B/storage-client" "unix:$W/sock" "$@"; }

start
for i in 0 1 2 3 4; do
	cli put "k$i" "v$i" || fail "put k$i"
done
stop
# Each record is 8 + 5 + 2 + 2 = 17 bytes: one bad byte in the key of
# the third (at 34).
[ "$(wc -c <"$W/kv.log")" -eq 85 ] || fail "log of $(wc -c <"$W/kv.log") bytes"
printf 'X' | dd of="$W/kv.log" bs=1 seek=47 conv=notrunc 2>/dev/null
cp "$W/kv.log" "$W/damaged"

timeout 20 "$B/storage-server" "$W/kv.log" "unix:$W/sock" 2>"$W/srv.err"
rc=$?
[ $rc -eq 1 ] || fail "a damaged log: exit status $rc, not 1"
grep -q "damaged at offset 34: .*checksum" "$W/srv.err" ||
	fail "no offset and cause"
grep -q -- "--repair" "$W/srv.err" || fail "no word of --repair"
cmp -s "$W/kv.log" "$W/damaged" || fail "the refused log was changed"

timeout 20 "$B/storage-server" --repair "$W/kv.log" 2>"$W/srv.err" ||
	fail "--repair failed"
cat "$W/srv.err"
grep -q "17 bytes at offset 34" "$W/srv.err" || fail "--repair: no report"
dd if="$W/damaged" of="$W/part" bs=1 skip=34 count=17 2>/dev/null
cmp -s "$W/kv.log.bad" "$W/part" || fail "the side file is not the bad record"
[ "$(wc -c <"$W/kv.log")" -eq 68 ] || fail "repaired log of the wrong size"

start
for i in 0 1 3 4; do
	[ "$(cli get "k$i")" = "v$i" ] || fail "k$i lost"
done
cli get k2 >/dev/null 2>&1
[ $? -eq 1 ] || fail "k2 should be gone"
stop

"$B/storage-server" --help >"$W/help" || fail "--help: exit status"
grep -q -- "--repair" "$W/help" || fail "--help says nothing of --repair"
echo ok
