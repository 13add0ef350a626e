#!/bin/bash
# mq-test.sh: real guest with several request queues: Linux 6.12 on QEMU 11.1 with
# vhost-user-fs-pci,num-request-queues=4 and 4 vCPUs runs guest/scripts/mq.sh (one job per CPU)
# on vufsd; then the daemon's exit log must show requests served on at least 2 request queues
# (the guest maps queues to CPUs), which counts as one more check in the `N passed, N failed` line.
#
# Environment: VUFSD, VUFSD_ARGS (as for run-guest.sh), QEMU (default the cached QEMU 11.1,
# fetched with get-qemu11), VUFS_KERNEL (default the cached Debian 6.12 kernel from get-qemu10),
# VUFS_GUEST_TIMEOUT (default 600), VUFS_LOG_DIR (default build/guest-logs).
# Exits 77 (skipped) if QEMU 11 or the 6.12 kernel cannot be had.
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest
CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
TOOLS=${SHARED_TOOLS:-$ROOT/../shared/tools}
[ -d "$TOOLS" ] || TOOLS=/work/shared/tools
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-600}

if [ -z "${QEMU:-}" ]; then
	QEMU=$CACHE/qemu11/qemu11
	[ -x "$QEMU" ] || [ ! -x "$TOOLS/get-qemu11" ] || CACHE=$CACHE/qemu11 "$TOOLS/get-qemu11" >/dev/null 2>&1 || true
fi
if [ -z "${VUFS_KERNEL:-}" ]; then
	# shellcheck disable=SC2012 # the newest 6.12 kernel of the cache
	VUFS_KERNEL=$(ls "$CACHE"/qemu10/kernel/boot/vmlinuz-6.12* 2>/dev/null | tail -n 1)
	if [ -z "$VUFS_KERNEL" ] && [ -x "$TOOLS/get-qemu10" ]; then
		CACHE=$CACHE/qemu10 "$TOOLS/get-qemu10" >/dev/null 2>&1 || true
		# shellcheck disable=SC2012
		VUFS_KERNEL=$(ls "$CACHE"/qemu10/kernel/boot/vmlinuz-6.12* 2>/dev/null | tail -n 1)
	fi
fi
if [ ! -x "$QEMU" ] || [ -z "$VUFS_KERNEL" ]; then
	echo "mq: SKIP (QEMU 11 or the Linux 6.12 kernel not available)"
	exit 77
fi
export QEMU VUFS_KERNEL

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-mq-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/share" "$TMP/logs"
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/mq.log
DAEMON_LOG=$LOG_DIR/mq.daemon.log
rm -f "$LOG" "$DAEMON_LOG"

echo "mq: $("$QEMU" --version | head -n 1), kernel $(basename "$VUFS_KERNEL"), daemon ${VUFSD:-build/src/vufsd} ${VUFSD_ARGS:-}"
rc=0
out=$TMP/console
VUFS_KEEP=1 "$HERE/run-guest.sh" --share "$TMP/share" --script "$HERE/scripts/mq.sh" \
	--device-props num-request-queues=4 --smp 4 --timeout "$TIMEOUT" --log "$LOG" | tee "$out" ||
	rc=${PIPESTATUS[0]}
counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 | tr -d '\r')
p=${counts%% passed*}
f=${counts#*passed, }
f=${f%% failed*}
[ -n "$counts" ] || { p=0; f=1; }

# "queue N: R requests served, ..." at the daemon's exit, one line per queue that served.
grep -a -E 'queue [0-9]+: [0-9]+ requests served' "$DAEMON_LOG" 2>/dev/null | sed 's/^/mq: daemon: /' || true
nq=$(grep -a -E 'queue [1-9][0-9]*: [0-9]+ requests served' "$DAEMON_LOG" 2>/dev/null | wc -l)
if [ "$nq" -ge 2 ]; then
	echo "PASS: requests served on $nq request queues"
	p=$((p + 1))
else
	echo "FAIL: requests served on $nq request queue(s), expected at least 2"
	f=$((f + 1))
fi
WALL=$((SECONDS - T0))
echo "$p passed, $f failed"
if [ "$rc" = 0 ] && [ "$f" = 0 ]; then
	rm -f "$LOG" "$DAEMON_LOG"
	rmdir "$LOG_DIR" 2>/dev/null || true
	echo "mq: PASS (wall time ${WALL} s)"
	exit 0
fi
echo "mq: logs kept: $LOG $DAEMON_LOG"
echo "mq: FAIL (status $rc, wall time ${WALL} s)"
exit 1
