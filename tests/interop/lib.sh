# tests/interop/lib.sh - sourced by the interop tests: a xenstored of their
# own on the simulator (in the private VCHAN_SIM_DIR that tests/harness.sh
# gives), and cleanup of everything they start, even on failure.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
VS=$top_builddir/tools/vchan-sim/vchan-sim
XVCHAN=$top_builddir/tests/interop/xvchan
XS_PUBLISH=$top_builddir/tests/interop/xs_publish
. "$top_srcdir/tests/proc.sh"
WORK=${VCHAN_TEST_TMP:-$(mktemp -d)}/interop
mkdir -p "$WORK"
PIDS=
# In a sanitizer build our test programs link the ASan runtime, while
# vchan-sim preloads its (uninstrumented) library ahead of it: let ASan
# accept that order.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Remember a background process for the cleanup, which ends it with
# everything it started (the program under a timeout(1), say).
track() {
	PIDS="$PIDS $1"
}

cleanup() {
	# shellcheck disable=SC2086
	proc_kill_tree $PIDS
	"$VS" xenstored --stop >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ -n "${VCHAN_SIM_DIR:-}" ] || fail "VCHAN_SIM_DIR is not set (run under tests/harness.sh)"
for prog in xenstore-ls xenstore-read xenstore-write xenstore-exists; do
	command -v $prog >/dev/null 2>&1 || fail "$prog not found (install xenstore-utils)"
done

start_xenstored() {
	out=$("$VS" xenstored) || fail "vchan-sim xenstored failed"
	eval "$out"
	[ -n "${XENSTORED_PATH:-}" ] && [ -S "$XENSTORED_PATH" ] ||
		fail "vchan-sim xenstored printed no usable XENSTORED_PATH: $out"
	kill -0 "$VCHAN_SIM_XENSTORED_PID" || fail "xenstored is not running"
}

# Wait (at most $2 tenths of a second) for process $1 to end; its status
# goes to $WAITED_RC. Returns 1 on time-out.
wait_pid() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le "$2" ] || return 1
		sleep 0.1
	done
	wait "$1"
	WAITED_RC=$?
	return 0
}

# Time limits stretch under the sanitizer and valgrind passes
# (VCHAN_TEST_TIME_FACTOR, as tests/testutil.h's tu_ms), at most 4 times.
TF=${VCHAN_TEST_TIME_FACTOR:-1}
[ "$TF" -ge 1 ] 2>/dev/null || TF=1
[ "$TF" -le 4 ] || TF=4

# Wait (at most 30 s) until a vchan server has published at XenStore path $1:
# Xen's clients do not wait for the keys themselves.
wait_keys() {
	i=0
	until xenstore-exists "$1/event-channel" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "no server appeared at $1"
		sleep 0.1
	done
}
