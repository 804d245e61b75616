# tests/xen/guest-lib.sh: shell helpers shared by the dom0 and domU inits
# (busybox sh). Sourced, not run.

BIG=16777216  # bytes each way through 1 MiB rings
SMALL=262144  # bytes each way when a ring is 1 or 2 KiB (an event per KiB: slow under TCG)

# Seconds since boot, with hundredths.
now() {
	read -r up _ </proc/uptime
	echo "$up"
}

# Wait until file $1 holds $SIZE bytes, at most 90 s: the input of a
# transfer side that must keep the channel open until it has received
# everything (vchan-cat without -k, vchan-socket-proxy) ends only then.
wait_size() {
	i=0
	while [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -lt "$SIZE" ]; do
		i=$((i + 1))
		[ $i -gt 1800 ] && return 1
		usleep 50000
	done
}

# One side of a 16 MiB-each-way exchange. Usage:
#   xfer keep|hold TAG COMMAND...
# keep: COMMAND reads /tmp/in and ends by itself (vchan-cat -k).
# hold: COMMAND's input is /tmp/in, then held open until it has received
#       $SIZE bytes, so it closes the channel only after both directions
#       are complete.
# The input is file $IN (default /tmp/in) whose hash is $INSUM.
# Prints "rc=N in=SHA out=SHA" for the check to compare.
xfer() {
	mode=$1 tag=$2
	shift 2
	rm -f "/tmp/out.$tag"
	: >"/tmp/out.$tag"
	if [ "$mode" = keep ]; then
		timeout 90 "$@" <"${IN:-/tmp/in}" >"/tmp/out.$tag" 2>"/tmp/err.$tag"
		rc=$?
	else
		{
			cat "${IN:-/tmp/in}"
			wait_size "/tmp/out.$tag"
		} | timeout 90 "$@" >"/tmp/out.$tag" 2>"/tmp/err.$tag"
		rc=$?
	fi
	out=$(sha256sum <"/tmp/out.$tag")
	echo "rc=$rc in=$INSUM out=${out%% *} err=$(head -c 200 "/tmp/err.$tag" | tr '\n' ' ')"
	rm -f "/tmp/out.$tag"
}

# Make $BIG bytes of random input in file $1, and its first $SMALL bytes
# in $1.small.
make_input() {
	head -c "$BIG" /dev/urandom >"$1"
	head -c "$SMALL" "$1" >"$1.small"
}

# use_input BYTES FILE: set IN, SIZE and INSUM for xfer.
use_input() {
	SIZE=$1
	IN=$2
	[ "$SIZE" = "$BIG" ] || IN=$2.small
	set -- $(sha256sum <"$IN")
	INSUM=$1
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
}
