#!/bin/sh
# 20 instances of the platform tests at once, each in its own simulator
# directory with the same domids: none may disturb another. The machine is
# overloaded on purpose, so time limits are stretched (tu_ms).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${top_builddir:-.}/tests
n=${VCHAN_PARALLEL:-20}
out=${VCHAN_TEST_TMP:-/tmp}/parallel
mkdir -p "$out"
pids=""
i=0
set -- grant/grant_sim xenstore/xs_store xenstore/xs_watch
while [ $i -lt $n ]; do
	t=$1
	shift
	set -- "$@" "$t"
	VCHAN_TEST_QUICK=1 VCHAN_TEST_TIME_FACTOR=20 VCHAN_TEST_WRAPPER= \
		"$here/harness.sh" "$bin/$t" >"$out/$i.$(basename $t).log" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
fail=0
for p in $pids; do
	wait "$p" || fail=$((fail + 1))
done
ran=$(ls "$out" | wc -l)
echo "$ran instances, $fail failed"
if [ $fail -ne 0 ] || [ "$ran" -lt "$n" ]; then
	grep -l -E "FAILED|ERROR" "$out"/*.log | head -3 | xargs -r tail -n 20
	exit 1
fi
