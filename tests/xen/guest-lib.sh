# tests/xen/guest-lib.sh: shell helpers shared by the dom0 and domU inits
# (busybox sh). Sourced, not run.

BIG=16777216  # bytes each way through 1 MiB rings
SMALL=262144  # bytes each way when a ring is 1 or 2 KiB (an event per KiB: slow under TCG)

# Seconds since boot, with hundredths.
now() {
	read -r up _ </proc/uptime
	echo "$up"
}

# Whole seconds since boot: deadlines are counted in these, not in sleep
# rounds, which stretch without bound on a loaded emulator.
secs() {
	read -r up _ </proc/uptime
	echo "${up%.*}"
}

# await_change PATH: sleep until something at or below XenStore PATH
# changes, at most 1 s. Cheaper than polling with xenstore-read, a fork
# and exec each time (dear under TCG, and stolen from the transfers being
# measured). A watch fires once as it is set, so the second event is the
# change; one that came just before the watch was set is seen by the
# caller's next look, at most 1 s later.
await_change() {
	timeout 1 xenstore-watch -n 2 "$1" >/dev/null 2>&1
}

# Seconds a transfer of $SIZE bytes each way may take (vchan-cat's own
# timeout, and the bound of everything waiting for it).
xfer_limit() {
	if [ "$SIZE" -ge "$BIG" ]; then echo 150; else echo 100; fi
}

# wait_size FILE DONE: wait until FILE holds $SIZE bytes, the file DONE
# exists (the transfer ended, well or not) or $(xfer_limit) seconds passed:
# the input of a transfer side that must keep the channel open until it
# has received everything (vchan-cat without -k, vchan-socket-proxy) ends
# only then.
wait_size() {
	end=$(($(secs) + $(xfer_limit) + 5))
	while [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -lt "$SIZE" ]; do
		[ -e "$2" ] && return 0
		[ "$(secs)" -gt "$end" ] && return 1
		usleep 100000
	done
}

# err_text FILE [LINES]: the last LINES (default 3) progress reports
# (vchan-cat -p ends them with CR) and messages of a transfer side, on
# one line.
err_text() {
	tr '\r' '\n' <"$1" | grep -v '^$' | tail -"${2:-3}" | tr '\n' ' ' | head -c 300
}

# One side of an exchange of $SIZE bytes each way. Usage:
#   xfer keep|hold TAG COMMAND...
# keep: COMMAND reads $IN and ends by itself (vchan-cat -k).
# hold: COMMAND's input is $IN, then held open until it has received
#       $SIZE bytes (or ended), so it closes the channel only after both
#       directions are complete.
# COMMAND runs under timeout $(xfer_limit). The input is file $IN whose
# hash is $INSUM. Prints "rc=N in=SHA out=SHA secs=S err=TEXT" for the
# check to compare.
xfer() {
	mode=$1 tag=$2
	shift 2
	lim=$(xfer_limit)
	rm -f "/tmp/out.$tag" "/tmp/done.$tag" "/tmp/rc.$tag"
	: >"/tmp/out.$tag"
	t0=$(now)
	if [ "$mode" = keep ]; then
		timeout "$lim" "$@" <"$IN" >"/tmp/out.$tag" 2>"/tmp/err.$tag"
		rc=$?
	else
		{
			cat "$IN"
			wait_size "/tmp/out.$tag" "/tmp/done.$tag"
		} | {
			timeout "$lim" "$@" >"/tmp/out.$tag" 2>"/tmp/err.$tag"
			echo $? >"/tmp/rc.$tag"
			: >"/tmp/done.$tag"
		}
		rc=$(cat "/tmp/rc.$tag" 2>/dev/null || echo none)
	fi
	t1=$(now)
	out=$(sha256sum <"/tmp/out.$tag")
	echo "rc=$rc in=$INSUM out=${out%% *} secs=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}') got=$(stat -c %s "/tmp/out.$tag") err=$(err_text "/tmp/err.$tag")"
	rm -f "/tmp/out.$tag" "/tmp/done.$tag" "/tmp/rc.$tag"
}

# Make $BIG bytes of random input in file $1, and its first $SMALL bytes
# in $1.small; their hashes in $1.sum and $1.small.sum (hashing 16 MiB
# takes seconds under TCG: once, not at every check).
make_input() {
	head -c "$BIG" /dev/urandom >"$1"
	head -c "$SMALL" "$1" >"$1.small"
	for f in "$1" "$1.small"; do
		sum=$(sha256sum <"$f")
		echo "${sum%% *}" >"$f.sum"
	done
}

# use_input BYTES FILE: set IN, SIZE and INSUM for xfer.
use_input() {
	SIZE=$1
	IN=$2
	[ "$SIZE" = "$BIG" ] || IN=$2.small
	read -r INSUM <"$IN.sum"
}

load_modules() {
	for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do
		insmod "/lib/xenmod/$m.ko" || echo "insmod $m failed"
	done
}

mount_all() {
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mount -t devtmpfs dev /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmp /tmp
	mount -t tmpfs shm /dev/shm
	mount -t tmpfs run /var/run
	# Loopback, for what listens on 127.0.0.1 (tls-terminator, tcp:).
	ip link set lo up
}
