#!/bin/sh
# tests/rpc/storage_disk_repair.sh - a log on a disk damaged in the middle:
# storage-server --disk refuses it, names the offset and --repair --disk,
# and changes nothing. `storage-server --repair --disk` moves the damaged
# record aside, byte for byte, to the file DISK.bad and keeps every other
# one, which the server then serves. A repair whose rewrite of the disk
# was cut short (its DISK.repair file left, the disk half rewritten) is
# finished by the next --repair; a DISK.repair that a finished repair left
# behind is removed, never written back over newer records.
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/diskrepair.XXXXXX")
D=$W/disk.img
srv=
fail() {
	echo "FAIL: $*" >&2
	cat "$W/srv.err" >&2
	exit 1
}
# srv is timeout's pid; the server is its child.
trap '[ -n "$srv" ] && pkill -KILL -P $srv; wait 2>/dev/null; rm -rf "$W"' EXIT
start() {
	: >"$W/srv.err"
	rm -f "$W/sock"
	timeout 120 "$B/storage-server" --disk "$D" "unix:$W/sock" 2>>"$W/srv.err" &
	srv=$!
	i=0
	until grep -q "serving at" "$W/srv.err"; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 "$srv" 2>/dev/null ||
			fail "the server did not start"
		sleep 0.05
	done
}
stop() {
	pkill -TERM -P $srv
	wait $srv || fail "stop: status $?"
	srv=
}
cli() { "$B/storage-client" "unix:$W/sock" "$@"; }
# poke OFFSET BYTES...: write bytes (octal escapes) into the image.
poke() {
	at=$1
	shift
	printf "$@" | dd of="$D" bs=1 seek="$at" conv=notrunc 2>/dev/null
}
# The generation of the header in charge (the higher of the two slots).
gen() {
	g0=$(od -An -tu8 -j16 -N8 "$D" | tr -d ' ')
	g1=$(od -An -tu8 -j4112 -N8 "$D" | tr -d ' ')
	[ "$g0" -gt "$g1" ] && echo "$g0" || echo "$g1"
}
# five: a new disk with k0..k4 ("vN"), records of 17 bytes from 8192 on.
five() {
	rm -f "$D" "$D".bad* "$D.repair"
	truncate -s 1M "$D"
	start
	for i in 0 1 2 3 4; do
		cli put "k$i" "v$i" || fail "put k$i"
	done
	stop
}
# served: k0 k1 k3 k4 are there, k2 is not.
served() {
	for i in 0 1 3 4; do
		[ "$(cli get "k$i")" = "v$i" ] || fail "k$i $1"
	done
	cli get k2 >/dev/null 2>&1 && fail "k2 $1"
}

five
# One bad byte in the key of the third record (log offset 34 + 13).
poke $((8192 + 34 + 13)) 'X'
dd if="$D" of="$W/rec2" bs=1 skip=$((8192 + 34)) count=17 2>/dev/null
sum=$(cksum <"$D")
timeout 60 "$B/storage-server" --disk "$D" "unix:$W/sock" 2>"$W/srv.err"
[ $? -eq 1 ] || fail "a damaged disk: exit status"
grep -q "is damaged at offset 34: a record of 9 bytes whose checksum does not match" "$W/srv.err" ||
	fail "a damaged disk: message"
grep -q "storage-server --repair --disk $D" "$W/srv.err" ||
	fail "a damaged disk: no word of --repair --disk"
[ "$(cksum <"$D")" = "$sum" ] || fail "the refused disk was changed"

timeout 60 "$B/storage-server" --repair --disk "$D" 2>"$W/srv.err" ||
	fail "--repair --disk: status $?"
grep -q "repaired: 1 damaged part (17 bytes) moved to $D.bad" "$W/srv.err" ||
	fail "--repair --disk: message"
cmp -s "$D.bad" "$W/rec2" || fail "the side file is not the damaged record"
[ -e "$D.repair" ] && fail "the repair left $D.repair"
start
served "after the repair"
cli put k5 v5 || fail "put after the repair"
stop
start
[ "$(cli get k5)" = v5 ] || fail "k5 after a restart"
stop
timeout 60 "$B/storage-server" --repair --disk "$D" 2>"$W/srv.err" ||
	fail "--repair of a sound disk: status $?"
grep -q "sound" "$W/srv.err" || fail "--repair of a sound disk: message"
[ -e "$D.bad.1" ] && fail "a sound disk got a side file"

# A rewrite cut short: DISK.repair (the repaired records, then
# "VCHANKVR" and the disk's generation, little-endian) is there, and the
# disk holds the first 10 bytes of its rewrite over the damaged log (a
# cut where the disk is not sound; at some others it is, holding a
# record twice, which replays to the same map).
five
poke $((8192 + 34 + 13)) 'X'
g=$(gen)
{
	dd if="$D" bs=1 skip=8192 count=34 2>/dev/null
	dd if="$D" bs=1 skip=$((8192 + 51)) count=34 2>/dev/null
	printf 'VCHANKVR'
	printf "$(printf '\\%03o' "$g")\\000\\000\\000\\000\\000\\000\\000"
} >"$D.repair"
[ "$(wc -c <"$D.repair")" = 84 ] || fail "building the repair file"
dd if="$D.repair" of="$D" bs=1 seek=$((8192 + 34)) skip=34 count=10 \
	conv=notrunc 2>/dev/null
timeout 60 "$B/storage-server" --disk "$D" "unix:$W/sock" 2>"$W/srv.err"
[ $? -eq 1 ] || fail "a half rewritten disk was served"
timeout 60 "$B/storage-server" --repair --disk "$D" 2>"$W/srv.err" ||
	fail "finishing a repair: status $?"
grep -q "finishing the repair that $D.repair holds" "$W/srv.err" ||
	fail "finishing a repair: message"
grep -q "sound" "$W/srv.err" || fail "finishing a repair: not sound after"
[ -e "$D.repair" ] && fail "a finished repair left $D.repair"
start
served "after finishing a repair"
stop

# A finished repair's file: the disk has moved on (a higher generation);
# the file is removed and the disk's newer records stay.
cp "$D" "$W/before"
{
	dd if="$D" bs=1 skip=8192 count=17 2>/dev/null
	printf 'VCHANKVR\001\000\000\000\000\000\000\000'
} >"$D.repair"
timeout 60 "$B/storage-server" --repair --disk "$D" 2>"$W/srv.err" ||
	fail "a stale repair file: status $?"
grep -q "is a finished repair's: removed" "$W/srv.err" ||
	fail "a stale repair file: message"
[ -e "$D.repair" ] && fail "the stale repair file is still there"
cmp -s "$D" "$W/before" || fail "a stale repair file was written back"
echo ok
