# tests/examples/lib.sh - start and stop the web example's three domains
# (sourced). Needs B (the build tree) and W (a private work directory);
# domains: storage 1, web 2, TLS terminator 3, on the simulator.
VCHAN_PLATFORM=sim
VCHAN_SIM_DIR=${VCHAN_SIM_DIR:-$W/sim}
export VCHAN_PLATFORM VCHAN_SIM_DIR
storage_pid= web_pid= term_pid=

start_storage() {
	VCHAN_DOMID=1 "$B/examples/storage/storage-server" "$W/kv.data" \
		vchan:2/storage 2>>"$W/storage.log" &
	storage_pid=$!
}

# start_web [OPTIONS]
start_web() {
	VCHAN_DOMID=2 "$B/examples/web/web" -s vchan:1/storage "$@" 3 \
		2>>"$W/web.log" &
	web_pid=$!
}

# start_term [OPTIONS]: returns once it listens and reaches the web domain;
# sets PORT.
start_term() {
	rm -f "$W/port"
	: >"$W/term.log"
	VCHAN_DOMID=3 "$B/examples/tls-terminator/tls-terminator" \
		-l 127.0.0.1:0 -d "$W/tls" -r "$W/port" "$@" 2 \
		2>>"$W/term.log" &
	term_pid=$!
	i=0
	until grep -q '^[0-9][0-9]*$' "$W/port" 2>/dev/null &&
		grep -q 'connected to' "$W/term.log"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $term_pid 2>/dev/null; then
			echo "tls-terminator did not start" >&2
			cat "$W/term.log" "$W/web.log" >&2
			return 1
		fi
		sleep 0.05
	done
	PORT=$(cat "$W/port")
}

# stop PID NAME: SIGTERM, then its exit status within 10 s (else SIGKILL
# and failure).
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "$2 did not stop on SIGTERM" >&2
			kill -KILL "$1"
			wait "$1" 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
	wait "$1"
	rc=$?
	[ $rc -eq 0 ] || echo "$2 exited with $rc" >&2
	return $rc
}

kill_all() {
	for p in $term_pid $web_pid $storage_pid; do
		kill -KILL "$p" 2>/dev/null
		kill -CONT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# The interpreter itself: a version manager's shim can take seconds a run.
PY=${PY:-$(python3 -c 'import sys; print(sys.executable)')}
client() {
	"$PY" "$top_srcdir/tests/examples/webclient.py" "$PORT" \
		"$W/tls/cert.pem" "$@"
}

# clean_logs: no sanitizer report in the domains' logs (a UBSan report does
# not change an exit status).
clean_logs() {
	! grep -l 'runtime error\|Sanitizer' "$W/storage.log" "$W/web.log" \
		"$W/term.log" >&2
}
