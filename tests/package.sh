#!/bin/bash
# tests/package.sh [DIR] - the Debian packages that `./run package` built
# (DIR, default build/packages) used as installed. As root they are
# installed for real with dpkg -i and purged at the end, leaving the
# machine as it was; otherwise (or with VCHAN_PACKAGE_SCRATCH=1, or when
# one of them is installed already) each is unpacked with dpkg -x into a
# scratch root and used from there. Checked, all on the simulator in a
# private directory: vchan-cat --help and a transfer between domains 1 and
# 2, vchan-echo, vchan-bench and the example services starting, the storage
# example's server and client talking over a vchan, vchan-sim running a
# program with its drop-in libraries, and programs built with nothing but
# pkg-config (vchan, vchan-rpc; vchan-unikernel where that package exists)
# from the installed files.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "${1:-$top/build/packages}" && pwd) || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/vchan-package.XXXXXX") || exit 1
fails=0
pids=()
installed=()

check() { # name expected actual
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected '$2', got '$3'"
		fails=$((fails + 1))
	fi
}

# shellcheck disable=SC2317
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ ${#installed[@]} -gt 0 ]; then
		dpkg --purge "${installed[@]}" >"$work/purge.log" 2>&1 ||
			{ echo "FAIL dpkg --purge:"; tail -20 "$work/purge.log"; }
	fi
	rm -rf "$work"
}
trap cleanup EXIT

debs=()
names=()
for d in "$dir"/*.deb; do
	case $d in *-dbgsym_*) continue ;; esac
	[ -f "$d" ] || continue
	debs+=("$d")
	names+=("$(dpkg-deb -f "$d" Package)")
done
if [ ${#debs[@]} -eq 0 ]; then
	echo "FAIL no .deb in $dir (./run package builds them)"
	exit 1
fi
echo "packages: ${names[*]}"
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || ${CC:-cc} -print-multiarch)

mode=dpkg
if [ "$(id -u)" -ne 0 ] || [ -n "${VCHAN_PACKAGE_SCRATCH:-}" ]; then
	mode=scratch
else
	for n in "${names[@]}"; do
		if dpkg-query -W -f='${db:Status-Status}' "$n" 2>/dev/null |
			grep -qv '^not-installed$'; then
			echo "$n is on this machine already: a scratch root instead of dpkg -i"
			mode=scratch
		fi
	done
fi

if [ $mode = dpkg ]; then
	# Another dpkg or apt may hold the lock for a while: wait for it.
	for _ in $(seq 30); do
		installed=("${names[@]}")
		dpkg -i "${debs[@]}" >"$work/install.log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] || ! grep -q 'lock' "$work/install.log"; then
			break
		fi
		installed=()
		sleep 5
	done
	if [ "$rc" -ne 0 ]; then
		tail -30 "$work/install.log"
		echo "FAIL dpkg -i (status $rc)"
		exit 1
	fi
	echo "ok   dpkg -i ${names[*]}"
	root=
	export PATH=/usr/bin:$PATH
else
	root=$work/root
	for d in "${debs[@]}"; do
		dpkg-deb -x "$d" "$root" || {
			echo "FAIL dpkg-deb -x $d"
			exit 1
		}
	done
	echo "ok   unpacked into $root"
	# The installed .pc files with their directories moved under $root
	# (PKG_CONFIG_SYSROOT_DIR would move those of Xen's and libev's too).
	mkdir -p "$work/pc"
	for pc in "$root/usr/lib/$triplet/pkgconfig"/*.pc; do
		sed -E "s#^(prefix|exec_prefix|libdir|includedir)=/#\1=$root/#" "$pc" \
			>"$work/pc/$(basename "$pc")"
	done
	export PKG_CONFIG_PATH=$work/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
	export LD_LIBRARY_PATH=$root/usr/lib/$triplet
	export VCHAN_SIM_LIBDIR=$root/usr/lib/$triplet/vchan/sim
	export PATH=$root/usr/bin:$PATH
fi
libdir=/usr/lib/$triplet
examples=$root/usr/libexec/vchan/examples

export VCHAN_PLATFORM=sim VCHAN_SIM_DIR=$work/sim
mkdir -m 700 "$VCHAN_SIM_DIR"
unset XENSTORED_PATH VCHAN_DOMID

# The installed programs, not ones found earlier along PATH.
check "vchan-cat is the installed one" "$root/usr/bin/vchan-cat" "$(command -v vchan-cat)"
vchan-cat --help >"$work/help" 2>&1
check "vchan-cat --help: status" 0 $?
check "vchan-cat --help: usage" 1 "$(grep -c '^usage: vchan-cat' "$work/help")"

# A transfer: domain 1 serves 4 MiB to domain 2.
head -c $((4 << 20)) /dev/urandom >"$work/in"
VCHAN_DOMID=1 timeout 60 vchan-cat -q -l 2 pkgtest <"$work/in" &
s=$!
pids+=("$s")
VCHAN_DOMID=2 timeout 60 vchan-cat -q -k -t 10 1 pkgtest </dev/null >"$work/out"
rc=$?
wait $s
check "vchan-cat 1 -> 2: statuses" "0 0" "$? $rc"
check "vchan-cat 1 -> 2: 4 MiB hash" "$(sha256sum <"$work/in")" "$(sha256sum <"$work/out")"

# The other programs start (their libraries are found) and know their usage.
vchan-echo >"$work/echo" 2>&1
check "vchan-echo without arguments: status 2 and usage" "2 1" \
	"$? $(grep -c '^usage: vchan-echo' "$work/echo")"
vchan-bench --help >/dev/null 2>&1
check "vchan-bench --help: status" 0 $?
for p in storage-server storage-client web tls-terminator; do
	"$examples/$p" >"$work/$p" 2>&1
	check "examples/$p without arguments: status 2 and usage" "2 1" \
		"$? $(grep -c "^usage: $p" "$work/$p")"
done

# The storage example: a server in domain 1, the client in domain 2.
VCHAN_DOMID=1 timeout 60 "$examples/storage-server" "$work/kv.log" vchan:2/storage \
	>"$work/storage.log" 2>&1 &
s=$!
pids+=("$s")
VCHAN_DOMID=2 timeout 30 "$examples/storage-client" vchan:1/storage put pkg/key installed >/dev/null 2>&1
rc=$?
check "storage-client put: status" 0 $rc
check "storage-client get" installed \
	"$(VCHAN_DOMID=2 timeout 30 "$examples/storage-client" vchan:1/storage get pkg/key 2>&1)"
kill $s 2>/dev/null
wait $s 2>/dev/null

# vchan-sim finds its drop-in libraries and preload (no loader complaint).
# shellcheck disable=SC2016
out=$(vchan-sim run --domid 7 -- sh -c 'echo "$VCHAN_DOMID"' 2>"$work/sim.err")
check "vchan-sim run: the domain, and nothing on stderr" "7 " "$out $(cat "$work/sim.err")"

# Programs built against the installed files with nothing but pkg-config.
cat >"$work/chan.c" <<'EOF'
#include <stdio.h>
#include <vchan/grant.h>
#include <vchan/vchan.h>
#include <vchan/xs.h>

/* A channel from this domain to itself: one byte each way. */
int main(void)
{
	vchan_xs *xs = vchan_xs_open();
	char path[64], c = 0;
	struct vchan *srv, *cli;
	int domid = vchan_xs_domid(xs);

	if (xs == NULL || domid < 0 || vchan_backend_select() < 0) {
		perror("store");
		return 1;
	}
	snprintf(path, sizeof(path), "/local/domain/%d/data/vchan/%d/link",
		 domid, domid);
	srv = vchan_server_create((uint32_t)domid, path, 1024, 1024);
	cli = srv ? vchan_client_connect((uint32_t)domid, path, 5000) : NULL;
	if (cli == NULL || vchan_write(cli, "x", 1) != 1 ||
	    vchan_read(srv, &c, 1) != 1 || c != 'x' ||
	    vchan_write(srv, "y", 1) != 1 || vchan_read(cli, &c, 1) != 1 ||
	    c != 'y') {
		perror("channel");
		return 1;
	}
	if (vchan_close(cli) != 0 || vchan_close(srv) != 0 ||
	    vchan_xs_close(xs) != 0)
		return 1;
	puts("a byte each way");
	return 0;
}
EOF
cat >"$work/rpc.c" <<'EOF'
#include <ev.h>
#include <stdio.h>
#include <vchan/rpc.h>

/* A server listening on a Unix socket, on the program's own loop. */
int main(int argc, char **argv)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv;
	char addr[512];

	if (loop == NULL || argc != 2)
		return 1;
	snprintf(addr, sizeof(addr), "unix:%s", argv[1]);
	srv = vchan_rpc_server_new(loop, NULL);
	if (srv == NULL || vchan_rpc_server_listen(srv, addr) < 0) {
		perror("server");
		return 1;
	}
	ev_run(loop, EVRUN_NOWAIT);
	printf("listening, status 0 is \"%s\"\n",
	       vchan_rpc_status_str(VCHAN_RPC_OK));
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	return 0;
}
EOF
# build NAME MODULE: compile NAME.c with pkg-config MODULE's flags, run it.
build() {
	local name=$1 module=$2 flags
	shift 2
	flags=$(pkg-config --cflags --libs "$module" 2>&1)
	check "pkg-config --cflags --libs $module: status" 0 $?
	# shellcheck disable=SC2086
	if ${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -o "$work/$name" "$work/$name.c" \
		$flags >"$work/cc.log" 2>&1; then rc=0; else
		rc=$?
		head -20 "$work/cc.log"
	fi
	check "$name.c built with: ${flags% }" 0 $rc
	"$work/$name" "$@" >"$work/$name.out" 2>&1
	check "$name: runs" 0 $?
	head -5 "$work/$name.out"
	# (/lib is /usr/lib on Debian 12: the loader may name either.)
	check "$name: uses $root$libdir/libvchan.so.0" "$(readlink -f "$root$libdir/libvchan.so.0")" \
		"$(readlink -f "$(ldd "$work/$name" | sed -n 's/^.*libvchan\.so\.0 => \([^ ]*\) .*/\1/p')")"
}
build chan vchan
build rpc vchan-rpc "$work/rpc.sock"

# A unikernel image from the installed runtime, and the packaged image,
# both passing the installed system-call check.
if [ -f "$root$libdir/libvchan-unikernel.a" ]; then
	ukdir=$(pkg-config --variable=ukdir vchan-unikernel)
	# shellcheck disable=SC2046
	if ${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/chan.xen" "$work/chan.c" \
		$(pkg-config --cflags --libs vchan-unikernel) >"$work/cc.log" 2>&1; then rc=0; else
		rc=$?
		head -20 "$work/cc.log"
	fi
	check "chan.xen built with pkg-config vchan-unikernel" 0 $rc
	check "chan.xen: Xen's ELF notes" yes \
		"$([ "$(readelf -n "$work/chan.xen" | grep -c '^ *Xen ')" -ge 8 ] && echo yes)"
	for img in "$work/chan.xen" "$root$libdir/vchan/vchan-echo.xen"; do
		python3 "$ukdir/check-syscalls" "$img" >/dev/null 2>&1
		rc=$?
		check "check-syscalls ${img##*/}" 0 $rc
	done
else
	echo "no libvchan-unikernel-dev here: no unikernel image built"
fi

if [ $mode = dpkg ]; then
	dpkg --purge "${installed[@]}" >"$work/purge.log" 2>&1
	check "dpkg --purge: status" 0 $?
	installed=()
	left=0
	for n in "${names[@]}"; do
		dpkg-query -W -f='${db:Status-Status}' "$n" 2>/dev/null |
			grep -qv '^not-installed$' && left=$((left + 1))
	done
	check "no package left installed" 0 $left
fi

if [ $fails -eq 0 ]; then
	echo "package: every check passed ($mode)"
	exit 0
fi
echo "package: $fails checks failed ($mode)"
exit 1
