#!/bin/bash
# reboot-test.sh: the "guest reboots" stage of `make check`: a Linux guest under QEMU 7.2 (TCG)
# boots on a share served by one daemon, hard-reboots (`reboot -f`, files left open) N times and
# finds the share working after every boot, with the daemon's fd count back to its idle value
# (guest/scripts/reboot.sh, run through guest/run-guest.sh --reboots N --check-fds).
#
# Usage: guest/reboot-test.sh            (from any directory)
#
# Environment:
#   VUFS_REBOOTS        reboots (default 2: three boots)
#   VUFSD, VUFSD_ARGS   daemon binary and extra arguments (see run-guest.sh)
#   VUFS_GUEST_TIMEOUT  seconds before the guest is killed and the test fails (default 300)
#   VUFS_LOG_DIR        where logs are kept on failure (default build/guest-logs under the repo)
#   VUFS_KEEP=1         keep the share and the logs even on success
#
# Prints the guest's console, then `guest reboots: PASS (...)` or `guest reboots: FAIL (...)`;
# exits 0, non-zero, or 77 (skipped) if QEMU, busybox or cpio are missing.
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-300}
REBOOTS=${VUFS_REBOOTS:-2}
# Must match HOST_FILE_CONTENT in scripts/reboot.sh.
HOST_FILE_CONTENT="vufs host-file: created on the host before boot"

for tool in "${QEMU:-qemu-system-x86_64}" cpio; do
	if ! command -v "$tool" >/dev/null; then
		echo "guest reboots: SKIP ($tool not installed; run scripts/install-deps.sh)"
		exit 77
	fi
done
if [ ! -x "${VUFS_BUSYBOX:-/bin/busybox}" ]; then
	echo "guest reboots: SKIP (busybox-static not installed; run scripts/install-deps.sh)"
	exit 77
fi

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-reboot-test.XXXXXX")
SHARE=$TMP/share
mkdir "$SHARE"
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "guest reboots: share kept in $SHARE"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
printf '%s\n' "$HOST_FILE_CONTENT" >"$SHARE/host-file.txt"

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/reboot.log
DAEMON_LOG=$LOG_DIR/reboot.daemon.log
rm -f "$LOG" "$DAEMON_LOG"

echo "guest reboots: daemon ${VUFSD:-$ROOT/build/src/vufsd} ${VUFSD_ARGS:-}, $REBOOTS reboots"
rc=0
"$HERE/run-guest.sh" --share "$SHARE" --script "$HERE/scripts/reboot.sh" --reboots "$REBOOTS" \
	--check-fds --timeout "$TIMEOUT" --log "$LOG" || rc=$?
WALL=$((SECONDS - T0))

if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "guest reboots: PASS (wall time ${WALL} s)"
	exit 0
fi
echo "guest reboots: logs kept: $LOG $DAEMON_LOG"
echo "guest reboots: FAIL (status $rc, wall time ${WALL} s)"
exit 1
