# tests/xen/uk-services.sh - the checks of the services as unikernels, run
# by dom0-init.sh (sourced: it uses result, uk_start, uk_log, uk_await,
# uk_diag, now, secs). Every process started here is gone at the end.
#   uk-rpc          RPC both ways between dom0 and a unikernel
#   uk-web-https    curl -> tls-terminator (dom0) -> web.xen -> storage (dom0)
#   uk-web-bench    vchan-bench's https-xen e2e row against that front
#   uk-web-restart  web.xen destroyed and created again under curl
#   uk-web-badarg   web.xen with a bad extra= line

elapsed() { # T0: seconds since T0, one decimal
	echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'
}

# ---- uk-rpc: uk-rpc.xen serves 1,000 checked calls from dom0's uk-rpc,
# then uk-rpc.xen calls dom0's uk-rpc 1,000 times. dom0's server names its
# client domain by name: it offers the channel once that domain exists.
rpc_detail=
rpc_ok=1
if uk_start ukrpcs uk-rpc.xen 16 "serve vchan:0/echo" && [ -n "$U" ]; then
	t0=$(now)
	if timeout 300 uk-rpc call vchan:$U/echo 1000 2>/tmp/ukrpc1.err; then
		rpc_detail="dom0 -> unikernel: $(tail -1 /tmp/ukrpc1.err | sed 's/^uk-rpc: //') ($(elapsed $t0) s with connecting);"
	else
		rpc_ok=0
		rpc_detail="dom0 -> unikernel failed: $(tail -2 /tmp/ukrpc1.err | tr '\n' ' ');"
		uk_diag ukrpcs
	fi
else
	rpc_ok=0
	rpc_detail="uk-rpc.xen (server) did not start: $(cat /tmp/xl-ukrpcs.log);"
fi
xl destroy ukrpcs 2>/dev/null
timeout 330 uk-rpc serve vchan:ukrpcc/echo 2>/tmp/ukrpc2.srv &
rpc_srv=$!
if uk_start ukrpcc uk-rpc.xen 16 "call vchan:0/echo 1000" &&
	uk_await ukrpcc "calls answered and checked" 1 300; then
	line=$(uk_log ukrpcc | grep -m1 'calls answered and checked')
	if echo "$line" | grep -q '^uk-rpc: 1000 of 1000 '; then
		rpc_detail="$rpc_detail unikernel -> dom0: ${line#uk-rpc: }"
	else
		rpc_ok=0
		rpc_detail="$rpc_detail unikernel -> dom0: $line"
		uk_diag ukrpcc
	fi
else
	rpc_ok=0
	rpc_detail="$rpc_detail unikernel -> dom0: no report ($(head -c 200 /tmp/ukrpc2.srv))"
	uk_diag ukrpcc
fi
xl destroy ukrpcc 2>/dev/null
kill $rpc_srv 2>/dev/null
wait $rpc_srv 2>/dev/null
if [ $rpc_ok = 1 ]; then
	result uk-rpc PASS "$rpc_detail"
else
	result uk-rpc FAIL "$rpc_detail"
fi

# ---- uk-web-https: the web example with web.xen in the middle. storage
# and the terminator name the web domain by its name ("ukweb"), so that
# they follow it when it is created again (uk-web-restart).
URL=https://127.0.0.1:8443
web_diag() {
	uk_diag ukweb
	sed 's/^/xentest-diag storage: /' /tmp/ukweb-st.log | tail -5
	sed 's/^/xentest-diag terminator: /' /tmp/ukweb-tt.log | tail -5
}

# get_ok NAME EXPECTED CURL-ARGS...: one request; its status must be 200
# and its body EXPECTED (or contain it, for the page). Sets why.
get_ok() {
	name=$1 want=$2
	shift 2
	code=$(curl -sk -m 20 -o /tmp/ukweb.body -w '%{http_code}' "$@")
	body=$(head -c 300 /tmp/ukweb.body)
	if [ "$code" = 200 ] && { [ "$body" = "$want" ] || { [ "$name" = page ] && grep -q "$want" /tmp/ukweb.body; }; }; then
		return 0
	fi
	why="$name: status $code, body '$body'"
	return 1
}

# clients N EACH: N curl processes at once, each storing EACH keys (one
# connection: keep-alive) and reading them back; every answer is checked.
# Sets why on failure, bad (the count of wrong answers) in any case.
clients() {
	pids=
	for c in $(seq 1 $1); do
		(
			curl -sk -m 120 -X PUT --data-binary "value of client $c" \
				"$URL/api/kv/c$c-[1-$2]" -o /dev/null \
				-w '%{http_code}\n' >/tmp/ukc$c.put 2>&1
			mkdir -p /tmp/ukc$c
			curl -sk -m 120 "$URL/api/kv/c$c-[1-$2]" \
				-o "/tmp/ukc$c/#1" -w '%{http_code}\n' \
				>/tmp/ukc$c.get 2>&1
		) &
		pids="$pids $!"
	done
	wait $pids
	bad=0
	why=
	for c in $(seq 1 $1); do
		for f in put get; do
			n=$(grep -c '^200$' /tmp/ukc$c.$f)
			if [ "$n" != "$2" ]; then
				bad=$((bad + $2 - n))
				why="client $c: $f statuses $(sort /tmp/ukc$c.$f | uniq -c | tr '\n' ' ')"
			fi
		done
		for k in $(seq 1 $2); do
			want="{\"key\":\"c$c-$k\",\"value\":\"value of client $c\"}"
			if [ "$(cat /tmp/ukc$c/$k 2>/dev/null)" != "$want" ]; then
				bad=$((bad + 1))
				why="client $c key $k: '$(head -c 100 /tmp/ukc$c/$k 2>/dev/null)'"
			fi
		done
	done
	[ $bad = 0 ]
}

rm -rf /tmp/ukweb.kv /tmp/uktls
timeout 900 storage-server /tmp/ukweb.kv vchan:ukweb/storage 2>/tmp/ukweb-st.log &
web_st=$!
# -t 60: under QEMU's TCG on a busy host an answer can take seconds.
timeout 900 tls-terminator -t 60 -l 127.0.0.1:8443 -d /tmp/uktls ukweb \
	2>/tmp/ukweb-tt.log &
web_tt=$!
t0=$(now)
web_up=0
if uk_start ukweb web.xen 16 "-s vchan:0/storage 0" && [ -n "$U" ]; then
	end=$(($(secs) + 60))
	until grep -q "connected to" /tmp/ukweb-tt.log; do
		[ "$(secs)" -gt "$end" ] && break
		usleep 100000
	done
	grep -q "connected to" /tmp/ukweb-tt.log && web_up=1
fi
if [ $web_up = 1 ]; then
	up=$(elapsed $t0)
	size=$(stat -c %s /boot/web.xen)
	why=
	if get_ok page "Hello from the web domain" "$URL/" &&
		web_first=$(elapsed $t0) &&
		get_ok put '{"key":"greeting","stored":true}' -X PUT \
			--data-binary "hello from dom0" "$URL/api/kv/greeting" &&
		get_ok get '{"key":"greeting","value":"hello from dom0"}' \
			"$URL/api/kv/greeting" &&
		get_ok list '{"keys":["greeting"]}' "$URL/api/kv?prefix=gr"; then
		t1=$(now)
		if clients 10 10; then
			result uk-web-https PASS "web.xen ($((size / 1024)) KiB, memory=16) reached by the terminator $up s after xl create; GET page, PUT, GET, list: 200 and the right bodies; then 10 clients at once, 100 PUTs + 100 GETs in $(elapsed $t1) s, every answer checked"
		else
			result uk-web-https FAIL "$bad of 200 answers wrong: $why"
			web_diag
		fi
	else
		result uk-web-https FAIL "$why"
		web_diag
	fi
else
	result uk-web-https FAIL "the terminator never reached web.xen"
	web_diag
fi

# ---- uk-web-bench: vchan-bench's e2e row against the same front (TCG
# figures: not for claims, but every answer is checked).
if [ $web_up = 1 ]; then
	t0=$(now)
	timeout 240 vchan-bench --quick --json --xen 8443 \
		--xen-cert /tmp/uktls/cert.pem >/tmp/ukweb.bench 2>/tmp/ukweb.bench.err
	row=$(grep '"transport":"https-xen"' /tmp/ukweb.bench)
	if echo "$row" | grep -q '"status":"ok".*"verified":true'; then
		rate=$(echo "$row" | sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p')
		p50=$(echo "$row" | sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p')
		p99=$(echo "$row" | sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p')
		result uk-web-bench PASS "vchan-bench --xen: e2e https-xen (its own client, 4 TLS connections, 200 requests, every answer checked): $rate requests/s, p50 $p50 us, p99 $p99 us ($(elapsed $t0) s; TCG figures, not for claims)"
	else
		result uk-web-bench FAIL "row: '$row' $(head -c 300 /tmp/ukweb.bench.err)"
		web_diag
	fi
else
	result uk-web-bench FAIL "web.xen never served (see uk-web-https)"
fi

# ---- uk-web-restart: xl destroy web.xen under a stream of GETs, create it
# again; requests in the gap get 502 or 503 (never a hang: each has 20 s),
# then 200 again, with nothing else restarted.
if [ $web_up = 1 ]; then
	rm -f /tmp/ukweb.during
	(
		while :; do
			curl -sk -m 20 -o /dev/null -w '%{http_code}\n' \
				"$URL/api/kv/greeting" >>/tmp/ukweb.during
			usleep 200000
		done
	) &
	loop=$!
	sleep 2
	xl destroy ukweb
	td=$(now)
	sleep 1
	uk_start ukweb web.xen 16 "-s vchan:0/storage 0"
	tc=$(now)
	# Back once three answers in a row are 200 after the new domain.
	n0=$(wc -l </tmp/ukweb.during)
	end=$(($(secs) + 90))
	until [ "$(tail -n +$((n0 + 1)) /tmp/ukweb.during | tail -3 | grep -c '^200$')" = 3 ]; do
		[ "$(secs)" -gt "$end" ] && break
		usleep 200000
	done
	tb=$(now)
	kill $loop
	wait $loop 2>/dev/null
	codes=$(sort /tmp/ukweb.during | uniq -c | tr '\n' ' ')
	others=$(grep -cv '^\(200\|502\|503\)$' /tmp/ukweb.during)
	gap=$(grep -c '^\(502\|503\)$' /tmp/ukweb.during)
	if [ "$(tail -3 /tmp/ukweb.during | grep -c '^200$')" = 3 ] &&
		[ "$others" = 0 ] && [ "$gap" -gt 0 ] &&
		get_ok get '{"key":"greeting","value":"hello from dom0"}' \
			"$URL/api/kv/greeting"; then
		result uk-web-restart PASS "answers: $codes(none hung); 200 again $(echo "$tb $tc" | awk '{printf "%.1f", $1 - $2}') s after xl create, $(echo "$tb $td" | awk '{printf "%.1f", $1 - $2}') s after the destroy; storage and terminator not restarted, the stored value read back"
	else
		result uk-web-restart FAIL "answers: $codes(others than 200/502/503: $others, gap answers: $gap)"
		web_diag
	fi
else
	result uk-web-restart FAIL "web.xen never served (see uk-web-https)"
fi
xl destroy ukweb 2>/dev/null
kill $web_st $web_tt 2>/dev/null
wait $web_st $web_tt 2>/dev/null

# ---- uk-web-badarg: a bad extra= line is named on the console and the
# domain ends as crashed with web's usage status (2).
if uk_start ukwebbad web.xen 16 "-c 0 0" && uk_await ukwebbad "status 2" 1 30 &&
	uk_await_crash ukwebbad 30; then
	why=$(uk_log ukwebbad | grep -m1 "^web: -c")
	if [ -n "$why" ]; then
		result uk-web-badarg PASS "state $(uk_state ukwebbad); console: $why"
	else
		result uk-web-badarg FAIL "no reason on the console"
		uk_diag ukwebbad
	fi
else
	result uk-web-badarg FAIL "state '$(uk_state ukwebbad)'"
	uk_diag ukwebbad
fi
xl destroy ukwebbad 2>/dev/null
