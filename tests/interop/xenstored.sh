#!/bin/sh
# Debian's real xenstored on the simulator: our xenstore/ layer (its
# libxenstore backend) publishes keys that Debian's xenstore-utils see, with
# the permissions docs/vchan-wire.md names ({owner: none, peer: read}, the owner being
# the publishing domain), and reads what xenstore-write wrote.
. "${top_srcdir:-.}/tests/interop/lib.sh"

start_xenstored
dir=/local/domain/3/data/vchan/5/port
timeout 10 "$VS" run --domid 3 -- "$XS_PUBLISH" "$dir" 5 ring-ref=17 \
	event-channel=42 >"$WORK/pub.out" || fail "xs_publish failed"
[ "$(cat "$WORK/pub.out")" = ok ] || fail "xs_publish said: $(cat "$WORK/pub.out")"

# vchan-sim run made the domain's own key.
[ "$(xenstore-read /local/domain/3/domid)" = 3 ] || fail "/local/domain/3/domid missing"

xenstore-ls -p "$dir" >"$WORK/ls.out" || fail "xenstore-ls -p failed"
cat "$WORK/ls.out"
grep -Eq '^ring-ref = "17" .*\(n3,r5\)$' "$WORK/ls.out" ||
	fail "ring-ref not shown with permissions (n3,r5)"
grep -Eq '^event-channel = "42" .*\(n3,r5\)$' "$WORK/ls.out" ||
	fail "event-channel not shown with permissions (n3,r5)"
[ "$(xenstore-read "$dir/ring-ref")" = 17 ] || fail "xenstore-read ring-ref"
[ "$(xenstore-read "$dir/event-channel")" = 42 ] || fail "xenstore-read event-channel"

# The other way: Debian's xenstore-write, our reader.
xenstore-write /local/domain/3/data/greeting "hello from xenstore-write" ||
	fail "xenstore-write failed"
got=$(timeout 10 "$VS" run --domid 3 -- "$XS_PUBLISH" -r /local/domain/3/data/greeting) ||
	fail "our read of xenstore-write's key failed"
[ "$got" = "hello from xenstore-write" ] || fail "our read gave '$got'"

# Our removal is seen by xenstore-exists.
timeout 10 "$VS" run --domid 3 -- "$XS_PUBLISH" -d "$dir" || fail "our rm failed"
if xenstore-exists "$dir" 2>/dev/null; then
	fail "$dir still exists after our rm"
fi
xenstore-exists /local/domain/3/data/greeting || fail "rm removed too much"
echo "PASS"
