#!/bin/sh
# tests/exports.sh - each shared library exports exactly the functions its
# installed headers declare: no internal function leaks out (where it could
# clash with another library's names or be relied upon), and none that is
# declared is missing. Compares `nm -D --defined-only` of the built
# libraries with the function declarations of the headers, both ways.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
work=${VCHAN_TEST_TMP:-${TMPDIR:-/tmp}}/exports.$$
mkdir -p "$work" || exit 99
trap 'rm -rf "$work"' EXIT
fail=0

# Names of the functions the headers declare, one a line: comments and
# preprocessor lines go, then each declaration (up to its ';') that is no
# typedef names the first identifier followed by '('.
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

# check LIBRARY HEADER...: LIBRARY is a libtool library of the build tree.
check() {
	la=$top_builddir/$1
	shift
	so=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la" 2>/dev/null)
	if [ -z "$so" ]; then
		echo "exports: $la: no shared library built"
		fail=1
		return
	fi
	so=$(dirname "$la")/.libs/$so
	declared "$@" >"$work/declared"
	nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$work/exported"
	if [ ! -s "$work/declared" ] || [ ! -s "$work/exported" ]; then
		echo "exports: $so: nothing declared or nothing exported"
		fail=1
		return
	fi
	extra=$(comm -13 "$work/declared" "$work/exported")
	missing=$(comm -23 "$work/declared" "$work/exported")
	if [ -n "$extra" ] || [ -n "$missing" ]; then
		[ -z "$extra" ] ||
			echo "exports: $so exports what no header declares:" $extra
		[ -z "$missing" ] ||
			echo "exports: $so lacks what its headers declare:" $missing
		fail=1
		return
	fi
	echo "$(basename "$so"): $(wc -l <"$work/exported") functions, those of" \
		"$(for h in "$@"; do basename "$h"; done | paste -sd' ')"
}

# The headers each library installs (pkginclude_HEADERS of its modules).
check libvchan.la "$top_srcdir/vchan/vchan.h" "$top_srcdir/grant/grant.h" \
	"$top_srcdir/xenstore/xs.h"
if [ -f "$top_builddir/libvchan-rpc.la" ]; then
	check libvchan-rpc.la "$top_srcdir/rpc/rpc.h"
fi
exit $fail
