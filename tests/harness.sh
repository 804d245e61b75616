#!/bin/sh
# Runs one test program (automake's LOG_COMPILER): bounded by a timeout, in a
# private simulator directory that is removed afterwards, optionally under a
# wrapper such as valgrind (VCHAN_TEST_WRAPPER).
set -u
limit=${VCHAN_TEST_TIMEOUT:-300}
work=$(mktemp -d "${TMPDIR:-/tmp}/vchan-test.XXXXXX") || exit 99
VCHAN_SIM_DIR=$work/sim
VCHAN_PLATFORM=sim
VCHAN_TEST_TMP=$work
export VCHAN_SIM_DIR VCHAN_PLATFORM VCHAN_TEST_TMP
unset XENSTORED_PATH VCHAN_DOMID
# The wrapper is for compiled programs; a script applies it to what it runs.
wrapper=${VCHAN_TEST_WRAPPER:-}
case "$1" in *.sh) wrapper= ;; esac
# shellcheck disable=SC2086
timeout -k 10 "$limit" $wrapper "$@"
rc=$?
[ $rc -eq 124 ] && echo "harness: $* killed after ${limit}s" >&2
rm -rf "$work"
exit $rc
