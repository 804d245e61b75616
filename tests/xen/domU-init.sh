#!/bin/sh
# tests/xen/domU-init.sh: /init of the PV domU. Runs the shell commands
# dom0 leaves under /local/domain/<domid>/data/cmd/<n>, in order, and
# writes their output and status under data/out/<n> and data/res/<n>.
export PATH=/bin:/usr/bin
. /lib/guest-lib.sh
mount_all
load_modules
make_input /tmp/in
D=$(xenstore-read domid)
base=/local/domain/$D/data
xenstore-write "$base/ready" 1
n=1
while :; do
	if ! c=$(xenstore-read "$base/cmd/$n" 2>/dev/null); then
		await_change "$base/cmd"
		continue
	fi
	out=$(eval "$c" 2>&1)
	rc=$?
	xenstore-write "$base/out/$n" "$out"
	xenstore-write "$base/res/$n" "$rc"
	n=$((n + 1))
done
