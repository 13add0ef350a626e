#!/bin/bash
# daemon.sh: the sandbox as the real daemon sets it up (meson suite 'sandbox').
#
# Usage: tests/sandbox/daemon.sh VUFSD VUFS_CLIENT
#
# For --sandbox=namespace (the default as root), chroot and none, with --seccomp=kill:
#   - /proc/PID/status of the serving process: Seccomp 2, NoNewPrivs 1, the default capability
#     set (0x880000db: chown dac_override fowner fsetid setgid setuid mknod setfcap) effective and
#     permitted, nothing in the bounding set, no supplementary groups;
#   - its root (/proc/PID/root) is the shared directory (same device and inode; not for none), while the
#     namespace-mode supervisor keeps the host's root and holds no fd but 0-2 and one pipe;
#   - put / cat / ls / mkdir / rm through vufs-client work, and the daemon exits 0 afterwards
#     (any system call outside the allow-list would kill it: exit status 159);
#   - SIGTERM to the process we started stops it cleanly; in namespace mode the supervisor
#     removes the socket file after the exit (chroot mode leaves it, like virtiofsd);
#   - --modcaps=+sys_admin:-mknod shows in CapEff; a bad --modcaps is refused.
# Exits 77 (skipped) when not root or when VUFSD has no --sandbox option.
set -u

VUFSD=${1:?usage: daemon.sh VUFSD VUFS_CLIENT}
CLIENT=${2:?usage: daemon.sh VUFSD VUFS_CLIENT}
CAPS=00000000880000db

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
"$VUFSD" --help 2>&1 | grep -q -- --sandbox || { echo "SKIP: $VUFSD has no --sandbox"; exit 77; }

# A sanitizer build cannot run LeakSanitizer's exit check inside the sandbox (no /proc there).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

TMP=$(mktemp -d /tmp/vufs-sbd.XXXXXX)
SHARE=$TMP/share
SOCK=$TMP/vhost.sock
LOG=$TMP/daemon.log
DPID=""
fails=0
cleanup() {
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "PASS: $*"; }
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

# start MODE [ARGS...]: start the daemon, wait for its socket; sets DPID and SPID (the
# process that serves: the namespace child, or DPID itself).
start() {
	local mode=$1 i
	shift
	rm -f "$SOCK" "$LOG"
	"$VUFSD" --socket-path="$SOCK" --shared-dir="$SHARE" --sandbox="$mode" --seccomp=kill \
		"$@" >"$LOG" 2>&1 &
	DPID=$!
	for i in $(seq 100); do
		[ -S "$SOCK" ] && grep -q "seccomp: filter loaded" "$LOG" && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	SPID=$DPID
	if [ "$mode" = namespace ]; then
		SPID=""
		read -r SPID _ <"/proc/$DPID/task/$DPID/children" 2>/dev/null
	fi
	[ -S "$SOCK" ] && [ -n "$SPID" ]
}

# finish WHAT: wait for the daemon to exit by itself (it does when the client goes).
finish() {
	local rc i
	for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$DPID" 2>/dev/null; then
		fail "$1: daemon still running after the client left"
		kill -KILL "$DPID"
	fi
	wait "$DPID"
	rc=$?
	DPID=""
	if [ "$rc" != 0 ]; then
		fail "$1: daemon exit status $rc"
		sed 's/^/  daemon: /' "$LOG"
	fi
	# chroot mode has no supervisor outside the share to remove the socket (see sandbox.h).
	case "$1" in
	chroot*) rm -f "$SOCK" ;;
	*) [ -e "$SOCK" ] && fail "$1: socket $SOCK left behind" ;;
	esac
	return 0
}

check_status() { # mode
	local mode=$1 v root_id share_id
	v=$(field "$SPID" Seccomp);    [ "$v" = 2 ] || fail "$mode: Seccomp: $v"
	v=$(field "$SPID" NoNewPrivs); [ "$v" = 1 ] || fail "$mode: NoNewPrivs: $v"
	v=$(field "$SPID" CapEff);     [ "$v" = $CAPS ] || fail "$mode: CapEff: $v"
	v=$(field "$SPID" CapPrm);     [ "$v" = $CAPS ] || fail "$mode: CapPrm: $v"
	v=$(field "$SPID" CapBnd);     [ "$v" = 0000000000000000 ] || fail "$mode: CapBnd: $v"
	v=$(field "$SPID" Groups);     [ -z "$v" ] || fail "$mode: Groups: $v"
	root_id=$(stat -L -c '%d:%i' "/proc/$SPID/root")
	share_id=$(stat -c '%d:%i' "$SHARE")
	if [ "$mode" = none ]; then
		[ "$(readlink "/proc/$SPID/root")" = / ] || fail "none: root moved"
	elif [ "$root_id" != "$share_id" ]; then
		fail "$mode: root of $SPID is $root_id, share is $share_id"
	fi
	echo "  $mode: serving pid $SPID: Seccomp $(field "$SPID" Seccomp)," \
		"NoNewPrivs $(field "$SPID" NoNewPrivs), CapEff $(field "$SPID" CapEff)," \
		"root -> $(readlink "/proc/$SPID/root") (dev:inode $root_id, share $share_id)"
	if [ "$mode" = namespace ]; then
		v=$(readlink "/proc/$DPID/root")
		[ "$v" = / ] || fail "namespace: supervisor root is $v"
		v=$(find "/proc/$DPID/fd" -mindepth 1 | wc -l)
		[ "$v" -le 4 ] || fail "namespace: supervisor holds $v fds"
		v=$(field "$SPID" NSpid)
		case "$v" in *[[:space:]]1) ;; *) fail "namespace: NSpid '$v' (want PID 1 inside)" ;; esac
	fi
}

run_mode() { # mode
	local mode=$1 out
	rm -rf "$SHARE"
	mkdir -p "$SHARE/proc/self/fd" # a decoy: the daemon must not use it
	echo "host file" >"$SHARE/host.txt"
	echo "guest data $mode" >"$TMP/in.txt"

	if ! start "$mode"; then
		fail "$mode: daemon did not start"; sed 's/^/  daemon: /' "$LOG"; return
	fi
	check_status "$mode"
	"$CLIENT" "$SOCK" put new.txt "$TMP/in.txt" || fail "$mode: put"
	finish "$mode put"
	cmp -s "$TMP/in.txt" "$SHARE/new.txt" || fail "$mode: put: content differs on the host"

	start "$mode" || { fail "$mode: restart"; return; }
	out=$("$CLIENT" "$SOCK" cat host.txt) || fail "$mode: cat"
	[ "$out" = "host file" ] || fail "$mode: cat gave '$out'"
	finish "$mode cat"

	start "$mode" || { fail "$mode: restart"; return; }
	"$CLIENT" "$SOCK" mkdir dir || fail "$mode: mkdir"
	finish "$mode mkdir"
	[ -d "$SHARE/dir" ] || fail "$mode: mkdir: no directory on the host"

	start "$mode" || { fail "$mode: restart"; return; }
	out=$("$CLIENT" "$SOCK" ls .) || fail "$mode: ls"
	case "$out" in *new.txt*) ;; *) fail "$mode: ls: no new.txt in '$out'" ;; esac
	finish "$mode ls"

	start "$mode" || { fail "$mode: restart"; return; }
	"$CLIENT" "$SOCK" rm new.txt || fail "$mode: rm"
	finish "$mode rm"
	[ -e "$SHARE/new.txt" ] && fail "$mode: rm: file still on the host"

	# SIGTERM to the process we started (the supervisor in namespace mode).
	start "$mode" || { fail "$mode: restart"; return; }
	kill -TERM "$DPID"
	finish "$mode SIGTERM"
	[ "$fails" = 0 ] && pass "$mode"
}

run_mode namespace
run_mode chroot
run_mode none # no isolation, but the same filter and capabilities

# --modcaps changes the set: 0x880000db - mknod (bit 27) + sys_admin (bit 21).
rm -rf "$SHARE"
mkdir -p "$SHARE"
if start namespace --modcaps=+sys_admin:-mknod; then
	v=$(field "$SPID" CapEff)
	[ "$v" = 00000000802000db ] || fail "--modcaps: CapEff $v, want 00000000802000db"
	kill -TERM "$DPID"
	finish "modcaps"
	[ "$fails" = 0 ] && pass "--modcaps=+sys_admin:-mknod: CapEff $v"
else
	fail "--modcaps: daemon did not start"
fi
# A bad --modcaps is refused before anything starts.
if "$VUFSD" --socket-path="$SOCK" --shared-dir="$SHARE" --modcaps=+no_such_cap >/dev/null 2>&1; then
	fail "--modcaps=+no_such_cap accepted"
else
	pass "--modcaps=+no_such_cap refused"
fi
rm -f "$SOCK"
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
