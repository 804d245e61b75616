#!/bin/sh
# tests/rpc/storage_full.sh - a log file that cannot grow: the Put that
# does not fit is answered "log full", the server keeps serving, and every
# answered key is there after a restart with room again. Two ways a file
# stops growing: the server's file size limit (prlimit --fsize; SIGXFSZ
# must not kill it), and a full file system (a 256 KiB tmpfs in a mount
# namespace of its own, when this machine lets us make one).
set -u
B=${top_builddir:-.}/examples/storage
srv=
fail() {
	echo "FAIL: $*" >&2
	cat "$W/srv.err" >&2
	exit 1
}
# srv is timeout's pid; the server is its child.
cleanup() {
	[ -n "$srv" ] && pkill -KILL -P $srv
	wait 2>/dev/null
}
# start LOG [PREFIX...]: the server on LOG, once it listens.
start() {
	log=$1
	shift
	: >"$W/srv.err"
	rm -f "$W/sock"
	"$@" timeout 120 "$B/storage-server" "$log" "unix:$W/sock" \
		2>>"$W/srv.err" &
	srv=$!
	i=0
	until grep -q "serving at" "$W/srv.err"; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 "$srv" 2>/dev/null ||
			fail "the server did not start on $log"
		sleep 0.05
	done
}
stop() {
	pkill -TERM -P $srv
	wait $srv || fail "stop: status $?"
	srv=
}
cli() { "$B/storage-client" "unix:$W/sock" "$@"; }

# fill LOG [PREFIX...]: Puts of 3000 bytes until one fails with "log
# full"; the server answers reads after it; restarted without PREFIX, it
# has every answered key.
fill() {
	log=$1
	start "$@"
	big=$(head -c 3000 /dev/zero | tr '\0' v)
	n=0
	while cli put "big$n" "$big" 2>"$W/err"; do
		n=$((n + 1))
		[ $n -lt 200 ] || fail "$log took 200 values of 3000 bytes"
	done
	[ $n -gt 0 ] || fail "$log took no value at all"
	grep -q "log full: no room for this record" "$W/err" ||
		fail "$log full: said $(cat "$W/err")"
	kill -0 "$srv" 2>/dev/null || fail "the server died when $log was full"
	[ "$(cli get big0)" = "$big" ] || fail "reading back when $log was full"
	[ "$(cli list big | wc -l)" = "$n" ] || fail "list when $log was full"
	stop
	start "$log"
	grep -q "cut off" "$W/srv.err" && fail "a torn record was left in $log"
	i=0
	while [ $i -lt $n ]; do
		[ "$(cli get "big$i")" = "$big" ] || fail "big$i after restart"
		i=$((i + 1))
	done
	cli get "big$n" >/dev/null 2>&1 && fail "the refused Put is stored"
	cli put after "room again" || fail "a Put with room again"
	stop
}

# Inside the mount namespace: the log on a small tmpfs.
if [ "${1:-}" = tmpfs ]; then
	W=$2
	mkdir "$W/fs"
	mount -t tmpfs -o size=256k storage-full "$W/fs" || exit 77
	trap cleanup EXIT
	fill "$W/fs/kv.log"
	echo "tmpfs ok"
	exit 0
fi

W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/full.XXXXXX")
trap 'cleanup; rm -rf "$W"' EXIT

fill "$W/kv.log" prlimit --fsize=40000
[ "$(stat -c %s "$W/kv.log")" -le 40000 ] || fail "the log grew past the limit"

# A mount namespace needs privileges (or user namespaces): without them
# that part is skipped, and says so.
if unshare -m true 2>/dev/null; then
	ns="unshare -m"
elif unshare -rm true 2>/dev/null; then
	ns="unshare -rm"
else
	ns=
fi
if [ -n "$ns" ]; then
	$ns "$0" tmpfs "$W"
	rc=$?
	case $rc in
	0) ;;
	77) echo "skipped the full file system: no tmpfs mount here" ;;
	*) exit $rc ;;
	esac
else
	echo "skipped the full file system: no mount namespace here"
fi
echo ok
