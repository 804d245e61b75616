# tests/xen/uk-demo.sh - `./run demo --xen`: the project's three services
# as unikernels on real Xen, in dom0 of the test rig (sourced by
# dom0-init.sh instead of the checks; uses uk-lib.sh and guest-lib.sh).
# Every step is told on the console as "XENDEMO: ..." (run.sh prints those
# lines as they come); the end is one "XENTEST: uk-demo PASS|FAIL" line.
say() { echo "XENDEMO: $*"; }
# q WORD: WORD as a shell reads it back (quoted when it needs it), so that
# a command told can be pasted.
q() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
		;;
	*) printf '%s' "$1" ;;
	esac
}
# show CMD...: tell the command, run it, tell (the first lines of) its
# output.
show() {
	line='$'
	for w in "$@"; do
		line="$line $(q "$w")"
	done
	say "$line"
	"$@" >/tmp/demo.out 2>&1
	rc=$?
	head -4 /tmp/demo.out | sed 's/^/XENDEMO:   /'
	[ "$(wc -l </tmp/demo.out)" -le 4 ] || say "  (...)"
	return $rc
}

ok=1
for m in loop xen-blkback; do
	[ -d /sys/module/$(echo $m | tr - _) ] || insmod /lib/xenmod/$m.ko
done
rm -f /tmp/demo-st.img
truncate -s 64M /tmp/demo-st.img
say "storage.xen: the storage service, its log on a 64 MiB virtual disk (a file in dom0 on a loop device, served by blkback), listening for clients of any domain"
t0=$(now)
if uk_start storage storage.xen 32 "--disk xvda vchan:*/storage" \
	"disk = [ 'format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/demo-st.img' ]" &&
	uk_await storage "serving at" 1 120; then
	ST=$U
	uk_name storage $ST
	say "  xl create storage.cfg: domain $ST, $(($(stat -c %s /boot/storage.xen) / 1024)) KiB image, memory=32; serving $(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}') s later. Its console:"
	uk_log storage | grep -v '^$' | sed 's/^/XENDEMO:   | /'
else
	ok=0
	say "storage.xen did not start:"
	uk_log storage | tail -5 | sed 's/^/XENDEMO:   | /'
fi
if [ $ok = 1 ]; then
	say "web.xen: the web service, calling storage.xen over vchan RPC (-s vchan:storage/storage: by its name, from the name map dom0 publishes at /local/domain/0/data/vchan-names), offering its HTTP channel to dom0 (0)"
	rm -rf /tmp/demo-tls
	tls-terminator -t 60 -l 127.0.0.1:8443 -d /tmp/demo-tls web 2>/tmp/demo-tt.log &
	TT=$!
	say "tls-terminator (a Linux program in dom0): HTTPS on 127.0.0.1:8443, to the web domain by its name"
	t0=$(now)
	uk_start web web.xen 16 "-s vchan:storage/storage 0"
	end=$(($(secs) + 90))
	until grep -q "connected to" /tmp/demo-tt.log; do
		[ "$(secs)" -gt "$end" ] && break
		usleep 100000
	done
	if grep -q "connected to" /tmp/demo-tt.log; then
		say "  xl create web.cfg: domain $U, $(($(stat -c %s /boot/web.xen) / 1024)) KiB image, memory=16; the terminator reached it $(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}') s later. Their messages:"
		uk_log web | grep -v '^$' | sed 's/^/XENDEMO:   | /'
		sed 's/^/XENDEMO:   | /' /tmp/demo-tt.log
	else
		ok=0
		say "the terminator never reached web.xen:"
		uk_log web | tail -5 | sed 's/^/XENDEMO:   | /'
		sed 's/^/XENDEMO:   | /' /tmp/demo-tt.log | tail -5
	fi
fi
if [ $ok = 1 ]; then
	say "curl in dom0 -> tls-terminator (dom0) -> web.xen -> storage.xen -> disk:"
	show curl -sS -k -m 60 https://127.0.0.1:8443/ || ok=0
	show curl -sS -k -m 60 -X PUT --data-binary "hello from dom0" \
		https://127.0.0.1:8443/api/kv/greeting || ok=0
	show curl -sS -k -m 60 https://127.0.0.1:8443/api/kv/greeting || ok=0
	grep -q "hello from dom0" /tmp/demo.out || ok=0
	show curl -sS -k -m 60 'https://127.0.0.1:8443/api/kv?prefix=gr' || ok=0
fi
if [ $ok = 1 ]; then
	say "xl destroy storage (no shutdown: the domain is gone at once), then xl create it again on the same disk:"
	xl destroy storage
	t0=$(now)
	if uk_start storage storage.xen 32 "--disk xvda vchan:*/storage" \
		"disk = [ 'format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/demo-st.img' ]" &&
		uk_await storage "serving at" 1 120; then
		uk_name storage $U
		say "  domain $U serving $(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}') s later (its new id in the name map); the key, read from dom0 with storage-client:"
		show timeout 60 storage-client "vchan:$U/storage" get greeting || ok=0
		grep -q "hello from dom0" /tmp/demo.out || ok=0
		say "web.xen finds the new storage.xen by itself (a call to the old one ends by its deadline, then it looks the name up again):"
		end=$(($(secs) + 120))
		until show curl -sS -k -m 30 https://127.0.0.1:8443/api/kv/greeting &&
			grep -q "hello from dom0" /tmp/demo.out; do
			[ "$(secs)" -gt "$end" ] && { ok=0; break; }
			usleep 500000
		done
	else
		ok=0
		say "storage.xen did not start again"
	fi
fi
xl destroy web 2>/dev/null
xl destroy storage 2>/dev/null
kill $TT 2>/dev/null
if [ $ok = 1 ]; then
	result uk-demo PASS "the three services as unikernels answered, the data survived a destroy of storage.xen, and web.xen found the new one by itself"
else
	result uk-demo FAIL "see the lines above"
fi
