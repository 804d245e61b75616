#!/bin/bash
# vchan-cat as a listener: -l '*' serves a client of any domain and, with
# --keep-listening, the next; clients already waiting when it starts are
# served too; -l 5,6 serves the domains listed and keeps another out; '*'
# and lists are refused where they make no sense.
set -u
cat=${top_builddir:-.}/tools/vchan-cat/vchan-cat
tmp=${VCHAN_TEST_TMP:-$(mktemp -d)}
fails=0
pids=()
. "${top_srcdir:-.}/tests/proc.sh"
trap 'proc_kill_tree "${pids[@]}"' EXIT
vc() { ${VCHAN_TEST_WRAPPER:-} "$cat" "$@"; }

check() { # name expected actual
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected '$2', got '$3'"
		fails=$((fails + 1))
	fi
}

head -c 200000 /dev/urandom >"$tmp/a"
head -c 300000 /dev/urandom >"$tmp/b"

# Two clients of two domains, started before the listener: it serves one,
# then (-L) the other; each client's bytes arrive whole.
VCHAN_DOMID=5 timeout 60 "$cat" -q -t 50 1 any <"$tmp/a" >/dev/null &
c5=$!
VCHAN_DOMID=6 timeout 60 "$cat" -q -t 50 1 any <"$tmp/b" >/dev/null &
c6=$!
pids+=($c5 $c6)
# (-t 5: with -L, a next client that does not come within 5 s ends it.)
VCHAN_DOMID=1 timeout 60 "$cat" -L -k -t 5 -l '*' any </dev/null \
	>"$tmp/got" 2>"$tmp/srv.err" &
s=$!
pids+=($s)
wait $c5
check "client of domain 5 delivered" 0 $?
wait $c6
check "client of domain 6 delivered" 0 $?
# A client is done once its bytes are in the channel: the listener may
# still be copying them out. It ends by itself.
wait $s
check "listener ends after its clients" 0 $?
check "listener received both clients' bytes" \
	"$(cat "$tmp/a" "$tmp/b" | wc -c)" "$(wc -c <"$tmp/got")"
# The streams do not interleave: each client is one session.
if cmp -s <(cat "$tmp/a" "$tmp/b") "$tmp/got" ||
	cmp -s <(cat "$tmp/b" "$tmp/a") "$tmp/got"; then
	check "sessions whole, one after the other" ok ok
else
	check "sessions whole, one after the other" ok differ
fi
check "listener names its clients' domains" 2 \
	"$(grep -c 'client from domain [56]$' "$tmp/srv.err")"

# An allow-list: 5 is served, 7 is not.
VCHAN_DOMID=1 timeout 30 "$cat" -q -k -t 20 -l 5,6 listed </dev/null >"$tmp/got2" &
s=$!
pids+=($s)
VCHAN_DOMID=7 timeout 30 "$cat" -q -t 1 1 listed </dev/null >/dev/null 2>&1
rc=$?
check "domain 7 kept out of -l 5,6 (timed out)" 4 $rc
echo hello | VCHAN_DOMID=5 timeout 30 "$cat" -q -t 20 1 listed >/dev/null
check "domain 5 let in by -l 5,6" 0 $?
wait $s
check "listener -l 5,6 ends after its client" 0 $?
check "listener -l 5,6 got the line" hello "$(cat "$tmp/got2")"

# A second listener at a live one's port (once the first says it waits).
VCHAN_DOMID=1 timeout 30 "$cat" -t 20 -l '*' dup </dev/null >/dev/null \
	2>"$tmp/first.err" &
s=$!
pids+=($s)
for i in $(seq 1 400); do
	grep -q "waiting for a client" "$tmp/first.err" && break
	sleep 0.05
done
VCHAN_DOMID=1 timeout 10 "$cat" -q -t 0 -l '*' dup </dev/null >/dev/null 2>"$tmp/dup.err"
check "second listener refused" 1 $?
grep -q "address in use" "$tmp/dup.err"
check "second listener says address in use" 0 $?
kill $s 2>/dev/null
wait $s 2>/dev/null

# Usage errors.
VCHAN_DOMID=5 vc -t 1 '*' any </dev/null >/dev/null 2>&1
check "client at '*' is a usage error" 2 $?
VCHAN_DOMID=1 vc -t 1 -l '*' /local/domain/1/data/x </dev/null >/dev/null 2>&1
check "listener at a path is a usage error" 2 $?
VCHAN_DOMID=1 vc -t 1 -l '5,,6' p </dev/null >/dev/null 2>&1
check "bad domain list is a usage error" 2 $?
VCHAN_DOMID=1 vc -t 1 -l '5,32752' p </dev/null >/dev/null 2>&1
check "reserved id in a list is a usage error" 2 $?

[ $fails -eq 0 ]
