#!/bin/sh
# tests/outlived.sh NAME=VALUE - end the processes that outlived a test or
# a test run. Every process of one carries NAME=VALUE in its environment,
# inherited, so also an orphan whose parent is gone (the command of a
# killed timeout(1), a daemon) and one in a process group of its own: any
# such process still running when it is over has outlived it.
#
# Stragglers (a process killed just before the end, on its way out) get a
# while to go: VCHAN_OUTLIVED_WAIT tenths of a second, default 100, a
# deadline on leftovers only, never on a test. Then each one left is named
# on stderr (pid and command line) and killed, and the exit status is 1;
# it is 0 when there was none.
set -u
[ $# -eq 1 ] && case $1 in ?*=*) true ;; *) false ;; esac || {
	echo "usage: $0 NAME=VALUE" >&2
	exit 2
}
tag=$1
# Our own commands must not carry the tag, or we would find ourselves.
if env | grep -qxF -- "$tag"; then
	exec env -u "${tag%%=*}" sh "$0" "$@"
fi
tenths=${VCHAN_OUTLIVED_WAIT:-100}

# The live processes that carry the tag, one pid a line (a zombie's
# environment reads empty: it no longer runs).
tagged() {
	grep -lsxzF -- "$tag" /proc/[0-9]*/environ |
		sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}

left=$(tagged)
i=0
while [ -n "$left" ] && [ $i -lt "$tenths" ]; do
	sleep 0.1
	i=$((i + 1))
	left=$(tagged)
done
[ -z "$left" ] && exit 0
for p in $left; do
	echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
done
# Stopped before killed, so that none starts a child we would miss; a few
# rounds for a child started before its parent stopped.
i=0
while [ -n "$left" ] && [ $i -lt 10 ]; do
	# shellcheck disable=SC2086
	kill -STOP $left 2>/dev/null
	# shellcheck disable=SC2086
	kill -KILL $left 2>/dev/null
	sleep 0.1
	i=$((i + 1))
	left=$(tagged)
done
exit 1
