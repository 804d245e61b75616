# tests/proc.sh - sourced by test scripts: ending a background process
# together with everything it started. Killing the process alone is not
# enough: timeout(1) does not pass a SIGKILL on to its command, so the
# command of `timeout 60 prog &` would outlive the test, orphaned.

# Stop process $1, then its children, then theirs (each parent before its
# children, so that none starts a child we would miss), printing each pid.
proc_stop_tree() {
	kill -STOP "$1" 2>/dev/null || return 0
	echo "$1"
	for _proc_child in $(pgrep -P "$1"); do
		proc_stop_tree "$_proc_child"
	done
}

# Kill each process given and every process under it.
proc_kill_tree() {
	for _proc_top in "$@"; do
		for _proc_pid in $(proc_stop_tree "$_proc_top"); do
			kill -KILL "$_proc_pid" 2>/dev/null
		done
	done
}
