#!/bin/sh
# tests/soak/soak_xenstored.sh - the channel and cycle soaks against Debian's
# real xenstored on the simulator (through tools/vchan-sim), instead of the
# embedded store. Sizes: VCHAN_SOAK_SCALE as for the programs themselves;
# by default a fifth of each (200 channels, 2,000 cycles): every channel is
# a connection of its own to xenstored, which serves each request the
# slower the more connections it has (1,000 channels at once: about 12 s).
. "${top_srcdir:-.}/tests/interop/lib.sh"

start_xenstored
export XENSTORED_PATH
xenstore-write /local/domain/3/domid 3 /local/domain/5/domid 5 ||
	fail "xenstore-write of the domains' ids failed"
echo "xenstored: $(grep 'open files' "/proc/$VCHAN_SIM_XENSTORED_PID/limits")"

for t in soak_channels:0.2 soak_cycles:0.2; do
	prog=${t%%:*}
	VCHAN_SOAK_SCALE=${VCHAN_SOAK_SCALE:-${t#*:}} timeout 250 \
		${VCHAN_TEST_WRAPPER:-} "$top_builddir/tests/soak/$prog" ||
		fail "$prog against xenstored"
	kill -0 "$VCHAN_SIM_XENSTORED_PID" || fail "xenstored died during $prog"
done
echo PASS
