#!/bin/sh
# tests/rpc/storage_disk.sh - storage-server --disk: the log on a disk image
# (the layout storage.xen keeps on its virtual disk). A blank image is
# formatted and serves; the server killed (SIGKILL) right after a Put was
# answered and started again on the same image has every answered key; a
# full disk answers the Put with "log full" and keeps serving; an image that
# holds something else or is too small is refused, unchanged, and one that
# holds something else is formatted by --format only (never over a log).
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/disk.XXXXXX")
srv=
fail() {
	echo "FAIL: $*" >&2
	cat "$W/srv.err" >&2
	exit 1
}
# srv is timeout's pid; the server is its child. (A scenario's servers
# end with it: scenario() kills what it leaves.)
trap '[ -n "$srv" ] && pkill -KILL -P $srv; wait 2>/dev/null; rm -rf "$W"' EXIT
# start IMAGE: the server on IMAGE, once it listens.
start() {
	: >"$W/srv.err"
	rm -f "$W/sock"
	timeout 120 "$B/storage-server" --disk "$1" "unix:$W/sock" 2>>"$W/srv.err" &
	srv=$!
	i=0
	until grep -q "serving at" "$W/srv.err"; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 "$srv" 2>/dev/null ||
			fail "the server did not start on $1"
		sleep 0.05
	done
}
cli() { "$B/storage-client" "unix:$W/sock" "$@"; }

. "${top_srcdir:-.}/tests/scenarios.sh"

# A blank image is formatted; every answered key survives a SIGKILL.
survives_sigkill() {
	truncate -s 1M "$W/disk.img"
	start "$W/disk.img"
	grep -q "formatted a blank disk of 1048576 bytes" "$W/srv.err" ||
		fail "no word of formatting"
	for i in $(seq 1 50); do
		cli put "key$i" "value $i" || fail "put key$i"
	done
	pkill -KILL -P $srv
	wait $srv 2>/dev/null
	start "$W/disk.img"
	grep -q "formatted" "$W/srv.err" && fail "formatted a second time"
	for i in $(seq 1 50); do
		[ "$(cli get "key$i")" = "value $i" ] || fail "key$i after SIGKILL"
	done
	pkill -TERM -P $srv
	wait $srv || fail "stop: status $?"
}

# A full disk: the Put that does not fit fails; the server stays up.
full_disk() {
	truncate -s 73728 "$W/small.img"
	start "$W/small.img"
	big=$(head -c 3000 /dev/zero | tr '\0' v)
	n=0
	while cli put "big$n" "$big" 2>"$W/err"; do
		n=$((n + 1))
		[ $n -lt 100 ] ||
			fail "a 72 KiB disk took 100 values of 3000 bytes"
	done
	grep -q "log full: no room for this record" "$W/err" ||
		fail "full disk: said $(cat "$W/err")"
	# Still serving: reads, a list, the delete of a key that is not
	# there (it writes nothing), and the next Put is refused the same
	# way.
	[ "$(cli get big0)" = "$big" ] || fail "reading back after a full disk"
	[ "$(cli list big | wc -l)" = "$n" ] || fail "list after a full disk"
	cli delete nothere 2>"$W/err"
	[ $? -eq 1 ] && grep -q "not found" "$W/err" ||
		fail "delete on a full disk"
	cli put "big$n" "$big" 2>"$W/err" &&
		fail "a Put fitted after the disk was full"
	grep -q "log full" "$W/err" ||
		fail "full disk, again: said $(cat "$W/err")"
	pkill -TERM -P $srv
	wait $srv || fail "stop after full: status $?"
}

# Refused, unchanged: something else on the disk. Formatted when asked;
# then it serves, empty. A disk holding a log with records is not
# formatted, even when asked.
other_content() {
	head -c 102400 /dev/urandom >"$W/other.img"
	sum=$(cksum <"$W/other.img")
	"$B/storage-server" --disk "$W/other.img" "unix:$W/sock" 2>"$W/srv.err"
	[ $? -eq 1 ] || fail "another disk's content: exit status"
	grep -q "holds something else" "$W/srv.err" ||
		fail "another disk: message"
	grep -q "storage-server --format $W/other.img" "$W/srv.err" ||
		fail "another disk: no word of --format"
	[ "$(cksum <"$W/other.img")" = "$sum" ] || fail "another disk was changed"
	"$B/storage-server" --format "$W/other.img" 2>"$W/srv.err" ||
		fail "--format: status $?"
	grep -q "formatted the disk (102400 bytes)" "$W/srv.err" ||
		fail "--format: message"
	start "$W/other.img"
	[ -z "$(cli list "")" ] || fail "a formatted disk is not empty"
	cli put kept yes || fail "put on a formatted disk"
	pkill -TERM -P $srv
	wait $srv || fail "stop on a formatted disk: status $?"
	sum=$(cksum <"$W/other.img")
	"$B/storage-server" --format "$W/other.img" 2>"$W/srv.err"
	[ $? -eq 1 ] || fail "--format over a log: exit status"
	grep -q "holds a log of 20 bytes, which a format would lose" \
		"$W/srv.err" || fail "--format over a log: message"
	[ "$(cksum <"$W/other.img")" = "$sum" ] || fail "--format changed a log"
}

# Refused, unchanged: a disk too small.
tiny_disk() {
	truncate -s 4096 "$W/tiny.img"
	"$B/storage-server" --disk "$W/tiny.img" "unix:$W/sock" 2>"$W/srv.err"
	[ $? -eq 1 ] || fail "a tiny disk: exit status"
	grep -q "needs at least" "$W/srv.err" || fail "a tiny disk: message"
}

scenario "survives SIGKILL" survives_sigkill
scenario "full disk" full_disk
scenario "another disk's content" other_content
scenario "tiny disk" tiny_disk
scenarios_done
