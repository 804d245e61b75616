#!/bin/sh
# examples/storage/demo.sh BUILDDIR - the storage service in simulated
# domain 1, used from domain 2 with the command-line client.
set -eu
build=${1:-build}
bin=$build/examples/storage
work=$(mktemp -d "${TMPDIR:-/tmp}/storage-demo.XXXXXX")
VCHAN_PLATFORM=sim
VCHAN_SIM_DIR=$work/sim
mkdir -m 700 "$VCHAN_SIM_DIR"
export VCHAN_PLATFORM VCHAN_SIM_DIR
VCHAN_DOMID=1 "$bin/storage-server" "$work/kv.log" vchan:2/storage &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$work"' EXIT
cli() {
	echo "dom2\$ storage-client vchan:1/storage $*"
	VCHAN_DOMID=2 "$bin/storage-client" vchan:1/storage "$@"
}
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
VCHAN_DOMID=1 "$bin/storage-server" "$work/kv.log" vchan:2/storage &
srv=$!
cli list
cli get veg/leek
