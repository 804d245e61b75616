#!/bin/sh
# tests/xen/dom0-init.sh: /init of dom0. Starts the Xen tool stack, a PV
# domU, runs the checks and prints one line per check on the console:
#   XENTEST: <name> PASS|FAIL <detail>
# then "XENTEST-END" and reboots (QEMU runs with -no-reboot, so it exits).
export PATH=/bin:/usr/bin:/usr/lib/xen-4.17/bin
. /lib/guest-lib.sh
. /lib/uk-lib.sh

result() {
	echo "XENTEST: $*"
}

finish() {
	echo "XENTEST-END"
	sync
	reboot -f
}

mount_all
mkdir -p /proc/xen /var/run/xen /var/run/xenstored /var/lib/xenstored \
	/var/lib/xen /var/log/xen
load_modules
mount -t xenfs xenfs /proc/xen
grep -q control_d /proc/xen/capabilities || {
	result setup FAIL "not dom0: $(cat /proc/xen/capabilities)"
	finish
}
xenstored
end=$(($(secs) + 30))
until xenstore-exists / 2>/dev/null; do
	[ "$(secs)" -gt "$end" ] && { result setup FAIL "xenstored did not start"; finish; }
	usleep 50000
done
xen-init-dom0 >/tmp/init-dom0.log 2>&1 || {
	result setup FAIL "xen-init-dom0: $(cat /tmp/init-dom0.log)"
	finish
}
# The domU's console goes to a file, shown when a check fails.
mkdir -p /var/log/xen/console
xenconsoled --log=guest --log-dir=/var/log/xen/console
echo "xentest: tool stack up at $(now)"

# ./run demo --xen: the three services as unikernels, told as it goes,
# and nothing else.
if [ -f /etc/xentest-demo ]; then
	. /lib/uk-demo.sh
	finish
fi

# The domU boots (slowly, under TCG) while dom0 checks itself.
(
	xl create /etc/xen/domu.cfg >/tmp/xl-create.log 2>&1
	rc=$?
	echo "xentest: xl create ended at $(now) (status $rc)"
	exit $rc
) &
XLPID=$!
make_input /tmp/in
make_input /tmp/in2

# dom0 -> dom0: server and client in one domain, granting to itself.
# dom0_self NAME RSIZE WSIZE BYTES: the server reads through a ring of
# RSIZE and writes through one of WSIZE; BYTES each way.
dom0_self() {
	t0=$(now)
	(
		use_input "$4" /tmp/in
		xfer keep s.$1 vchan-cat -q -p -k -l -r "$2" -w "$3" 0 "$1"
	) >/tmp/srv.res &
	spid=$!
	c=$(
		use_input "$4" /tmp/in2
		xfer hold c.$1 vchan-cat -q -p -t 30 0 "$1"
	)
	wait $spid
	s=$(cat /tmp/srv.res)
	t1=$(now)
	check_pair "$1" "$s" "$c" "$t0" "$t1" "$4"
}

# field NAME RESULT: the value of NAME= in a result line
field() {
	echo "$2" | sed -n "s/.*$1=\([^ ]*\).*/\1/p"
}

# check_pair NAME A B T0 T1: A and B are xfer results of the two sides;
# pass when both exited 0 and each received exactly what the other sent.
check_pair() {
	ra=$(field rc "$2") rb=$(field rc "$3")
	if [ "$ra" = 0 ] && [ "$rb" = 0 ] &&
		[ -n "$(field in "$2")" ] &&
		[ "$(field in "$2")" = "$(field out "$3")" ] &&
		[ "$(field in "$3")" = "$(field out "$2")" ]; then
		result "$1" PASS "$(echo "$6" | awk '{ if ($1 >= 1048576) printf "%d MiB", $1 / 1048576; else printf "%d KiB", $1 / 1024 }') each way, sha256 equal, $(echo "$5 $4" | awk '{printf "%.1f s", $1 - $2}') (sides $(field secs "$2") s, $(field secs "$3") s)"
	else
		result "$1" FAIL "$(echo "$5 $4" | awk '{printf "after %.1f s", $1 - $2}'): side A: $2 / side B: $3"
		return 1
	fi
}

# stream TAG ARGS...: vchan-cat sends zeros endlessly (for the destroy
# checks), its status and end time in /tmp/rc.TAG; moving TAG: it has
# received bytes (its -p reports).
stream() { # TAG ARGS...
	tag=$1
	shift
	timeout 120 vchan-cat -q -p "$@" </dev/zero >/dev/null 2>/tmp/err.$tag
	echo "$? $(now)" >/tmp/rc.$tag
}
moving() { # TAG: its last report shows bytes received
	tr '\r' '\n' </tmp/err.$1 2>/dev/null | grep -q 'received [1-9]'
}

# What the kernel and the domU said lately, after a failed check.
diag() {
	dmesg | tail -15 | sed 's/^/xentest-diag dom0: /'
	tail -25 /var/log/xen/console/guest-domu1.log 2>/dev/null |
		tr -d '\r' | sed 's/^/xentest-diag domU: /'
}

dom0_self self-1m-1m 1M 1M $BIG
dom0_self self-1k-1m 1K 1M $SMALL

# Wait for the domU.
if ! wait $XLPID; then
	result setup FAIL "xl create: $(cat /tmp/xl-create.log)"
	finish
fi
D=$(xl domid domu1)
end=$(($(secs) + 120))
until [ "$(xenstore-read /local/domain/$D/data/ready 2>/dev/null)" = 1 ]; do
	[ "$(secs)" -gt "$end" ] && { diag; result setup FAIL "domU $D never ready"; finish; }
	await_change /local/domain/$D/data
done
echo "xentest: domU $D ready at $(now)"

# Run shell text in the domU (see domU-init.sh) and print its output;
# its status is ours. Gives up after $2 seconds (default 60): the
# commands bound themselves, this only catches a domU that stopped.
# Call it in this shell (redirect its output, never inside $(...)): the
# command counter N must survive the call, or the next command would
# overwrite cmd/N and read the old answer in res/N.
N=0
urun() {
	N=$((N + 1))
	xenstore-write /local/domain/$D/data/cmd/$N "$1"
	end=$(($(secs) + ${2:-60}))
	until rc=$(xenstore-read /local/domain/$D/data/res/$N 2>/dev/null); do
		[ "$(secs)" -gt "$end" ] && { echo "domU did not answer in ${2:-60} s"; return 124; }
		await_change /local/domain/$D/data/res
	done
	xenstore-read /local/domain/$D/data/out/$N
	return "$rc"
}

# published PORT: wait (at most 30 s) until dom0's server for the domU
# on PORT has published its keys. A client in the domU must not look
# before: xenstored answers its read of the missing keys with EACCES (the
# directory above them is dom0's and was left by earlier channels), not
# ENOENT, so it cannot wait for them and fails at once.
published() {
	end=$(($(secs) + 30))
	until xenstore-exists /local/domain/0/data/vchan/$D/$1/event-channel 2>/dev/null; do
		[ "$(secs)" -gt "$end" ] && return 1
		await_change /local/domain/0/data/vchan/$D
	done
}

# cross NAME BYTES DOM0_SIDE DOMU_SIDE [PORT]: run one exchange of BYTES
# each way with the dom0 side in the background and the domU side through
# urun; when dom0's side is the server on PORT, only once it is published.
cross() {
	t0=$(now)
	(
		use_input "$2" /tmp/in
		eval "$3"
	) >/tmp/d0.res &
	dpid=$!
	[ -n "${5:-}" ] && published "$5"
	SIZE=$2
	urun "use_input $2 /tmp/in; $4" $(($(xfer_limit) + 60)) >/tmp/u.res
	wait $dpid
	t1=$(now)
	check_pair "$1" "$(cat /tmp/d0.res)" "$(cat /tmp/u.res)" "$t0" "$t1" "$2" || diag
}

# dom0 <-> domU, our vchan-cat on both sides, each domain in each role,
# with 1 MiB rings (256 granted pages each) and then with a 1 KiB ring
# (in the control page) one way and a 1 MiB ring the other.
cross dom0srv-domUcli-1m $BIG "xfer keep a vchan-cat -q -p -k -l -r 1M -w 1M $D x1" \
	"xfer hold a vchan-cat -q -p -t 30 0 x1" x1
cross domUsrv-dom0cli-1m $BIG "xfer hold b vchan-cat -q -p -t 30 $D x2" \
	"xfer keep b vchan-cat -q -p -k -l -r 1M -w 1M 0 x2"
cross dom0srv-domUcli-1k $SMALL "xfer keep c vchan-cat -q -p -k -l -r 1K -w 1M $D x3" \
	"xfer hold c vchan-cat -q -p -t 30 0 x3" x3
cross domUsrv-dom0cli-1k $SMALL "xfer hold d vchan-cat -q -p -t 30 $D x4" \
	"xfer keep d vchan-cat -q -p -k -l -r 1K -w 1M 0 x4"

# Wire compatibility with Xen's libxenvchan (vchan-socket-proxy, stdin and
# stdout for its socket): our server in dom0 with the proxy as client in
# the domU; the proxy as server in dom0 (libxenvchan's default rings: 1 and
# 2 KiB in the control page) with our client in the domU.
cross proxy-cli-in-domU $BIG "xfer keep p1 vchan-cat -q -p -k -l -r 1M -w 1M $D p1" \
	"xfer hold p1 vchan-socket-proxy 0 /local/domain/0/data/vchan/$D/p1 -" p1
cross proxy-srv-in-dom0 $SMALL \
	"xfer hold p2 vchan-socket-proxy -m server $D /local/domain/0/data/vchan/$D/p2 -" \
	"xfer keep p2 vchan-cat -q -p -k -t 30 0 p2" p2

# RPC from dom0 to a service in the domU: the storage example's server
# runs in the domU for clients of domain 0; dom0's storage-client puts a
# key, gets it back and lists it. The value must then be in the server's
# log in the domU (so the service really lives there).
rpc_check() {
	t0=$(now)
	val=v$(head -c 16 /dev/urandom | sha256sum | head -c 24)
	# Started in the background with every output redirected: urun's
	# command substitution in the domU would wait for it otherwise.
	urun "rm -f /tmp/kv.log; storage-server /tmp/kv.log vchan:0/storage </dev/null >/tmp/storage.err 2>&1 & echo \$! >/tmp/storage.pid" >/tmp/u.res
	# The server starts in the domU in its own time: wait for its keys,
	# then try the first call again until a deadline all the same.
	end=$(($(secs) + 90))
	until xenstore-exists /local/domain/$D/data/vchan/0/storage/event-channel 2>/dev/null; do
		[ "$(secs)" -gt "$end" ] && break
		await_change /local/domain/$D/data/vchan
	done
	while :; do
		put=$(timeout 30 storage-client vchan:$D/storage put xentest-key "$val" 2>&1)
		put_rc=$?
		[ "$put_rc" = 0 ] || [ "$(secs)" -gt "$end" ] && break
		sleep 1
	done
	get=$(timeout 30 storage-client vchan:$D/storage get xentest-key 2>&1)
	get_rc=$?
	list=$(timeout 30 storage-client vchan:$D/storage list xentest 2>&1)
	list_rc=$?
	# Still running (kill finds it) after the calls, and the value in
	# its log.
	urun "grep -q $val /tmp/kv.log && s=stored || s=missing; kill \$(cat /tmp/storage.pid) && k=running || k=gone; echo \"\$s \$k; server said: \$(head -c 200 /tmp/storage.err)\"" >/tmp/u.res
	t1=$(now)
	took=$(echo "$t1 $t0" | awk '{printf "%.1f s", $1 - $2}')
	if [ "$put_rc" = 0 ] && [ "$get_rc" = 0 ] && [ "$get" = "$val" ] &&
		[ "$list_rc" = 0 ] && [ "$list" = xentest-key ] &&
		grep -q '^stored running;' /tmp/u.res; then
		result rpc PASS "put, get (value equal) and list over vchan:$D/storage, value in the domU's log, $took"
	else
		result rpc FAIL "after $took: put $put_rc ($put), get $get_rc ($get, want $val), list $list_rc ($list), domU: $(tr '\n' ' ' </tmp/u.res)"
		diag
	fi
}
rpc_check

# vchan-bench between the domains: the domU serves (--serve 0), dom0
# measures (--peer D) vchan's rows through it and the baselines in
# itself; the table goes to the console (TCG figures: not for claims).
# Small sizes and one timed repeat: a quick run's 32 MiB per row would take
# minutes here, and so would the baselines' small writes (a context switch
# each, dear for a PV kernel under TCG): the Unix socket is the baseline
# the ratios need. Its progress goes to the console (a terminal).
bench_check() {
	t0=$(now)
	urun "(vchan-bench --serve 0 --timeout 200 2>/tmp/bench-serve.err; echo \$? >/tmp/bench-serve.rc) </dev/null >/dev/null 2>&1 &" >/tmp/u.res
	timeout 240 vchan-bench --peer $D --quick --load 0 --transports vchan,vchan-nospin,unix \
		--bytes 1M --max-writes 2048 --ring-sizes 256K --repeats 1 \
		--iterations 50 --timeout 60 >/tmp/bench.out
	rc=$?
	t1=$(now)
	sed 's/^/xentest-bench: /' /tmp/bench.out
	# The serving side exits 0 when dom0's quit arrives.
	urun "for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /tmp/bench-serve.rc ] && break; sleep 1; done; echo \"rc=\$(cat /tmp/bench-serve.rc 2>/dev/null) \$(tail -3 /tmp/bench-serve.err)\"" >/tmp/u.res
	# Four rows each (two throughput, two latency), none failed.
	rows=$(grep -E '^vchan(-nospin)? ' /tmp/bench.out | grep -cvE 'FAILED|unavailable')
	took=$(echo "$t1 $t0" | awk '{printf "%.1f s", $1 - $2}')
	if [ "$rc" = 0 ] && [ "$rows" = 8 ] &&
		! grep -q FAILED /tmp/bench.out &&
		grep -q '^rc=0' /tmp/u.res; then
		result bench PASS "vchan-bench --peer $D: $rows vchan rows across the domains, data verified, $took"
	else
		result bench FAIL "after $took: status $rc, $rows good vchan rows of 8, domU: $(tr '\n' ' ' </tmp/u.res)"
		diag
	fi
}
bench_check

# --- Unikernels: vchan-echo.xen and the test images, PV domains with no
# Linux inside, booted by xl from /boot.

# uk_echo NAME BYTES CMD...: one side of an exchange with an echoing
# unikernel; pass when the command exited 0 and got back what it sent.
uk_echo() {
	name=$1
	use_input "$2" /tmp/in
	shift 2
	t0=$(now)
	r=$(xfer hold $name "$@")
	t1=$(now)
	took=$(echo "$t1 $t0" | awk '{printf "%.1f s", $1 - $2}')
	if [ "$(field rc "$r")" = 0 ] && [ "$(field in "$r")" = "$(field out "$r")" ]; then
		result $name PASS "$(echo "$SIZE" | awk '{ if ($1 >= 1048576) printf "%d MiB", $1 / 1048576; else printf "%d KiB", $1 / 1024 }') echoed by the unikernel, sha256 equal, $took"
	else
		result $name FAIL "after $took: $r"
		return 1
	fi
}

# uk-boot: the echo server comes up in 8 MiB and publishes its channel;
# its guest-side time from the first instruction comes from the image
# itself (CLOCK_BOOTTIME there counts from it, in Xen system time). It
# then serves two clients: our vchan-cat and Xen's vchan-socket-proxy.
size=$(stat -c %s /boot/vchan-echo.xen)
t0=$(now)
if uk_start ukecho vchan-echo.xen 8 "serve 0 ue -r 1M -w 1M -n 2 -t 120" &&
	uk_await ukecho "channel published" 1 30; then
	t1=$(now)
	main=$(uk_log ukecho | sed -n 's/.*started \([0-9]*\) ms after boot.*/\1/p' | head -1)
	ms=$(uk_log ukecho | sed -n 's/.*published at .* after \([0-9]*\) ms.*/\1/p' | head -1)
	result uk-boot PASS "vchan-echo.xen ($((size / 1024)) KiB image, memory=8): main ${main} ms and channel published ${ms} ms after its first instruction (guest time); $(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}') s from xl create to published"
	uk_echo uk-cat-srv-1m $BIG vchan-cat -q -p -t 30 $U ue || uk_diag ukecho
	if uk_await ukecho "channel published" 2 30; then
		uk_echo uk-proxy-srv $BIG vchan-socket-proxy $U /local/domain/$U/data/vchan/0/ue - || uk_diag ukecho
	else
		result uk-proxy-srv FAIL "vchan-echo did not serve a second time"
		uk_diag ukecho
	fi
else
	result uk-boot FAIL "no channel published: $(uk_log ukecho | tail -3 | tr '\n' ' ') $(cat /tmp/xl-ukecho.log)"
	uk_diag ukecho
fi
xl destroy ukecho 2>/dev/null

# In-page rings: 1 KiB each way.
if uk_start ukecho1k vchan-echo.xen 8 "serve 0 u1k -r 1K -w 1K -t 120" &&
	uk_await ukecho1k "channel published" 1 30; then
	uk_echo uk-cat-srv-1k $SMALL vchan-cat -q -p -t 30 $U u1k || uk_diag ukecho1k
else
	result uk-cat-srv-1k FAIL "no channel published"
	uk_diag ukecho1k
fi
xl destroy ukecho1k 2>/dev/null

# The unikernel as client: our vchan-cat serves in dom0 (1 MiB rings),
# then Xen's vchan-socket-proxy (libxenvchan's 1 and 2 KiB rings). The
# client waits for the server's keys by itself (-t).
if uk_start ukcli vchan-echo.xen 8 "connect 0 uc -t 120"; then
	uk_echo uk-cat-cli $BIG vchan-cat -q -p -l -r 1M -w 1M $U uc || uk_diag ukcli
else
	result uk-cat-cli FAIL "xl create: $(cat /tmp/xl-ukcli.log)"
fi
xl destroy ukcli 2>/dev/null
if uk_start ukcli2 vchan-echo.xen 8 "connect 0 up -t 120"; then
	uk_echo uk-proxy-cli $SMALL vchan-socket-proxy -m server $U /local/domain/0/data/vchan/$U/up - || uk_diag ukcli2
else
	result uk-proxy-cli FAIL "xl create: $(cat /tmp/xl-ukcli2.log)"
fi
xl destroy ukcli2 2>/dev/null

# xl destroy of an echoing unikernel mid-transfer: dom0's vchan-cat ends
# with status 5 (peer vanished) within 1 s.
rm -f /tmp/rc.kd /tmp/err.kd
if uk_start ukdestroy vchan-echo.xen 8 "serve 0 kd -t 120" &&
	uk_await ukdestroy "channel published" 1 30; then
	stream kd -t 30 $U kd &
	end=$(($(secs) + 60))
	until moving kd; do
		[ "$(secs)" -gt "$end" ] && break
		usleep 100000
	done
	if moving kd; then
		t0=$(now)
		xl destroy ukdestroy
		t1=$(now)
		wait
		set -- $(cat /tmp/rc.kd 2>/dev/null) none 0
		late=$(echo "$2 $t1" | awk '{printf "%.2f", $1 - $2}')
		detail="destroy took $(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}') s; vchan-cat: status $1 at $late s after it ($(err_text /tmp/err.kd 2))"
		if [ "$1" = 5 ] && [ "$(echo "$late" | awk '{print ($1 <= 1.0)}')" = 1 ]; then
			result uk-destroy PASS "$detail"
		else
			result uk-destroy FAIL "$detail"
		fi
	else
		result uk-destroy FAIL "the transfer never moved ($(err_text /tmp/err.kd 2))"
		uk_diag ukdestroy
		xl destroy ukdestroy
		wait
	fi
else
	result uk-destroy FAIL "no channel published"
	uk_diag ukdestroy
fi

# A NULL dereference: the dump on the console, and the domain crashed
# (kept by on_crash = "preserve").
if uk_start ukfault uk-fault.xen 8 "" && uk_await ukfault "backtrace" 1 30; then
	uk_await_crash ukfault 20
	state=$(uk_state ukfault)
	vec=$(uk_log ukfault | grep -m1 'fault: vector')
	addr=$(uk_log ukfault | grep -m1 'faulting address')
	if echo "$vec" | grep -q 'vector 14' && echo "$addr" | grep -q 'address: 0x0 ' &&
		echo "$state" | grep -q c; then
		result uk-fault PASS "state $state; ${vec#unikernel: }; $addr"
	else
		result uk-fault FAIL "state '$state'; '$vec'; '$addr'"
		uk_diag ukfault
	fi
else
	result uk-fault FAIL "no fault dump"
	uk_diag ukfault
fi
xl destroy ukfault 2>/dev/null

# A bad extra= line: the usage names the problem on the console, and the
# domain ends as crashed (status 2), never serving or hanging.
if uk_start ukbad vchan-echo.xen 8 "serve zero echo" && uk_await ukbad "exit status 2" 1 30; then
	why=$(uk_log ukbad | grep -m1 '^vchan-echo: ')
	uk_await_crash ukbad 20
	state=$(uk_state ukbad)
	if echo "$why" | grep -q "bad domain id 'zero'" && echo "$state" | grep -q c; then
		result uk-badarg PASS "state $state; console: $why"
	else
		result uk-badarg FAIL "state '$state'; console: $why"
		uk_diag ukbad
	fi
else
	result uk-badarg FAIL "no exit status on the console"
	uk_diag ukbad
fi
xl destroy ukbad 2>/dev/null

# Allocate until ENOMEM in 16 MiB: at least 85 % of the memory is had.
if uk_start ukmem uk-memory.xen 16 "" && uk_await ukmem "uk-memory:" 1 60; then
	line=$(uk_log ukmem | grep -m1 'uk-memory:')
	pct=$(echo "$line" | sed -n 's/.*(\([0-9]*\)%).*/\1/p')
	if echo "$line" | grep -q 'then ENOMEM' && [ "${pct:-0}" -ge 85 ]; then
		result uk-memory PASS "${line#uk-memory: }"
	else
		result uk-memory FAIL "$line"
		uk_diag ukmem
	fi
else
	result uk-memory FAIL "no report"
	uk_diag ukmem
fi
xl destroy ukmem 2>/dev/null

# The services as unikernels: uk-rpc, uk-web-https, uk-web-restart.
. /lib/uk-services.sh

# A disk: the block front end against dom0's blkback.
. /lib/uk-blk.sh
# The storage service as a unikernel on a disk: uk-storage, uk-storage-crash.
. /lib/uk-storage.sh
# The three services as unikernels end to end: uk-three.
. /lib/uk-three.sh

# xl destroy of the domU in the middle of two endless transfers, one with
# dom0 as server and one with dom0 as client: both of dom0's vchan-cats
# must exit with status 5 (peer vanished) within 1 s of the destroy.
# Both must be seen moving data first (their -p reports), or the check
# would prove nothing about a channel that was never open.
rm -f /tmp/rc.k1 /tmp/rc.k2 /tmp/err.k1 /tmp/err.k2
stream k1 -l $D k1 &
stream k2 -t 60 $D k2 &
published k1
# One line: xenstore-read hands the domU a newline as the two characters
# "\n". The domU's sides report what they said in their first seconds (an
# early failure would otherwise go unseen).
urun "vchan-cat -q -t 60 0 k1 </dev/zero >/dev/null 2>/tmp/err.k1 & vchan-cat -q -l 0 k2 </dev/zero >/dev/null 2>/tmp/err.k2 & sleep 3; echo \"k1: \$(head -c 200 /tmp/err.k1) k2: \$(head -c 200 /tmp/err.k2)\"" >/tmp/u.res
end=$(($(secs) + 60))
until moving k1 && moving k2; do
	[ "$(secs)" -gt "$end" ] && break
	usleep 100000
done
detail=
if moving k1 && moving k2; then
	t0=$(now)
	xl destroy domu1 >/tmp/xl-destroy.log 2>&1
	t1=$(now)
	ok=1
	detail="destroy took $(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}') s;"
else
	ok=0
	detail="the transfers never both moved, not destroying (domU: $(cat /tmp/u.res));"
	xl destroy domu1 >/tmp/xl-destroy.log 2>&1
	t1=$(now)
fi
wait
for k in k1 k2; do
	set -- $(cat /tmp/rc.$k 2>/dev/null) none 0
	late=$(echo "$2 $t1" | awk '{printf "%.2f", $1 - $2}')
	detail="$detail $k: status $1 at $late s after it ($(err_text /tmp/err.$k 2))"
	[ "$1" = 5 ] || ok=0
	[ "$(echo "$late" | awk '{print ($1 <= 1.0)}')" = 1 ] || ok=0
done
if [ $ok = 1 ]; then
	result destroy PASS "$detail"
else
	result destroy FAIL "$detail"
	diag
fi

finish
