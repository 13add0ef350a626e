#!/bin/sh
# reboot.sh: guest side of the reboot test (busybox sh; runs inside the guest, once per boot).
#
# Usage (normally via guest/reboot-test.sh, which runs it through
# guest/run-guest.sh --reboots N --check-fds):
#   sh reboot.sh MOUNTPOINT
#
# The guest boots N+1 times on the same daemon (N from vufs.reboots=N on the kernel command
# line); /init mounts the share and runs this script on every boot. Boot K:
#   - asks the host to count the daemon's fds before the share is used (HOST-FDS?): the first
#     boot's count is the idle value, every later boot must be back to it (the old session's
#     inodes and open files were dropped when the new driver sent FUSE_INIT);
#   - checks that the markers of boots 1..K-1 are there, that a file written on the host before
#     the first boot reads back, and writes, reads and md5-checks (on the host too) a new file;
#   - writes its marker boot-K and, unless it is the last boot, leaves state behind on purpose
#     (files held open, a working directory, looked-up inodes) and reboots with `reboot -f`: no
#     unmount, no FUSE DESTROY, exactly what a crashing or hard-rebooted guest does;
#   - on the last boot: unmounts, has the host check that the daemon holds nothing inside the
#     share (VUFS-UNMOUNTED), and ends with `N passed, N failed` (totals over all boots).
# Counts of earlier boots are carried in the share (.reboot-counts).
# shellcheck disable=SC3045,SC2012 # busybox sh has read -t; ls counts plain names
set -eu

M=${1:?usage: reboot.sh MOUNTPOINT}
HOST_FILE_CONTENT="vufs host-file: created on the host before boot"

exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

N=0
read -r cmdline </proc/cmdline
for a in $cmdline; do
	case "$a" in
	vufs.reboots=*) N=${a#vufs.reboots=} ;;
	esac
done

# Before anything else touches the share.
t_fds() {
	host_ask "HOST-FDS?" 30
	case "$REPLY_STATUS" in
	OK) info "INFO: daemon fds: $REPLY_DETAIL" ;;
	NONE) echo "SKIP: no answer from the host"; return 3 ;;
	*) echo "$REPLY_DETAIL"; return 1 ;;
	esac
}

# The first check, before any lookup in the share; its result is counted once K is known.
fds_rc=0
fds_out=$(t_fds 2>&1) || fds_rc=$?
K=1
while [ -e "$M/boot-$K" ]; do
	K=$((K + 1))
done
info "INFO: boot $K of $((N + 1)), kernel $(uname -r)"
if [ -f "$M/.reboot-counts" ]; then
	read -r npass nfail nskip <"$M/.reboot-counts"
fi
# shellcheck disable=SC2317 # called through check
replay_fds() {
	printf '%s\n' "$fds_out"
	return "$fds_rc"
}

t_markers() {
	j=1
	while [ "$j" -lt "$K" ]; do
		expect "marker of boot $j" "$(cat "$M/boot-$j")" "boot $j ok" || return 1
		j=$((j + 1))
	done
}

t_host_file() {
	expect "host-file.txt" "$(cat "$M/host-file.txt")" "$HOST_FILE_CONTENT"
}

t_io() {
	f=$M/data-$K
	dd if=/dev/urandom of="$f" bs=64k count=16 2>/dev/null || return 1
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sum=$(md5sum <"$f" | cut -d' ' -f1)
	expect "size" "$(stat -c %s "$f")" 1048576 || return 1
	host_ask "HOST-MD5? data-$K $sum" 30
	case "$REPLY_STATUS" in
	OK) ;;
	NONE) echo "SKIP: no answer from the host"; return 3 ;;
	*) echo "host md5 differs: $REPLY_DETAIL"; return 1 ;;
	esac
}

t_dirs() {
	d=$M/dir-$K
	mkdir "$d" || return 1
	i=0
	while [ "$i" -lt 50 ]; do
		echo "$i" >"$d/f$i" || return 1
		i=$((i + 1))
	done
	expect "entries" "$(ls "$d" | wc -l)" 50
}

t_umount() {
	cd / || return 1
	sync
	umount "$M" || return 1
	! grep -q " $M " /proc/mounts || { echo "still mounted"; return 1; }
}

check "daemon fds back to the idle value (boot $K)" replay_fds
check "markers of the earlier boots (boot $K)" t_markers
check "file created on the host before the first boot (boot $K)" t_host_file
check "write, read and md5 on both sides (boot $K)" t_io
check "mkdir and 50 files (boot $K)" t_dirs
echo "boot $K ok" >"$M/boot-$K"
sync

if [ "$K" -le "$N" ] && [ "$nfail" = 0 ]; then
	echo "$npass $nfail $nskip" >"$M/.reboot-counts"
	sync
	# State the daemon must drop when the next boot's driver starts a new session.
	# shellcheck disable=SC2217 # the point is the open file, not the input
	sleep 3600 <"$M/data-$K" &
	exec 7<"$M/host-file.txt"
	cd "$M/dir-$K"
	ls -l >/dev/null
	info "INFO: boot $K done ($npass passed, $nfail failed so far): reboot -f with files open"
	reboot -f
	sleep 30
	echo "FAIL: reboot -f returned"
	exit 1
fi

check "umount" t_umount
if grep -q " $M " /proc/mounts; then
	skip "daemon released fds after unmount" "share still mounted"
else
	host_ask "VUFS-UNMOUNTED" 30
	case "$REPLY_STATUS" in
	OK) echo "PASS: daemon released inode fds after unmount ($REPLY_DETAIL)"; npass=$((npass + 1)) ;;
	FAIL) echo "FAIL: daemon released inode fds after unmount ($REPLY_DETAIL)"; nfail=$((nfail + 1)) ;;
	SKIP) skip "daemon released inode fds after unmount" "$REPLY_DETAIL" ;;
	*) skip "daemon released inode fds after unmount" "no answer from the host" ;;
	esac
fi
[ "$K" = $((N + 1)) ] || { echo "FAIL: stopped at boot $K of $((N + 1))"; nfail=$((nfail + 1)); }
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
