# tests/xen/uk-lib.sh - starting and watching unikernel domains in dom0
# (sourced by dom0-init.sh; uses guest-lib.sh's secs).

# uk_start NAME IMAGE MEMORY EXTRA [LINE]: create the domain, with LINE
# added to its config when given; sets U to its id (empty when it has
# already ended: a short program may be gone at once).
uk_start() {
	cat >/etc/xen/$1.cfg <<-CFG
		name = "$1"
		type = "pv"
		kernel = "/boot/$2"
		memory = $3
		extra = "$4"
		on_poweroff = "destroy"
		on_crash = "preserve"
		${5:-}
	CFG
	rm -f /var/log/xen/console/guest-$1.log
	U=
	xl create /etc/xen/$1.cfg >/tmp/xl-$1.log 2>&1 || return 1
	U=$(xl domid $1 2>/dev/null) || U=
}

# uk_log NAME: the domain's console so far.
uk_log() {
	tr -d '\r' </var/log/xen/console/guest-$1.log 2>/dev/null
}

# uk_await NAME TEXT COUNT SECONDS: wait until the console shows TEXT at
# least COUNT times.
uk_await() {
	end=$(($(secs) + $4))
	until [ "$(uk_log $1 | grep -c "$2")" -ge "$3" ]; do
		[ "$(secs)" -gt "$end" ] && return 1
		usleep 100000
	done
}

# uk_state NAME: xl's state column (r, b, p, s, c, d letters).
uk_state() {
	xl list $1 2>/dev/null | awk 'NR == 2 { print $5 }'
}

# uk_await_crash NAME SECONDS: wait until xl shows the domain crashed.
uk_await_crash() {
	end=$(($(secs) + $2))
	until uk_state $1 | grep -q c; do
		[ "$(secs)" -gt "$end" ] && return 1
		usleep 100000
	done
}

uk_diag() {
	uk_log $1 | tail -12 | sed "s/^/xentest-diag $1: /"
	sed "s/^/xentest-diag $1 xl: /" /tmp/xl-$1.log 2>/dev/null | tail -5
}

# uk_name NAME ID: the tool stack's part of names for domUs: NAME -> ID in
# the map vchan_domid_lookup reads where it may not list the domains
# (docs/vchan-wire.md, "Names"), the map and the entry readable by all.
uk_name() {
	xenstore-write /local/domain/0/data/vchan-names/$1 $2 &&
		xenstore-chmod /local/domain/0/data/vchan-names r0 &&
		xenstore-chmod /local/domain/0/data/vchan-names/$1 r0
}
