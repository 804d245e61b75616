#!/bin/sh
# SIGKILL of either end of a real libxenvchan channel mid-transfer: the
# survivor (blocked in libxenvchan_wait, or between reads and writes) sees
# libxenvchan_is_open turn 0 / read return -1 within 1 s. The simulator
# learns of the death from the kernel closing the dead process's sockets,
# and applies its unmap notification (cli_live / srv_live cleared).
. "${top_srcdir:-.}/tests/interop/lib.sh"

start_xenstored
n=0
# victim, ring sizes (server read/write minimums)
for victim in client server; do
	for rings in "1024 2048" "65536 1048576"; do
		n=$((n + 1))
		path=/local/domain/1/data/vchan/2/kill$n
		set -- $rings
		# Files of this case alone: a background job truncates its
		# files only once it runs, so reused names could show the
		# previous case's words for a while.
		srv_out=$WORK/$n.srv.out srv_err=$WORK/$n.srv.err
		cli_out=$WORK/$n.cli.out cli_err=$WORK/$n.cli.err
		# Not under timeout(1), so $! is the xvchan process itself
		# (vchan-sim run execs it); the cleanup trap bounds them.
		"$VS" run --domid 1 -- "$XVCHAN" server 2 "$path" "$1" "$2" -1 -1 \
			>"$srv_out" 2>"$srv_err" &
		srv=$!
		track $srv
		wait_keys "$path"
		"$VS" run --domid 2 -- "$XVCHAN" client 1 "$path" -1 -1 \
			>"$cli_out" 2>"$cli_err" &
		cli=$!
		track $cli
		# Until data flows both ways (each end says so when its first
		# byte comes), however long a loaded machine takes to start
		# them: both must still be running then.
		i=0
		until grep -q '^receiving$' "$srv_err" 2>/dev/null &&
			grep -q '^receiving$' "$cli_err" 2>/dev/null; do
			i=$((i + 1))
			[ $i -le 600 ] ||
				fail "no data flowed in 60 s: $(cat "$srv_err" "$cli_err")"
			sleep 0.1
		done
		kill -0 $srv 2>/dev/null && kill -0 $cli 2>/dev/null ||
			fail "an end exited before the kill: $(cat "$srv_err" "$cli_err")"
		if [ $victim = client ]; then
			dead=$cli survivor=$srv out=$srv_out
		else
			dead=$srv survivor=$cli out=$cli_out
		fi
		t0=$(date +%s%N)
		kill -9 $dead
		wait_pid $survivor $((20 * TF)) ||
			fail "$victim killed: the survivor still runs after $((2 * TF)) s"
		[ "$WAITED_RC" -eq 0 ] || fail "$victim killed: survivor exit $WAITED_RC"
		wait $dead 2>/dev/null
		read -r word sent got seen <"$out" || fail "survivor printed nothing"
		[ "$word" = closed ] || fail "survivor said: $(cat "$out")"
		[ "$sent" -gt 0 ] && [ "$got" -gt 0 ] ||
			fail "no data moved before the kill ($sent sent, $got received)"
		ms=$(((seen - t0) / 1000000))
		[ $ms -lt $((1000 * TF)) ] || fail "$victim killed: the close was seen after $ms ms"
		echo "$victim killed (rings $1/$2) after $sent/$got bytes: survivor saw the close in $ms ms"
	done
done
echo PASS
