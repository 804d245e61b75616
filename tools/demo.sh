#!/bin/bash
# The main demo: two simulated domains on this machine send a file to each
# other through vchan-cat, and the hashes are checked.
set -euo pipefail
build=${1:-build}
cat=$build/tools/vchan-cat/vchan-cat
work=$(mktemp -d /tmp/vchan-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export VCHAN_PLATFORM=sim VCHAN_SIM_DIR=$work/sim
mkdir -m 700 "$VCHAN_SIM_DIR"

say() { printf '\n== %s\n' "$*"; }

say "a 64 MiB file, domain 1 -> domain 2 (domain 2 serves, domain 1 connects)"
head -c $((64 << 20)) /dev/urandom >"$work/original"
VCHAN_DOMID=2 timeout 120 "$cat" -l -k -r 256K 1 demo </dev/null >"$work/copy" &
server=$!
VCHAN_DOMID=1 timeout 120 "$cat" --progress -t 10 2 demo <"$work/original"
wait $server
a=$(sha256sum <"$work/original" | cut -d' ' -f1)
b=$(sha256sum <"$work/copy" | cut -d' ' -f1)
echo "sent     sha256 $a"
echo "received sha256 $b"
[ "$a" = "$b" ] || { echo "demo: the copy differs" >&2; exit 1; }

say "request/response: domain 1 asks domain 2's clock service"
mkfifo "$work/answer"
(until grep -q "time" "$work/question" 2>/dev/null; do sleep 0.05; done
date -u '+domain 2 says: it is %F %T UTC') >"$work/answer" &
VCHAN_DOMID=2 timeout 30 "$cat" -q -l 1 clock <"$work/answer" >"$work/question" &
server=$!
echo "what time is it?" | VCHAN_DOMID=1 timeout 30 "$cat" -q -k -t 10 2 clock
wait $server
echo "(domain 2 was asked: $(cat "$work/question"))"
say "done: the simulator directory is empty again: $(ls -A "$VCHAN_SIM_DIR" | grep -v '^xs$' | wc -l) files left"
