#!/bin/bash
# test.sh: real live migration of a guest using vufsd. QEMU 11.1 (../shared/tools/get-qemu11)
# runs twice on this machine: the source, and the destination started with -incoming; each has
# its own vufsd on the same shared directory. A Linux 6.12 guest (virtio_pci and virtiofs built
# in; from get-qemu10's cache) runs guest/migrate/vufs-mig.c, which holds a cwd in the share,
# a file open for reading, one for appending, one the host may rename, a half-read directory,
# a POSIX lock and a flock. The host migrates it through QMP (UNIX socket), quits the source (its
# daemon must exit cleanly), then tells the guest (a file "migrated" in the share) and the
# guest checks everything on the destination, including every byte it read while QEMU copied
# memory, and prints "N passed, N failed".
#
# Variants (VUFS_MIG_VARIANTS, default all three):
#   find-paths    --migration-mode=find-paths
#   file-handles  --migration-mode=file-handles
#   rename        find-paths with --migration-verify-handles, and the file the guest holds open
#                 renamed on the host while the migration runs
#
# Usage: guest/migrate/test.sh        (as root; exits 0 PASS, 1 FAIL, 77 SKIP)
# Environment: VUFSD (default build/src/vufsd), VUFS_LOG_DIR (default build/guest-logs),
#   VUFS_KEEP=1 keeps the run directory, VUFS_MIG_TIMEOUT (seconds per step, default 300).
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/migrate
CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
LOG_DIR=${VUFS_LOG_DIR:-$ROOT/build/guest-logs}
STEP_TIMEOUT=${VUFS_MIG_TIMEOUT:-300}
VARIANTS=${VUFS_MIG_VARIANTS:-find-paths file-handles rename}
NLIST=300

skip() { echo "migrate: SKIP ($1)"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (file handles, the daemon's sandbox)"
for tool in cpio python3 cc; do
	command -v "$tool" >/dev/null || skip "$tool not installed"
done
VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
case "$VUFSD" in /*) ;; *) VUFSD=$ROOT/$VUFSD ;; esac
[ -x "$VUFSD" ] || { echo "migrate: FAIL (no daemon $VUFSD)"; exit 1; }

# QEMU 11.1 and the 6.12 kernel (cached; fetched once by the shared scripts).
TOOLS=${VUFS_TOOLS:-$ROOT/../shared/tools}
[ -d "$TOOLS" ] || TOOLS=/work/shared/tools
# Idempotent and cached: each returns at once when its cache is complete.
if [ -x "$TOOLS/get-qemu11" ]; then
	CACHE=$CACHE/qemu11 "$TOOLS/get-qemu11" >/dev/null || true
fi
if [ -x "$TOOLS/get-qemu10" ]; then
	CACHE=$CACHE/qemu10 "$TOOLS/get-qemu10" >/dev/null || true
fi
QEMU=${VUFS_QEMU11:-$CACHE/qemu11/qemu11}
[ -x "$QEMU" ] || skip "QEMU 11.1 not available ($QEMU)"
KERNEL=$(ls "$CACHE"/qemu10/kernel/boot/vmlinuz-6.12* 2>/dev/null | head -n1)
[ -n "$KERNEL" ] || skip "no Linux 6.12 kernel under $CACHE/qemu10"
BASE=$("$ROOT/guest/mkinitramfs.sh") || skip "cannot build the base initramfs"

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vufs-migrate.XXXXXX")
mkdir -p "$LOG_DIR"
PIDS=()
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [ "${VUFS_KEEP:-0}" = 1 ]; then echo "migrate: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# The initramfs: the base (busybox) plus our /init and the workload.
mkdir "$TMP/extra"
cc -static -O2 -o "$TMP/extra/vufs-mig" "$HERE/vufs-mig.c" || skip "no static libc to build the workload"
cp "$HERE/init.sh" "$TMP/extra/init"
(cd "$TMP/extra" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$TMP/extra.cpio"
cat "$BASE" "$TMP/extra.cpio" >"$TMP/initrd.cpio"

# PASS/FAIL: variants; CP/CF: checks (the guest's own, plus one per host-side failure).
PASS=0 FAIL=0 CP=0 CF=0
say() { echo "migrate: $*"; }
bad() { say "FAIL: $*"; FAIL=$((FAIL + 1)); CF=$((CF + 1)); }

# wait_for SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

qmp() { python3 "$HERE/qmp.py" "$@"; }

run_variant() {
	local v=$1 mode=find-paths extra=() R=$TMP/$v share
	case "$v" in
	file-handles) mode=file-handles ;;
	rename) extra=(--migration-verify-handles) ;;
	esac
	mkdir -p "$R"
	share=$R/share
	mkdir -p "$share/work/list"
	head -c $((8 << 20)) /dev/urandom >"$share/work/big.bin"
	python3 - "$share/work/big.bin" "$NLIST" >"$share/work/big.sum" <<'PY'
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%x %s" % (h, sys.argv[2]))
PY
	: >"$share/work/append.log"
	echo rename-me >"$share/work/renamed.txt"
	: >"$share/work/lock.bin"
	: >"$share/work/flock.bin"
	for i in $(seq 1 "$NLIST"); do : >"$share/work/list/entry-$i"; done

	local common=(--shared-dir="$share" --cache=never --migration-mode="$mode" "${extra[@]}")
	"$VUFSD" --socket-path="$R/src.sock" "${common[@]}" 2>"$R/src-vufsd.log" &
	local dsrc=$!
	PIDS+=("$dsrc")
	"$VUFSD" --socket-path="$R/dst.sock" "${common[@]}" 2>"$R/dst-vufsd.log" &
	local ddst=$!
	PIDS+=("$ddst")
	wait_for 10 test -S "$R/src.sock" && wait_for 10 test -S "$R/dst.sock" ||
		{ bad "$v: daemons did not start"; return; }

	local qargs=(-accel tcg -m 512M -smp 1
		-object "memory-backend-memfd,id=mem,size=512M,share=on" -numa "node,memdev=mem"
		-device "vhost-user-fs-pci,chardev=vufs,tag=vufs"
		-kernel "$KERNEL" -initrd "$TMP/initrd.cpio" -append "console=ttyS0 quiet panic=-1"
		-nodefaults -display none -no-reboot)
	"$QEMU" "${qargs[@]}" -chardev "socket,id=vufs,path=$R/src.sock" \
		-serial "file:$R/src.serial" -qmp "unix:$R/src.qmp,server=on,wait=off" \
		2>"$R/src-qemu.log" &
	local qsrc=$!
	PIDS+=("$qsrc")
	"$QEMU" "${qargs[@]}" -chardev "socket,id=vufs,path=$R/dst.sock" \
		-serial "file:$R/dst.serial" -qmp "unix:$R/dst.qmp,server=on,wait=off" \
		-incoming "unix:$R/mig.sock" 2>"$R/dst-qemu.log" &
	local qdst=$!
	PIDS+=("$qdst")

	if ! wait_for "$STEP_TIMEOUT" grep -q MIG-READY "$R/src.serial" 2>/dev/null; then
		bad "$v: the guest never got ready on the source"
		return
	fi
	grep -h MIG-READY "$R/src.serial"
	sleep 2 # some reading and appending before the switch
	local t_mig=$SECONDS
	qmp "$R/src.qmp" migrate "{\"uri\": \"unix:$R/mig.sock\"}" >/dev/null ||
		{ bad "$v: migrate refused: $(qmp "$R/src.qmp" query-migrate 2>&1)"; return; }
	[ "$v" != rename ] || mv "$share/work/renamed.txt" "$share/work/renamed-on-host.txt"
	local st=""
	migrated() {
		st=$(qmp "$R/src.qmp" query-migrate | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))')
		[ "$st" = completed ] || [ "$st" = failed ] || [ "$st" = cancelled ]
	}
	wait_for "$STEP_TIMEOUT" migrated || st=timeout
	if [ "$st" != completed ]; then
		bad "$v: migration $st: $(qmp "$R/src.qmp" query-migrate 2>&1 | head -c 600)"
		return
	fi
	say "$v: migration completed in $((SECONDS - t_mig)) s"
	dst_running() { qmp "$R/dst.qmp" query-status | grep -q '"running"'; }
	wait_for 60 dst_running || { bad "$v: the destination did not start running"; return; }
	qmp "$R/src.qmp" quit >/dev/null 2>&1 || true
	wait_for 30 bash -c "! kill -0 $qsrc 2>/dev/null" || bad "$v: source QEMU did not quit"
	if wait_for 30 bash -c "! kill -0 $dsrc 2>/dev/null"; then
		local rc=0
		wait "$dsrc" || rc=$?
		[ "$rc" = 0 ] && grep -q "exiting (clean)" "$R/src-vufsd.log" ||
			bad "$v: the source daemon did not exit cleanly (status $rc)"
	else
		bad "$v: the source daemon did not exit after its QEMU quit"
	fi
	: >"$share/work/migrated"
	if ! wait_for "$STEP_TIMEOUT" grep -q "VUFS-EXIT" "$R/dst.serial" 2>/dev/null; then
		bad "$v: the guest did not finish on the destination"
		return
	fi
	sed 's/^/  guest: /' "$R/dst.serial" | grep -v '^  guest: *$' | tail -n 20
	local res
	res=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$R/dst.serial" | tail -n1)
	if [ -n "$res" ]; then
		CP=$((CP + ${res%% passed*}))
		res_f=${res#* passed, }
		CF=$((CF + ${res_f%% failed}))
	fi
	if grep -q "VUFS-EXIT 0" "$R/dst.serial" && [ -n "$res" ] && [ "${res#* passed, }" = "0 failed" ]; then
		say "$v: PASS ($res)"
		PASS=$((PASS + 1))
	else
		say "FAIL: $v: guest checks: ${res:-no result}"
		FAIL=$((FAIL + 1))
		[ -n "$res" ] || CF=$((CF + 1))
	fi
	grep -h "migration:\|device state" "$R/src-vufsd.log" "$R/dst-vufsd.log" | sed 's/^/  daemon: /'
	wait_for 30 bash -c "! kill -0 $qdst 2>/dev/null" || kill "$qdst" 2>/dev/null || true
	wait_for 30 bash -c "! kill -0 $ddst 2>/dev/null" || bad "$v: the destination daemon did not exit"
}

for v in $VARIANTS; do
	run_variant "$v" || true
	cp -r "$TMP/$v" "$LOG_DIR/migrate-$v" 2>/dev/null || true
	rm -rf "$LOG_DIR/migrate-$v/share" 2>/dev/null || true
done
say "variants: $PASS passed, $FAIL failed ($((SECONDS - T0)) s)"
echo "$CP passed, $CF failed"
[ "$FAIL" = 0 ] && [ "$PASS" -gt 0 ]
