#!/bin/bash
# test.sh: the unprivileged real-guest test: vufsd runs as an ordinary user (vufs-unpriv, created
# here if missing, with the subordinate ids 200000-265535 in /etc/subuid and /etc/subgid), shares
# a directory of that user, and sandboxes itself in a user namespace:
#   --sandbox=namespace --uid-map=:0:U:1: --uid-map=:1:200000:65535: (and the same for gids)
# so guest root is the user on the host and guest uid N > 0 is host 200000 + N - 1. QEMU runs as
# root as usual. The guest runs guest/unpriv/unpriv.sh and asks the host for the owners it made.
#
# Usage: guest/unpriv/test.sh        (as root: it creates the user and drops to it)
#
# Environment: VUFSD, VUFSD_ARGS, VUFS_GUEST_TIMEOUT, VUFS_LOG_DIR, VUFS_KEEP as guest/test.sh.
# Exits 0 (PASS), 1 (FAIL) or 77 (SKIP: not root, no QEMU/busybox, no newuidmap from uidmap).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/unpriv
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
TIMEOUT=${VUFS_GUEST_TIMEOUT:-600}
USER_NAME=vufs-unpriv
SUB_START=200000
SUB_COUNT=65536

skip() { echo "unpriv: SKIP ($1)"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to create the test user"
for tool in "${QEMU:-qemu-system-x86_64}" cpio setpriv newuidmap newgidmap useradd usermod; do
	command -v "$tool" >/dev/null || skip "$tool not installed; run scripts/install-deps.sh"
done
VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
case "$VUFSD" in /*) ;; *) VUFSD=$ROOT/$VUFSD ;; esac
[ -x "$VUFSD" ] || { echo "unpriv: FAIL (no daemon $VUFSD)"; exit 1; }

# The test user: no home, no login, subordinate ids granted once.
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
if ! grep -q "^$USER_NAME:$SUB_START:$SUB_COUNT\$" /etc/subuid; then
	usermod --add-subuids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$USER_NAME"
fi
if ! grep -q "^$USER_NAME:$SUB_START:$SUB_COUNT\$" /etc/subgid; then
	usermod --add-subgids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$USER_NAME"
fi
U=$(id -u "$USER_NAME")
G=$(id -g "$USER_NAME")

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-unpriv-test.XXXXXX")
chmod 0711 "$TMP"
SHARE=$TMP/share
mkdir "$SHARE"
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "unpriv: share kept in $SHARE"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
echo "made on the host by the user" >"$SHARE/user-file.txt"
chown -R "$U:$G" "$SHARE"
# Owned by host root, which the namespace does not map: the guest sees the overflow id.
echo "made on the host by root" >"$SHARE/root-file.txt"

if ! gcc -static -O2 -Wall -o "$TMP/vufs-as" "$ROOT/guest/posix/vufs-as.c" 2>"$TMP/gcc.err"; then
	cat "$TMP/gcc.err" >&2
	skip "cannot build the helper vufs-as statically (libc6-dev)"
fi

# run-guest.sh starts "$VUFSD" as root with the socket in its own 0700 directory: this wrapper
# hands that directory to the user and becomes the user before exec'ing the daemon.
cat >"$TMP/as-user.sh" <<WRAP
#!/bin/sh
for a in "\$@"; do
	case "\$a" in --socket-path=*) chown $U:$G "\$(dirname "\${a#--socket-path=}")" ;; esac
done
exec setpriv --reuid=$U --regid=$G --clear-groups -- sh -c 'id -u >"\$0"; exec "\$@"' \
	"$TMP/daemon-uid" "$VUFSD" "\$@" --sandbox=namespace \
	--uid-map=:0:$U:1: --uid-map=:1:$SUB_START:$((SUB_COUNT - 1)): \
	--gid-map=:0:$G:1: --gid-map=:1:$SUB_START:$((SUB_COUNT - 1)):
WRAP
chmod 0755 "$TMP/as-user.sh"
: >"$TMP/daemon-uid"
chown "$U:$G" "$TMP/daemon-uid"

mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/unpriv.log
DAEMON_LOG=$LOG_DIR/unpriv.daemon.log
rm -f "$LOG" "$DAEMON_LOG"
echo "unpriv: daemon $VUFSD ${VUFSD_ARGS:-} as $USER_NAME ($U:$G), ids 1.. on $SUB_START.."
rc=0
VUFSD=$TMP/as-user.sh "$ROOT/guest/run-guest.sh" --share "$SHARE" --script "$HERE/unpriv.sh" \
	--add "$TMP/vufs-as:/bin/vufs-as" --append "vufs.uid=$U vufs.sub=$SUB_START" \
	--check-fds --timeout "$TIMEOUT" --log "$LOG" || rc=$?
WALL=$((SECONDS - T0))
counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -n 1 | tr -d '\r') || counts=""
p=0 f=0
if [ -n "$counts" ]; then
	p=${counts%% passed*}
	f=${counts#*passed, }
	f=${f%% failed*}
fi
# The daemon really ran as the user.
duid=$(cat "$TMP/daemon-uid" 2>/dev/null || echo "?")
if [ "$duid" = "$U" ]; then
	echo "PASS: daemon ran as uid $U ($USER_NAME)"
	p=$((p + 1))
else
	echo "FAIL: daemon ran as uid $duid, not $U"
	f=$((f + 1))
	rc=1
fi
counts="$p passed, $f failed"
echo "$counts"

if [ "$rc" = 0 ]; then
	if [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -f "$LOG" "$DAEMON_LOG"
		rmdir "$LOG_DIR" 2>/dev/null || true
	fi
	echo "unpriv: PASS (${counts:-no counts}, wall time ${WALL} s)"
	exit 0
fi
echo "unpriv: logs kept: $LOG $DAEMON_LOG"
echo "unpriv: FAIL (${counts:-no counts}, status $rc, wall time ${WALL} s)"
exit 1
