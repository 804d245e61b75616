#!/bin/sh
# examples/storage/demo.sh BUILDDIR - the storage service in simulated
# domain 1, used from domain 2 with the command-line client. Each command
# is printed as it runs, quoted so that it can be pasted into a shell
# (while the demo runs: its directory goes at the end).
set -eu
# Absolute, so that the commands printed work from anywhere.
build=$(cd "${1:-build}" && pwd)
bin=$build/examples/storage
work=$(mktemp -d "${TMPDIR:-/tmp}/storage-demo.XXXXXX")
VCHAN_PLATFORM=sim
VCHAN_SIM_DIR=$work/sim
mkdir -m 700 "$VCHAN_SIM_DIR"
export VCHAN_PLATFORM VCHAN_SIM_DIR
srv=
trap '[ -z "$srv" ] || { kill $srv 2>/dev/null; wait $srv 2>/dev/null; }; rm -rf "$work"' EXIT

# The word $1 as a shell reads it back: as it is when it holds nothing
# special, else in single quotes.
q() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
		;;
	*) printf '%s' "$1" ;;
	esac
}

# say WORD...: print the command line "$ WORD..." quoted (a lone & is
# the shell's).
say() {
	printf '$'
	for w in "$@"; do
		if [ "$w" = "&" ]; then
			printf ' &'
		else
			printf ' %s' "$(q "$w")"
		fi
	done
	printf '\n'
}

server() {
	say VCHAN_DOMID=1 "$bin/storage-server" "$work/kv.log" vchan:2/storage "&"
	VCHAN_DOMID=1 "$bin/storage-server" "$work/kv.log" vchan:2/storage &
	srv=$!
}
cli() {
	say VCHAN_DOMID=2 "$bin/storage-client" vchan:1/storage "$@"
	VCHAN_DOMID=2 "$bin/storage-client" vchan:1/storage "$@"
}

say export VCHAN_PLATFORM=sim "VCHAN_SIM_DIR=$VCHAN_SIM_DIR"
server
cli put fruit/apple red
cli put fruit/banana yellow
cli put veg/leek green
cli get fruit/apple
cli list fruit/
cli delete fruit/apple
cli list
echo "(server killed with SIGKILL and restarted: the data is still there)"
kill -KILL $srv
wait $srv 2>/dev/null || true
server
cli list
cli get veg/leek
