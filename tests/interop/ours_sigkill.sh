#!/bin/sh
# SIGKILL mid-transfer with OUR library on one end and Debian's libxenvchan
# on the other (tests/interop/ours_vchan against tests/interop/xvchan), on
# one simulated host: ours serving and theirs serving, killing ours and
# killing theirs, small in-page rings and large multi-page ones. The
# survivor, blocked in its wait or between reads and writes, must see the
# close within 1 s of the kill (stretched by VCHAN_TEST_TIME_FACTOR under
# sanitizers and valgrind) and exit 0 after printing "closed".
. "${top_srcdir:-.}/tests/interop/ours_lib.sh"

start_xenstored
limit_ms=$(scaled_ms 1000)
n=0

# Start one end in the background, not under timeout(1), so that $! is
# the program itself (vchan-sim run and the wrapper exec it in place); the
# cleanup trap bounds them. $1 ours|theirs, $2 server|client, then its
# arguments; sets $last. Its output goes to files of this case alone: the
# background shell truncates them only later, so reused names could show
# the previous case's output.
start_end() {
	_who=$1 _role=$2
	shift 2
	if [ $_role = server ]; then
		_dom=1
	else
		_dom=2
	fi
	if [ $_who = ours ]; then
		# Inline, not through ours(): a backgrounded function is a
		# subshell, and $! would be that shell, not the program.
		# shellcheck disable=SC2086
		VCHAN_PLATFORM=sim VCHAN_DOMID=$_dom ${VCHAN_TEST_WRAPPER:-} \
			"$OURS" $_role "$@" >"$WORK/$n.$_role.out" 2>"$WORK/$n.$_role.err" &
	else
		"$VS" run --domid $_dom -- "$XVCHAN" $_role "$@" \
			>"$WORK/$n.$_role.out" 2>"$WORK/$n.$_role.err" &
	fi
	last=$!
	track $last
}

# $1 who serves (ours|theirs), $2 victim role (server|client), $3 $4 rings
run_case() {
	n=$((n + 1))
	path=/local/domain/1/data/vchan/2/ourskill$n
	server=$1
	if [ $server = ours ]; then client=theirs; else client=ours; fi
	start_end $server server 2 "$path" "$3" "$4" -1 -1
	srv=$last
	start_end $client client 1 "$path" -1 -1
	cli=$last
	# Each end says when the first byte has come from the other: once
	# both have, both are connected and have moved data (checked on the
	# survivor's report below), however long a loaded machine took to
	# start them. Both must still be running then.
	i=0
	until grep -q '^receiving$' "$WORK/$n.server.err" 2>/dev/null &&
		grep -q '^receiving$' "$WORK/$n.client.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 1200 ] ||
			fail "case $n: no data flowed in 60 s: $(cat "$WORK/$n.server.err" "$WORK/$n.client.err")"
		sleep 0.05
	done
	kill -0 $srv 2>/dev/null && kill -0 $cli 2>/dev/null ||
		fail "case $n: an end exited before the kill: $(cat "$WORK/$n.server.err" "$WORK/$n.client.err")"
	if [ $2 = client ]; then
		dead=$cli survivor=$srv out=$WORK/$n.server.out
		what="$server server survives its $client client's death"
	else
		dead=$srv survivor=$cli out=$WORK/$n.client.out
		what="$client client survives its $server server's death"
	fi
	what="$what (rings $3/$4)"
	t0=$(date +%s%N)
	kill -9 $dead
	wait_pid $survivor $((limit_ms / 100 + 20)) ||
		fail "$what: the survivor still runs $((limit_ms + 2000)) ms after the kill"
	[ "$WAITED_RC" -eq 0 ] ||
		fail "$what: survivor exit $WAITED_RC: $(cat "$WORK/$n.server.err" "$WORK/$n.client.err")"
	wait $dead 2>/dev/null
	read -r word sent got seen <"$out" || fail "$what: survivor printed nothing"
	[ "$word" = closed ] || fail "$what: survivor said: $(cat "$out")"
	[ "$sent" -gt 0 ] && [ "$got" -gt 0 ] ||
		fail "$what: no data moved before the kill ($sent sent, $got received)"
	ms=$(((seen - t0) / 1000000))
	[ $ms -lt $limit_ms ] || fail "$what: the close was seen after $ms ms"
	echo "$what after $sent/$got bytes: close seen in $ms ms"
}

for server in ours theirs; do
	for victim in client server; do
		run_case $server $victim 1024 2048
		run_case $server $victim 65536 1048576
	done
done
echo "PASS ($n cases)"
