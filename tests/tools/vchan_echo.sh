#!/bin/bash
# vchan-echo (the Linux build of the program that is also vchan-echo.xen)
# on the simulator: it echoes what vchan-cat sends, as server (twice, -n 2)
# and as client, refuses bad command lines with status 2 and its usage, and
# reports a peer that never comes within -t.
set -u
bin=${top_builddir:-.}/tools/vchan-echo/vchan-echo
cat=${top_builddir:-.}/tools/vchan-cat/vchan-cat
tmp=${VCHAN_TEST_TMP:-$(mktemp -d)}
. "${top_srcdir:-.}/tests/scenarios.sh"
pids=()
. "${top_srcdir:-.}/tests/proc.sh"
# Each background process ends with what it started (timeout's command).
trap 'proc_kill_tree "${pids[@]}"' EXIT
# VCHAN_TEST_WRAPPER (valgrind) applies to the program under test.
wrap=${VCHAN_TEST_WRAPPER:-}

hash() { sha256sum <"$1" | cut -d' ' -f1; }

head -c $((4 << 20)) /dev/urandom >"$tmp/in"

# hold_cat OUT ARGS...: vchan-cat sends $tmp/in and keeps its input open
# until it has all of it back, then closes (as the Xen checks do).
hold_cat() {
	local out=$1 n=0
	shift
	: >"$out"
	{
		cat "$tmp/in"
		while [ "$(stat -c %s "$out")" -lt $((4 << 20)) ] && [ $n -lt 600 ]; do
			sleep 0.1
			n=$((n + 1))
		done
	} | timeout 90 "$cat" -q "$@" >"$out"
}

# await_offer N: until the server has published its offer the Nth time
# (the next one comes once the previous client's channel closed), at most
# 120 s: under valgrind on a loaded machine it takes what it takes.
await_offer() {
	local n=0
	until [ "$(grep -c 'published' "$tmp/srv.log")" -ge "$1" ]; do
		n=$((n + 1))
		if [ $n -gt 1200 ]; then
			check "server: offer $1 published" 1 0
			return
		fi
		sleep 0.1
	done
}

# Server, two clients in turn, each one's 4 MiB echoed.
VCHAN_DOMID=1 timeout 240 $wrap "$bin" serve 2 e -r 1M -w 1M -n 2 -t 120 >"$tmp/srv.log" 2>&1 &
s=$!
pids+=($s)
for i in 1 2; do
	await_offer $i
	VCHAN_DOMID=2 hold_cat "$tmp/out$i" -t 10 1 e
	check "server: client $i's status" 0 $?
	check "server: client $i's bytes echoed" "$(hash "$tmp/in")" "$(hash "$tmp/out$i")"
done
wait $s
check "server: exit after two clients" 0 $?
check "server: reports each client" 2 "$(grep -c 'peer closed after 4194304 bytes echoed' "$tmp/srv.log")"

# Client: vchan-cat serves, vchan-echo connects and echoes.
VCHAN_DOMID=2 timeout 120 $wrap "$bin" connect 1 c -t 30 >"$tmp/cli.log" 2>&1 &
c=$!
pids+=($c)
VCHAN_DOMID=1 hold_cat "$tmp/out3" -l -r 1M -w 1M 2 c
check "client: vchan-cat's status" 0 $?
check "client: bytes echoed" "$(hash "$tmp/in")" "$(hash "$tmp/out3")"
wait $c
check "client: exit when the server closed" 0 $?

# Bad command lines: status 2 and a message naming the problem.
bad() { # name expected-text args...
	local name=$1 want=$2 out rc
	shift 2
	out=$(VCHAN_DOMID=1 timeout 10 "$bin" "$@" 2>&1)
	rc=$?
	check "bad args $name: status" 2 $rc
	case $out in
	*"$want"*) check "bad args $name: message" ok ok ;;
	*) check "bad args $name: message" "$want" "$out" ;;
	esac
}
bad none "a mode, a domain and a port are needed"
bad mode "the mode is 'serve' or 'connect'" listen 0 x
bad domain "bad domain id 'x'" serve x p
bad big-domain "bad domain id '40000'" serve 40000 p
bad port "the port is one XenStore node name" serve 0 a/b
bad ring "ring sizes are at most 1M" serve 0 p -r 2M
bad option "bad option '-q 1'" serve 0 p -q 1
bad client-option "bad option '-r 1K'" connect 0 p -r 1K
bad missing-value "-t needs a value" serve 0 p -t

# A peer that never comes: reported after -t seconds, status 1.
out=$(VCHAN_DOMID=1 timeout 20 "$bin" serve 2 nobody -t 1 2>&1)
check "no client: status" 1 $?
case $out in
*"no client from domain 2"*) check "no client: message" ok ok ;;
*) check "no client: message" "no client from domain 2" "$out" ;;
esac
out=$(VCHAN_DOMID=2 timeout 20 "$bin" connect 1 nobody -t 1 2>&1)
check "no server: status" 1 $?
case $out in
*"cannot connect to"*"timed out"*) check "no server: message" ok ok ;;
*) check "no server: message" "cannot connect ... timed out" "$out" ;;
esac

scenarios_done
