#!/bin/sh
# tests/fuzz/build.sh SRCDIR BUILDDIR OUTDIR - build the libFuzzer harnesses.
#
# Each harness (tests/fuzz/fuzz_NAME.c) is compiled together with the
# project's sources it exercises, by clang with
# -fsanitize=fuzzer,address,undefined, into OUTDIR/fuzz_NAME. BUILDDIR is a
# configured build tree: its config.h (and generated sources) are used.
# The normal build never runs this; ./run test and ./run fuzz do. Exits 77
# when clang cannot build a fuzzer here (no clang, or no compiler-rt:
# Debian 12's clang and libclang-rt-14-dev).
set -eu
src=$1
bld=$2
out=$3
CC_FUZZ=${CC_FUZZ:-clang}
# The project's warnings (configure.ac), as errors.
warn="-Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 -Werror"
flags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"

mkdir -p "$out"
rm -f "$out"/fuzz_* # only the harnesses listed below run
probe=$out/probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ return (int)(d != 0 && n > 1000000); }' >"$probe"
# shellcheck disable=SC2086
if ! $CC_FUZZ $flags "$probe" -o "$out/probe" >"$out/probe.log" 2>&1; then
	echo "build.sh: $CC_FUZZ cannot build a fuzzer ($out/probe.log)" >&2
	exit 77
fi
rm -f "$probe" "$out/probe" "$out/probe.log"

# harness NAME SOURCE... [-- EXTRA LINK ARGS]: build OUTDIR/fuzz_NAME.
harness() {
	name=$1
	shift
	set -- "$src/tests/fuzz/fuzz_$name.c" "$@"
	echo "  CC fuzz_$name" >&2
	# shellcheck disable=SC2086
	$CC_FUZZ $flags $warn -I"$src" -I"$bld" "$@" -o "$out/fuzz_$name"
}

harness http "$src/examples/web/http.c"
harness mux "$src/examples/mux/mux.c" "$src/examples/common/buf.c"
harness ring "$src/vchan/ring.c"
harness rpc_frame "$src/rpc/conn.c" "$src/rpc/codec.c" \
	"$src/rpc/sock_none.c" \
	"$src/rpc/tls_none.c" \
	"$src/tests/fuzz/fake_vchan.c" \
	-lprotobuf-c
harness kvlog "$src/examples/storage/kvlog.c" \
	"$src/examples/storage/logdev_file.c"
harness rpc_server "$src/rpc/server.c" "$src/rpc/conn.c" "$src/rpc/codec.c" \
	"$src/rpc/client.c" \
	"$src/rpc/loop_ev.c" "$src/rpc/sock.c" "$src/rpc/tls_none.c" \
	"$src/examples/storage/kvlog.c" "$src/examples/storage/logdev_file.c" \
	"$src/examples/storage/logdev_blk.c" \
	"$src/examples/storage/blkdev_file.c" "$src/examples/common/stop.c" \
	"$bld/examples/storage/storage.pb-c.c" "$src/tests/fuzz/fake_vchan.c" \
	-lprotobuf-c -lev
harness rpc_client "$src/rpc/client.c" "$src/rpc/conn.c" "$src/rpc/codec.c" \
	"$src/rpc/loop_ev.c" "$src/rpc/sock.c" "$src/rpc/tls_none.c" \
	"$bld/examples/storage/storage.pb-c.c" "$src/tests/fuzz/fake_vchan.c" \
	-lprotobuf-c -lev
harness rpc_codec "$src/rpc/codec.c" "$src/tests/rpc/codec_check.c" \
	"$bld/tests/rpc/codec.pb-c.c" "$bld/tests/rpc/codec3.pb-c.c" -lprotobuf-c
harness xs_embedded "$src/xenstore/xs.c" "$src/xenstore/embedded.c" \
	"$src/xenstore/embedded_watch.c" "$src/common/env.c" \
	"$src/common/platform.c"
harness web "$src/examples/web/http.c" "$src/examples/mux/mux.c" \
	"$src/examples/common/buf.c" "$src/examples/common/args.c" \
	"$src/examples/common/net.c" "$src/examples/common/stop.c" \
	"$src/tests/fuzz/fake_vchan.c" -lev
