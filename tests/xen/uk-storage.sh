# tests/xen/uk-storage.sh - the storage service as a unikernel, its log on
# a virtual disk, run by dom0-init.sh after uk-blk.sh (sourced: it uses
# result, uk_start, uk_log, uk_await, uk_diag, uk_state, now, secs, and
# the loop and blkback modules uk-blk.sh loaded).
#   uk-storage        dom0's storage-client puts 100 keys into storage.xen,
#                     gets them back and lists them
#   uk-storage-crash  xl destroy storage.xen right after a Put was answered,
#                     create it again on the same disk: every answered key
#                     is there
# dom0 names the storage domain by its name (vchan:ukst/storage), so that
# it finds it again after it was created anew (with a new id).
ST_DISK="format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/uk-st.img"
ST_EXTRA="--disk xvda vchan:0/storage"

# st_up: create storage.xen on the disk; 0 once it serves. Sets st_ms
# (xl create to serving, as dom0 saw it) and st_boot (the console's line).
st_up() {
	t0=$(now)
	uk_start ukst storage.xen 32 "$ST_EXTRA" "disk = [ '$ST_DISK' ]" ||
		return 1
	uk_await ukst "serving at" 1 120 || return 1
	st_ms=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
}

# st_cli ARGS...: storage-client against the unikernel, by name.
st_cli() {
	timeout 60 storage-client vchan:ukst/storage "$@"
}

st_ok=0
for m in loop xen-blkback; do
	[ -d /sys/module/$(echo $m | tr - _) ] || insmod /lib/xenmod/$m.ko
done
rm -f /tmp/uk-st.img
truncate -s 64M /tmp/uk-st.img
if st_up; then
	why=
	fmt=$(uk_log ukst | grep -m1 "formatted")
	t1=$(now)
	# storage-client reads the commands from its input, all over one
	# connection: 100 Puts, then 100 Gets whose answers must be the
	# values, in order.
	i=1
	: >/tmp/st.put
	: >/tmp/st.get
	: >/tmp/st.want
	while [ $i -le 100 ]; do
		echo "put key$i value number $i" >>/tmp/st.put
		echo "get key$i" >>/tmp/st.get
		echo "value number $i" >>/tmp/st.want
		i=$((i + 1))
	done
	st_cli - </tmp/st.put 2>/tmp/st.err ||
		why="the 100 puts: $(cat /tmp/st.err)"
	if [ -z "$why" ]; then
		st_cli - </tmp/st.get >/tmp/st.got 2>/tmp/st.err ||
			why="the 100 gets: $(cat /tmp/st.err)"
		[ -n "$why" ] || cmp -s /tmp/st.got /tmp/st.want ||
			why="the 100 gets answered $(head -c 200 /tmp/st.got)"
	fi
	if [ -z "$why" ]; then
		n=$(st_cli list key 2>/tmp/st.err | grep -c '^key')
		[ "$n" = 100 ] || why="list key: $n keys $(cat /tmp/st.err)"
	fi
	if [ -z "$why" ]; then
		st_ok=1
		result uk-storage PASS "storage.xen ($(($(stat -c %s /boot/storage.xen) / 1024)) KiB image, memory=32, a 64 MiB disk on dom0's blkback): serving $st_ms s after xl create ($fmt); 100 puts, 100 gets and a list of 100 from dom0's storage-client (one connection each) in $(echo "$(now) $t1" | awk '{printf "%.1f", $1 - $2}') s"
	else
		result uk-storage FAIL "$why"
		uk_diag ukst
	fi
else
	result uk-storage FAIL "storage.xen did not serve: $(grep -v domainbuilder /tmp/xl-ukst.log | tail -3 | tr '\n' ' ')"
	uk_diag ukst
fi

# uk-storage-crash: the domain destroyed (no shutdown, no flush of its
# own) as soon as the client has the answer to a Put.
if [ $st_ok = 1 ] && st_cli put crash "answered before the destroy" &&
	xl destroy ukst; then
	td=$(now)
	if st_up; then
		why=
		got=$(st_cli get crash 2>/tmp/st.err)
		[ "$got" = "answered before the destroy" ] ||
			why="the last answered key: '$got' $(cat /tmp/st.err)"
		n=$(st_cli list key 2>/tmp/st.err | grep -c '^key')
		[ -n "$why" ] || [ "$n" = 100 ] || why="list after: $n keys"
		if [ -z "$why" ]; then
			result uk-storage-crash PASS "xl destroy right after an answered Put; created again on the same disk, serving $st_ms s after xl create ($(echo "$(now) $td" | awk '{printf "%.1f", $1 - $2}') s after the destroy): the answered key and all 100 earlier ones are there"
		else
			result uk-storage-crash FAIL "$why"
			uk_diag ukst
		fi
	else
		result uk-storage-crash FAIL "storage.xen did not serve again"
		uk_diag ukst
	fi
else
	result uk-storage-crash FAIL "no answered Put to destroy after (see uk-storage)"
fi
xl destroy ukst 2>/dev/null
