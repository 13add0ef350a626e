#!/bin/bash
# durability.sh: fsync'ed data survives a SIGKILL of QEMU, and one of the daemon.
#
# Two real-guest runs (Linux 6.1 under QEMU TCG, via run-guest.sh) of scripts/durability.sh,
# which appends records to a file and creates files (write, fsync, rename, fsync of the
# directory) in a loop and prints `DUR-SYNCED log|file N` after each fsync returned:
#   1. --cache=auto:   once KILL_AFTER (default 20) files are confirmed, QEMU gets SIGKILL;
#   2. --cache=always: the same, but the daemon (every process of it) gets SIGKILL, then QEMU.
# Then every record the guest reported is checked in the share on the host: each confirmed
# log record is the right line at the right place of dur/log, each confirmed file exists with
# the right content. The daemon runs with --log-level=debug, and its log must show at least
# as many FSYNC and FSYNCDIR requests as the guest confirmed (the guest's fsync reached the
# daemon, which answers FSYNC/FSYNCDIR only after fsync(2)/fdatasync(2) of its own fd
# returned: pt_fsync/pt_fsyncdir in src/fs/pt_file.c, pt_dir.c). After QEMU's death the daemon must
# exit cleanly by itself.
#
# Ends with "N passed, N failed" (the check.sh guest_stage format); exit status 0 if all passed.
# Environment: VUFSD, QEMU, VUFS_CACHE as for run-guest.sh; KILL_AFTER; VUFS_LOG_DIR (default
# build/guest-logs; the logs of a failed run stay there); VUFS_KEEP=1 keeps shares and logs.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
KILL_AFTER=${KILL_AFTER:-20}
PAD=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz0123456789

for tool in "${QEMU:-qemu-system-x86_64}" cpio; do
	if ! command -v "$tool" >/dev/null; then
		echo "durability: SKIP ($tool not installed; run scripts/install-deps.sh)"
		exit 77
	fi
done

npass=0
nfail=0
T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-durability.XXXXXX")
mkdir -p "$LOG_DIR"
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "durability: shares kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

# Children of pid $1 whose command name starts with $2.
children_named() {
	local s line rest ppid comm p
	for s in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$s" || continue
		rest=${line##*) }
		read -r _ ppid _ <<<"$rest"
		[ "$ppid" = "$1" ] || continue
		p=${s#/proc/}
		p=${p%/stat}
		comm=${line#*(}
		comm=${comm%%)*}
		[[ "$comm" == "$2"* ]] && echo "$p"
	done
}

# All descendants of pid $1, deepest first.
descendants() {
	local c
	for c in $(children_named "$1" ""); do
		descendants "$c"
		echo "$c"
	done
}

result() { # STATUS TEXT
	if [ "$1" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
	echo "$1: $2"
}

# one_run NAME VICTIM(qemu|daemon) DAEMON-ARGS
one_run() {
	local name=$1 victim=$2 args=$3 share=$TMP/$1/share log=$LOG_DIR/durability-$1.log
	local dlog=$LOG_DIR/durability-$1.daemon.log rg qpid dpid i n_log n_file t_start bad=0
	mkdir -p "$share"
	rm -f "$log" "$dlog"
	echo "durability: run '$name': daemon args '$args', SIGKILL to $victim after $KILL_AFTER files"
	VUFSD_ARGS="$args" "$HERE/run-guest.sh" --share "$share" --script "$HERE/scripts/durability.sh" \
		--log "$log" --timeout 300 >"$TMP/$name.out" 2>&1 &
	rg=$!
	t_start=$SECONDS
	confirmed() { local c; c=$(grep -c '^DUR-SYNCED file' "$log" 2>/dev/null); echo "${c:-0}"; }
	until [ "$(confirmed)" -ge "$KILL_AFTER" ]; do
		if ! kill -0 "$rg" 2>/dev/null || [ $((SECONDS - t_start)) -gt 240 ]; then
			kill -TERM "$rg" 2>/dev/null
			wait "$rg"
			cat "$TMP/$name.out"
			result FAIL "$name: the guest did not confirm $KILL_AFTER files (see $log)"
			return
		fi
		sleep 0.2
	done
	qpid=$(children_named "$rg" qemu-system | head -n 1)
	dpid=$(children_named "$rg" "$(basename "${VUFSD:-vufsd}" | cut -c1-15)" | head -n 1)
	if [ -z "$qpid" ] || [ -z "$dpid" ]; then
		kill -TERM "$rg" 2>/dev/null
		wait "$rg"
		result FAIL "$name: cannot find the QEMU ($qpid) or daemon ($dpid) process"
		return
	fi
	if [ "$victim" = daemon ]; then
		for i in $(descendants "$dpid") "$dpid"; do kill -KILL "$i" 2>/dev/null; done
		echo "durability: SIGKILL to the daemon (pid $dpid and its children) at $((SECONDS - t_start)) s"
		sleep 2
	fi
	kill -KILL "$qpid" 2>/dev/null
	echo "durability: SIGKILL to QEMU (pid $qpid) at $((SECONDS - t_start)) s"
	wait "$rg" # fails: the guest never printed VUFS-EXIT
	echo "durability: run-guest.sh's verdict (failures expected: we killed the run):"
	sed -n 's/^\(host: .*\)/  \1/p' "$TMP/$name.out" | grep -v '^  host: booting' | tail -n 6

	# Every record the guest confirmed must be on the host.
	n_log=$(sed -n 's/^DUR-SYNCED log \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	n_file=$(sed -n 's/^DUR-SYNCED file \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	for ((i = 1; i <= n_log; i++)); do
		if [ "$(sed -n "${i}p" "$share/dur/log")" != "rec $i $PAD" ]; then
			result FAIL "$name: log record $i was fsync'ed in the guest but is not on the host"
			bad=1
			break
		fi
	done
	for ((i = 1; i <= n_file; i++)); do
		if [ "$(cat "$share/dur/f.$i" 2>/dev/null)" != "file $i $PAD" ]; then
			result FAIL "$name: file f.$i was fsync'ed (with its directory) in the guest but is not on the host"
			bad=1
			break
		fi
	done
	[ "$bad" = 1 ] ||
		result PASS "$name: all $n_log log records and $n_file files the guest fsync'ed are on the host ($(wc -l <"$share/dur/log") records in the file)"
	# The guest's fsync reached the daemon as FSYNC / FSYNCDIR requests.
	local nf nd
	nf=$(grep -c ' FSYNC (' "$dlog" 2>/dev/null)
	nd=$(grep -c ' FSYNCDIR (' "$dlog" 2>/dev/null)
	if [ "${nf:-0}" -ge $((n_log + n_file)) ] && [ "${nd:-0}" -ge "$n_file" ]; then
		result PASS "$name: the daemon served $nf FSYNC and $nd FSYNCDIR requests (>= $((n_log + n_file)) and $n_file)"
	else
		result FAIL "$name: the daemon saw ${nf:-0} FSYNC and ${nd:-0} FSYNCDIR requests, expected >= $((n_log + n_file)) and $n_file"
	fi
	if [ "$victim" = qemu ]; then
		if grep -q 'daemon crashed\|daemon still running' "$TMP/$name.out"; then
			result FAIL "$name: the daemon did not exit cleanly after QEMU was killed"
		else
			result PASS "$name: the daemon exited by itself after QEMU was killed"
		fi
	fi
	if [ "$bad" = 0 ] && [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$log" "$dlog"
	fi
}

one_run kill-qemu qemu "--cache=auto --log-level=debug"
one_run kill-daemon daemon "--cache=always --log-level=debug"
rmdir "$LOG_DIR" 2>/dev/null
echo "durability: wall time $((SECONDS - T0)) s"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
