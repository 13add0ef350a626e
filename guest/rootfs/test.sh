#!/bin/bash
# test.sh: boot a Linux guest whose root file system is a Debian bookworm tree served by the
# daemon over virtio-fs, and run a real workload in it (dpkg, git, gcc/make): see rootfs-test.sh.
#
# Usage: guest/rootfs/test.sh            (from any directory; needs root the first time, when
#                                         build.sh makes the tree with debootstrap)
#
# The tree is $VUFS_CACHE/rootfs/tree (build.sh; cached, ~480 MB). This script copies
# rootfs-test.sh into it as /vufs-rootfs-test.sh, boots the guest with `run-guest.sh --rootfs`
# (init.sh mounts the share on /newroot and switch_root()s into it) and afterwards removes the
# script and /root/work, the only places the workload writes to, so the cached tree stays
# clean. Files in the tree modified during the run anywhere else are listed as a warning.
# Runs are serialised on the tree with flock.
#
# Environment: VUFSD, VUFSD_ARGS, VUFS_CACHE, VUFS_KEEP=1 (as for guest/test.sh);
#   VUFS_GUEST_TIMEOUT  seconds before the guest is killed (default 900)
#   VUFS_LOG_DIR        where logs are kept on failure (default build/guest-logs under the repo)
# Prints the guest's console, then `rootfs: PASS (...)` or `rootfs: FAIL (...)` (77, skipped, if
# QEMU, cpio or busybox-static are missing).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/rootfs
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-900}
case "${1:-}" in
"") ;;
-h | --help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
*) echo "usage: guest/rootfs/test.sh" >&2; exit 2 ;;
esac

for tool in "${QEMU:-qemu-system-x86_64}" cpio; do
	if ! command -v "$tool" >/dev/null; then
		echo "rootfs: SKIP ($tool not installed; run scripts/install-deps.sh)"
		exit 77
	fi
done
if [ ! -x "${VUFS_BUSYBOX:-/bin/busybox}" ]; then
	echo "rootfs: SKIP (busybox-static not installed; run scripts/install-deps.sh)"
	exit 77
fi

T0=$SECONDS
TREE=$("$HERE/build.sh")
echo "rootfs: tree $TREE (ready after $((SECONDS - T0)) s)"
exec 8>"$TREE/../test.lock"
flock 8

GUEST_SCRIPT=$TREE/vufs-rootfs-test.sh
MARK=$(mktemp "${TMPDIR:-/tmp}/vufs-rootfs-mark.XXXXXX")
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	rm -f "$GUEST_SCRIPT" "$MARK"
	rm -rf "$TREE/root/work"
}
trap cleanup EXIT
rm -rf "$TREE/root/work"
cp "$HERE/rootfs-test.sh" "$GUEST_SCRIPT"
chmod 755 "$GUEST_SCRIPT"
touch "$MARK"

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/rootfs.log
DAEMON_LOG=$LOG_DIR/rootfs.daemon.log
rm -f "$LOG" "$DAEMON_LOG"

echo "rootfs: daemon ${VUFSD:-$ROOT/build/src/vufsd} ${VUFSD_ARGS:-}"
T1=$SECONDS
rc=0
"$ROOT/guest/run-guest.sh" --share "$TREE" --rootfs --timeout "$TIMEOUT" --log "$LOG" || rc=$?
GUEST_WALL=$((SECONDS - T1))

# What else did the run change in the cached tree? (Directories whose mtime moved because the
# script or /root/work came and went are expected.)
changed=$(cd "$TREE" && find . -newer "$MARK" ! -path ./vufs-rootfs-test.sh ! -path './root/work' \
	! -path './root/work/*' ! -path . ! -path ./root 2>/dev/null | head -n 20)
if [ -n "$changed" ]; then
	echo "rootfs: warning: the run modified these files in the cached tree:"
	printf '  %s\n' "$changed"
fi
cleanup

WALL=$((SECONDS - T0))
counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 | tr -d '\r') || counts=""
if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "rootfs: PASS (${counts:-no counts}, guest ${GUEST_WALL} s, wall time ${WALL} s)"
	exit 0
fi
echo "rootfs: logs kept: $LOG $DAEMON_LOG"
echo "rootfs: FAIL (${counts:-no counts}, status $rc, guest ${GUEST_WALL} s, wall time ${WALL} s)"
exit 1
