#!/bin/sh
# OUR library (tests/interop/ours_vchan) against Debian's real libxenvchan
# (tests/interop/xvchan) on one simulated host, meeting in the real
# xenstored: every pair of ring sizes from 1 KiB to 1 MiB (the server's read
# and write minimums), ours as server and as client, data both ways at
# once, every byte checked by the receiver against the sender's pattern.
# The client also checks that it sees the server's close, and the server's
# XenStore path must be gone afterwards.
. "${top_srcdir:-.}/tests/interop/ours_lib.sh"

start_xenstored
bytes=1234567
quick && bytes=123457
sizes="1024 2048 4096 65536 1048576"
n=0

# The ring sizes (server's read, write) that libxenvchan's server picks for
# minimums $1 $2, which ours must pick too: a power of two of at least a
# page, except that rings of at most 1 KiB and 2 KiB go into the control
# page (one of each at most) whenever that saves a page.
expect_rings() {
	exp_rd=4096 exp_wr=4096
	while [ "$1" -gt $exp_rd ]; do exp_rd=$((exp_rd * 2)); done
	while [ "$2" -gt $exp_wr ]; do exp_wr=$((exp_wr * 2)); done
	if [ "$1" -le 1024 ] && [ "$2" -le 2048 ]; then
		exp_rd=1024 exp_wr=2048
	elif [ "$1" -le 2048 ] && [ "$2" -le 1024 ]; then
		exp_rd=2048 exp_wr=1024
	elif [ "$1" -le 2048 ]; then
		exp_rd=2048
	elif [ "$2" -le 2048 ]; then
		exp_wr=2048
	fi
}

# One channel: $1 = ours|theirs (the server's side), $2 $3 = ring minimums.
run_pair() {
	n=$((n + 1))
	path=/local/domain/1/data/vchan/2/ours$n
	if [ "$1" = ours ]; then
		ours_t 60 1 "$OURS" server 2 "$path" "$2" "$3" $bytes $bytes \
			>"$WORK/srv.out" 2>"$WORK/srv.err" &
		srv=$!
		track $srv
		timeout 60 "$VS" run --domid 2 -- "$XVCHAN" client 1 "$path" \
			$bytes $bytes >"$WORK/cli.out" 2>"$WORK/cli.err"
		crc=$?
	else
		timeout 60 "$VS" run --domid 1 -- "$XVCHAN" server 2 "$path" \
			"$2" "$3" $bytes $bytes >"$WORK/srv.out" 2>"$WORK/srv.err" &
		srv=$!
		track $srv
		ours_t 60 2 "$OURS" client 1 "$path" $bytes $bytes \
			>"$WORK/cli.out" 2>"$WORK/cli.err"
		crc=$?
	fi
	wait $srv
	src=$?
	what="$1 server, rings $2/$3"
	[ $src -eq 0 ] && [ $crc -eq 0 ] ||
		fail "$what: server $src ($(cat "$WORK/srv.err")), client $crc ($(cat "$WORK/cli.err"))"
	read -r word sent got <"$WORK/srv.out"
	[ "$word $sent $got" = "ok $bytes $bytes" ] ||
		fail "$what: server said $(cat "$WORK/srv.out")"
	read -r word sent got rest <"$WORK/cli.out"
	[ "$word $sent $got" = "closed $bytes $bytes" ] ||
		fail "$what: client said $(cat "$WORK/cli.out")"
	# Our end reports the ring sizes it uses, seen from its side (a
	# client reads the server's write ring): libxenvchan's choice, which
	# our server makes as well.
	expect_rings "$2" "$3"
	if [ "$1" = ours ]; then
		err=$WORK/srv.err want="rings $exp_rd $exp_wr"
	else
		err=$WORK/cli.err want="rings $exp_wr $exp_rd"
	fi
	read -r word got_rd got_wr <"$err"
	[ "$word $got_rd $got_wr" = "$want" ] ||
		fail "$what: our end says $(cat "$err"), not $want"
	if xenstore-exists "$path" 2>/dev/null; then
		fail "$what: $path left behind"
	fi
	echo "$what (ours: read $got_rd write $got_wr): $bytes bytes each way ok"
}

for side in ours theirs; do
	for rd in $sizes; do
		for wr in $sizes; do
			run_pair $side $rd $wr
		done
	done
done
echo "PASS ($n channels)"
