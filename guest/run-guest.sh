#!/bin/bash
# run-guest.sh: boot a Linux guest under QEMU (TCG) on a virtio-fs share served by vufsd.
#
# Usage:
#   guest/run-guest.sh --share DIR (--script FILE | --rootfs | --shell)
#                      [--add FILE[:GUESTPATH]]... [--append ARGS]
#                      [--log FILE] [--timeout SEC] [--check-fds] [--reboots N]
#                      [--device-props PROPS] [--smp N]
#
#   --share DIR     host directory to export (the daemon's --shared-dir); the guest mounts it,
#                   as `mount -t virtiofs vufs /mnt`, on /mnt.
#   --script FILE   guest-side sh script to run as `sh /guest-script.sh /mnt` (script mode).
#                   run-guest.sh exits with its status, taken from the `VUFS-EXIT <status>` line
#                   that the guest's /init prints (non-zero if that line never comes).
#   --rootfs        the share is the guest's root file system instead (kernel command line
#                   vufs.rootfs=1, see init.sh): /init mounts it on /newroot and switch_root()s
#                   into it. Script mode then runs the share's own /vufs-rootfs-test.sh (it must
#                   exist) with the share's /bin/sh; with --shell, the share's shell.
#   --shell         interactive guest shell on this terminal instead (Ctrl-D or `poweroff -f`
#                   to leave; Ctrl-A x kills QEMU).
#   --add FILE[:GUESTPATH]
#                   put FILE (mode kept) into the per-run initramfs as GUESTPATH (an absolute
#                   path, default /BASENAME), next to /guest-script.sh; repeatable. E.g.
#                   --add build/vufs-as:/bin/vufs-as.
#   --append ARGS   extra kernel command-line arguments.
#   --log FILE      script mode: also write the console (and the host's own lines) to FILE;
#                   shell mode: QEMU logs the console to FILE. The daemon's stdout/stderr then
#                   go to FILE with .log replaced by .daemon.log.
#   --timeout SEC   kill QEMU and fail after SEC seconds (script mode default 600; shell mode
#                   default none).
#   --check-fds     after the guest unmounts the share (see the protocol below), check that the
#                   daemon no longer holds fds on anything inside the share.
#   --reboots N     script mode: QEMU runs without -no-reboot and the kernel command line gets
#                   vufs.reboots=N; the guest script is expected to reboot the guest (reboot -f)
#                   N times and finish normally (VUFS-EXIT) on boot N+1, which the host checks by
#                   counting the boots (`init: virtio-fs share mounted` lines). Each boot runs
#                   /guest-script.sh again; it finds its boot number from what it left in the share.
#   --device-props PROPS
#                   extra properties of the vhost-user-fs-pci device, appended after a comma,
#                   e.g. num-request-queues=4 (QEMU 8.x and later).
#   --smp N         guest CPUs (default 2; Linux 6.11+ maps the request queues to CPUs).
#
# Environment:
#   VUFSD       daemon binary (default build/src/vufsd under the repo root). Started as
#               $VUFSD --socket-path=SOCK --shared-dir=DIR $VUFSD_ARGS, SOCK in a fresh temp dir.
#   VUFSD_ARGS  extra daemon arguments (word-split), e.g. --log-level=debug.
#   QEMU        QEMU binary (default qemu-system-x86_64), e.g. /var/tmp/vufsd-cache/qemu11/qemu11.
#   VUFS_KERNEL another guest kernel (default: the cached Debian 6.1 one, fetch-kernel.sh). It
#               must have virtio_pci and virtiofs built in (e.g. Debian's 6.12 from get-qemu10):
#               /init then loads no modules.
#   VUFS_CACHE  kernel/initramfs cache (default /var/tmp/vufsd-cache); see fetch-kernel.sh and
#               mkinitramfs.sh, which this script runs (both are no-ops once cached).
#   VUFS_KEEP=1 keep the temp dir and logs even on success.
#   VUFS_METRICS, VUFS_METRICS_DIR
#               the daemon's --metrics socket and where HOST-METRICS? saves snapshots.
#
# The daemon counts as failed if it dies while the guest runs, or if it is killed by a signal
# it was not sent (a crash: SIGSEGV, SIGABRT...). On exit the daemon gets 3 s to exit by itself
# (a vhost-user backend normally exits when QEMU disconnects), then SIGTERM, then SIGKILL 5 s
# later. On failure the serial log and the daemon log are kept and their paths printed.
#
# Guest <-> host protocol (script mode). The guest's console is QEMU's stdio serial, connected
# to two FIFOs here: we read the guest's output line by line from one and can type lines into
# the guest's console through the other. /init turns console echo off before the script runs.
# A guest line that asks the host something gets exactly one reply line on the guest's console
# input, `HOST-REPLY <OK|FAIL|SKIP> <detail>`, which the guest reads with `read -t` (see
# scripts/basic.sh, host_ask). Requests, matched anywhere in a line:
#   HOST-WRITE? NAME CONTENT   write CONTENT (rest of the line) plus a newline to DIR/NAME
#                              (NAME: one plain file name); reply OK once it is written.
#   HOST-MD5? RELPATH SUM      compare SUM with md5sum of DIR/RELPATH; reply OK or FAIL.
#                              A mismatch fails the run even if the guest ignores the reply.
#   HOST-STAT? RELPATH         lstat DIR/RELPATH on the host (the last component is not
#                              followed; the rest must stay inside DIR); reply
#                              `OK uid=U gid=G mode=OCTAL size=N type=T` (mode: permission and
#                              set-id/sticky bits, like stat %a; type: file dir symlink fifo
#                              socket chardev blockdev other) or `FAIL <why>`.
#   HOST-XATTR? RELPATH NAME   read extended attribute NAME of DIR/RELPATH on the host (lgetxattr:
#                              the last component is not followed; the rest must stay inside
#                              DIR; NAME: letters, digits, '.', '_', '-'); reply `OK <value>`
#                              (bytes outside printable ASCII as \xHH) or `FAIL <ERRNO name>`,
#                              e.g. `FAIL ENODATA`. Read-only.
#   HOST-LOCK? RELPATH SEC     a host process takes flock(LOCK_EX) and an OFD write lock on the
#                              whole of DIR/RELPATH (an existing regular file) and holds both for
#                              SEC seconds (1..600) in the background; reply OK once both are
#                              held, FAIL if either could not be taken (e.g. a guest holds a
#                              conflicting lock). Holders still running at the end are killed.
#   HOST-FDS?                  count the fds of the daemon and all of its descendants. The first
#                              count is the idle value (ask right after the mount, before the share
#                              is used); later ones (e.g. after a reboot) poll for up to 10 s until
#                              the count is back to it: reply `OK fds=N idle=M`, else
#                              `FAIL fds=N idle=M` (and the run fails).
#   HOST-METRICS? LABEL        snapshot the daemon's request metrics: if $VUFS_METRICS names its
#                              --metrics socket, save the exposition as LABEL.prom in
#                              $VUFS_METRICS_DIR (default: the run's temp dir) and reply
#                              `OK <total requests so far>`; SKIP without a socket.
#   VUFS-UNMOUNTED             the guest has unmounted the share and waits for the verdict.
#                              With --check-fds the host polls, for up to 10 s, the fds of the
#                              daemon and all of its descendant processes (sandboxes fork) until
#                              none refers to a file or directory inside DIR other than DIR
#                              itself, prints `host: daemon holds N inode fds after unmount`
#                              and replies OK (N = 0) or FAIL (N > 0; the run fails). Without
#                              --check-fds it replies SKIP at once. The guest waits up to 30 s
#                              for the reply, so it never powers off before the host counted;
#                              the host never kills QEMU early: the guest then prints its
#                              summary, /init prints VUFS-EXIT and powers off.
#   VUFS-EXIT N                (not a request) the guest script's exit status.
# An fd "refers to something inside DIR" if its target's (st_dev, st_ino), read through
# /proc/PID/fd/N, is that of an entry found under DIR, or its link text is DIR/..., or it is
# a deleted file on DIR's filesystem. Identity, not path text, is what matters, because a daemon
# that pivot_root()s into DIR shows its fds as "/name", not "DIR/name".
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/guest

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" | sed -n '1,/^Environment:/p' | sed '$d'
	exit "${1:-2}"
}
die() { echo "run-guest: error: $*" >&2; exit 2; }

SHARE="" SCRIPT="" SHELL_MODE=0 LOG="" TIMEOUT="" CHECK_FDS=0 ROOTFS=0 EXTRA_APPEND="" REBOOTS=0
DEVICE_PROPS="" SMP=2
ADD=()
while [ $# -gt 0 ]; do
	case "$1" in
	--share) [ $# -ge 2 ] || usage; SHARE=$2; shift 2 ;;
	--share=*) SHARE=${1#*=}; shift ;;
	--script) [ $# -ge 2 ] || usage; SCRIPT=$2; shift 2 ;;
	--script=*) SCRIPT=${1#*=}; shift ;;
	--shell) SHELL_MODE=1; shift ;;
	--rootfs) ROOTFS=1; shift ;;
	--add) [ $# -ge 2 ] || usage; ADD+=("$2"); shift 2 ;;
	--add=*) ADD+=("${1#*=}"); shift ;;
	--append) [ $# -ge 2 ] || usage; EXTRA_APPEND="$EXTRA_APPEND $2"; shift 2 ;;
	--append=*) EXTRA_APPEND="$EXTRA_APPEND ${1#*=}"; shift ;;
	--log) [ $# -ge 2 ] || usage; LOG=$2; shift 2 ;;
	--log=*) LOG=${1#*=}; shift ;;
	--timeout) [ $# -ge 2 ] || usage; TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--check-fds) CHECK_FDS=1; shift ;;
	--reboots) [ $# -ge 2 ] || usage; REBOOTS=$2; shift 2 ;;
	--reboots=*) REBOOTS=${1#*=}; shift ;;
	--device-props) [ $# -ge 2 ] || usage; DEVICE_PROPS=$2; shift 2 ;;
	--device-props=*) DEVICE_PROPS=${1#*=}; shift ;;
	--smp) [ $# -ge 2 ] || usage; SMP=$2; shift 2 ;;
	--smp=*) SMP=${1#*=}; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run-guest: unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$SHARE" ] || usage
[ -d "$SHARE" ] || die "share directory $SHARE does not exist"
SHARE=$(cd "$SHARE" && pwd -P)
if [ "$SHELL_MODE" = 1 ]; then
	[ -z "$SCRIPT" ] || die "--script and --shell are exclusive"
	[ "$CHECK_FDS" = 0 ] || die "--check-fds needs --script"
elif [ "$ROOTFS" = 1 ]; then
	[ -z "$SCRIPT" ] || die "--script and --rootfs are exclusive (--rootfs runs the share's /vufs-rootfs-test.sh)"
	[ -f "$SHARE/vufs-rootfs-test.sh" ] || die "--rootfs: $SHARE/vufs-rootfs-test.sh not found"
	TIMEOUT=${TIMEOUT:-600}
else
	[ -n "$SCRIPT" ] || usage
	[ -f "$SCRIPT" ] || die "guest script $SCRIPT not found"
	TIMEOUT=${TIMEOUT:-600}
fi
for a in "${ADD[@]}"; do
	f=${a%%:*}
	[ -f "$f" ] || die "--add: $f is not a file"
	case "$a" in
	*:*) case "${a#*:}" in /?*) ;; *) die "--add: guest path in '$a' must be absolute" ;; esac ;;
	esac
done
case "$REBOOTS" in
"" | *[!0-9]*) die "--reboots needs a number" ;;
esac
[ "$REBOOTS" = 0 ] || [ -n "$SCRIPT" ] || die "--reboots needs --script"
case "$TIMEOUT" in
"" | *[!0-9]*) [ -z "$TIMEOUT" ] || die "--timeout needs a number of seconds" ;;
esac

VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
# A relative VUFSD is taken from the current directory, else from the repo root.
case "$VUFSD" in
*/*) [ -e "$VUFSD" ] || [ ! -e "$ROOT/$VUFSD" ] || VUFSD=$ROOT/$VUFSD ;;
esac
QEMU=${QEMU:-qemu-system-x86_64}
read -r -a DAEMON_EXTRA <<<"${VUFSD_ARGS:-}"
if [ ! -x "$VUFSD" ]; then
	die "daemon $VUFSD not found or not executable (build it with 'ninja -C build', or set VUFSD)"
fi
command -v "$QEMU" >/dev/null || die "$QEMU not found (install qemu-system-x86)"

if [ -n "${VUFS_KERNEL:-}" ]; then
	[ -f "$VUFS_KERNEL" ] || die "VUFS_KERNEL=$VUFS_KERNEL not found"
	KERNEL=$VUFS_KERNEL
else
	KERNEL=$("$HERE/fetch-kernel.sh")
fi
BASE_INITRD=$("$HERE/mkinitramfs.sh")

RUN=$(mktemp -d "${TMPDIR:-/tmp}/vufs-run.XXXXXX")
SOCK=$RUN/vufsd.sock
if [ -n "$LOG" ]; then
	mkdir -p "$(dirname "$LOG")"
	: >"$LOG"
	SERIAL_LOG=$(cd "$(dirname "$LOG")" && pwd -P)/$(basename "$LOG")
	DAEMON_LOG=${SERIAL_LOG%.log}.daemon.log
else
	SERIAL_LOG=$RUN/serial.log
	DAEMON_LOG=$RUN/daemon.log
fi
: >"$SERIAL_LOG"
QEMU_ERR=$RUN/qemu.stderr

DPID="" QPID="" FAILED=0 GUEST_STATUS="" CLEANED=0 MOUNTED_AT="" INTERRUPTED=0 BOOTS=0 FD_IDLE="" FD_IDLE_LIST=""
LOCK_PIDS=() NLOCKS=0

# Print a host-side line to the terminal and, in script mode, to the log.
hsay() {
	echo "host: $*"
	[ "$SHELL_MODE" = 1 ] || echo "host: $*" >>"$SERIAL_LOG"
}
hfail() {
	FAILED=1
	hsay "FAIL: $*"
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Wait up to $2 seconds (tenths resolution) for pid $1 to exit.
wait_gone() {
	local i=0 n=$(($2 * 10))
	while alive "$1" && [ "$i" -lt "$n" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! alive "$1"
}

stop_qemu() {
	alive "$QPID" || return 0
	kill -TERM "$QPID" 2>/dev/null || true
	wait_gone "$QPID" 5 || kill -KILL "$QPID" 2>/dev/null || true
	wait "$QPID" 2>/dev/null || true
}

# Stop the daemon and judge how it ended. Sets FAILED on a crash.
stop_daemon() {
	[ -n "$DPID" ] || return 0
	local sent="" rc=0 sig
	if ! wait_gone "$DPID" 3; then
		sent=TERM
		kill -TERM "$DPID" 2>/dev/null || true
		if ! wait_gone "$DPID" 5; then
			hsay "warning: daemon still running 5 s after SIGTERM; sending SIGKILL"
			sent=KILL
			kill -KILL "$DPID" 2>/dev/null || true
		fi
	fi
	wait "$DPID" 2>/dev/null || rc=$?
	DPID=""
	if [ "$rc" -gt 128 ]; then
		sig=$(kill -l $((rc - 128)) 2>/dev/null || echo "$((rc - 128))")
		# SIGINT reaches the daemon too when the user presses Ctrl-C: not a crash.
		if [ "$sig" != "$sent" ] && ! { [ "$INTERRUPTED" = 1 ] && [ "$sig" = INT ]; }; then
			hfail "daemon crashed: killed by SIG$sig (see $DAEMON_LOG)"
		fi
	elif [ "$rc" -ne 0 ]; then
		hsay "note: daemon exited with status $rc"
	fi
}

cleanup() {
	[ "$CLEANED" = 0 ] || return 0
	CLEANED=1
	stop_qemu
	local p
	for p in "${LOCK_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	stop_daemon
	if [ -s "$QEMU_ERR" ]; then
		hsay "qemu stderr (last 20 lines):"
		tail -n 20 "$QEMU_ERR" | sed 's/^/  qemu: /'
		[ "$SHELL_MODE" = 1 ] || sed 's/^/  qemu: /' "$QEMU_ERR" >>"$SERIAL_LOG"
	fi
	if [ "$FAILED" = 0 ] && [ "${VUFS_KEEP:-0}" != 1 ]; then
		[ "$DAEMON_LOG" = "$RUN/daemon.log" ] || rm -f "$DAEMON_LOG"
		rm -rf "$RUN"
	else
		if [ "$SHELL_MODE" = 0 ] || [ -n "$LOG" ]; then
			echo "host: serial log: $SERIAL_LOG"
		fi
		echo "host: daemon log: $DAEMON_LOG"
		if [ "$SERIAL_LOG" != "$RUN/serial.log" ] && [ "$DAEMON_LOG" != "$RUN/daemon.log" ]; then
			rm -rf "$RUN"
		else
			rm -f "$RUN/serial.in" "$RUN/serial.out" "$SOCK"
		fi
	fi
}
# shellcheck disable=SC2317 # invoked by trap
on_signal() {
	trap - INT TERM
	FAILED=1
	INTERRUPTED=1
	echo "host: interrupted" >&2
	cleanup
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM
# Writing to the guest's console after QEMU died must not kill us.
trap '' PIPE

# --- daemon -------------------------------------------------------------------------------------
"$VUFSD" --socket-path="$SOCK" --shared-dir="$SHARE" "${DAEMON_EXTRA[@]}" \
	</dev/null >"$DAEMON_LOG" 2>&1 &
DPID=$!
i=0
until [ -S "$SOCK" ]; do
	if ! alive "$DPID"; then
		hfail "daemon exited before creating its socket; its log:"
		sed 's/^/  daemon: /' "$DAEMON_LOG" >&2
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		hfail "daemon did not create $SOCK within 10 s"
		exit 1
	fi
	sleep 0.1
done

# --- QEMU ---------------------------------------------------------------------------------------
APPEND="console=ttyS0 quiet panic=-1"
INITRD=$BASE_INITRD
[ "$SHELL_MODE" = 0 ] || APPEND="$APPEND vufs.shell=1"
[ "$ROOTFS" = 0 ] || APPEND="$APPEND vufs.rootfs=1"
[ "$REBOOTS" = 0 ] || APPEND="$APPEND vufs.reboots=$REBOOTS"
APPEND="$APPEND${EXTRA_APPEND}"
if [ -n "$SCRIPT" ] || [ ${#ADD[@]} -gt 0 ]; then
	# Per-run cpio with /guest-script.sh and the --add files, appended to a copy of the cached
	# base image.
	mkdir "$RUN/extra"
	[ -z "$SCRIPT" ] || cp "$SCRIPT" "$RUN/extra/guest-script.sh"
	# Helpers the guest scripts share (check, expect, host_ask...), sourced as /vufs-lib.sh.
	cp "$HERE/scripts/lib.sh" "$RUN/extra/vufs-lib.sh"
	for a in "${ADD[@]}"; do
		f=${a%%:*}
		dst=/$(basename "$f")
		[[ "$a" != *:* ]] || dst=${a#*:}
		mkdir -p "$RUN/extra$(dirname "$dst")"
		cp -p "$f" "$RUN/extra$dst"
	done
	(cd "$RUN/extra" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
		>"$RUN/extra.cpio"
	cat "$BASE_INITRD" "$RUN/extra.cpio" >"$RUN/initrd.cpio"
	INITRD=$RUN/initrd.cpio
fi
QEMU_ARGS=(
	-accel tcg -m 1G -smp "$SMP"
	-object "memory-backend-memfd,id=mem,size=1G,share=on" -numa "node,memdev=mem"
	-chardev "socket,id=vufs,path=$SOCK"
	-device "vhost-user-fs-pci,chardev=vufs,tag=vufs${DEVICE_PROPS:+,$DEVICE_PROPS}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND"
	-nodefaults -display none
)
# A guest that reboots (--reboots) restarts in the same QEMU: its new driver resets the device.
[ "$REBOOTS" -gt 0 ] || QEMU_ARGS+=(-no-reboot)

if [ "$SHELL_MODE" = 1 ]; then
	# The console and the QEMU monitor share this terminal (Ctrl-A c switches, Ctrl-A x quits);
	# signal=off passes Ctrl-C to the guest.
	chardev="stdio,id=con,mux=on,signal=off"
	[ -z "$LOG" ] || chardev="$chardev,logfile=$SERIAL_LOG"
	QEMU_ARGS+=(-chardev "$chardev" -serial chardev:con -mon "chardev=con,mode=readline")
	if [ "$ROOTFS" = 1 ]; then
		hsay "booting the guest (shell mode) on the share $SHARE as its root"
	else
		hsay "booting the guest (shell mode); the share $SHARE is mounted on /mnt"
	fi
	rc=0
	if [ -n "$TIMEOUT" ]; then
		timeout --foreground "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" 2>"$QEMU_ERR" || rc=$?
		[ "$rc" != 124 ] || hfail "timeout: guest still running after $TIMEOUT s"
	else
		"$QEMU" "${QEMU_ARGS[@]}" 2>"$QEMU_ERR" || rc=$?
	fi
	[ "$rc" = 0 ] || [ "$rc" = 124 ] || hfail "QEMU exited with status $rc"
	if [ -n "$DPID" ] && ! alive "$DPID"; then
		stop_daemon
	fi
	cleanup
	[ "$FAILED" = 0 ] || exit 1
	exit 0
fi

QEMU_ARGS+=(-chardev "stdio,id=con,signal=off" -serial chardev:con)
mkfifo "$RUN/serial.in" "$RUN/serial.out"
"$QEMU" "${QEMU_ARGS[@]}" <"$RUN/serial.in" >"$RUN/serial.out" 2>"$QEMU_ERR" &
QPID=$!
# Opening the FIFOs blocks until the QEMU child (which opens them before exec) has its ends.
exec 4>"$RUN/serial.in" 3<"$RUN/serial.out"
START=$SECONDS

# --- guest requests -----------------------------------------------------------------------------
reply() {
	printf 'HOST-REPLY %s\n' "$*" >&4 2>/dev/null || true
}

# Daemon process and all its descendants.
daemon_tree() {
	local -A kids=()
	local s line rest p ppid
	for s in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$s" || continue
		rest=${line##*) }
		p=${s#/proc/}
		p=${p%/stat}
		read -r _ ppid _ <<<"$rest"
		kids[$ppid]="${kids[$ppid]:-} $p"
	done
	local todo=("$DPID") out=()
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		out+=("$p")
		# shellcheck disable=SC2206 # split the pid list
		[ -z "${kids[$p]:-}" ] || todo+=(${kids[$p]})
	done
	echo "${out[@]}"
}

# Sets HELD to the number of daemon fds on anything inside $SHARE (not $SHARE itself) and
# HELD_LIST to a description of them.
count_share_fds() {
	local -A inside=()
	local id share_id share_dev p fd tgt
	share_id=$(stat -c '%d:%i' "$SHARE")
	share_dev=${share_id%%:*}
	while read -r id; do
		inside[$id]=1
	done < <(find "$SHARE" -mindepth 1 -printf '%D:%i\n' 2>/dev/null)
	HELD=0
	HELD_LIST=""
	for p in $(daemon_tree); do
		for fd in /proc/"$p"/fd/*; do
			tgt=$(readlink "$fd" 2>/dev/null) || continue
			id=$(stat -L -c '%d:%i' "$fd" 2>/dev/null) || id=""
			[ "$id" != "$share_id" ] || continue
			if [ -n "$id" ] && [ -n "${inside[$id]:-}" ] ||
				[[ "$tgt" == "$SHARE"/* ]] ||
				{ [[ "$tgt" == *" (deleted)" ]] && [ "${id%%:*}" = "$share_dev" ]; }; then
				HELD=$((HELD + 1))
				HELD_LIST="$HELD_LIST
    pid $p fd ${fd##*/} -> $tgt"
			fi
		done
	done
}

# What the fds of the daemon and its descendants point to, one line each, sorted.
list_daemon_fds() {
	local p fd
	for p in $(daemon_tree); do
		for fd in /proc/"$p"/fd/*; do
			[ -e "$fd" ] || [ -L "$fd" ] || continue
			readlink "$fd" 2>/dev/null || echo '?'
		done
	done | LC_ALL=C sort
}
count_daemon_fds() {
	list_daemon_fds | wc -l
}

handle_fds() {
	local n t0=$SECONDS
	n=$(count_daemon_fds)
	if [ -z "$FD_IDLE" ]; then
		FD_IDLE=$n
		FD_IDLE_LIST=$(list_daemon_fds)
		hsay "boot $BOOTS: daemon fds $n (the idle value)"
		reply "OK fds=$n idle=$n"
		return
	fi
	while [ "$n" != "$FD_IDLE" ] && [ $((SECONDS - t0)) -lt 10 ] && alive "$DPID"; do
		sleep 0.5
		n=$(count_daemon_fds)
	done
	hsay "boot $BOOTS: daemon fds $n (idle $FD_IDLE)"
	if [ "$n" = "$FD_IDLE" ]; then
		reply "OK fds=$n idle=$FD_IDLE"
	else
		hfail "boot $BOOTS: the daemon has $n fds, $FD_IDLE when idle"
		diff <(echo "$FD_IDLE_LIST") <(list_daemon_fds) | grep '^[<>]' | head -n 20 |
			sed 's/^/  idle vs now: /' | tee -a "$SERIAL_LOG"
		reply "FAIL fds=$n idle=$FD_IDLE"
	fi
}

handle_metrics() {
	local label=$1 out tool=$ROOT/build/tools/vufs-metrics
	if [[ ! "$label" =~ ^[A-Za-z0-9_.-]+$ ]]; then
		reply "FAIL bad label"
		return
	fi
	if [ -z "${VUFS_METRICS:-}" ] || [ ! -S "$VUFS_METRICS" ] || [ ! -x "$tool" ]; then
		reply "SKIP no metrics socket"
		return
	fi
	out=${VUFS_METRICS_DIR:-$RUN}/$label.prom
	if "$tool" "$VUFS_METRICS" >"$out" 2>/dev/null; then
		reply "OK $("$tool" -t "$out")"
	else
		reply "FAIL cannot read $VUFS_METRICS"
	fi
}

handle_unmounted() {
	if [ "$CHECK_FDS" = 0 ]; then
		reply "SKIP fd check not requested"
		return
	fi
	local t0=$SECONDS
	count_share_fds
	while [ "$HELD" -gt 0 ] && [ $((SECONDS - t0)) -lt 10 ] && alive "$DPID"; do
		sleep 0.5
		count_share_fds
	done
	hsay "daemon holds $HELD inode fds after unmount"
	if [ "$HELD" -gt 0 ]; then
		local shown
		shown=$(echo "$HELD_LIST" | sed -n '2,21p')
		echo "$shown"
		echo "$shown" >>"$SERIAL_LOG"
		hfail "daemon still holds $HELD fds inside the share 10 s after unmount"
		reply "FAIL daemon holds $HELD inode fds after unmount"
	else
		reply "OK daemon holds 0 inode fds after unmount"
	fi
}

handle_write() { # NAME CONTENT
	local name=$1 content=$2
	if [[ ! "$name" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]]; then
		hfail "HOST-WRITE? with a bad name '$name'"
		reply "FAIL bad name"
		return
	fi
	# Write a fresh temp file (mktemp: never through a symlink the guest planted) and
	# rename it into place, so the guest sees either no file or the whole content.
	local tmp=""
	if tmp=$(mktemp "$SHARE/.host-write.XXXXXX") && printf '%s\n' "$content" >"$tmp" &&
		chmod 644 "$tmp" && mv -fT "$tmp" "$SHARE/$name"; then
		hsay "wrote $name on the host"
		reply "OK wrote $name"
	else
		[ -z "${tmp:-}" ] || rm -f "$tmp"
		hfail "could not write $SHARE/$name"
		reply "FAIL could not write $name"
	fi
}

handle_md5() { # RELPATH SUM
	local rel=${1:-} sum=${2:-} host_sum real
	if [[ ! "$rel" =~ ^[A-Za-z0-9._/-]+$ ]] || [[ "$rel" == /* ]] || [[ "/$rel/" == */../* ]]; then
		hfail "HOST-MD5? with a bad path '$rel'"
		reply "FAIL bad path"
		return
	fi
	# Only regular files that really are inside the share (no symlinks out of it).
	host_sum=""
	real=$(realpath -e "$SHARE/$rel" 2>/dev/null) || real=""
	if [[ "$real" == "$SHARE"/* ]] && [ -f "$real" ]; then
		host_sum=$(md5sum <"$real" | cut -d' ' -f1) || host_sum=""
	fi
	if [ -n "$host_sum" ] && [ "$host_sum" = "$sum" ]; then
		hsay "md5 of $rel matches ($host_sum)"
		reply "OK md5 $host_sum"
	else
		hfail "md5 of $rel: guest $sum, host ${host_sum:-unreadable}"
		reply "FAIL host md5 ${host_sum:-unreadable}"
	fi
}

# Checks that RELPATH (a guest-supplied path) is a plain relative path inside the share whose
# parent directory really is inside it; sets HOST_PATH to DIR/RELPATH with the parent resolved.
share_path() {
	local rel=${1:-} parent
	HOST_PATH=""
	[[ "$rel" =~ ^[A-Za-z0-9._/-]+$ ]] && [[ "$rel" != /* ]] && [[ "/$rel/" != */../* ]] ||
		return 1
	rel=${rel%/}
	parent=$(realpath -e "$SHARE/$(dirname "$rel")" 2>/dev/null) || return 1
	[ "$parent" = "$SHARE" ] || [[ "$parent" == "$SHARE"/* ]] || return 1
	HOST_PATH=$parent/$(basename "$rel")
	[ "$(basename "$rel")" != . ] || HOST_PATH=$parent
}

handle_stat() { # RELPATH
	local rel=${1:-} out
	if ! share_path "$rel"; then
		hsay "HOST-STAT? $rel: not a path inside the share"
		reply "FAIL bad path"
		return
	fi
	if ! out=$(stat -c '%u %g %a %s %F' -- "$HOST_PATH" 2>&1); then
		hsay "HOST-STAT? $rel: ${out##*: }"
		reply "FAIL ${out##*: }"
		return
	fi
	local uid gid mode size type
	read -r uid gid mode size type <<<"$out"
	case "$type" in
	"regular file" | "regular empty file") type="file" ;;
	directory) type=dir ;;
	"symbolic link") type=symlink ;;
	fifo) type=fifo ;;
	socket) type=socket ;;
	"character special file") type=chardev ;;
	"block special file") type=blockdev ;;
	*) type=other ;;
	esac
	hsay "stat $rel: uid=$uid gid=$gid mode=$mode size=$size type=$type"
	reply "OK uid=$uid gid=$gid mode=$mode size=$size type=$type"
}

# lgetxattr through python3 (meson's interpreter, so always there); prints the value with bytes
# outside printable ASCII as \xHH, or the errno name on stderr and exits 1.
# shellcheck disable=SC2016 # python code, not shell expansions
HOST_GETXATTR='import errno, os, sys
try:
    v = os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False)
except OSError as e:
    sys.stderr.write(errno.errorcode.get(e.errno, str(e.errno)) + "\n")
    sys.exit(1)
print("".join(chr(b) if 32 < b < 127 and b != 92 else "\\x%02x" % b for b in v))'

handle_xattr() { # RELPATH NAME
	local rel=${1:-} name=${2:-} out
	if ! share_path "$rel" || [[ ! "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
		hsay "HOST-XATTR? $rel $name: not a path inside the share and an attribute name"
		reply "FAIL bad request"
		return
	fi
	if ! out=$(python3 -c "$HOST_GETXATTR" "$HOST_PATH" "$name" 2>&1); then
		hsay "HOST-XATTR? $rel $name: ${out:-no answer}"
		reply "FAIL ${out:-python3 failed}"
		return
	fi
	hsay "xattr $rel $name: $out"
	reply "OK $out"
}

# The host-side lock holder (perl is in every Debian system): flock(LOCK_EX) plus an OFD write
# lock (F_OFD_SETLK = 37; struct flock on x86-64/aarch64 is s s x4 q q i x4) on the whole file.
# shellcheck disable=SC2016 # perl code, not shell expansions
HOST_LOCKER='use strict; use Fcntl qw(:flock F_WRLCK SEEK_SET);
open(my $fh, "+<", $ARGV[0]) or die "open: $!\n";
flock($fh, LOCK_EX | LOCK_NB) or die "flock: $!\n";
my $fl = pack("s s x4 q q i x4", F_WRLCK, SEEK_SET, 0, 0, 0);
fcntl($fh, 37, $fl) or die "F_OFD_SETLK: $!\n";
$| = 1; print "locked\n"; sleep $ARGV[1];'

handle_lock() { # RELPATH SECONDS
	local rel=${1:-} secs=${2:-} out i pid
	if ! share_path "$rel" || [ -L "$HOST_PATH" ] || [ ! -f "$HOST_PATH" ]; then
		hsay "HOST-LOCK? $rel: not a regular file inside the share"
		reply "FAIL bad path"
		return
	fi
	if [[ ! "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ] || [ "$secs" -gt 600 ]; then
		hsay "HOST-LOCK? $rel: bad duration '$secs'"
		reply "FAIL bad duration"
		return
	fi
	NLOCKS=$((NLOCKS + 1))
	out=$RUN/host-lock.$NLOCKS
	perl -e "$HOST_LOCKER" "$HOST_PATH" "$secs" >"$out" 2>&1 &
	pid=$!
	LOCK_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q '^locked' "$out" 2>/dev/null && break
		alive "$pid" || break
		sleep 0.05
	done
	if grep -q '^locked' "$out" 2>/dev/null; then
		hsay "locked $rel on the host (flock + OFD write lock) for $secs s"
		reply "OK locked for $secs s"
	else
		kill -TERM "$pid" 2>/dev/null || true
		hsay "HOST-LOCK? $rel: $(tr '\n' ' ' <"$out")"
		reply "FAIL $(tr '\n' ' ' <"$out")"
	fi
}

handle_line() {
	local line=$1 w words content
	printf '%s\n' "$line"
	printf '%s\n' "$line" >>"$SERIAL_LOG"
	case "$line" in
	*HOST-REPLY*) ;; # an echo of our own reply, if echo was on
	*"HOST-WRITE? "*)
		w=${line#*HOST-WRITE? }
		content=""
		[[ "$w" != *" "* ]] || content=${w#* }
		handle_write "${w%% *}" "$content" ;;
	*"HOST-MD5? "*)
		read -r -a words <<<"${line#*HOST-MD5? }"
		handle_md5 "${words[0]:-}" "${words[1]:-}" ;;
	*"HOST-STAT? "*)
		read -r -a words <<<"${line#*HOST-STAT? }"
		handle_stat "${words[0]:-}" ;;
	*"HOST-XATTR? "*)
		read -r -a words <<<"${line#*HOST-XATTR? }"
		handle_xattr "${words[0]:-}" "${words[1]:-}" ;;
	*"HOST-LOCK? "*)
		read -r -a words <<<"${line#*HOST-LOCK? }"
		handle_lock "${words[0]:-}" "${words[1]:-}" ;;
	*HOST-FDS?*) handle_fds ;;
	*"HOST-METRICS? "*)
		read -r -a words <<<"${line#*HOST-METRICS? }"
		handle_metrics "${words[0]:-}" ;;
	*VUFS-UNMOUNTED*) handle_unmounted ;;
	*"init: virtio-fs share mounted"*)
		BOOTS=$((BOOTS + 1))
		[ -n "$MOUNTED_AT" ] || MOUNTED_AT=$((SECONDS - START)) ;;
	*"VUFS-EXIT "*)
		w=${line#*VUFS-EXIT }
		w=${w%% *}
		[[ "$w" =~ ^[0-9]+$ ]] && GUEST_STATUS=$w ;;
	esac
}

if [ "$ROOTFS" = 1 ]; then
	hsay "booting the guest on the share $SHARE as its root (timeout ${TIMEOUT}s)"
else
	hsay "booting the guest (script $(basename "$SCRIPT"), share $SHARE, timeout ${TIMEOUT}s)"
fi
buf="" timed_out=0 daemon_died=0
while :; do
	if IFS= read -r -t 1 chunk <&3; then
		line=$buf$chunk
		buf=""
		handle_line "${line%$'\r'}"
		[ -z "$GUEST_STATUS" ] || break
		continue
	else
		rc=$?
	fi
	if [ "$rc" -le 128 ]; then # EOF: QEMU closed the console
		[ -z "$buf$chunk" ] || handle_line "${buf}${chunk%$'\r'}"
		break
	fi
	buf=$buf$chunk # timeout: keep the partial line
	if [ $((SECONDS - START)) -ge "$TIMEOUT" ]; then
		timed_out=1
		break
	fi
	if ! alive "$DPID"; then
		daemon_died=1
		break
	fi
done
BOOT_TO_EXIT=$((SECONDS - START))

if [ -n "$GUEST_STATUS" ]; then
	# The guest powers off right after VUFS-EXIT; give it a moment before killing it.
	wait_gone "$QPID" 15 || true
fi
[ -z "$buf" ] || handle_line "$buf"
stop_qemu
exec 3<&- 4>&-

if [ "$daemon_died" = 1 ]; then
	stop_daemon
	hfail "the daemon exited while the guest was running; QEMU killed"
elif [ "$timed_out" = 1 ]; then
	hfail "timeout: no VUFS-EXIT after $TIMEOUT s; QEMU killed"
elif [ -z "$GUEST_STATUS" ]; then
	hfail "the guest ended without a VUFS-EXIT line"
elif [ "$GUEST_STATUS" != 0 ]; then
	FAILED=1
	hsay "guest script exited with status $GUEST_STATUS"
fi
if [ "$REBOOTS" -gt 0 ]; then
	if [ "$BOOTS" = $((REBOOTS + 1)) ]; then
		hsay "the guest booted $BOOTS times on the same daemon"
	else
		hfail "the guest booted $BOOTS times, expected $((REBOOTS + 1)) ($REBOOTS reboots)"
	fi
fi
hsay "guest ran for ${BOOT_TO_EXIT} s${MOUNTED_AT:+ (boot to mounted share: $MOUNTED_AT s)}"
cleanup
if [ "$FAILED" = 0 ]; then
	exit 0
fi
if [ -n "$GUEST_STATUS" ] && [ "$GUEST_STATUS" != 0 ]; then
	exit "$GUEST_STATUS"
fi
exit 1
