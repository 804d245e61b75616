#!/bin/sh
# Debian's vchan-socket-proxy (real libxenvchan) on both ends, as two
# simulated domains: 64 MiB each way at once, SHA-256 equal on arrival.
# Domain 1 runs the server, which connects to a Unix socket per channel;
# domain 2 runs the client on its stdin/stdout.
. "${top_srcdir:-.}/tests/interop/lib.sh"

proxy=/usr/lib/xen-4.17/bin/vchan-socket-proxy
[ -x $proxy ] || fail "$proxy not found (install xen-utils-4.17)"
command -v python3 >/dev/null || fail "python3 not found"
endpoint=$top_srcdir/tests/interop/endpoint.py
size=$((64 * 1024 * 1024))

start_xenstored
head -c $size /dev/urandom >"$WORK/s2c" || fail "no test data"
head -c $size /dev/urandom >"$WORK/c2s" || fail "no test data"
sock=$WORK/app.sock
path=/local/domain/1/data/vchan/2/proxy

timeout 60 python3 "$endpoint" listen "$sock" "$WORK/s2c" $size \
	"$WORK/srv.done" "$WORK/cli.done" >"$WORK/srv.out" &
app=$!
track $app
# The server proxy connects to the application's socket when its client
# comes: the socket must be there by then.
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "the application socket $sock did not appear"
	sleep 0.1
done
timeout 60 "$VS" run --domid 1 -- $proxy -m server 2 "$path" "$sock" \
	2>"$WORK/proxy-srv.err" &
track $!
wait_keys "$path"
timeout 60 python3 "$endpoint" spawn "$WORK/c2s" $size "$WORK/cli.done" \
	"$WORK/srv.done" -- "$VS" run --domid 2 -- $proxy -m client 1 "$path" - \
	>"$WORK/cli.out" 2>"$WORK/proxy-cli.err" || fail "client side failed: $(cat "$WORK/proxy-cli.err")"
wait $app || fail "server side failed: $(cat "$WORK/proxy-srv.err")"

want_c2s=$(sha256sum <"$WORK/c2s" | cut -d' ' -f1)
want_s2c=$(sha256sum <"$WORK/s2c" | cut -d' ' -f1)
read -r got_c2s n_c2s <"$WORK/srv.out"
read -r got_s2c n_s2c <"$WORK/cli.out"
echo "client -> server: $n_c2s bytes $got_c2s"
echo "server -> client: $n_s2c bytes $got_s2c"
[ "$n_c2s" = $size ] && [ "$got_c2s" = "$want_c2s" ] || fail "client -> server stream differs"
[ "$n_s2c" = $size ] && [ "$got_s2c" = "$want_s2c" ] || fail "server -> client stream differs"
echo PASS
