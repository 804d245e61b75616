# tests/scenarios.sh - sourced by test scripts: named checks and scenarios,
# so that a failure does not hide the checks after it, and each is reported
# by name (the shell side of TU_SCENARIO in tests/testutil.h).
#
#   . "${top_srcdir:-.}/tests/scenarios.sh"
#   check NAME EXPECTED ACTUAL      one comparison, reported and counted
#   scenario NAME COMMAND [ARG...]  COMMAND (a function of the test) runs in
#                                   a subshell: an `exit 1` there ends that
#                                   scenario alone, and so does a failed
#                                   check; the processes it leaves running
#                                   are killed and fail it (tests/outlived.sh)
#   scenarios_done                  the summary; exits 0 when all passed
#
# A scenario's checks count in its own result, not in the counts of the
# script, since the subshell's variables go with it.

sc_dir=${top_srcdir:-.}/tests
sc_run=0
sc_failed=0
sc_names=

# Record a failed check or scenario named $1.
sc_fail() {
	sc_failed=$((sc_failed + 1))
	sc_names="${sc_names:+$sc_names, }$1"
}

check() { # name expected actual
	sc_run=$((sc_run + 1))
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected '$2', got '$3'"
		sc_fail "$1"
	fi
}

scenario() { # name command [arg...]
	sc_name=$1
	shift
	echo "--- $sc_name"
	# Every process the scenario starts carries this tag, even one whose
	# parent is gone, so that none outlives it.
	sc_tag="VCHAN_SCENARIO=$$.$sc_run"
	(
		export VCHAN_SCENARIO="${sc_tag#*=}"
		sc_failed=0
		"$@" && [ "$sc_failed" -eq 0 ]
	)
	sc_rc=$?
	if ! VCHAN_OUTLIVED_WAIT=20 "$sc_dir/outlived.sh" "$sc_tag"; then
		echo "$sc_name: left processes running (killed now)"
		sc_rc=1
	fi
	sc_run=$((sc_run + 1))
	if [ $sc_rc -eq 0 ]; then
		echo "ok   $sc_name"
	else
		echo "FAIL $sc_name (status $sc_rc)"
		sc_fail "$sc_name"
	fi
}

scenarios_done() {
	if [ "$sc_failed" -gt 0 ]; then
		echo "$sc_failed of $sc_run failed: $sc_names"
		exit 1
	fi
	echo "all $sc_run passed"
	exit 0
}
