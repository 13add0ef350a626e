#!/bin/bash
# test.sh: real-guest test of file-handle inodes and submounts. The host makes a share with a
# tree of NDIRS x 1000 files (default 200 x 1000 = 200,000) and a tmpfs mounted inside it at
# sub/, and serves it with --inode-file-handles=prefer (submounts are announced by default).
# The guest (guest/fhsub/fhsub.sh) walks the whole tree with find, keeping every inode, and
# checks that sub/ is a filesystem of its own (st_dev, /proc/mounts) and that `sync -f` on it
# works. Meanwhile the host samples the daemon's fds every half second: the most it held must
# stay small (the fd cache, mount fds, the guest's open files), far below the 200,000 inodes
# the guest knows; and the daemon's log must show the guest's SYNCFS for the submount's root
# (a nodeid other than the share's).
#
# Usage: guest/fhsub/test.sh        (as root: it mounts a tmpfs)
# Environment: VUFSD, VUFS_GUEST_TIMEOUT, VUFS_LOG_DIR, VUFS_KEEP as guest/test.sh;
#   VUFS_FH_DIRS  directories of 1000 files in the tree (default 200)
# Exits 0 (PASS), 1 (FAIL) or 77 (SKIP).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/fhsub
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-900}
NDIRS=${VUFS_FH_DIRS:-200}
MAX_FDS=1000

skip() { echo "fhsub: SKIP ($1)"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
for tool in "${QEMU:-qemu-system-x86_64}" cpio; do
	command -v "$tool" >/dev/null || skip "$tool not installed; run scripts/install-deps.sh"
done
VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
case "$VUFSD" in /*) ;; *) VUFSD=$ROOT/$VUFSD ;; esac
[ -x "$VUFSD" ] || { echo "fhsub: FAIL (no daemon $VUFSD)"; exit 1; }

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-fhsub-test.XXXXXX")
SHARE=$TMP/share
mkdir -p "$SHARE/tree" "$SHARE/sub"
SAMPLER=
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	[ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
	umount -l "$SHARE/sub" 2>/dev/null || true
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "fhsub: share kept in $SHARE"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
mount -t tmpfs -o size=8m vufs-fhsub "$SHARE/sub" || skip "cannot mount a tmpfs"
echo "on the tmpfs" >"$SHARE/sub/f"
for d in $(seq 1 "$NDIRS"); do
	mkdir "$SHARE/tree/d$d"
	# shellcheck disable=SC2046 # one word per file name
	(cd "$SHARE/tree/d$d" && touch $(seq -f 'f%g' 1 1000))
done
echo "fhsub: $((NDIRS * 1000)) files made in $((SECONDS - T0)) s"

# The wrapper records the daemon's pid; the sampler follows it (and its sandboxed child).
# Its log is also copied for us (run-guest.sh removes its own copy on success).
cat >"$TMP/daemon.sh" <<WRAP
#!/bin/bash
echo \$\$ >"$TMP/daemon.pid"
exec "$VUFSD" "\$@" --inode-file-handles=prefer --log-level=debug 2> >(tee "$TMP/daemon.log" >&2)
WRAP
chmod 0755 "$TMP/daemon.sh"
(
	max=0
	while :; do
		if [ -s "$TMP/daemon.pid" ]; then
			pid=$(cat "$TMP/daemon.pid")
			# The serving process: the sandboxed child if there is one (not the log's tee).
			srv=$pid
			for k in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
				[ "$(cat "/proc/$k/comm" 2>/dev/null)" != vufsd ] || srv=$k
			done
			n=$(ls "/proc/$srv/fd" 2>/dev/null | wc -l)
			[ "$n" -le "$max" ] || { max=$n; echo "$max" >"$TMP/max-fds"; }
		fi
		sleep 0.5
	done
) &
SAMPLER=$!

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/fhsub.log
DAEMON_LOG=$LOG_DIR/fhsub.daemon.log
rm -f "$LOG" "$DAEMON_LOG"
rc=0
VUFSD=$TMP/daemon.sh "$ROOT/guest/run-guest.sh" --share "$SHARE" --script "$HERE/fhsub.sh" \
	--append "vufs.files=$((NDIRS * 1000 + NDIRS + 1))" \
	--timeout "$TIMEOUT" --log "$LOG" || rc=$?
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=
counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 | tr -d '\r') || counts=""
p=0 f=0
if [ -n "$counts" ]; then
	p=${counts%% passed*}
	f=${counts#*passed, }
	f=${f%% failed*}
fi
max=$(cat "$TMP/max-fds" 2>/dev/null || echo 0)
if [ "$max" -gt 0 ] && [ "$max" -lt "$MAX_FDS" ]; then
	echo "PASS: the daemon held at most $max fds while the guest walked $((NDIRS * 1000)) files"
	p=$((p + 1))
else
	echo "FAIL: the daemon held up to $max fds (want 1..$((MAX_FDS - 1)))"
	f=$((f + 1))
fi
# SYNCFS of the submount: sent for its root's nodeid, not the share's (0x1).
if grep -a -E 'SYNCFS \([0-9]+\) nodeid 0x[0-9a-f]+' "$TMP/daemon.log" | grep -qv 'nodeid 0x1 '; then
	echo "PASS: the guest's SYNCFS reached the submount (its own root nodeid)"
	p=$((p + 1))
else
	echo "FAIL: no SYNCFS for the submount's root in the daemon log"
	f=$((f + 1))
fi
echo "$p passed, $f failed"
[ "$f" = 0 ] || rc=1

WALL=$((SECONDS - T0))
if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "fhsub: PASS ($p passed, $f failed, wall time ${WALL} s)"
	exit 0
fi
echo "fhsub: logs kept: $LOG $DAEMON_LOG"
echo "fhsub: FAIL ($p passed, $f failed, status $rc, wall time ${WALL} s)"
exit 1
