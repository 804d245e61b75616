#!/bin/sh
# 20 instances of the platform tests at once, each in its own simulator
# directory with the same domids: none may disturb another.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${top_builddir:-.}/tests
n=${VCHAN_PARALLEL:-20}
out=${VCHAN_TEST_TMP:-/tmp}/parallel
mkdir -p "$out"
pids=""
i=0
while [ $i -lt $n ]; do
	for t in grant/test_grant_sim xenstore/test_xs; do
		[ -x "$bin/$t" ] || continue
		VCHAN_TEST_QUICK=1 VCHAN_TEST_WRAPPER= "$here/harness.sh" "$bin/$t" \
			>"$out/$i.$(basename $t).log" 2>&1 &
		pids="$pids $!"
	done
	i=$((i + 1))
done
fail=0
for p in $pids; do
	wait "$p" || fail=$((fail + 1))
done
ran=$(ls "$out" | wc -l)
echo "$ran instances, $fail failed"
if [ $fail -ne 0 ] || [ "$ran" -lt "$n" ]; then
	grep -l -E "FAILED|ERROR" "$out"/*.log | head -3 | xargs -r tail -20
	exit 1
fi
