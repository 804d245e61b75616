#!/bin/sh
# tests/examples/cli.sh - the example programs' command lines: --help lists
# every option with its default and exits 0; a bad argument exits 2 with a
# message that names it; tls-terminator writes nothing before it rejects
# its address, and says why its TLS setup failed; storage-server names its
# own address; storage-client says "no such socket", "connection refused"
# and "not found" as such.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
. "$top_srcdir/tests/proc.sh"
# Absolute: the programs run in a scratch directory of their own.
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
S=$top_builddir/examples/storage
WEB=$top_builddir/examples/web/web
TERM_=$top_builddir/examples/tls-terminator/tls-terminator
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/cli.XXXXXX") || exit 99
pids=
trap 'proc_kill_tree $pids; rm -rf "$W"' EXIT
export VCHAN_PLATFORM=sim
. "${top_srcdir:-.}/tests/scenarios.sh"

# has NAME FILE TEXT...: FILE contains each TEXT (fixed strings).
has() {
	name=$1 file=$2
	shift 2
	for t in "$@"; do
		grep -qF -- "$t" "$file"
		check "$name: says '$t'" 0 $?
	done
}

# run NAME STATUS CMD...: CMD exits with STATUS; its output is in
# $W/out and $W/err. Bounded: nothing here may wait.
run() {
	name=$1 status=$2
	shift 2
	(cd "$W/cwd" && timeout 30 "$@") </dev/null >"$W/out" 2>"$W/err"
	check "$name: exit status" "$status" $?
}
mkdir "$W/cwd"

# ---- --help: every option and its default ------------------------------
run "web --help" 0 "$WEB" --help
has "web --help" "$W/out" -p -s -t -c -L -r --help "default: http" \
	"default: vchan:1/storage" "default: 5000" "default: 1024" \
	"default: no TCP listener" TERMINATOR
run "web -h" 0 "$WEB" -h
run "tls-terminator --help" 0 "$TERM_" --help
has "tls-terminator --help" "$W/out" -l -d -p -t -c -r --help \
	"default: 127.0.0.1:8443" "default: tls-state" "default: http" \
	"default: 10)" "default: 1000)" "usage: tls-terminator [OPTIONS] WEB"
run "storage-server --help" 0 "$S/storage-server" --help
has "storage-server --help" "$W/out" --repair --help LOGFILE ADDRESS \
	vchan: unix: tcp:
run "storage-client --help" 0 "$S/storage-client" --help
has "storage-client --help" "$W/out" get put delete list --help \
	"default: all" vchan: unix: tcp:

# ---- no arguments: exit 2 and the usage line ---------------------------
for p in "$S/storage-server" "$S/storage-client" "$WEB" "$TERM_"; do
	n=$(basename "$p")
	run "$n without arguments" 2 "$p"
	check "$n without arguments: one usage line" 1 \
		"$(grep -c "^usage: $n" "$W/err")"
done

# ---- bad arguments: exit 2, the argument named -------------------------
# bad NAME TEXT CMD...: exit 2 and stderr says TEXT.
bad() {
	b_name=$1 b_text=$2
	shift 2
	run "$b_name" 2 "$@"
	has "$b_name" "$W/err" "$b_text"
}
bad "web -c -1" "-c: '-1'" "$WEB" -c -1 3
bad "web -c 0" "-c: '0'" "$WEB" -c 0 3
bad "web -t abc" "-t: 'abc'" "$WEB" -t abc 3
bad "web -p a/b" "-p: 'a/b'" "$WEB" -p a/b 3
bad "web -L bad" "-L: 'bad'" "$WEB" -L bad 3
bad "web -s bad" "-s: 'bad'" "$WEB" -s bad 3
bad "web -r without -L" "-r: 'f'" "$WEB" -r f 3
bad "web domid" "'40000'" "$WEB" 40000
bad "web unknown option" "'--bogus'" "$WEB" --bogus 3
bad "web option without value" "'-t'" "$WEB" 3 -t
bad "tls-terminator -c -1" "-c: '-1'" "$TERM_" -c -1 -d "$W/st" 3
bad "tls-terminator -t 0" "-t: '0'" "$TERM_" -t 0 -d "$W/st" 3
bad "tls-terminator -t x" "-t: 'x'" "$TERM_" -t x -d "$W/st" 3
bad "tls-terminator -p" "-p: 'a.b'" "$TERM_" -p a.b -d "$W/st" 3
bad "tls-terminator domain" "'a/b'" "$TERM_" -d "$W/st" a/b
bad "storage-server address" "'bad:addr'" "$S/storage-server" \
	"$W/kv.log" unix:"$W/sock" bad:addr
test -e "$W/kv.log"
check "storage-server: no log made for bad arguments" 1 $?
test -e "$W/sock"
check "storage-server: no socket made for bad arguments" 1 $?
bad "storage-server tcp port 99999" "'tcp:127.0.0.1:99999'" \
	"$S/storage-server" "$W/kv.log" tcp:127.0.0.1:99999
bad "storage-client tcp port 65536" "'tcp:127.0.0.1:65536'" \
	"$S/storage-client" tcp:127.0.0.1:65536 get k
bad "web -L port 99999" "-L: '127.0.0.1:99999'" "$WEB" -L 127.0.0.1:99999 3
bad "web -s tcp port 99999" "-s: 'tcp:127.0.0.1:99999'" "$WEB" \
	-s tcp:127.0.0.1:99999 3
bad "tls-terminator -l port 65536" "-l: '127.0.0.1:65536'" "$TERM_" \
	-l 127.0.0.1:65536 -d "$W/st" 3
bad "storage-server option" "'--bogus'" "$S/storage-server" --bogus x y
bad "storage-server --repair" "--repair" "$S/storage-server" --repair
bad "storage-client address" "'bad'" "$S/storage-client" bad get k
bad "storage-client command" "'fetch'" "$S/storage-client" unix:/x fetch k
bad "storage-client arguments" "put takes KEY VALUE" "$S/storage-client" \
	unix:/x put k

# ---- tls-terminator: nothing written before its address is known --------
# A malformed address, one that is not this machine's (TEST-NET-1), a bad
# option (all in the current directory, where the state goes by default):
# no state directory.
run "tls-terminator -l bad" 2 "$TERM_" -l bad 3
has "tls-terminator -l bad" "$W/err" "-l: 'bad'"
run "tls-terminator -l not ours" 1 "$TERM_" -l 192.0.2.1:8443 3
has "tls-terminator -l not ours" "$W/err" "192.0.2.1:8443"
run "tls-terminator -c -1 (default state dir)" 2 "$TERM_" -c -1 3
check "tls-terminator: no state written before rejecting" "" \
	"$(ls -A "$W/cwd")"
test -e "$W/st"
check "tls-terminator: -d not created before rejecting" 1 $?

# The state directory that cannot be made: say why.
run "tls-terminator -d /nonexistent/x" 1 "$TERM_" -l 127.0.0.1:0 \
	-d /nonexistent/x 3
has "tls-terminator -d /nonexistent/x" "$W/err" "/nonexistent/x" \
	"No such file or directory"
: >"$W/file"
run "tls-terminator -d FILE" 1 "$TERM_" -l 127.0.0.1:0 -d "$W/file" 3
has "tls-terminator -d FILE" "$W/err" "not a directory"

# ---- storage: own address, missing socket, refused, not found -----------
VCHAN_DOMID=1 timeout 120 "$S/storage-server" "$W/kv.log" "unix:$W/sock" \
	vchan:2/storage 2>"$W/srv.err" &
srv=$!
pids="$pids $srv"
i=0
until [ "$(grep -c "serving at" "$W/srv.err")" -eq 2 ]; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 $srv 2>/dev/null; then
		cat "$W/srv.err"
		echo "FAIL the storage server did not start"
		exit 1
	fi
	sleep 0.05
done
# Clients in domain 2 reach it as vchan:1/storage: that is what it says.
has "storage-server" "$W/srv.err" "serving at vchan:1/storage" \
	"serving at unix:$W/sock"

run "storage-client put" 0 "$S/storage-client" "unix:$W/sock" put k v
run "storage-client get" 0 "$S/storage-client" "unix:$W/sock" get k
check "storage-client get: the value" v "$(cat "$W/out")"
run "storage-client get missing" 1 "$S/storage-client" "unix:$W/sock" \
	get missing
has "storage-client get missing" "$W/err" "missing: not found"
run "storage-client delete missing" 1 "$S/storage-client" "unix:$W/sock" \
	delete missing
has "storage-client delete missing" "$W/err" "missing: not found"
run "storage-client over vchan" 0 env VCHAN_DOMID=2 "$S/storage-client" \
	vchan:1/storage get k
check "storage-client over vchan: the value" v "$(cat "$W/out")"

run "storage-client no socket" 3 "$S/storage-client" "unix:$W/nosock" get k
has "storage-client no socket" "$W/err" "no such socket"
grep -qi "timed out" "$W/err"
check "storage-client no socket: not a timeout" 1 $?

# A server killed outright leaves its socket file: connecting is refused.
proc_kill_tree $srv
wait $srv 2>/dev/null
pids=
test -S "$W/sock"
check "a killed server's socket is left" 0 $?
run "storage-client refused" 3 "$S/storage-client" "unix:$W/sock" get k
has "storage-client refused" "$W/err" "connection refused"
grep -qi "timed out" "$W/err"
check "storage-client refused: not a timeout" 1 $?
if command -v python3 >/dev/null; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run "storage-client tcp refused" 3 "$S/storage-client" \
		"tcp:127.0.0.1:$port" get k
	has "storage-client tcp refused" "$W/err" "connection refused"
fi

scenarios_done
