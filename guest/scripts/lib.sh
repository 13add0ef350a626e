# lib.sh: helpers shared by the guest-side test scripts (sourced as /vufs-lib.sh; run-guest.sh
# puts this file next to every guest script). busybox sh.
#
# Output: check results on stdout (captured per check), informational lines and host requests
# on fd 3, which the sourcing script points at the console (exec 3>&1) before any check.
# shellcheck shell=sh disable=SC3045,SC2034 # REPLY_*, n* are read by the sourcing script

npass=0
nfail=0
nskip=0

now() { read -r up _ </proc/uptime; echo "$up"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
info() { echo "$*" >&3; }

# check NAME FUNCTION [ARGS...]: run FUNCTION in a subshell; its output is the failure detail.
# A function that prints `SKIP: why` as its last line and returns 3 is reported as a skip.
check() {
	name=$1
	shift
	rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then
		echo "PASS: $name"
		npass=$((npass + 1))
	elif [ "$rc" = 3 ]; then
		why=$(printf '%s\n' "$out" | sed -n 's/^SKIP: //p' | tail -n 1)
		echo "SKIP: $name (${why:-skipped})"
		nskip=$((nskip + 1))
	else
		detail=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-400)
		echo "FAIL: $name (${detail:-exit status $rc})"
		nfail=$((nfail + 1))
	fi
}
skip() { echo "SKIP: $1 ($2)"; }

# expect WHAT ACTUAL EXPECTED
expect() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', expected '$3'"
	return 1
}

# host_ask REQUEST [TIMEOUT]: print REQUEST for the host and wait for its HOST-REPLY line. Sets
# REPLY_STATUS (OK, FAIL, SKIP or NONE if nobody answered) and REPLY_DETAIL.
host_ask() {
	echo "$1" >&3
	REPLY_STATUS=NONE
	REPLY_DETAIL=""
	deadline=$(($(date +%s) + ${2:-30}))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if read -r -t 5 word st rest; then
			if [ "$word" = HOST-REPLY ]; then
				REPLY_STATUS=$st
				REPLY_DETAIL=$rest
				return 0
			fi
		else
			sleep 1
		fi
	done
	return 0
}
