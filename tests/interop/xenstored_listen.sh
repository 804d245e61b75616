#!/bin/sh
# A listener on Debian's real xenstored (through vchan-sim): the scenarios
# of tests/vchan/vchan_listen, with xenstored's permissions, transactions
# and quotas. "crowd" is 100 client domains connecting to one listener at
# once: their requests are transactions that conflict with each other on
# the listener's directory, and must all get through.
. "${top_srcdir:-.}/tests/interop/lib.sh"

start_xenstored
# Every scenario in its own process, so that one failing does not hide
# the others; each is bounded (the crowd waits for up to 100 clients).
fails=0
for s in bad_args allow inuse async cancel crowd; do
	if timeout $((300 * TF)) "$top_builddir/tests/vchan/vchan_listen" "$s"; then
		:
	else
		echo "FAIL: scenario $s" >&2
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ] || fail "$fails scenario(s) failed on the real xenstored"
echo "PASS"
