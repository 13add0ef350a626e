#!/bin/sh
# bench.sh: the guest workload of scripts/guest-bench.sh (busybox sh, run as
# `sh /guest-script.sh /mnt`). Each step prints one line
#   BENCH <step> <seconds> <fuse requests|->
# where the request count comes from the host (HOST-METRICS?, vufsd --metrics only): the
# fastest of REPEAT runs of every step (each run also prints a BENCH-RUN line, which
# scripts/guest-bench.sh takes medians of, across boots).
# The tarball is /bench.tar (from the initramfs); BIG_MIB and REPEAT come from /bench.conf.
# shellcheck shell=sh disable=SC3045
MNT=${1:-/mnt}
exec 3>&1
. /vufs-lib.sh
BIG_MIB=256
REPEAT=2
[ -r /bench.conf ] && . /bench.conf
W=$MNT/bench

reqs() {
	host_ask "HOST-METRICS? $1" 30
	if [ "$REPLY_STATUS" = OK ]; then echo "${REPLY_DETAIL%% *}"; else echo -; fi
}

# step NAME COMMAND...: time COMMAND (its output discarded), count the requests it took.
# Prints `BENCH-RUN <step> <seconds> <requests|->` and keeps the fastest run per step.
step() {
	name=$1
	shift
	r0=$(reqs "$name-before")
	t0=$(now)
	"$@" >/dev/null 2>&1 || echo "bench: step $name failed" >&3
	t=$(since "$t0")
	r1=$(reqs "$name-after")
	if [ "$r0" != - ] && [ "$r1" != - ]; then n=$((r1 - r0)); else n=-; fi
	echo "BENCH-RUN $name $t $n" >&3
	echo "$name $t $n" >>/tmp/bench.runs
}

# BENCH <step> <fastest seconds> <requests of that run>
report() {
	for s in "$@"; do
		awk -v s="$s" '$1 == s && (best == "" || $2 < best) { best = $2; n = $3 }
			END { if (best != "") print "BENCH " s " " best " " n }' /tmp/bench.runs >&3
	done
}

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

untar() { tar -xf /bench.tar -C "$W" && sync; }
stat_all() { find "$W" | xargs stat -c '%s' >/dev/null; }
read_all() { find "$W" -type f | xargs cat >/dev/null; }
delete_all() { rm -rf "$W"/* && sync; }
seq_write() { dd if=/dev/zero of="$W/big" bs=1M count="$BIG_MIB" conv=fsync; }
seq_read() { dd if="$W/big" of=/dev/null bs=1M; }

mkdir -p "$W" || exit 1
nfiles=$(tar -tf /bench.tar | grep -vc '/$')
info "bench: $nfiles files in the tarball, ${BIG_MIB} MiB sequential"
# Every step REPEAT times (the host may be busy).
i=0
while [ "$i" -lt "$REPEAT" ]; do
	step untar untar
	drop
	step stat stat_all
	step read read_all
	# The same files again: the guest's page cache may still hold them (--cache=always).
	step reread read_all
	step delete delete_all
	drop
	step seqwrite seq_write
	drop
	step seqread seq_read
	rm -f "$W/big"
	sync
	i=$((i + 1))
done
report untar stat read reread delete seqwrite seqread
rmdir "$W"
echo "1 passed, 0 failed"
