# tests/xen/uk-blk.sh - the unikernel's block front end against dom0's
# blkback, run by dom0-init.sh (sourced: it uses result, uk_start, uk_log,
# uk_await, uk_diag, secs, now).
#   uk-blk  uk-blk.xen with a 64 MiB file of dom0 as its disk: writes,
#           flushes, reads back, reads past the end, closes and reopens;
#           then dom0 finds the pattern in the file, and the loop device
#           gone once the domain is.
# The disk is a file attached to a loop device by tests/xen/block-loop
# (xl's hotplug script for busybox; Xen's own "block" needs bash and
# flock), served by blkback (xen-blkback.ko, loaded here with loop.ko).

blk_check() {
	for m in loop xen-blkback; do
		[ -d /sys/module/$(echo $m | tr - _) ] && continue
		insmod /lib/xenmod/$m.ko 2>/tmp/insmod.err ||
			{ why="insmod $m: $(cat /tmp/insmod.err)"; return 1; }
	done
	rm -f /tmp/uk-blk.img
	truncate -s 64M /tmp/uk-blk.img || { why="no disk file"; return 1; }
	t0=$(now)
	uk_start ukblk uk-blk.xen 16 "xvda" \
		"disk = [ 'format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/uk-blk.img' ]" ||
		{ why="xl create: $(grep -v domainbuilder /tmp/xl-ukblk.log | tail -3 | tr '\n' ' ')"; return 1; }
	uk_await ukblk "^uk-blk: PASS\|^uk-blk: FAIL" 1 120 ||
		{ why="no summary in 120 s"; return 1; }
	line=$(uk_log ukblk | grep -m1 "^uk-blk: PASS\|^uk-blk: FAIL")
	disk=$(uk_log ukblk | grep -m1 "^uk-blk: disk")
	took=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
	case $line in
	"uk-blk: PASS"*) ;;
	*) why="$disk; $line"; return 1 ;;
	esac
	# The data is in dom0's file: each sector starts with its number.
	for s in 0 4321 8191; do
		want=$(printf 'uk-blk sector %08d' $s)
		got=$(dd if=/tmp/uk-blk.img bs=512 skip=$s count=1 2>/dev/null | head -c 22)
		[ "$got" = "$want" ] || { why="sector $s of the file: '$got'"; return 1; }
	done
	# Powered off, the domain goes; xl runs block-loop remove, which
	# detaches the loop device.
	end=$(($(secs) + 30))
	while losetup -a | grep -q /tmp/uk-blk.img; do
		[ "$(secs)" -gt "$end" ] && { why="loop device still attached 30 s after: $(losetup -a | tr '\n' ' ')"; return 1; }
		usleep 200000
	done
	why="${disk#uk-blk: }; ${line#uk-blk: PASS }; file holds the pattern, loop device detached; $took s from xl create"
}

if blk_check; then
	result uk-blk PASS "$why"
else
	result uk-blk FAIL "$why"
	uk_diag ukblk
	dmesg | grep -i 'blkback\|loop' | tail -5 | sed 's/^/xentest-diag dom0: /'
fi
xl destroy ukblk 2>/dev/null
