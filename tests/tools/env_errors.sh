#!/bin/sh
# tests/tools/env_errors.sh - a bad platform environment is one line on
# stderr naming the variable, whatever the program (vchan-cat, exit status
# 1, and the storage example's client when it is built, exit status 3);
# VCHAN_SIM_DIR is never created when the user names it, only the default
# directory is, one level deep; VCHAN_PLATFORM=xen on a machine without
# Xen says so and points to sim.
set -u
: "${top_builddir:=.}"
cat=$top_builddir/tools/vchan-cat/vchan-cat
client=$top_builddir/examples/storage/storage-client
tmp=$(mktemp -d "${VCHAN_TEST_TMP:-/tmp}/env.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "${top_srcdir:-.}/tests/scenarios.sh"

# one NAME WORD STATUS CMD...: CMD exits with STATUS and exactly one line
# on stderr, which contains WORD. Bounded: a bad environment must not be
# waited out.
one() {
	name=$1 word=$2 status=$3
	shift 3
	timeout 20 "$@" </dev/null >/dev/null 2>"$tmp/err"
	check "$name: exit status" "$status" $?
	check "$name: one line" 1 "$(wc -l <"$tmp/err")"
	grep -q -- "$word" "$tmp/err"
	check "$name: names $word" 0 $?
	sed 's/^/     said: /' "$tmp/err"
}

# each program: vchan-cat as client and server, and storage-client on a
# vchan address
progs() { # NAME WORD VAR=VALUE...
	p_name=$1 p_word=$2
	shift 2
	one "$p_name: vchan-cat" "$p_word" 1 env "$@" "$cat" -t 0 1 port
	one "$p_name: vchan-cat -l" "$p_word" 1 env "$@" "$cat" -l -t 1 1 port
	if [ -x "$client" ]; then
		one "$p_name: storage-client" "$p_word" 3 env "$@" "$client" \
			vchan:1/storage get key
	fi
}

progs "bad domain" VCHAN_DOMID VCHAN_DOMID=two
progs "bad platform" VCHAN_PLATFORM VCHAN_PLATFORM=kvm
progs "relative sim dir" VCHAN_SIM_DIR VCHAN_SIM_DIR=relative/dir

# A directory the user names is never created, however deep.
progs "missing sim dir" VCHAN_SIM_DIR VCHAN_SIM_DIR="$tmp/missing/deeper"
test -e "$tmp/missing"
check "missing sim dir: not created" 1 $?

# One that others may enter is refused.
mkdir -m 755 "$tmp/open"
chmod 755 "$tmp/open"
progs "shared sim dir" VCHAN_SIM_DIR VCHAN_SIM_DIR="$tmp/open"
: >"$tmp/file"
progs "sim dir is a file" VCHAN_SIM_DIR VCHAN_SIM_DIR="$tmp/file"

# A xenstored socket that is not there.
progs "missing xenstored" XENSTORED_PATH XENSTORED_PATH="$tmp/nosock"

# The default directory is made, one level, private; a missing
# $XDG_RUNTIME_DIR is not.
mkdir -m 700 "$tmp/xdg"
env -u VCHAN_SIM_DIR XDG_RUNTIME_DIR="$tmp/xdg" timeout 20 "$cat" -t 0 1 port \
	</dev/null 2>"$tmp/err"
check "default sim dir: no server (3)" 3 $?
check "default sim dir: made with mode 700" 700 "$(stat -c %a "$tmp/xdg/vchan-sim" 2>&1)"
one "missing XDG_RUNTIME_DIR" XDG_RUNTIME_DIR 1 \
	env -u VCHAN_SIM_DIR XDG_RUNTIME_DIR="$tmp/noxdg" "$cat" -t 0 1 port
test -e "$tmp/noxdg"
check "missing XDG_RUNTIME_DIR: not created" 1 $?

# Xen asked for on a machine without it.
if [ -e /dev/xen/evtchn ]; then
	echo "skip VCHAN_PLATFORM=xen: this machine has Xen"
else
	progs "no Xen" VCHAN_PLATFORM VCHAN_PLATFORM=xen
	grep -q "VCHAN_PLATFORM=sim" "$tmp/err"
	check "no Xen: points to sim" 0 $?
fi

scenarios_done
