#!/bin/sh
# Runs one test program (automake's LOG_COMPILER): bounded by a timeout, in a
# private simulator directory that is removed afterwards, optionally under a
# wrapper such as valgrind (VCHAN_TEST_WRAPPER). Every process the test
# starts must end with it: one still running afterwards fails the test, and
# is killed (tests/outlived.sh).
set -u
here=$(dirname "$0")
limit=${VCHAN_TEST_TIMEOUT:-300}
work=$(mktemp -d "${TMPDIR:-/tmp}/vchan-test.XXXXXX") || exit 99
VCHAN_SIM_DIR=$work/sim
mkdir -m 700 "$VCHAN_SIM_DIR" || exit 99
VCHAN_PLATFORM=sim
VCHAN_TEST_TMP=$work
# Every process of the test inherits this tag, whatever becomes of its
# parent: timeout(1) makes a process group of its own, so neither the
# process tree nor the group would find them all.
VCHAN_TEST_TAG=$work
export VCHAN_SIM_DIR VCHAN_PLATFORM VCHAN_TEST_TMP VCHAN_TEST_TAG
unset XENSTORED_PATH VCHAN_DOMID
# The wrapper is for compiled programs; a script applies it to what it runs.
wrapper=${VCHAN_TEST_WRAPPER:-}
case "$1" in *.sh) wrapper= ;; esac
# shellcheck disable=SC2086
timeout -k 10 "$limit" $wrapper "$@"
rc=$?
[ $rc -eq 124 ] && echo "harness: $* killed after ${limit}s" >&2
unset VCHAN_TEST_TAG
if ! "$here/outlived.sh" "VCHAN_TEST_TAG=$work" 2>"$work/outlived"; then
	echo "harness: $* left processes running (killed now):" >&2
	cat "$work/outlived" >&2
	[ $rc -eq 0 ] && rc=1
fi
rm -rf "$work"
exit $rc
