#!/bin/sh
# mq.sh: guest-side multi-queue workload (busybox sh; runs inside the guest, see guest/mq-test.sh).
#
# Usage: sh mq.sh MOUNTPOINT
#
# One job per guest CPU, pinned to it (taskset), so that a Linux 6.11+ guest sends each job's
# requests on the request queue of that CPU. Each job creates 200 files in its own directory,
# lists and reads them, packs the directory with tar on the share, unpacks it elsewhere on the
# share, compares the two trees and removes everything. The host side (mq-test.sh) then checks
# how many request queues served requests. Ends with `N passed, N failed`.
# shellcheck disable=SC3045
set -eu

M=${1:?usage: mq.sh MOUNTPOINT}
exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

NCPU=$(nproc)
W=$M/mq

job() { # CPU
	d=$W/j$1
	mkdir -p "$d/src" "$d/dst"
	i=0
	while [ "$i" -lt 200 ]; do
		echo "job $1 file $i $(seq "$i" | tr -d '\n' | cut -c1-300)" >"$d/src/f$i"
		i=$((i + 1))
	done
	[ "$(ls -l "$d/src" | grep -c '^-')" = 200 ] || { echo "job $1: ls -l does not show 200 files"; return 1; }
	cat "$d"/src/* >/dev/null
	(cd "$d/src" && tar cf "$d/src.tar" .)
	(cd "$d/dst" && tar xf "$d/src.tar")
	diff -r "$d/src" "$d/dst" || { echo "job $1: trees differ after tar"; return 1; }
	rm -rf "$d"
}

t_parallel_jobs() {
	T1=$(now)
	mkdir -p "$W"
	pids=""
	c=0
	while [ "$c" -lt "$NCPU" ]; do
		(job "$c") >"/tmp/job$c.out" 2>&1 &
		pids="$pids $!"
		# Pinned from its first request on (its children inherit it).
		taskset -p -c "$c" "$!" >/dev/null 2>&1 || info "INFO: taskset failed for job $c"
		c=$((c + 1))
	done
	rc=0
	for p in $pids; do
		wait "$p" || rc=1
	done
	info "TIME: $NCPU parallel jobs took $(since "$T1") s"
	[ "$rc" = 0 ] || { cat /tmp/job*.out; return 1; }
	rmdir "$W"
}

t_cpus() {
	[ "$NCPU" -ge 2 ] || { echo "SKIP: one CPU: one request queue is all a guest uses"; return 3; }
}

T0=$(now)
info "INFO: $NCPU CPUs, kernel $(uname -r)"
check "more than one guest CPU" t_cpus
check "one tar/ls/cat/diff job per CPU, in parallel" t_parallel_jobs
info "TIME: mq workload total: $(since "$T0") s"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
