#!/bin/sh
# tests/rpc/storage_tls.sh - storage-server and storage-client over tls:
# with certificates made by tls_certs.sh: a client on the allow-list puts
# and gets; one that is not, one whose certificate has expired or is of
# another CA is refused, each saying why, and so is one that shows no
# certificate (openssl s_client); missing files are named; plain
# tcp: on the wildcard address is refused with how to opt in, and served
# with --insecure-tcp.
set -u
B=${top_builddir:-.}/examples/storage
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/stls.XXXXXX")
C=$W/certs
pids=
fail() {
	echo "FAIL: $*" >&2
	for f in "$W"/*.err; do
		[ -e "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
sh "${top_srcdir:-.}/tests/rpc/tls_certs.sh" "$C" || fail "making the certificates"
port=$((20000 + $$ % 20000))

# start NAME ARGS...: a server in the background, waited for.
start() {
	name=$1
	shift
	# No timeout(1) here: the trap must reach the server itself. The
	# harness bounds the whole test.
	"$B/storage-server" "$@" 2>"$W/$name.err" &
	last=$!
	pids="$pids $last"
	i=0
	until grep -q "serving at" "$W/$name.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 400 ] && kill -0 $last 2>/dev/null ||
			fail "$name did not start"
		sleep 0.05
	done
}
# cli CERT ARGS...: storage-client as CERT, trusting ca.
cli() {
	cert=$1
	shift
	timeout 20 "$B/storage-client" --tls-ca "$C/ca.pem" \
		--tls-cert "$C/$cert.pem" --tls-key "$C/$cert.key" "$@"
}
# refused CERT TEXT: that client fails (exit 3), saying TEXT.
refused() {
	cli "$1" "tls:127.0.0.1:$port" get k 2>"$W/$1.err" &&
		fail "$1 was let in"
	[ $? -eq 3 ] || fail "$1: exit status not 3"
	grep -q "$2" "$W/$1.err" || fail "$1 does not say \"$2\""
}

start tls --tls-ca "$C/ca.pem" --tls-cert "$C/server.pem" \
	--tls-key "$C/server.key" --tls-allow other,client-a \
	"$W/kv.log" "tls:127.0.0.1:$port"
srv=$last
cli client "tls:127.0.0.1:$port" put k v || fail "put over tls"
[ "$(cli client "tls:localhost:$port" get k)" = v ] || fail "get over tls"
echo "ok   a client on the allow-list puts and gets"
refused client-b "not on its allow-list"
refused client-expired "our certificate has expired"
refused client-other "not signed by its CA"
timeout 20 "$B/storage-client" --tls-ca "$C/nothere.pem" \
	--tls-cert "$C/client.pem" --tls-key "$C/client.key" \
	"tls:127.0.0.1:$port" get k 2>"$W/missing.err" && fail "a missing CA file"
grep -q "No such file.*--tls-ca" "$W/missing.err" || fail "a missing CA file is not named"
timeout 20 "$B/storage-client" "tls:127.0.0.1:$port" get k 2>"$W/none.err" &&
	fail "no TLS options"
grep -q "needs --tls-ca" "$W/none.err" || fail "no TLS options: not said"
# A TLS client that shows no certificate at all (ours always shows one).
(printf x; sleep 1) | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
	-CAfile "$C/ca.pem" >"$W/nocert.err" 2>&1 && fail "a client with no certificate"
grep -q "alert certificate required" "$W/nocert.err" ||
	fail "a client with no certificate: not refused with \"certificate required\""
echo "ok   bad clients are refused, each saying why"
kill $srv
wait $srv 2>/dev/null

timeout 20 "$B/storage-server" "$W/kv.log" "tcp:0.0.0.0:$port" 2>"$W/wild.err"
[ $? -eq 1 ] || fail "tcp:0.0.0.0 without --insecure-tcp: not exit 1"
grep -q "insecure-tcp" "$W/wild.err" || fail "tcp:0.0.0.0: does not say how to opt in"
grep -q "tls:0.0.0.0:$port" "$W/wild.err" || fail "tcp:0.0.0.0: does not point to tls:"
start wild --insecure-tcp "$W/kv.log" "tcp:0.0.0.0:$port"
[ "$(timeout 20 "$B/storage-client" "tcp:127.0.0.1:$port" get k)" = v ] ||
	fail "get from the --insecure-tcp server"
kill $last
wait $last 2>/dev/null
echo "ok   tcp:0.0.0.0 needs --insecure-tcp, and is served with it"
