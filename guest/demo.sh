#!/bin/bash
# demo.sh: host side of `make demo` and `make demo-shell`: boot a real Linux guest under QEMU on a
# directory served by the vufsd daemon over virtio-fs.
#
# Usage:
#   guest/demo.sh            scripted tour (guest/scripts/demo.sh): the guest lists the share,
#                            reads a file the host wrote, writes one back; then the host shows
#                            what the guest left in the directory.
#   guest/demo.sh --shell    an interactive shell in the guest on the same kind of share
#                            (mounted on /mnt); Ctrl-D or `poweroff -f` leaves it.
#
# Environment: VUFSD (daemon binary, default build/src/vufsd under the repo root), VUFSD_ARGS
# (extra daemon arguments), VUFS_CACHE (kernel/initramfs cache, default /var/tmp/vufsd-cache),
# VUFS_KEEP=1 (keep the temporary share directory).
# Needs qemu-system-x86, busybox-static, cpio and kmod (scripts/install-deps.sh installs them)
# and Debian's package archive for the first run (the guest kernel is fetched with apt).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest
MODE=script
case "${1:-}" in
"") ;;
--shell) MODE=shell ;;
-h | --help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
*) echo "usage: guest/demo.sh [--shell]" >&2; exit 2 ;;
esac

export VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
if [ ! -x "$VUFSD" ]; then
	echo "demo: the daemon $VUFSD is not built yet." >&2
	echo "demo: build it with 'meson setup build && ninja -C build', or point VUFSD at a daemon" >&2
	echo "demo: with the same command line (--socket-path=SOCK --shared-dir=DIR)." >&2
	exit 1
fi

step() { printf '\n>>> %s\n' "$*"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-demo.XXXXXX")
SHARE=$TMP/share
mkdir "$SHARE"
cleanup() {
	if [ "${VUFS_KEEP:-0}" = 1 ]; then
		echo "demo: the share is kept in $SHARE"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

step "Host: creating a fresh share directory $SHARE"
echo "Hello from the host ($(uname -n), $(date -u '+%Y-%m-%d %H:%M:%S UTC'))" >"$SHARE/hello-from-host.txt"
ls -l "$SHARE"

step "Host: getting the guest kernel and initramfs (cached after the first run)"
echo "kernel:    $("$HERE/fetch-kernel.sh")"
echo "initramfs: $("$HERE/mkinitramfs.sh")"

if [ "$MODE" = shell ]; then
	step "Booting the guest with a shell (daemon: $VUFSD; QEMU TCG, ~10 s to boot)"
	echo "    The share is mounted on /mnt. Ctrl-D or 'poweroff -f' leaves; Ctrl-A x kills QEMU."
	rc=0
	"$HERE/run-guest.sh" --share "$SHARE" --shell || rc=$?
	step "Host: the share after the session"
	ls -l "$SHARE"
	exit "$rc"
fi

step "Booting the guest (daemon: $VUFSD; QEMU TCG, ~10 s to boot)"
rc=0
"$HERE/run-guest.sh" --share "$SHARE" --script "$HERE/scripts/demo.sh" --timeout 300 || rc=$?
if [ "$rc" != 0 ]; then
	echo "demo: the guest run failed (status $rc)" >&2
	exit "$rc"
fi

step "Back on the host: the guest's files are in the shared directory"
echo "host\$ ls -lR $SHARE"
ls -lR "$SHARE"
echo "host\$ cat $SHARE/hello-from-guest.txt"
cat "$SHARE/hello-from-guest.txt"
step "Demo done."
