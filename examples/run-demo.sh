#!/bin/sh
# examples/run-demo.sh [BUILDDIR] - HTTPS through three simulated domains:
# storage (1), web (2), TLS terminator (3). Fetches a page, writes and
# reads a key through the JSON API with curl, then stops them (SIGTERM).
set -eu
B=${1:-build}
W=$(mktemp -d "${TMPDIR:-/tmp}/web-demo.XXXXXX")
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
for p in examples/storage/storage-server examples/web/web \
	examples/tls-terminator/tls-terminator; do
	[ -x "$B/$p" ] || { echo "run-demo: $B/$p not built" >&2; exit 1; }
done
VCHAN_SIM_DIR=$W/sim # private, whatever the environment says
mkdir -m 700 "$VCHAN_SIM_DIR"
export VCHAN_SIM_DIR
PY=: # lib.sh's client helper is not used here
. "$top_srcdir/tests/examples/lib.sh"
trap 'kill_all; rm -rf "$W"' EXIT

# Listeners: storage serves any client domain, web any terminator; only
# the clients name their servers.
STORAGE_ADDR='vchan:*/storage'
WEB_PEER='*'
start_storage
start_web
start_term
echo "storage (domain 1, at vchan:*/storage), web (domain 2, for a terminator of any domain), tls-terminator (domain 3) on https://127.0.0.1:$PORT"
# The word $1 as a shell reads it back: as it is when it holds nothing
# special, else in single quotes.
q() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
		;;
	*) printf '%s' "$1" ;;
	esac
}
# show ARG...: print "$ curl -k ARG..." quoted (it can be pasted while the
# demo runs), then run it.
show() {
	echo
	printf '$ curl -k'
	for w in "$@"; do
		printf ' %s' "$(q "$w")"
	done
	printf '\n'
	curl -sS -k --max-time 10 -w '[HTTP %{http_code}]\n' "$@"
}
show "https://127.0.0.1:$PORT/"
show -X PUT --data-binary 'hello from the demo' "https://127.0.0.1:$PORT/api/kv/greeting"
show "https://127.0.0.1:$PORT/api/kv/greeting"
show "https://127.0.0.1:$PORT/api/kv?prefix=gr"
echo
echo "stopping (SIGTERM)"
rc=0
stop "$term_pid" tls-terminator || rc=1
stop "$web_pid" web || rc=1
stop "$storage_pid" storage || rc=1
term_pid= web_pid= storage_pid=
[ $rc -eq 0 ] && echo "all three stopped cleanly"
exit $rc
