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
# The server names the address its clients use (its own domain's), not
# the listener's (the client's domain).
printf '%s\n' "$out" | grep -q "serving at vchan:1/storage for domain 2" || {
	echo "the server does not say where its clients find it"
	exit 1
}
# Each command is printed so that a shell reads back the words run.
cmds=$(printf '%s\n' "$out" | sed -n 's/^\$ //p')
[ "$(printf '%s\n' "$cmds" | grep -c "storage-client vchan:1/storage")" -eq 9 ] || {
	echo "the client's commands are not printed"
	exit 1
}
printf '%s\n' "$cmds" | while IFS= read -r cmd; do
	case $cmd in *storage-client*) ;; *) continue ;; esac
	eval "set -- $cmd"
	[ "$1" = VCHAN_DOMID=2 ] && [ -x "$2" ] && [ "$3" = vchan:1/storage ] || {
		echo "not a command to paste: $cmd"
		exit 1
	}
done
