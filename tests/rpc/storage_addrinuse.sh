#!/bin/sh
# tests/rpc/storage_addrinuse.sh - a second storage-server at the address of
# a live one fails with "address in use" and the first keeps its clients
# (vchan and unix: addresses); the address of a killed one is taken over;
# a path that is no socket is left alone; TCP ports above 65535 are
# refused, not wrapped.
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/inuse.XXXXXX")
pids=
fail() {
	echo "FAIL: $*" >&2
	for f in "$W"/*.err; do
		[ -e "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT

# start NAME DOMID ADDRESS: a server in the background, waited for.
start() {
	VCHAN_DOMID=$2 "$B/storage-server" "$W/$1.log" "$3" 2>"$W/$1.err" &
	last=$!
	pids="$pids $last"
	i=0
	until grep -q "serving at" "$W/$1.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 $last 2>/dev/null ||
			fail "$1 did not start"
		sleep 0.05
	done
}

# second NAME DOMID ADDRESS: a server that must be refused at once.
second() {
	VCHAN_DOMID=$2 timeout 20 "$B/storage-server" "$W/$1.log" "$3" 2>"$W/$1.err"
	rc=$?
	[ $rc -eq 1 ] || fail "$1: exit status $rc, not 1"
	grep -q "in use" "$W/$1.err" || fail "$1 does not say the address is in use"
}

for kind in unix vchan; do
	if [ $kind = unix ]; then
		addr=unix:$W/sock caddr=unix:$W/sock
	else
		addr=vchan:2/kv caddr=vchan:1/kv
	fi
	cli() { VCHAN_DOMID=2 timeout 20 "$B/storage-client" "$caddr" "$@"; }
	start first.$kind 1 "$addr"
	first=$last
	cli put k one || fail "$kind: put to the first server"
	second second.$kind 1 "$addr"
	kill -0 $first || fail "$kind: the first server died"
	[ "$(cli get k)" = one ] || fail "$kind: the first server lost its clients"
	echo "ok   $kind: a second server is refused, the first serves on"
	# Killed, it leaves its socket file or keys: the next one takes over.
	kill -9 $first
	wait $first 2>/dev/null
	if [ $kind = unix ]; then
		[ -S "$W/sock" ] || fail "the killed server left no socket file"
	fi
	start third.$kind 1 "$addr"
	third=$last
	cli put k three || fail "$kind: put to the server that took over"
	[ "$(cli get k)" = three ] || fail "$kind: get from the server that took over"
	kill $third
	wait $third 2>/dev/null
	echo "ok   $kind: a dead server's address is taken over"
done

# A path that is no socket is not removed.
echo precious >"$W/file"
"$B/storage-server" "$W/f.log" "unix:$W/file" 2>"$W/file.err"
[ $? -eq 1 ] || fail "a regular file as unix: path: not refused"
[ "$(cat "$W/file")" = precious ] || fail "the regular file was touched"
echo "ok   a regular file is no stale socket"

# Port numbers out of range are refused, not wrapped (99999 = 34463).
for p in 99999 65536 0; do
	timeout 10 "$B/storage-server" "$W/t.log" "tcp:127.0.0.1:$p" 2>"$W/tcp.err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "tcp port $p: server exit $rc"
	grep -qiE "invalid|bad address" "$W/tcp.err" || fail "tcp port $p: $(cat "$W/tcp.err")"
	timeout 10 "$B/storage-client" "tcp:127.0.0.1:$p" get k 2>"$W/tcpc.err"
	[ $? -ne 0 ] || fail "tcp port $p: the client took it"
done
echo "ok   tcp ports outside 1..65535 are refused"
