# tests/xen/uk-three.sh - the project's demo on real Xen with unikernels,
# run by dom0-init.sh after uk-storage.sh (sourced: it uses result,
# uk_start, uk_log, uk_await, uk_diag, now, secs, and uk-services.sh's
# get_ok, clients and URL-style helpers, here on port 8444).
#   uk-three  curl -> tls-terminator (dom0) -> web.xen -> storage.xen ->
#             disk: PUT, GET, prefix list, then 10 clients at once (200
#             requests, every answer checked); storage.xen destroyed and
#             created again on the same disk: the data is there (read by
#             dom0), and web.xen finds the new storage.xen by its name by
#             itself. dom0 is also a client of the first storage.xen's
#             listener while web.xen is one. storage.xen serves "vchan:*/storage", a listener:
#             web.xen, created after it, asks for a channel of its own,
#             and neither needs the other's id at creation.
T3_DISK="format=raw, vdev=xvda, access=rw, script=block-loop, target=/tmp/uk-st3.img"
T3_EXTRA="--disk xvda vchan:*/storage"
URL=https://127.0.0.1:8444

t3_diag() {
	uk_diag ukst3
	uk_diag ukweb3
	sed 's/^/xentest-diag terminator: /' /tmp/ukt3-tt.log | tail -5
}

rm -f /tmp/uk-st3.img /tmp/ukt3-tt.log
rm -rf /tmp/uktls3
truncate -s 64M /tmp/uk-st3.img
why=
t0=$(now)
if uk_start ukst3 storage.xen 32 "$T3_EXTRA" "disk = [ '$T3_DISK' ]" &&
	uk_await ukst3 "serving at" 1 120; then
	st3=$U
	st3_up=$(elapsed $t0)
	uk_name ukst3 $st3
else
	why="storage.xen did not serve: $(grep -v domainbuilder /tmp/xl-ukst3.log | tail -3 | tr '\n' ' ')"
fi
if [ -z "$why" ]; then
	timeout 600 tls-terminator -t 60 -l 127.0.0.1:8444 -d /tmp/uktls3 ukweb3 \
		2>/tmp/ukt3-tt.log &
	t3_tt=$!
	t1=$(now)
	# web.xen names storage by its name, found in dom0's name map.
	if uk_start ukweb3 web.xen 16 "-s vchan:ukst3/storage 0" && [ -n "$U" ]; then
		end=$(($(secs) + 90))
		until grep -q "connected to" /tmp/ukt3-tt.log; do
			[ "$(secs)" -gt "$end" ] && break
			usleep 100000
		done
	fi
	grep -q "connected to" /tmp/ukt3-tt.log ||
		why="the terminator never reached web.xen"
fi
if [ -z "$why" ]; then
	web3_up=$(elapsed $t1)
	if get_ok page "Hello from the web domain" "$URL/" &&
		get_ok put '{"key":"greeting","stored":true}' -X PUT \
			--data-binary "hello from dom0" "$URL/api/kv/greeting" &&
		get_ok get '{"key":"greeting","value":"hello from dom0"}' \
			"$URL/api/kv/greeting" &&
		get_ok list '{"keys":["greeting"]}' "$URL/api/kv?prefix=gr"; then
		t2=$(now)
		clients 10 10 || why="$bad of 200 answers wrong: $why"
		t3_load=$(elapsed $t2)
	fi
fi
# dom0 as a second client of the same listener, beside web.xen.
if [ -z "$why" ]; then
	got=$(timeout 60 storage-client "vchan:$st3/storage" get greeting 2>/tmp/t3.err)
	[ "$got" = "hello from dom0" ] ||
		why="dom0's storage-client beside web.xen: '$got' $(head -c 200 /tmp/t3.err)"
fi
# The data outlives storage.xen: destroyed, created again on the disk.
if [ -z "$why" ]; then
	xl destroy ukst3
	td=$(now)
	if uk_start ukst3 storage.xen 32 "$T3_EXTRA" "disk = [ '$T3_DISK' ]" &&
		uk_await ukst3 "serving at" 1 120; then
		again=$(elapsed $td)
		uk_name ukst3 $U
		got=$(timeout 60 storage-client "vchan:$U/storage" get greeting 2>/tmp/t3.err)
		n=$(timeout 60 storage-client "vchan:$U/storage" list c 2>>/tmp/t3.err | grep -c '^c')
		[ "$got" = "hello from dom0" ] && [ "$n" = 100 ] ||
			why="after the restart: greeting '$got', $n of 100 client keys $(head -c 200 /tmp/t3.err)"
		# web.xen finds the new storage.xen by itself: its calls to
		# the destroyed one end by their deadline, then it looks the
		# name up again and connects.
		if [ -z "$why" ]; then
			: >/tmp/t3.during
			end=$(($(secs) + 120))
			until [ "$(tail -1 /tmp/t3.during)" = 200 ]; do
				[ "$(secs)" -gt "$end" ] && break
				curl -sk -m 30 -o /tmp/t3.body -w '%{http_code}\n' \
					"$URL/api/kv/greeting" >>/tmp/t3.during
				usleep 200000
			done
			back=$(elapsed $td)
			if [ "$(tail -1 /tmp/t3.during)" = 200 ] &&
				[ "$(cat /tmp/t3.body)" = '{"key":"greeting","value":"hello from dom0"}' ]; then
				codes=$(sort /tmp/t3.during | uniq -c | tr '\n' ' ')
			else
				why="web.xen did not reach the new storage.xen: answers $(sort /tmp/t3.during | uniq -c | tr '\n' ' ')"
			fi
		fi
	else
		why="storage.xen did not serve again"
	fi
fi
if [ -z "$why" ]; then
	result uk-three PASS "curl -> tls-terminator -> web.xen -> storage.xen ($(($(stat -c %s /boot/storage.xen) / 1024)) KiB, memory=32, serving vchan:*/storage $st3_up s after xl create) -> 64 MiB disk; web.xen reached $web3_up s after its xl create; page, PUT, GET, prefix list: 200 and the right bodies; 10 clients at once, 100 PUTs + 100 GETs in $t3_load s, every answer checked; dom0's storage-client read the value from the same listener beside web.xen; storage.xen destroyed and created again on the disk (serving $again s after the destroy): the stored value and all 100 client keys read back from dom0, and web.xen (naming it ukst3, found in dom0's name map) answered it again $back s after the destroy (answers meanwhile: $codes)"
else
	result uk-three FAIL "$why"
	t3_diag
fi
xl destroy ukweb3 2>/dev/null
xl destroy ukst3 2>/dev/null
kill $t3_tt 2>/dev/null
wait $t3_tt 2>/dev/null
