# tests/examples/lib.sh - start and stop the web example's three domains
# (sourced). Domains: storage 1, web 2, TLS terminator 3, on the simulator.
# A test calls test_setup; another user (run-demo.sh) sets B (the build
# tree), W (a private work directory) and VCHAN_SIM_DIR itself.
VCHAN_PLATFORM=sim
export VCHAN_PLATFORM
storage_pid= web_pid= term_pid=

# test_setup: what every test of the example starts with. Skips (77)
# without python3; sets B and W, the simulator's directory (the harness
# gives a private one), and a trap that kills the domains and removes W.
test_setup() {
	set -u
	command -v python3 >/dev/null || { echo "needs python3" >&2; exit 77; }
	B=${top_builddir:-.}
	W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/web.XXXXXX")
	if [ -z "${VCHAN_SIM_DIR:-}" ]; then
		VCHAN_SIM_DIR=$W/sim
		mkdir -m 700 "$VCHAN_SIM_DIR"
	fi
	export VCHAN_SIM_DIR
	trap 'kill_all; rm -rf "$W"' EXIT
}

# fail WHAT: the test fails, with the domains' logs.
fail() {
	echo "FAIL: $*" >&2
	cat "$W/storage.log" "$W/web.log" "$W/term.log" >&2 2>/dev/null
	exit 1
}

# STORAGE_ADDR: where storage serves (default vchan:2/storage, the web
# domain only); WEB_PEER: the terminator domain web offers its channel to
# (default 3; '*' listens for any).
start_storage() {
	VCHAN_DOMID=1 "$B/examples/storage/storage-server" "$W/kv.data" \
		"${STORAGE_ADDR:-vchan:2/storage}" 2>>"$W/storage.log" &
	storage_pid=$!
}

# start_web [OPTIONS]
start_web() {
	VCHAN_DOMID=2 "${WEB_BIN:-$B/examples/web/web}" -s vchan:1/storage "$@" \
		"${WEB_PEER:-3}" 2>>"$W/web.log" &
	web_pid=$!
}

# start_web_tcp [OPTIONS]: web with its TCP listener too; returns once it
# listens, and sets WEBPORT.
start_web_tcp() {
	rm -f "$W/webport"
	start_web -L 127.0.0.1:0 -r "$W/webport" "$@"
	i=0
	until grep -q '^[0-9][0-9]*$' "$W/webport" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $web_pid 2>/dev/null; then
			echo "web did not start" >&2
			cat "$W/web.log" >&2
			return 1
		fi
		sleep 0.05
	done
	WEBPORT=$(cat "$W/webport")
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

# stop_all: SIGTERM to each domain still running; each must exit 0.
stop_all() {
	stop "$term_pid" tls-terminator || fail "terminator stop"
	stop "$web_pid" web || fail "web stop"
	stop "$storage_pid" storage || fail "storage stop"
	term_pid= web_pid= storage_pid=
}

kill_all() {
	for p in $term_pid $web_pid $storage_pid; do
		kill -KILL "$p" 2>/dev/null
		kill -CONT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# until_status PATH CODE: the service answers CODE within 10 s of retries.
until_status() {
	i=0
	until client status "$1" "$2" 2>"$W/last"; do
		i=$((i + 1))
		[ $i -lt 20 ] || { cat "$W/last" >&2; return 1; }
		sleep 0.5
	done
}

# The interpreter itself: a version manager's shim can take seconds a run.
PY=${PY:-$(python3 -c 'import sys; print(sys.executable)')}
client() {
	"$PY" "$top_srcdir/tests/examples/webclient.py" "$PORT" \
		"$W/tls/cert.pem" "$@"
}

# The same client, plain HTTP to the web domain's own TCP port.
client_tcp() {
	"$PY" "$top_srcdir/tests/examples/webclient.py" "$WEBPORT" - "$@"
}

# clean_logs: no sanitizer report in the domains' logs (a UBSan report does
# not change an exit status).
clean_logs() {
	! grep -l 'runtime error\|Sanitizer' "$W/storage.log" "$W/web.log" \
		"$W/term.log" >&2
}
