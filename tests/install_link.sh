#!/bin/sh
# tests/install_link.sh - programs built against the installed tree with
# nothing but pkg-config: the libraries, headers and .pc files are installed
# (make install-... DESTDIR=scratch), then a small vchan program and a small
# RPC program are compiled and linked once against the shared libraries and
# once fully static (pkg-config --static), and run. The RPC program calls
# libev itself, as every RPC program does. Where TI-RPC is installed, a
# program includes its <rpc/rpc.h> together with <vchan/rpc.h>.
set -u
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
LDFLAGS=${LDFLAGS:-}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
MAKE=${MAKE:-make}
if [ -z "${pkgconfigdir:-}" ]; then
	echo "install_link: pkgconfigdir is not set (run from make check)"
	exit 99
fi
work=${VCHAN_TEST_TMP:-${TMPDIR:-/tmp}}/install_link.$$
mkdir -p "$work" || exit 99
trap 'rm -rf "$work"' EXIT
dest=$work/root
fail=0

# Only what a library user needs; the parent make's flags (jobserver,
# variables given on its command line) are not this make's business.
if ! env -u MAKEFLAGS -u MFLAGS $MAKE -C "$top_builddir" \
	install-libLTLIBRARIES install-pkgincludeHEADERS install-pkgconfigDATA \
	DESTDIR="$dest" >"$work/install.log" 2>&1; then
	tail -n 20 "$work/install.log"
	echo "install_link: make install failed"
	exit 1
fi
# The installed .pc files, their absolute directories moved under $dest
# (PKG_CONFIG_SYSROOT_DIR would move those of the system's packages too).
mkdir -p "$work/pc"
for pc in "$dest$pkgconfigdir"/*.pc; do
	sed -E "s#^(prefix|exec_prefix|libdir|includedir)=/#\1=$dest/#" "$pc" \
		>"$work/pc/$(basename "$pc")"
done
PKG_CONFIG_PATH=$work/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
libdir=$($PKG_CONFIG --variable=libdir vchan)
echo "installed in $dest:" $(cd "$dest" && find . -type f | sort)

cat >"$work/chan.c" <<'EOF'
#include <stdio.h>
#include <string.h>
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
	printf("vchan: a byte each way, ring of %d\n", 1024);
	return 0;
}
EOF

cat >"$work/rpc.c" <<'EOF'
#include <ev.h>
#include <stdio.h>
#include <vchan/rpc.h>

/* A server listening on a Unix socket, driven by the program's own loop. */
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
	printf("rpc: listening, %zu clients, status 0 is \"%s\", "
	       "protobuf-c %s\n",
	       vchan_rpc_server_clients(srv), vchan_rpc_status_str(VCHAN_RPC_OK),
	       protobuf_c_version());
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	return 0;
}
EOF

cat >"$work/tirpc.c" <<'EOF'
#include <rpc/rpc.h> /* TI-RPC: its own rpc_call, clnt_create... */
#include <vchan/rpc.h>

int main(void)
{
	enum clnt_stat (*sun)(const char *, const rpcprog_t, const rpcvers_t,
			      const rpcproc_t, const xdrproc_t, const char *,
			      const xdrproc_t, char *, const char *) = rpc_call;

	return sun != NULL && *vchan_rpc_status_str(VCHAN_RPC_OK) == 'o' ? 0 : 1;
}
EOF

# build NAME MODULES [--static]: compile and link NAME.c into NAME$3.
build() {
	out=$work/$1${3:+-static}
	flags=$($PKG_CONFIG ${3:+--static} --cflags --libs $2) || {
		echo "install_link: pkg-config ${3:-} $2 failed"
		fail=1
		return 1
	}
	# The linker looks for the libraries that libvchan-rpc.so needs
	# along LD_LIBRARY_PATH; installed, they would be where its RUNPATH or
	# ld.so.conf says.
	# shellcheck disable=SC2086
	if ! LD_LIBRARY_PATH=$libdir $CC -std=gnu11 -Wall -Wextra -Werror $CFLAGS $LDFLAGS \
		${3:+-static} -o "$out" "$work/$1.c" $flags >"$work/cc.log" 2>&1; then
		grep -v 'statically linked applications requires' "$work/cc.log" |
			head -n 20
		echo "install_link: $1 ${3:+(static) }did not build with:" $flags
		fail=1
		return 1
	fi
	return 0
}

# run PROGRAM ARGS: it must run from the installed libraries, not the
# build tree's.
run() {
	if ! LD_LIBRARY_PATH=$libdir "$@"; then
		echo "install_link: $1 failed"
		fail=1
		return
	fi
	if [ -z "${1##*-static}" ]; then
		! ldd "$1" >/dev/null 2>&1 || {
			echo "install_link: $1 is not static"
			fail=1
		}
	else
		LD_LIBRARY_PATH=$libdir ldd "$1" | grep -q "=> $libdir/libvchan" || {
			echo "install_link: $1 does not use $libdir"
			fail=1
		}
	fi
}

# The sanitizers' runtimes cannot be linked statically.
static=--static
case " $CFLAGS $LDFLAGS " in
*" -fsanitize="*)
	static=
	echo "sanitizer build: the static links are not tried"
	;;
esac

build chan vchan && run "$work/chan"
[ -z "$static" ] || { build chan vchan --static && run "$work/chan-static"; }
if [ -f "$dest$pkgconfigdir/vchan-rpc.pc" ]; then
	build rpc vchan-rpc && run "$work/rpc" "$work/s1"
	[ -z "$static" ] ||
		{ build rpc vchan-rpc --static && run "$work/rpc-static" "$work/s2"; }
	if $PKG_CONFIG --exists libtirpc; then
		build tirpc "libtirpc vchan-rpc" && run "$work/tirpc"
	else
		echo "no libtirpc: <rpc/rpc.h> and <vchan/rpc.h> together not tried"
	fi
fi
# The same channel program as a unikernel image, against the installed
# runtime (vchan-unikernel.pc): it must link, hold Xen's ELF notes and
# pass the installed system-call check. (Booting it takes Xen: tests/xen.)
# The user's CFLAGS are not a kernel's, so they are not passed here.
if [ -f "$top_builddir/libvchan-unikernel.a" ]; then
	if ! env -u MAKEFLAGS -u MFLAGS $MAKE -C "$top_builddir" install-unikernel \
		DESTDIR="$dest" >"$work/install-uk.log" 2>&1; then
		tail -n 20 "$work/install-uk.log"
		echo "install_link: make install-unikernel failed"
		fail=1
	else
		sed -E "s#^(prefix|exec_prefix|libdir|includedir)=/#\1=$dest/#" \
			"$dest$pkgconfigdir/vchan-unikernel.pc" >"$work/pc/vchan-unikernel.pc"
		ukdir=$($PKG_CONFIG --variable=ukdir vchan-unikernel)
		# shellcheck disable=SC2046
		if ! $CC -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/chan.xen" "$work/chan.c" \
			$($PKG_CONFIG --cflags --libs vchan-unikernel) >"$work/cc.log" 2>&1; then
			head -n 20 "$work/cc.log"
			echo "install_link: chan.xen did not build"
			fail=1
		elif [ "$(readelf -n "$work/chan.xen" | grep -c '^ *Xen ')" -lt 8 ]; then
			readelf -n "$work/chan.xen" | head -n 20
			echo "install_link: chan.xen lacks Xen's ELF notes (entry, hypercall page...)"
			fail=1
		elif ! python3 "$ukdir/check-syscalls" "$work/chan.xen"; then
			echo "install_link: chan.xen holds a reachable system call"
			fail=1
		else
			echo "unikernel: chan.xen linked against the installed runtime"
		fi
	fi
else
	echo "the unikernel is not built here (configure --enable-unikernel): its install not tried"
fi
[ $fail -eq 0 ] && echo "install_link: every program built and ran"
exit $fail
