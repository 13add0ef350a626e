#!/bin/bash
# test.sh: the guest POSIX suite: boot a Linux guest under QEMU (TCG) on a fresh share served by
# the daemon (with --xattr) and run guest/posix/posix.sh in it, with the static helper vufs-as
# (built here from vufs-as.c) in the guest's initramfs and the host-side fd check at the end.
#
# Usage: guest/posix/test.sh [--long]     (from any directory)
#   --long   list a directory of 100,000 entries instead of 20,000 (see README.md)
#
# Environment:
#   VUFSD               daemon binary (default build/src/vufsd under the repo root); any daemon
#                       with the same command line works, e.g. /tmp/anchors/rust-virtiofsd
#   VUFSD_ARGS          extra daemon arguments (--xattr is added unless it or --no-xattr is there);
#                       with --posix-acl the ACL case runs, with --xattrmap=$(cat xattrmap.rules)
#                       (the rules in guest/posix/xattrmap.rules) the xattr mapping case runs
#   VUFS_GUEST_TIMEOUT  seconds before the guest is killed (default 600, 1200 with --long)
#   VUFS_LOG_DIR        where logs are kept on failure (default build/guest-logs under the repo)
#   VUFS_CACHE          kernel/initramfs cache (default /var/tmp/vufsd-cache)
#   VUFS_KEEP=1         keep the share, the helper and the logs even on success
#
# Prints the guest's console, then `posix: PASS (...)` or `posix: FAIL (...)`, and exits 0 or
# non-zero accordingly (77, "skipped", if QEMU, cpio, busybox-static or a static libc for gcc are
# missing).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/posix
LONG=0
case "${1:-}" in
"") ;;
--long) LONG=1 ;;
-h | --help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
*) echo "usage: guest/posix/test.sh [--long]" >&2; exit 2 ;;
esac
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
if [ "$LONG" = 1 ]; then
	TIMEOUT=${VUFS_GUEST_TIMEOUT:-1200}
else
	TIMEOUT=${VUFS_GUEST_TIMEOUT:-600}
fi

for tool in "${QEMU:-qemu-system-x86_64}" cpio gcc; do
	if ! command -v "$tool" >/dev/null; then
		echo "posix: SKIP ($tool not installed; run scripts/install-deps.sh)"
		exit 77
	fi
done
if [ ! -x "${VUFS_BUSYBOX:-/bin/busybox}" ]; then
	echo "posix: SKIP (busybox-static not installed; run scripts/install-deps.sh)"
	exit 77
fi

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-posix-test.XXXXXX")
SHARE=$TMP/share
mkdir "$SHARE"
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "posix: share and helper kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

if ! gcc -static -O2 -Wall -o "$TMP/vufs-as" "$HERE/vufs-as.c" 2>"$TMP/gcc.err"; then
	if grep -q 'cannot find -lc' "$TMP/gcc.err"; then
		echo "posix: SKIP (no static libc for gcc -static: install libc6-dev)"
		exit 77
	fi
	cat "$TMP/gcc.err" >&2
	echo "posix: FAIL (cannot build the helper vufs-as)"
	exit 1
fi

case " ${VUFSD_ARGS:-} " in
*" --xattr "* | *" --no-xattr "*) ;;
*) export VUFSD_ARGS="${VUFSD_ARGS:-} --xattr" ;;
esac

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/posix.log
DAEMON_LOG=$LOG_DIR/posix.daemon.log
rm -f "$LOG" "$DAEMON_LOG"

extra=()
[ "$LONG" = 0 ] || extra+=(--append vufs.long=1)
# The guest cannot tell whether the daemon offered POSIX ACLs (with --xattr alone it stores
# system.posix_acl_* without enforcing them): say so on the kernel command line.
case " $VUFSD_ARGS " in
*" --posix-acl "*) extra+=(--append vufs.acl=1) ;;
esac
# The xattr mapping case checks the rules of xattrmap.rules: run it when the daemon has exactly
# those (VUFSD_ARGS is word-split, so the rules have no blanks).
XATTRMAP=$(cat "$HERE/xattrmap.rules")
case " $VUFSD_ARGS " in
*" --xattrmap=$XATTRMAP "*) extra+=(--append vufs.xattrmap=1) ;;
*" --xattrmap"*) echo "posix: other --xattrmap rules than $HERE/xattrmap.rules: the mapping case is skipped" ;;
esac
echo "posix: daemon ${VUFSD:-$ROOT/build/src/vufsd} $VUFSD_ARGS"
rc=0
"$ROOT/guest/run-guest.sh" --share "$SHARE" --script "$HERE/posix.sh" --add "$TMP/vufs-as:/bin/vufs-as" \
	--check-fds --timeout "$TIMEOUT" --log "$LOG" "${extra[@]}" || rc=$?
WALL=$((SECONDS - T0))
counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 | tr -d '\r') || counts=""
skips=$(grep -a -c '^SKIP: ' "$LOG") || skips=0

if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "posix: PASS (${counts:-no counts}, $skips skipped, wall time ${WALL} s)"
	exit 0
fi
echo "posix: logs kept: $LOG $DAEMON_LOG"
echo "posix: FAIL (${counts:-no counts}, $skips skipped, status $rc, wall time ${WALL} s)"
exit 1
