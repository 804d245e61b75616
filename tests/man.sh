#!/bin/sh
# tests/man.sh - every manual page renders without a warning from groff,
# and vchan(3) and vchan_rpc(3) name every function that the installed
# headers declare, beyond the synopsis.
set -u
top_srcdir=${top_srcdir:-.}
command -v groff >/dev/null || { echo "needs groff"; exit 77; }
fail=0

for page in "$top_srcdir"/man/*.[13]; do
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$warn" ]; then
		echo "FAIL $page: $warn"
		fail=1
	fi
done

# The functions a header declares (as tests/exports.sh reads them).
declared() {
	perl -0777 -ne '
		s{/\*.*?\*/}{ }gs;
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;
		s{extern "C" \{}{}g;
		for my $d (split /;/) {
			next if $d =~ /^\s*typedef\b/;
			print "$1\n" if $d =~ /([A-Za-z_]\w*)\s*\(/;
		}' "$@" | sort -u
}

# check PAGE HEADER...: each function is in PAGE's synopsis and text.
check() {
	page=$top_srcdir/man/$1
	shift
	if [ ! -f "$page" ]; then
		echo "FAIL $page: no such page"
		fail=1
		return
	fi
	for f in $(declared "$@"); do
		n=$(grep -c "\\b$f\\b" "$page")
		if [ "${n:-0}" -lt 2 ]; then
			echo "FAIL $page: $f is not documented"
			fail=1
		fi
	done
}
check vchan.3 "$top_srcdir/vchan/vchan.h" "$top_srcdir/grant/grant.h" \
	"$top_srcdir/xenstore/xs.h"
check vchan_rpc.3 "$top_srcdir/rpc/rpc.h"

[ $fail -eq 0 ] && echo PASS
exit $fail
