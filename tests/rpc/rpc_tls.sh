#!/bin/sh
# tests/rpc/rpc_tls.sh - tls: and the tcp: opt-in (rpc_tls.c), with
# certificates made now by tls_certs.sh.
set -eu
W=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/tls.XXXXXX")
trap 'rm -rf "$W"' EXIT
sh "${top_srcdir:-.}/tests/rpc/tls_certs.sh" "$W/certs"
# shellcheck disable=SC2086
${VCHAN_TEST_WRAPPER:-} "${top_builddir:-.}/tests/rpc/rpc_tls" "$W/certs"
