#!/bin/sh
# tests/harness.sh against tests that leave processes behind: a process
# still running after its test fails the test, is named and is killed,
# also when its parent is gone (the command of a timeout(1) that was
# killed, as the interop tests' cleanup once did), while a test that ends
# all it started, or whose last process is on its way out, passes.
# tests/outlived.sh, which finds them, is what ./run test uses too.
set -u
here=${top_srcdir:-.}/tests
tmp=${VCHAN_TEST_TMP:-$(mktemp -d)}/leftovers
mkdir -p "$tmp"
. "${top_srcdir:-.}/tests/scenarios.sh"
# Whatever happens here, the victims do not outlive this test.
trap 'kill -9 $(cat "$tmp"/victim* 2>/dev/null) 2>/dev/null' EXIT

# 1 when process $1 no longer runs (gone, or a zombie its new parent has
# not reaped yet).
ended() {
	st=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
	case $st in '' | Z | X) echo 1 ;; *) echo 0 ;; esac
}

# A test that orphans a sleep: it kills the timeout(1) the sleep runs
# under, and passes.
cat >"$tmp/leaks.sh" <<'EOS'
#!/bin/sh
timeout 300 sleep 600 &
t=$!
i=0
until s=$(pgrep -P $t); do
	i=$((i + 1))
	[ $i -le 300 ] || exit 3
	sleep 0.1
done
echo "$s" >"$1"
kill -9 $t
EOS
# A test that ends before its last child, which is about to end too.
cat >"$tmp/straggler.sh" <<'EOS'
#!/bin/sh
sleep 0.2 &
EOS
# A test that waits for what it started.
cat >"$tmp/clean.sh" <<'EOS'
#!/bin/sh
sleep 0.2 &
wait
EOS
# The leaking test with the cleanup the interop tests use: the timeout(1)
# goes with its command (tests/proc.sh).
sed 's|^kill -9 \$t$|. "$2/proc.sh"; proc_kill_tree $t|' "$tmp/leaks.sh" \
	>"$tmp/tree.sh"
chmod +x "$tmp/leaks.sh" "$tmp/straggler.sh" "$tmp/clean.sh" "$tmp/tree.sh"

VCHAN_TEST_WRAPPER= VCHAN_OUTLIVED_WAIT=5 \
	"$here/harness.sh" "$tmp/leaks.sh" "$tmp/victim" 2>"$tmp/leaks.err"
rc=$?
victim=$(cat "$tmp/victim" 2>/dev/null)
cat "$tmp/leaks.err"
check "leak: the test fails" 1 $rc
check "leak: the harness says so" 1 "$(grep -c 'left processes running' "$tmp/leaks.err")"
check "leak: the orphan is named" 1 "$(grep -c "^  $victim sleep 600" "$tmp/leaks.err")"
check "leak: the orphan is gone" 1 "$(ended "${victim:-0}")"

VCHAN_TEST_WRAPPER= VCHAN_OUTLIVED_WAIT=5 \
	"$here/harness.sh" "$tmp/tree.sh" "$tmp/victim2" "$here" 2>"$tmp/tree.err"
rc=$?
cat "$tmp/tree.err"
check "proc_kill_tree: passes" 0 $rc
check "proc_kill_tree: nothing left" "" "$(cat "$tmp/tree.err")"
check "proc_kill_tree: the command is gone" 1 "$(ended "$(cat "$tmp/victim2")")"

VCHAN_TEST_WRAPPER= "$here/harness.sh" "$tmp/straggler.sh" 2>"$tmp/straggler.err"
check "straggler: passes" 0 $?
check "straggler: nothing said" "" "$(cat "$tmp/straggler.err")"

VCHAN_TEST_WRAPPER= "$here/harness.sh" "$tmp/clean.sh" 2>"$tmp/clean.err"
check "clean: passes" 0 $?
check "clean: nothing said" "" "$(cat "$tmp/clean.err")"

"$here/outlived.sh" 2>/dev/null
check "outlived.sh without NAME=VALUE: usage" 2 $?

scenarios_done
