#!/bin/sh
# OUR vchan-cat against Debian's vchan-socket-proxy (real libxenvchan) on
# one simulated host, meeting in the real xenstored, both ways round:
#   A. vchan-cat -l (domain 1) serves; vchan-socket-proxy -m client
#      (domain 2) connects, on its stdin/stdout;
#   B. vchan-socket-proxy -m server (domain 1) serves, handing the channel
#      to a Unix socket; vchan-cat (domain 2) connects.
# 64 MiB each way at once (16 MiB under VCHAN_TEST_QUICK), SHA-256 equal on
# arrival, vchan-cat exits 0.
#
# vchan-socket-proxy drops what is still in the ring once it sees the
# channel close, and closes as soon as its own input ends: so vchan-cat
# runs with -k (it closes only after the proxy has), and the proxy's side
# (tests/interop/endpoint.py) keeps its input open until vchan-cat has
# written out all it should receive.
. "${top_srcdir:-.}/tests/interop/ours_lib.sh"

proxy=/usr/lib/xen-4.17/bin/vchan-socket-proxy
[ -x $proxy ] || fail "$proxy not found (install xen-utils-4.17)"
command -v python3 >/dev/null || fail "python3 not found"
endpoint=$top_srcdir/tests/interop/endpoint.py
size=$((64 * 1024 * 1024))
quick && size=$((16 * 1024 * 1024))
limit=$(scaled_ms 60000)
limit=$((limit / 1000))

start_xenstored
head -c $size /dev/urandom >"$WORK/s2c" || fail "no test data"
head -c $size /dev/urandom >"$WORK/c2s" || fail "no test data"
want_c2s=$(sha256sum <"$WORK/c2s" | cut -d' ' -f1)
want_s2c=$(sha256sum <"$WORK/s2c" | cut -d' ' -f1)

# Check one received stream: name, file written by vchan-cat or the line
# "SHA256 BYTES" that endpoint.py printed, expected hash.
check_file() {
	n=$(stat -c %s "$2")
	h=$(sha256sum <"$2" | cut -d' ' -f1)
	echo "$1: $n bytes $h"
	[ "$n" = $size ] && [ "$h" = "$3" ] || fail "$1: the stream differs"
}
check_line() {
	read -r h n <"$2" || fail "$1: endpoint.py printed nothing"
	echo "$1: $n bytes $h"
	[ "$n" = $size ] && [ "$h" = "$3" ] || fail "$1: the stream differs"
}

# A. our server, their client. vchan-cat -k closes only once the proxy
# has closed, which it does when endpoint.py ends its input, after it has
# received everything: the proxy loses nothing. Our side reads what is left
# in the ring after the proxy's close, so endpoint.py need not wait for it
# (its PEER_FLAG is there from the start).
path=/local/domain/1/data/vchan/2/ours_a
: >"$WORK/a.peer"
ours_t $limit 1 "$VCHAN_CAT" -q -k -l -t 30 2 "$path" \
	<"$WORK/s2c" >"$WORK/a.srv.out" 2>"$WORK/a.srv.err" &
srv=$!
track $srv
timeout $limit python3 "$endpoint" spawn "$WORK/c2s" $size "$WORK/a.done" \
	"$WORK/a.peer" -- "$VS" run --domid 2 -- $proxy -m client 1 "$path" - \
	>"$WORK/a.cli.out" 2>"$WORK/a.cli.err" ||
	fail "A: proxy client side failed: $(cat "$WORK/a.cli.err")"
wait $srv
rc=$?
[ $rc -eq 0 ] || fail "A: vchan-cat -l exited $rc: $(cat "$WORK/a.srv.err")"
check_file "A (ours serves) client -> server" "$WORK/a.srv.out" "$want_c2s"
check_line "A (ours serves) server -> client" "$WORK/a.cli.out" "$want_s2c"
if xenstore-exists "$path" 2>/dev/null; then
	fail "A: vchan-cat -l left $path behind"
fi

# B. their server, our client. endpoint.py (the proxy's application)
# keeps its socket open until vchan-cat has written out all 64 MiB, then
# closes it; the proxy then closes the channel and vchan-cat -k ends.
path=/local/domain/1/data/vchan/2/ours_b
sock=$WORK/b.sock
timeout $limit python3 "$endpoint" listen "$sock" "$WORK/s2c" $size \
	"$WORK/b.done" "$WORK/b.peer" >"$WORK/b.srv.out" 2>"$WORK/b.app.err" &
app=$!
track $app
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "B: endpoint.py did not listen on $sock"
	sleep 0.1
done
timeout $limit "$VS" run --domid 1 -- $proxy -m server 2 "$path" "$sock" \
	2>"$WORK/b.proxy.err" &
track $!
ours_t $limit 2 "$VCHAN_CAT" -q -k -t 30 1 "$path" \
	<"$WORK/c2s" >"$WORK/b.cli.out" 2>"$WORK/b.cli.err" &
cli=$!
track $cli
wait_size "$WORK/b.cli.out" $size $((limit * 10)) ||
	fail "B: vchan-cat received $(stat -c %s "$WORK/b.cli.out") of $size bytes: $(cat "$WORK/b.cli.err" "$WORK/b.proxy.err")"
: >"$WORK/b.peer"
wait $app || fail "B: the proxy's application failed: $(cat "$WORK/b.app.err" "$WORK/b.proxy.err")"
wait $cli
rc=$?
[ $rc -eq 0 ] || fail "B: vchan-cat exited $rc: $(cat "$WORK/b.cli.err")"
check_line "B (theirs serves) client -> server" "$WORK/b.srv.out" "$want_c2s"
check_file "B (theirs serves) server -> client" "$WORK/b.cli.out" "$want_s2c"
echo PASS
