# tests/xen/uk-storage.sh - the storage service as a unikernel, its log on
# a virtual disk, run by dom0-init.sh after uk-blk.sh (sourced: it uses
# result, uk_start, uk_log, uk_await, uk_diag, uk_state, now, secs, and
# the loop and blkback modules uk-blk.sh loaded).
#   uk-storage        dom0's storage-client puts 100 keys into storage.xen,
#                     gets them back and lists them
#   uk-storage-crash  xl destroy storage.xen right after a Put was answered,
#                     create it again on the same disk: every answered key
#                     is there
#   uk-storage-baddisk  storage.xen on a disk of random bytes, then on one
#                     too small: each time the console names the problem
#                     (and --format for the first), the domain stops
#                     (crashed, status 1) and the disk is left as it was
# Then a table of the three services' images: size, memory= of their xl
# configs, and xl create to the first answer a client got (XENTEST-TABLE
# lines, which run.sh prints).
# dom0 names the storage domain by its name (vchan:ukst/storage), so that
# it finds it again after it was created anew (with a new id).
ST_DISK="format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/uk-st.img"
ST_EXTRA="--disk xvda vchan:0/storage"

# st_cli ARGS...: storage-client against the unikernel, by name.
st_cli() {
	timeout 60 storage-client vchan:ukst/storage "$@"
}

# st_up: create storage.xen on the disk; 0 once it serves. Sets st_ms
# (xl create to serving, as dom0 saw it) and st_first (xl create to the
# first answer: a Get of a key that is not there, status 1).
st_up() {
	t0=$(now)
	uk_start ukst storage.xen 32 "$ST_EXTRA" "disk = [ '$ST_DISK' ]" ||
		return 1
	uk_await ukst "serving at" 1 120 || return 1
	st_ms=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
	st_cli get no-such-key >/dev/null 2>&1
	[ $? = 1 ] || return 1
	st_first=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
}

st_ok=0
for m in loop xen-blkback; do
	[ -d /sys/module/$(echo $m | tr - _) ] || insmod /lib/xenmod/$m.ko
done
rm -f /tmp/uk-st.img
truncate -s 64M /tmp/uk-st.img
if st_up; then
	st_first0=$st_first
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

# ---- uk-storage-baddisk: a disk that is not a log (random bytes), then
# one too small for a log. storage.xen must say so on its console and
# stop, without writing to it.
bad_detail=
bad_ok=1
for kind in garbage small; do
	rm -f /tmp/uk-bad.img
	if [ $kind = garbage ]; then
		head -c 1048576 /dev/urandom >/tmp/uk-bad.img
		want="holds something else"
	else
		truncate -s 16K /tmp/uk-bad.img
		want="the disk has 16384 bytes; the log needs at least 73728"
	fi
	sum=$(md5sum </tmp/uk-bad.img)
	if uk_start ukbadst storage.xen 32 "$ST_EXTRA" "disk = [ 'format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/uk-bad.img' ]" &&
		uk_await ukbadst "cannot use the disk" 1 120; then
		uk_await_crash ukbadst 30
		state=$(uk_state ukbadst)
		line=$(uk_log ukbadst | grep -m1 "cannot use the disk")
		why=
		echo "$line" | grep -q "$want" || why="console: $line"
		[ $kind = small ] || uk_log ukbadst | grep -q "storage-server --format xvda" ||
			why="$why; no word of --format"
		uk_log ukbadst | grep -q "serving at" && why="$why; it served"
		echo "$state" | grep -q c || why="$why; state '$state'"
		xl destroy ukbadst 2>/dev/null
		[ "$(md5sum </tmp/uk-bad.img)" = "$sum" ] || why="$why; the disk was written"
		if [ -z "$why" ]; then
			bad_detail="$bad_detail $kind disk: '${line#storage: }', state $state, disk unchanged;"
		else
			bad_ok=0
			bad_detail="$bad_detail $kind disk: $why;"
		fi
	else
		bad_ok=0
		bad_detail="$bad_detail $kind disk: no message on the console ($(grep -v domainbuilder /tmp/xl-ukbadst.log | tail -2 | tr '\n' ' '));"
		uk_diag ukbadst
		xl destroy ukbadst 2>/dev/null
	fi
done
rm -f /tmp/uk-bad.img
if [ $bad_ok = 1 ]; then
	result uk-storage-baddisk PASS "${bad_detail# }"
else
	result uk-storage-baddisk FAIL "${bad_detail# }"
fi

# ---- The table. uk-rpc.xen is booted once more here, with its check's
# memory=, to time xl create to the first answer (its check makes 1,000
# calls from the start); web.xen's time is its check's first page, as
# uk-services.sh measured it (web_first).
mem_of() { # NAME: memory= of the domain's xl config
	sed -n 's/^[[:space:]]*memory = \([0-9]*\).*/\1/p' /etc/xen/$1.cfg 2>/dev/null
}
rpc_first=
rpc_mem=$(mem_of ukrpcs)
t0=$(now)
if uk_start ukrpct uk-rpc.xen "${rpc_mem:-16}" "serve vchan:0/echo" && [ -n "$U" ]; then
	end=$(($(secs) + 120))
	until timeout 30 uk-rpc call vchan:$U/echo 1 >/dev/null 2>&1; do
		[ "$(secs)" -gt "$end" ] && break
		usleep 100000
	done
	[ "$(secs)" -gt "$end" ] ||
		rpc_first=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
fi
xl destroy ukrpct 2>/dev/null
row() { # IMAGE DOMAIN FIRST
	printf 'XENTEST-TABLE: %-12s %10s %9s %22s\n' "$1" \
		"$(($(stat -c %s /boot/$1) / 1024)) KiB" "$(mem_of $2) MiB" \
		"${3:-?} s"
}
printf 'XENTEST-TABLE: %-12s %10s %9s %22s\n' unikernel image memory= "xl create->1st answer"
row uk-rpc.xen ukrpcs "$rpc_first"
row web.xen ukweb "${web_first:-}"
row storage.xen ukst "${st_first0:-}"
