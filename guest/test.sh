#!/bin/bash
# test.sh: the real-guest test of `make check`: boot a Linux guest under QEMU (TCG) on a fresh
# share served by the daemon and run guest/scripts/basic.sh in it, with the host-side fd check.
#
# Usage: guest/test.sh                   (from any directory)
#
# Environment:
#   VUFSD               daemon binary (default build/src/vufsd under the repo root)
#   VUFSD_ARGS          extra daemon arguments, e.g. --log-level=debug
#   VUFS_GUEST_TIMEOUT  seconds before the guest is killed and the test fails (default 600)
#   VUFS_LOG_DIR        where logs are kept on failure (default build/guest-logs under the repo)
#   VUFS_CACHE          kernel/initramfs cache (default /var/tmp/vufsd-cache)
#   VUFS_KEEP=1         keep the share and the logs even on success
#
# Prints the guest's console, then a final line `guest: PASS (...)` or `guest: FAIL (...)`, and
# exits 0 or non-zero accordingly (77, the meson/automake "skipped" status, if QEMU, busybox or
# cpio are not installed: run scripts/install-deps.sh).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-600}
# Must match HOST_FILE_CONTENT in scripts/basic.sh.
HOST_FILE_CONTENT="vufs host-file: created on the host before boot"

for tool in "${QEMU:-qemu-system-x86_64}" cpio; do
	if ! command -v "$tool" >/dev/null; then
		echo "guest: SKIP ($tool not installed; run scripts/install-deps.sh)"
		exit 77
	fi
done
if [ ! -x "${VUFS_BUSYBOX:-/bin/busybox}" ]; then
	echo "guest: SKIP (busybox-static not installed; run scripts/install-deps.sh)"
	exit 77
fi

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-guest-test.XXXXXX")
SHARE=$TMP/share
mkdir "$SHARE"
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "guest: share kept in $SHARE"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
printf '%s\n' "$HOST_FILE_CONTENT" >"$SHARE/host-file.txt"
# 100 x 100 files for the guest to walk (basic.sh t_walk_tree); made here, it takes no guest time.
mkdir "$SHARE/tree"
for d in $(seq -w 0 99); do
	mkdir "$SHARE/tree/d$d"
	# shellcheck disable=SC2046 # one word per file name
	(cd "$SHARE/tree/d$d" && touch $(seq -f 'f%02g' 0 99))
done

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/basic.log
DAEMON_LOG=$LOG_DIR/basic.daemon.log
rm -f "$LOG" "$DAEMON_LOG"

# Our daemon counts the FUSE requests the test takes; the guest reports them (HOST-METRICS?).
if [ "$(basename "${VUFSD:-vufsd}")" = vufsd ]; then
	export VUFS_METRICS=$TMP/metrics.sock
	VUFSD_ARGS="${VUFSD_ARGS:-} --metrics=$VUFS_METRICS"
	export VUFSD_ARGS
fi
echo "guest: daemon ${VUFSD:-$ROOT/build/src/vufsd} ${VUFSD_ARGS:-}"
rc=0
"$HERE/run-guest.sh" --share "$SHARE" --script "$HERE/scripts/basic.sh" --check-fds \
	--timeout "$TIMEOUT" --log "$LOG" || rc=$?
WALL=$((SECONDS - T0))

if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "guest: PASS (wall time ${WALL} s)"
	exit 0
fi
echo "guest: logs kept: $LOG${DAEMON_LOG:+ $DAEMON_LOG}"
echo "guest: FAIL (status $rc, wall time ${WALL} s)"
exit 1
