#!/bin/bash
# socket.sh: the vhost-user socket belongs to the daemon's owner (meson suite 'sandbox').
#
# Usage: tests/sandbox/socket.sh VUFSD VUFS_CLIENT
#
# Whoever connects to the socket is the VMM and acts on the share with the daemon's
# credentials, so (regression tests for the world-writable socket of vufsd <= 0.1):
#   - the socket is created 0600 whatever the umask vufsd starts with (0, 022, 077 narrows
#     it no further than 0600; 0277 narrows it to 0400);
#   - as a root-run daemon on a root-owned share, user nobody cannot connect: vufs-client
#     fails and no file appears in the share; root then can;
#   - one frontend at a time: while one connection is served, a second one is refused and
#     the refusal is logged; the first keeps being served;
#   - an --fd socket keeps the mode it was given.
# Exits 77 (skipped) when not root.
set -u

VUFSD=${1:?usage: socket.sh VUFSD VUFS_CLIENT}
CLIENT=${2:?usage: socket.sh VUFSD VUFS_CLIENT}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

TMP=$(mktemp -d /tmp/vufs-sock.XXXXXX)
chmod 0755 "$TMP"
SHARE=$TMP/share
SOCK=$TMP/vhost.sock
LOG=$TMP/daemon.log
DPID=""
HOLDER=""
fails=0
cleanup() {
	[ -n "$HOLDER" ] && kill -KILL "$HOLDER" 2>/dev/null
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "PASS: $*"; }
mkdir -p "$SHARE"
chmod 0755 "$SHARE"

# start UMASK [ARGS...]: start vufsd with that umask and wait for its socket.
start() {
	local um=$1 i
	shift
	rm -f "$SOCK" "$LOG"
	(umask "$um"; exec "$VUFSD" --socket-path="$SOCK" --shared-dir="$SHARE" --sandbox=none "$@") \
		>"$LOG" 2>&1 &
	DPID=$!
	for i in $(seq 200); do
		grep -q "serving " "$LOG" 2>/dev/null && [ -S "$SOCK" ] && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=""
}

for case in 0:600 022:600 077:600 0277:400; do
	um=${case%%:*}
	want=${case#*:}
	if ! start "$um"; then
		fail "umask $um: daemon did not start"; sed 's/^/  daemon: /' "$LOG"; continue
	fi
	mode=$(stat -c %a "$SOCK")
	if [ "$mode" = "$want" ]; then
		pass "umask $um: socket mode $mode"
	else
		fail "umask $um: socket mode $mode, want $want"
	fi
	stop
done

# Another local user cannot reach the share through the socket.
echo "payload" >"$TMP/in.txt"
chmod 0644 "$TMP/in.txt"
start 022 || fail "daemon did not start for the other-user case"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$CLIENT" "$SOCK" put owned.txt "$TMP/in.txt" \
	>"$TMP/nobody.out" 2>&1; then
	fail "user nobody connected and wrote through the socket"
else
	pass "user nobody cannot connect ($(head -c 120 "$TMP/nobody.out" | tr '\n' ' '))"
fi
[ -e "$SHARE/owned.txt" ] && fail "a file written by user nobody is in the share"
# The owner still can (the refused attempt did not take the connection).
if "$CLIENT" "$SOCK" put mine.txt "$TMP/in.txt" && cmp -s "$TMP/in.txt" "$SHARE/mine.txt"; then
	pass "the owner connects after the refused attempt"
else
	fail "the owner cannot connect after user nobody tried"
fi
stop

# One frontend at a time: a held connection is the frontend; a second one is refused and logged.
start 022 || fail "daemon did not start for the second-frontend case"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
print("connected", flush=True)
time.sleep(30)
' "$SOCK" >"$TMP/holder.out" &
HOLDER=$!
for i in $(seq 100); do grep -q connected "$TMP/holder.out" && grep -q "frontend connected" "$LOG" && break; sleep 0.05; done
if "$CLIENT" "$SOCK" stat . >/dev/null 2>&1; then
	fail "a second frontend was served while the first is connected"
else
	pass "a second frontend is refused"
fi
sleep 0.2
if grep -q "refused a second frontend connection" "$LOG"; then
	pass "the refusal is logged: $(grep -m1 'refused a second' "$LOG")"
else
	fail "no log line for the refused second frontend"; sed 's/^/  daemon: /' "$LOG"
fi
kill -0 "$DPID" 2>/dev/null || fail "the daemon exited after refusing a second frontend"
kill -KILL "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
HOLDER=""
# The first frontend leaving ends the daemon, cleanly.
for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$DPID" 2>/dev/null; then
	fail "daemon still running after its frontend left"
	stop
else
	wait "$DPID"; rc=$?; DPID=""
	[ "$rc" = 0 ] && pass "daemon exits 0 when its frontend leaves" || fail "daemon exit status $rc"
fi

# --fd: the socket is the caller's, mode and all.
rm -f "$SOCK"
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o660); s.listen(1)
os.set_inheritable(s.fileno(), True)
os.dup2(s.fileno(), 3)
os.execv(sys.argv[2], [sys.argv[2], "--fd=3", "--shared-dir=" + sys.argv[3], "--sandbox=none"])
' "$SOCK" "$VUFSD" "$SHARE" >"$LOG" 2>&1 &
DPID=$!
for i in $(seq 100); do grep -q "serving " "$LOG" 2>/dev/null && break; sleep 0.05; done
mode=$(stat -c %a "$SOCK" 2>/dev/null)
[ "$mode" = 660 ] && pass "--fd socket keeps its mode ($mode)" || fail "--fd socket mode $mode, want 660"
"$CLIENT" "$SOCK" stat . >/dev/null 2>&1 || fail "--fd socket: stat through it failed"
for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
stop

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
