#!/bin/sh
# A second server at the path of a live one, with the real xenstored: OUR
# vchan-cat refuses it ("address in use") whether the live server is ours
# or Debian's libxenvchan (tests/interop/xvchan under vchan-sim run), and
# the live server keeps its client; once the live server is killed, its
# keys stay in xenstored and a new server of ours takes them over.
. "${top_srcdir:-.}/tests/interop/ours_lib.sh"

start_xenstored
head -c 100000 /dev/urandom >"$WORK/data"
n=0

# Wait (at most 30 s) until file $1 holds $2.
await() {
	_i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -le 300 ] || fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
		sleep 0.1
	done
}

# A second server of ours at $1 must be refused at once.
refused() {
	ours_t 30 1 "$VCHAN_CAT" -l 2 "$1" </dev/null 2>"$WORK/second.err"
	rc=$?
	[ $rc -eq 1 ] || fail "second server at $1: exit $rc: $(cat "$WORK/second.err")"
	grep -q "in use" "$WORK/second.err" ||
		fail "second server at $1 does not say the address is in use: $(cat "$WORK/second.err")"
}

# A server of ours at $1 sends the data to a client of ours.
serve_once() {
	VCHAN_PLATFORM=sim VCHAN_DOMID=1 timeout 60 "$VCHAN_CAT" -l 2 "$1" \
		<"$WORK/data" 2>"$WORK/srv$n.err" &
	_s=$!
	track $_s
	# Once it has published: the dead server's keys are no offer.
	await "$WORK/srv$n.err" waiting
	ours_t 60 2 "$VCHAN_CAT" -q -k -t 30 1 "$1" </dev/null >"$WORK/got" ||
		fail "client of ours at $1"
	cmp -s "$WORK/data" "$WORK/got" || fail "client at $1: wrong data"
	wait $_s || fail "server at $1: $(cat "$WORK/srv$n.err")"
}

# Ours live, ours second.
n=$((n + 1))
path=/local/domain/1/data/vchan/2/inuse$n
VCHAN_PLATFORM=sim VCHAN_DOMID=1 timeout 60 "$VCHAN_CAT" -l 2 "$path" \
	<"$WORK/data" 2>"$WORK/first.err" &
first=$!
track $first
await "$WORK/first.err" waiting
refused "$path"
ours_t 60 2 "$VCHAN_CAT" -q -k -t 30 1 "$path" </dev/null >"$WORK/got" ||
	fail "the first server's client"
cmp -s "$WORK/data" "$WORK/got" || fail "the first server's client: wrong data"
wait $first || fail "the first server: $(cat "$WORK/first.err")"
echo "ours live: a second server of ours is refused, the first serves on"

# Ours killed: its keys stay in xenstored, and are taken over.
n=$((n + 1))
path=/local/domain/1/data/vchan/2/inuse$n
VCHAN_PLATFORM=sim VCHAN_DOMID=1 "$VCHAN_CAT" -l 2 "$path" </dev/null \
	2>"$WORK/killed.err" &
killed=$!
track $killed
await "$WORK/killed.err" waiting
kill -9 $killed
wait $killed 2>/dev/null
xenstore-exists "$path/event-channel" || fail "the killed server's keys are gone"
serve_once "$path"
echo "ours killed: its keys are taken over"

# Theirs live (libxenvchan), ours second; then theirs killed, taken over.
n=$((n + 1))
path=/local/domain/1/data/vchan/2/inuse$n
"$VS" run --domid 1 -- "$XVCHAN" server 2 "$path" 4096 4096 1000 -1 \
	>"$WORK/theirs.out" 2>"$WORK/theirs.err" &
theirs=$!
track $theirs
i=0
until xenstore-exists "$path/event-channel" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "libxenvchan's server published nothing: $(cat "$WORK/theirs.err")"
	sleep 0.1
done
refused "$path"
kill -0 $theirs || fail "libxenvchan's server died"
kill -9 $theirs
wait $theirs 2>/dev/null
serve_once "$path"
echo "theirs live: a server of ours is refused; theirs killed: taken over"
echo PASS
