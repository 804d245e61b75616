# tests/interop/ours_lib.sh - sourced by the ours_*.sh interop tests, which
# put OUR library against Debian's libxenvchan on one simulated host. On top
# of lib.sh (private xenstored, cleanup): how to run our own programs.
. "${top_srcdir:-.}/tests/interop/lib.sh"

OURS=$top_builddir/tests/interop/ours_vchan
VCHAN_CAT=$top_builddir/tools/vchan-cat/vchan-cat

# Run our program "$2..." as simulated domain $1. Our library uses the sim
# backend itself and, with XENSTORED_PATH set, the real xenstored: it needs
# no more than its environment (not vchan-sim run, whose drop-in libraries
# and preload are for Xen's programs). VCHAN_TEST_WRAPPER (valgrind) applies
# here, as tests/harness.sh does not apply it to scripts. Started with &,
# a function runs in a subshell: where the program's own pid is needed (to
# kill it), write the same line inline instead.
ours() {
	_dom=$1
	shift
	# shellcheck disable=SC2086
	VCHAN_PLATFORM=sim VCHAN_DOMID=$_dom ${VCHAN_TEST_WRAPPER:-} "$@"
}

# As ours, bounded: ours_t SECONDS DOMID PROGRAM ARGS...
ours_t() {
	_t=$1 _dom=$2
	shift 2
	# shellcheck disable=SC2086
	VCHAN_PLATFORM=sim VCHAN_DOMID=$_dom timeout "$_t" ${VCHAN_TEST_WRAPPER:-} "$@"
}

# Time limits stretch under sanitizers and valgrind (VCHAN_TEST_TIME_FACTOR,
# as tests/testutil.c's tu_ms).
scaled_ms() {
	_k=${VCHAN_TEST_TIME_FACTOR:-1}
	case $_k in '' | *[!0-9]*) _k=1 ;; esac
	[ "$_k" -gt 1 ] && [ "$_k" -lt 1000 ] || _k=1
	echo $(($1 * _k))
}

quick() {
	case ${VCHAN_TEST_QUICK:-} in '' | 0) return 1 ;; esac
	return 0
}

# Wait (at most $3 tenths of a second) until file $1 holds $2 bytes.
wait_size() {
	_i=0
	while [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -lt "$2" ]; do
		_i=$((_i + 1))
		[ $_i -le "$3" ] || return 1
		sleep 0.1
	done
}
