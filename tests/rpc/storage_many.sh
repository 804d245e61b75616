#!/bin/sh
# tests/rpc/storage_many.sh - one storage-server at "vchan:*/kv" (a
# listener) serves clients of several domains at once, several from one
# domain too; an allow-list address ("vchan:5,6/kv") serves the domains
# listed and keeps another out; a client address may not be "*".
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/many.XXXXXX")
pids=
fail() {
	echo "FAIL: $*" >&2
	for f in "$W"/*.err; do
		[ -e "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT

# start NAME ADDRESS: a server in domain 1, waited for.
start() {
	VCHAN_DOMID=1 "$B/storage-server" "$W/$1.log" "$2" 2>"$W/$1.err" &
	last=$!
	pids="$pids $last"
	i=0
	until grep -q "serving at" "$W/$1.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 $last 2>/dev/null ||
			fail "$1 did not start"
		sleep 0.05
	done
}

start any 'vchan:*/kv'
# 12 clients at once: domains 5..10, two in each.
cpids=
for d in 5 6 7 8 9 10; do
	for n in a b; do
		VCHAN_DOMID=$d timeout 60 "$B/storage-client" vchan:1/kv put "k$d$n" "v$d$n" \
			>"$W/put$d$n.out" 2>"$W/put$d$n.err" &
		cpids="$cpids $!"
	done
done
for p in $cpids; do
	wait "$p" || fail "a client's put failed"
done
for d in 5 6 7 8 9 10; do
	for n in a b; do
		got=$(VCHAN_DOMID=$d timeout 20 "$B/storage-client" vchan:1/kv get "k$d$n" 2>"$W/get.err") ||
			fail "get k$d$n failed"
		[ "$got" = "v$d$n" ] || fail "k$d$n is '$got', not v$d$n"
	done
done
n=$(VCHAN_DOMID=11 timeout 20 "$B/storage-client" vchan:1/kv list k | wc -l)
[ "$n" -eq 12 ] || fail "list shows $n keys, not 12"
kill "$last"
wait "$last" 2>/dev/null

start allow 'vchan:5,6/kv'
VCHAN_DOMID=5 timeout 20 "$B/storage-client" vchan:1/kv put a 1 2>"$W/a.err" ||
	fail "domain 5 refused by vchan:5,6/kv"
VCHAN_DOMID=6 timeout 20 "$B/storage-client" vchan:1/kv get a >/dev/null 2>"$W/b.err" ||
	fail "domain 6 refused by vchan:5,6/kv"
if VCHAN_DOMID=7 timeout 20 "$B/storage-client" vchan:1/kv get a >/dev/null 2>"$W/c.err"; then
	fail "domain 7 let in by vchan:5,6/kv"
fi
# A client names one server.
if VCHAN_DOMID=5 timeout 20 "$B/storage-client" 'vchan:*/kv' get a >/dev/null 2>"$W/d.err"; then
	fail "a client at vchan:*/kv did not fail"
fi
echo PASS
