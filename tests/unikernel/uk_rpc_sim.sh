#!/bin/bash
# uk-rpc (the Linux build of the program that is also uk-rpc.xen) on the
# simulator: its client makes 1,000 checked calls to its server, and it
# refuses a bad command line with status 2.
set -u
bin=${top_builddir:-.}/tests/unikernel/uk-rpc
. "${top_srcdir:-.}/tests/proc.sh"
export VCHAN_PLATFORM=sim
if [ -z "${VCHAN_SIM_DIR:-}" ]; then
	VCHAN_SIM_DIR=$(mktemp -d)
	trap 'rm -rf "$VCHAN_SIM_DIR"' EXIT
fi
export VCHAN_SIM_DIR
wrap=${VCHAN_TEST_WRAPPER:-}
fails=0

VCHAN_DOMID=1 timeout 300 $wrap "$bin" serve vchan:2/echo 2>"$VCHAN_SIM_DIR/srv.log" &
srv=$!
trap 'proc_kill_tree $srv; rm -rf "$VCHAN_SIM_DIR"' EXIT
if VCHAN_DOMID=2 timeout 240 $wrap "$bin" call vchan:1/echo 1000 2>"$VCHAN_SIM_DIR/cli.log" &&
	grep -q '^uk-rpc: 1000 of 1000 calls answered and checked' "$VCHAN_SIM_DIR/cli.log"; then
	echo "ok   1000 calls: $(cat "$VCHAN_SIM_DIR/cli.log")"
else
	echo "FAIL 1000 calls: $(cat "$VCHAN_SIM_DIR/cli.log" "$VCHAN_SIM_DIR/srv.log")"
	fails=$((fails + 1))
fi
"$bin" call vchan:1/echo zero 2>"$VCHAN_SIM_DIR/usage.log"
rc=$?
if [ $rc -eq 2 ] && grep -q '^usage: uk-rpc' "$VCHAN_SIM_DIR/usage.log"; then
	echo "ok   bad count: status 2 and the usage"
else
	echo "FAIL bad count: status $rc: $(cat "$VCHAN_SIM_DIR/usage.log")"
	fails=$((fails + 1))
fi
exit $((fails > 0))
