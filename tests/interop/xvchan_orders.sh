#!/bin/sh
# Debian's real libxenvchan on both ends, over the simulator's drop-in
# libraries, as two simulated domains: every pair of ring sizes from 1 KiB
# to 1 MiB (the server's read and write minimums), data both ways at once,
# every byte checked by xvchan against the sender's pattern. The client
# also checks that it sees the server's close.
. "${top_srcdir:-.}/tests/interop/lib.sh"

start_xenstored
bytes=1234567
n=0
for rd in 1024 2048 4096 65536 1048576; do
	for wr in 1024 2048 4096 65536 1048576; do
		n=$((n + 1))
		path=/local/domain/1/data/vchan/2/orders$n
		timeout 30 "$VS" run --domid 1 -- "$XVCHAN" server 2 "$path" \
			$rd $wr $bytes $bytes >"$WORK/srv.out" 2>"$WORK/srv.err" &
		srv=$!
		track $srv
		timeout 30 "$VS" run --domid 2 -- "$XVCHAN" client 1 "$path" \
			$bytes $bytes >"$WORK/cli.out" 2>"$WORK/cli.err"
		crc=$?
		wait $srv
		src=$?
		[ $src -eq 0 ] && [ $crc -eq 0 ] ||
			fail "rings $rd/$wr: server $src ($(cat "$WORK/srv.err")), client $crc ($(cat "$WORK/cli.err"))"
		read -r word sent got <"$WORK/srv.out"
		[ "$word $sent $got" = "ok $bytes $bytes" ] ||
			fail "rings $rd/$wr: server said $(cat "$WORK/srv.out")"
		read -r word sent got rest <"$WORK/cli.out"
		[ "$word $sent $got" = "closed $bytes $bytes" ] ||
			fail "rings $rd/$wr: client said $(cat "$WORK/cli.out")"
		# The server removed its XenStore path on close.
		if xenstore-exists "$path" 2>/dev/null; then
			fail "rings $rd/$wr: $path left behind"
		fi
		echo "rings read $rd write $wr: $bytes bytes each way ok"
	done
done
echo "PASS ($n ring size pairs)"
