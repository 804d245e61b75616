#!/bin/sh
# tests/rpc/storage_refuse.sh - the storage service refuses keys it cannot
# take with "invalid argument" and says why; storage-client shows it and
# exits 3; good keys around them still work.
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/refuse.XXXXXX")
fail() {
	echo "FAIL: $*" >&2
	cat "$W/srv.err" >&2
	exit 1
}
"$B/storage-server" "$W/kv.log" "unix:$W/sock" 2>"$W/srv.err" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$W"' EXIT
# storage-client tries a socket once: wait for the server to listen.
i=0
until grep -q "serving at" "$W/srv.err"; do
	i=$((i + 1))
	[ $i -le 200 ] && kill -0 "$srv" 2>/dev/null ||
		fail "the server did not start"
	sleep 0.05
done
cli() { "$B/storage-client" "unix:$W/sock" "$@"; }
. "${top_srcdir:-.}/tests/scenarios.sh"

# One server for all; each scenario uses keys of its own.
good_key() { cli put good v1 || fail "a good put"; }
good_key_kept() {
	[ "$(cli get good)" = v1 ] || fail "reading the good key back"
}

empty_key() {
	cli put "" v 2>"$W/err"
	[ $? -eq 3 ] || fail "empty key: exit status"
	grep -q "Put: invalid argument: empty key" "$W/err" ||
		fail "empty key: said $(cat "$W/err")"
}

long_keys() {
	long=$(head -c 1025 /dev/zero | tr '\0' k)
	cli get "$long" 2>"$W/err"
	[ $? -eq 3 ] || fail "long key: exit status"
	grep -q "Get: invalid argument: key too long" "$W/err" ||
		fail "long key: said $(cat "$W/err")"
	# The longest key the service takes is fine.
	cli put "${long%k}" v2 || fail "a 1024-byte key"
	[ "$(cli get "${long%k}")" = v2 ] ||
		fail "reading the 1024-byte key back"
}

# Commands from standard input over one connection; the first failure
# stops the rest, with its status.
batch() {
	out=$(printf 'put b1 one two\n\nget b1\nget nosuch\nput b2 never\n' |
		cli - 2>"$W/err")
	[ $? -eq 1 ] || fail "batch: status of a missing key"
	[ "$out" = "one two" ] || fail "batch: printed '$out'"
	grep -q "nosuch: not found" "$W/err" || fail "batch: said $(cat "$W/err")"
	cli get b2 2>/dev/null && fail "batch: ran a command after the failure"
	printf 'put only-a-key\n' | cli - 2>"$W/err"
	[ $? -eq 2 ] || fail "batch: a bad line's status"
	grep -q "(line 1)" "$W/err" ||
		fail "batch: bad line not named: $(cat "$W/err")"
}

scenario "good key" good_key
scenario "empty key" empty_key
scenario "long keys" long_keys
scenario "batch" batch
scenario "good key kept" good_key_kept
scenarios_done
