#!/bin/bash
# vchan-cat between two simulated domains: transfers checked by hash, both
# directions at once, ring sizes, every documented exit status, a second
# server at a live one's path, --keep-listening, a waiting client, and
# receivers whose input is a terminal or quiet.
set -u
cat=${top_builddir:-.}/tools/vchan-cat/vchan-cat
tmp=${VCHAN_TEST_TMP:-$(mktemp -d)}
. "${top_srcdir:-.}/tests/scenarios.sh"
pids=()
. "${top_srcdir:-.}/tests/proc.sh"
# Each background process ends with what it started (timeout's command).
trap 'proc_kill_tree "${pids[@]}"' EXIT
# VCHAN_TEST_WRAPPER (valgrind) applies to our own program here.
vc() { ${VCHAN_TEST_WRAPPER:-} "$cat" "$@"; }

hash() { sha256sum <"$1" | cut -d' ' -f1; }

head -c $((16 << 20)) /dev/urandom >"$tmp/big"
head -c $((8 << 20)) /dev/urandom >"$tmp/mid"
head -c 32768 /dev/urandom >"$tmp/small"

# one-way transfer: name, server options, client options, direction
transfer() {
	local name=$1 sopts=$2 copts=$3 dir=$4 rs rc
	rm -f "$tmp/out"
	if [ "$dir" = up ]; then # client -> server
		VCHAN_DOMID=1 timeout 120 "$cat" -q -l -k $sopts 2 "$name" </dev/null >"$tmp/out" &
		local s=$!
		VCHAN_DOMID=2 timeout 120 "$cat" -q -t 10 $copts 1 "$name" <"$tmp/big"
		rc=$?
	else # server -> client
		VCHAN_DOMID=1 timeout 120 "$cat" -q -l $sopts 2 "$name" <"$tmp/big" &
		local s=$!
		VCHAN_DOMID=2 timeout 120 "$cat" -q -k -t 10 $copts 1 "$name" </dev/null >"$tmp/out"
		rc=$?
	fi
	wait $s
	rs=$?
	check "$name: exit codes" "0 0" "$rs $rc"
	check "$name: 16 MiB hash" "$(hash "$tmp/big")" "$(hash "$tmp/out")"
}

transfer up64k "" "" up
transfer down64k "" "" down
transfer up1k "-r 1K -w 1K" "" up
transfer down1k "-r 1K -w 1K" "" down
transfer up1m "-r 1M -w 1M" "" up
transfer down1m "-r 1M -w 1M" "-s 0" down

# both directions at once: the server sends 8 MiB and closes; the client
# sends 32 KiB and keeps reading until the server closes.
VCHAN_DOMID=1 timeout 120 "$cat" -q -l 2 duplex <"$tmp/mid" >"$tmp/srv.out" &
s=$!
VCHAN_DOMID=2 timeout 120 "$cat" -q -k -t 10 1 duplex <"$tmp/small" >"$tmp/cli.out"
rc=$?
wait $s
check "duplex: exit codes" "0 0" "$? $rc"
check "duplex: server got the client's data" "$(hash "$tmp/small")" "$(hash "$tmp/srv.out")"
check "duplex: client got the server's data" "$(hash "$tmp/mid")" "$(hash "$tmp/cli.out")"

# request/response, the client under the test wrapper (valgrind in that
# pass): the server answers once the request has arrived
rm -f "$tmp/srv.out" "$tmp/fifo"
mkfifo "$tmp/fifo"
(for _ in $(seq 600); do
	grep -q request "$tmp/srv.out" 2>/dev/null && break
	sleep 0.1
done
cat "$tmp/small") >"$tmp/fifo" &
VCHAN_DOMID=1 timeout 300 "$cat" -q -l 2 rr <"$tmp/fifo" >"$tmp/srv.out" &
s=$!
echo request | VCHAN_DOMID=2 timeout 300 ${VCHAN_TEST_WRAPPER:-} "$cat" -q -k -t 60 1 rr >"$tmp/cli.out"
rc=$?
wait $s
check "request/response: exit codes" "0 0" "$? $rc"
check "request/response: request" "request" "$(cat "$tmp/srv.out")"
check "request/response: response" "$(hash "$tmp/small")" "$(hash "$tmp/cli.out")"

# exit statuses
"$cat" --help >/dev/null
check "--help" 0 $?
check "--version" "vchan-cat" "$("$cat" --version | cut -d' ' -f1)"
"$cat" 2>/dev/null
check "no arguments: 2" 2 $?
"$cat" 1 "bad.port" 2>"$tmp/err"
check "bad port: 2" 2 $?
check "bad port: one line" 1 "$(wc -l <"$tmp/err")"
"$cat" -r 3M -l 1 p 2>/dev/null
check "bad size: 2" 2 $?
"$cat" 99999 p 2>/dev/null
check "bad domid: 2" 2 $?
VCHAN_PLATFORM=kvm "$cat" 1 p 2>"$tmp/err"
check "bad platform: 1" 1 $?
grep -q "VCHAN_PLATFORM" "$tmp/err"
check "bad platform: names the variable" 0 $?
VCHAN_DOMID=2 "$cat" -t 0 1 nobody </dev/null 2>"$tmp/err"
check "no server: 3" 3 $?
start=$(date +%s)
VCHAN_DOMID=2 "$cat" -t 1 1 nobody </dev/null 2>/dev/null
check "client timeout: 4" 4 $?
VCHAN_DOMID=1 "$cat" -q -l -t 1 2 lonely </dev/null 2>/dev/null
check "server timeout: 4" 4 $?
check "timeouts took about 2 s" 1 $(($(date +%s) - start <= 5))

# Wait (at most 60 s) until file $1 contains $2. The file must be new to
# the process that writes it: a background job truncates its output files
# only once it runs, so a file an earlier process wrote to may still show
# that one's words for a while (the stale-keys case below once took the
# previous server's "waiting" for its own, and killed its server before
# that had published anything).
await() {
	for _ in $(seq 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "gave up waiting for '$2' in $1"
	return 1
}

# a domain the server did not publish for may not connect, even when it
# names the server's path itself
VCHAN_DOMID=1 timeout 30 "$cat" -l -t 10 2 private </dev/null >/dev/null 2>"$tmp/private.err" &
s=$!
pids+=($s)
await "$tmp/private.err" waiting
VCHAN_DOMID=3 "$cat" -t 1 1 /local/domain/1/data/vchan/2/private </dev/null 2>"$tmp/err"
check "foreign domain: 3" 3 $?
grep -q "denied" "$tmp/err"
check "foreign domain: says denied" 0 $?
kill $s 2>/dev/null
wait $s 2>/dev/null

# keys left behind by a killed server: a clear "gone", not a hang
VCHAN_DOMID=1 timeout 60 "$cat" -l 2 stale </dev/null >/dev/null 2>"$tmp/stale.err" &
s=$!
pids+=($s)
await "$tmp/stale.err" waiting
pkill -9 -P $s
wait $s 2>/dev/null
VCHAN_DOMID=2 "$cat" -t 0 1 stale </dev/null 2>"$tmp/err"
check "stale keys: 3" 3 $?
grep -q "gone" "$tmp/err"
check "stale keys: says gone" 0 $?

# the server is killed mid-transfer: the sender says so within 1 s
VCHAN_DOMID=1 timeout 60 "$cat" -q -l -k 2 victim </dev/null >"$tmp/victim.out" &
s=$!
pids+=($s)
(VCHAN_DOMID=2 timeout 60 "$cat" -q -t 30 1 victim < <(yes vchan) 2>"$tmp/err"; echo $? >"$tmp/rc") &
c=$!
await "$tmp/victim.out" vchan
# $s is timeout(1): kill the vchan-cat under it
pkill -9 -P $s
t0=$(date +%s%N)
wait $c
t1=$(date +%s%N)
check "peer killed: 5" 5 "$(cat "$tmp/rc")"
check "peer killed: seen within 1 s" 1 $(((t1 - t0) < 1000000000))
grep -q "peer closed" "$tmp/err"
check "peer killed: says so" 0 $?

# a second server at the path of a live one: refused, the first serves on
VCHAN_DOMID=1 timeout 60 "$cat" -l 2 busy <"$tmp/small" >/dev/null 2>"$tmp/busy.err" &
s=$!
pids+=($s)
await "$tmp/busy.err" waiting
VCHAN_DOMID=1 timeout 30 "$cat" -l 2 busy </dev/null 2>"$tmp/err"
check "address in use: 1" 1 $?
grep -q "in use" "$tmp/err"
check "address in use: says so" 0 $?
VCHAN_DOMID=2 timeout 30 "$cat" -q -k -t 10 1 busy </dev/null >"$tmp/cli.out"
check "address in use: the first server's client: 0" 0 $?
check "address in use: the first server's data" "$(hash "$tmp/small")" "$(hash "$tmp/cli.out")"
wait $s
check "address in use: the first server: 0" 0 $?

# keys of a killed server: a new server takes the path over
VCHAN_DOMID=1 timeout 60 "$cat" -l 2 stale <"$tmp/small" >/dev/null 2>"$tmp/stale2.err" &
s=$!
pids+=($s)
await "$tmp/stale2.err" waiting
VCHAN_DOMID=2 timeout 30 "$cat" -q -k -t 10 1 stale </dev/null >"$tmp/cli.out"
check "takeover: client 0" 0 $?
check "takeover: data" "$(hash "$tmp/small")" "$(hash "$tmp/cli.out")"
wait $s
check "takeover: server 0" 0 $?

# --keep-listening: one client after another, each one's data in order
VCHAN_DOMID=1 timeout 60 "$cat" -q -l -L -k -t 5 2 many </dev/null >"$tmp/many.out" 2>"$tmp/many.err" &
s=$!
pids+=($s)
for i in 1 2 3; do
	echo "client $i" | VCHAN_DOMID=2 timeout 30 "$cat" -q -t 10 1 many
	check "keep-listening: client $i: 0" 0 $?
done
wait $s
check "keep-listening: the server ends 0 when nobody comes in time" 0 $?
check "keep-listening: every client's data" "client 1 client 2 client 3" "$(tr '\n' ' ' <"$tmp/many.out" | sed 's/ $//')"
"$cat" -L 1 p 2>/dev/null
check "keep-listening without -l: 2" 2 $?

# a client that comes first says once that it waits, then connects
VCHAN_DOMID=2 timeout 60 "$cat" -k -t 30 1 later </dev/null >"$tmp/later.out" 2>"$tmp/later.err" &
c=$!
pids+=($c)
await "$tmp/later.err" "waiting for the server"
VCHAN_DOMID=1 timeout 30 "$cat" -q -l 2 later <"$tmp/small"
check "waiting client: server 0" 0 $?
wait $c
check "waiting client: 0" 0 $?
check "waiting client: says it once" 1 "$(grep -c waiting "$tmp/later.err")"
check "waiting client: data" "$(hash "$tmp/small")" "$(hash "$tmp/later.out")"
VCHAN_DOMID=2 timeout 30 "$cat" -q -t 1 1 nobody </dev/null 2>"$tmp/err"
check "waiting client, -q: 4" 4 $?
check "waiting client, -q: silent but for the error" 0 "$(grep -c waiting "$tmp/err")"

# a receiver whose input is a terminal, or quiet, exits 0 once the sender
# is done (as in "vchan-cat -l 1 files | tar x" typed in a shell)
VCHAN_DOMID=2 timeout 30 "$cat" -q -t 10 1 tty <"$tmp/small" &
c=$!
pids+=($c)
VCHAN_DOMID=1 VCHAN_CAT=$cat OUT=$tmp/tty.out timeout 60 python3 -c '
import os, pty, sys
def child():
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.execv(os.environ["VCHAN_CAT"], ["vchan-cat", "-q", "-l", "-t", "10", "2", "tty"])
pid, fd = pty.fork()
if pid == 0:
    child()
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
'
check "terminal input: receiver 0" 0 $?
wait $c
check "terminal input: sender 0" 0 $?
check "terminal input: data" "$(hash "$tmp/small")" "$(hash "$tmp/tty.out")"
VCHAN_DOMID=2 timeout 30 "$cat" -q -t 10 1 quiet <"$tmp/small" &
c=$!
pids+=($c)
# input from a writer that never writes (and is ended here afterwards)
exec 4< <(sleep 60)
w=$!
pids+=($w)
VCHAN_DOMID=1 timeout 30 "$cat" -q -l -t 10 2 quiet <&4 >"$tmp/quiet.out"
check "quiet input: receiver 0" 0 $?
exec 4<&-
kill $w 2>/dev/null
wait $c
check "quiet input: data" "$(hash "$tmp/small")" "$(hash "$tmp/quiet.out")"

scenarios_done
