#!/bin/sh
# tests/rpc/storage_demo.sh - the storage demo runs and prints what the
# store holds, before and after the server's SIGKILL.
set -eu
out=$("$top_srcdir/examples/storage/demo.sh" "$top_builddir" 2>&1) || {
	echo "$out"
	exit 1
}
echo "$out"
expect() {
	printf '%s\n' "$out" | grep -qx "$1" || { echo "missing line: $1"; exit 1; }
}
expect red
expect fruit/banana
expect veg/leek
expect green
# After the delete, apple is listed no more.
[ "$(printf '%s\n' "$out" | grep -cx fruit/apple)" -eq 1 ]
