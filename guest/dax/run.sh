#!/bin/bash
# run.sh: the DAX guest stage. Boots Linux 6.12 under QEMU 11.1 (TCG) on vufsd with a DAX window
# and runs guest/dax/test.sh inside: `mount -o dax=always`, a file's checksum read through the
# window, no page-cache growth, an mmap store visible on the host before msync/munmap (checked
# here, while the guest holds the mapping), a file larger than the window, many small files,
# appends and truncation under a mapping, dax=inode; then a second boot with --dax-window=0 (the
# dax mount must fail, a plain one work). Ends with "N passed, N failed" (guest and host checks).
#
# Usage: guest/dax/run.sh [--measure | --shell] [--window SIZE] [--keep]
#   --measure     instead of the checks, measure sequential and mmap-random reads of a 64 MiB
#                 file with dax=always and without DAX (page-cache growth, FUSE requests)
#   --shell       interactive: the share (a 32 MiB file and a note) is mounted -o dax=always on
#                 /mnt and you get a guest shell on this terminal (make demo-dax)
#   --window SIZE the daemon's --dax-window (default 64M)
#   --keep        keep the temp dir (logs, share)
# Environment: VUFSD (default build/src/vufsd), VUFSD_ARGS (extra daemon arguments), QEMU
# (default $VUFS_CACHE/qemu11/qemu11, fetched with /work/shared/tools/get-qemu11 when missing),
# VUFS_KERNEL (default $VUFS_CACHE/qemu10/kernel/boot/vmlinuz-6.12*, from get-qemu10),
# VUFS_CACHE (default /var/tmp/vufsd-cache), TIMEOUT (seconds per boot, default 600).
#
# The device is QEMU 11.1's generic vhost-user-test-device-pci with virtio-id 26 (virtio-fs):
# the only QEMU device that exposes backend-mapped shared memory (VHOST_USER_PROTOCOL_F_SHMEM);
# it reads the tag and the number of request queues from the daemon's config space (--tag).
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
TOOLS=${VUFS_TOOLS:-$ROOT/../shared/tools}
[ -d "$TOOLS" ] || TOOLS=/work/shared/tools
MEASURE=0 SHELL_MODE=0 WINDOW=64M KEEP=${VUFS_KEEP:-0}
while [ $# -gt 0 ]; do
	case "$1" in
	--measure) MEASURE=1 ;;
	--shell) SHELL_MODE=1 ;;
	--window) WINDOW=$2; shift ;;
	--keep) KEEP=1 ;;
	*) echo "usage: $0 [--measure | --shell] [--window SIZE] [--keep]" >&2; exit 2 ;;
	esac
	shift
done
TIMEOUT=${TIMEOUT:-600}
VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
read -r -a DAEMON_EXTRA <<<"${VUFSD_ARGS:-}"

say() { echo "dax-guest: $*"; }
die() { echo "dax-guest: error: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

[ -x "$VUFSD" ] || die "daemon $VUFSD not found (ninja -C build)"
QEMU=${QEMU:-$CACHE/qemu11/qemu11}
if [ ! -x "$QEMU" ] && [ -x "$TOOLS/get-qemu11" ]; then
	say "fetching QEMU 11.1 ($TOOLS/get-qemu11)"
	CACHE="$CACHE/qemu11" "$TOOLS/get-qemu11" >&2
fi
[ -x "$QEMU" ] || die "QEMU 11.1 not found at $QEMU (run $TOOLS/get-qemu11 with CACHE=$CACHE/qemu11)"
KERNEL=${VUFS_KERNEL:-}
if [ -z "$KERNEL" ]; then
	KERNEL=$(find "$CACHE"/qemu10/kernel/boot -name 'vmlinuz-6.12*' 2>/dev/null | sort | head -n 1)
	if [ -z "$KERNEL" ] && [ -x "$TOOLS/get-qemu10" ]; then
		say "fetching the Linux 6.12 kernel ($TOOLS/get-qemu10)"
		CACHE="$CACHE/qemu10" "$TOOLS/get-qemu10" >&2
		KERNEL=$(find "$CACHE"/qemu10/kernel/boot -name 'vmlinuz-6.12*' 2>/dev/null | sort | head -n 1)
	fi
fi
if [ -z "$KERNEL" ] || [ ! -r "$KERNEL" ]; then
	die "no Linux 6.12 kernel (VUFS_KERNEL)"
fi
for t in cpio gcc busybox md5sum; do
	command -v $t >/dev/null || die "$t not found"
done

RUN=$(mktemp -d "${TMPDIR:-/tmp}/vufs-dax.XXXXXX")
SHARE=$RUN/share
DPID="" QPID=""
HOST_PASS=0 HOST_FAIL=0
cleanup() {
	[ -z "$QPID" ] || kill -KILL "$QPID" 2>/dev/null || true
	if [ -n "$DPID" ]; then kill -TERM "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
	if [ "$KEEP" = 1 ]; then say "kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

# --- the share ---------------------------------------------------------------------------------
mkdir -p "$SHARE/small"
HUGE_MB=96 NSMALL=100
if [ "$SHELL_MODE" = 1 ]; then
	head -c $((32 << 20)) /dev/urandom >"$SHARE/big32"
	head -c $((16 << 20)) /dev/urandom >"$SHARE/big16"
	cat >"$SHARE/README" <<'TXT'
This share is served by vufsd and mounted with -o dax=always: file data is not copied
into the guest's page cache; the guest reads and writes the host's pages through the
DAX window (a PCI BAR that QEMU maps onto the host files, range by range, at vufsd's
request). Try:
  grep Cached /proc/meminfo; md5sum /mnt/big32; grep Cached /proc/meminfo
  vufs-dax isdax /mnt/big32        (1: accessed through DAX)
  vufs-dax seqread /mnt/big32      (bytes, seconds, MB/s)
  vufs-dax mmaprand /mnt/big32 2000
  dmesg | grep -i 'cache len'
TXT
elif [ "$MEASURE" = 1 ]; then
	head -c $((64 << 20)) /dev/urandom >"$SHARE/big64"
	head -c $((16 << 20)) /dev/urandom >"$SHARE/big16"
	head -c $((1 << 20)) /dev/urandom >"$SHARE/huge"
else
	head -c $((16 << 20)) /dev/urandom >"$SHARE/big16"
	head -c $((64 << 20)) /dev/urandom >"$SHARE/big64"
	head -c $((HUGE_MB << 20)) /dev/urandom >"$SHARE/huge"
	for i in $(seq 0 $((NSMALL - 1))); do
		head -c $((1000 + i * 97)) /dev/urandom >"$SHARE/small/$(printf 's%03d' "$i")"
	done
	head -c 8192 /dev/zero >"$SHARE/store"
fi
chmod -R a+rwX "$SHARE"
md5() { md5sum "$1" | cut -d' ' -f1; }
WINDOW_BYTES=$(numfmt --from=iec "$WINDOW")

# --- the initramfs -----------------------------------------------------------------------------
mkinitrd() { # MODE
	local d=$RUN/initrd-$1
	mkdir -p "$d/bin" "$d/dev" "$d/proc" "$d/sys" "$d/tmp" "$d/mnt"
	cp "$(command -v busybox)" "$d/bin/busybox"
	gcc -static -O2 -o "$d/bin/vufs-dax" "$HERE/vufs-dax.c"
	install -m 755 "$HERE/init.sh" "$d/init"
	install -m 755 "$HERE/test.sh" "$d/dax-test.sh"
	cat >"$d/expected.env" <<ENV
MODE=$1
MD5_BIG16=$(md5 "$SHARE/big16")
MD5_HUGE=$(md5 "$SHARE/huge" 2>/dev/null)
MD5_SMALL=$(cat "$SHARE"/small/* 2>/dev/null | md5sum | cut -d' ' -f1)
NSMALL=$NSMALL
HUGE_MB=$HUGE_MB
WINDOW_MB=$((WINDOW_BYTES >> 20))
WINDOW_HEX=$(printf '0x%x' "$WINDOW_BYTES")
ENV
	(cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$RUN/initrd-$1.cpio"
}

# --- one boot ----------------------------------------------------------------------------------
boot() { # MODE WINDOW
	local mode=$1 window=$2 sock=$RUN/vufsd-$1.sock serial=$RUN/serial-$1.log
	local dlog=$RUN/daemon-$1.log seen_store=0 t0 rc=0
	mkinitrd "$mode"
	"$VUFSD" --socket-path="$sock" --shared-dir="$SHARE" --tag=vufs --dax-window="$window" \
		--dax-min-size=1M "${DAEMON_EXTRA[@]}" >"$dlog" 2>&1 &
	DPID=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || die "daemon did not create $sock: $(tail -n 5 "$dlog")"
	t0=$(date +%s)
	"$QEMU" -machine q35 -accel tcg -m 1G -smp 2 \
		-object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
		-chardev "socket,id=vufs,path=$sock" \
		-device "vhost-user-test-device-pci,chardev=vufs,virtio-id=26,num_vqs=2,vq_size=1024,config_size=40" \
		-kernel "$KERNEL" -initrd "$RUN/initrd-$mode.cpio" \
		-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
		-display none -monitor none -serial "file:$serial" -no-reboot </dev/null >"$RUN/qemu-$mode.out" 2>&1 &
	QPID=$!
	while kill -0 "$QPID" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -gt "$TIMEOUT" ]; then
			say "timeout after $TIMEOUT s"
			kill -KILL "$QPID"
			break
		fi
		# The guest holds its MAP_SHARED store for 5 s: look at the host's file meanwhile.
		if [ "$seen_store" = 0 ] && grep -q '^MMAP-STORED /mnt/store 4096 ' "$serial" 2>/dev/null; then
			seen_store=1
			got=$(dd if="$SHARE/store" bs=1 skip=4096 count=17 2>/dev/null)
			if [ "$got" = VUFS-DAX-STORE-42 ]; then
				echo "PASS: mmap store visible on the host before msync/munmap" | tee -a "$RUN/host.log"
				HOST_PASS=$((HOST_PASS + 1))
			else
				echo "FAIL: mmap store visible on the host before msync/munmap (got '$got')" | tee -a "$RUN/host.log"
				HOST_FAIL=$((HOST_FAIL + 1))
			fi
		fi
		sleep 0.2
	done
	wait "$QPID" || rc=$?
	QPID=""
	say "$mode boot: $(($(date +%s) - t0)) s"
	if [ "$mode" = dax ] && [ "$seen_store" = 0 ]; then
		echo "FAIL: mmap store visible on the host (the guest never stored)"
		HOST_FAIL=$((HOST_FAIL + 1))
	fi
	sleep 1
	if kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
	fi
	wait "$DPID" || rc=$?
	DPID=""
	if [ "$rc" -gt 128 ] && [ "$rc" != 143 ]; then
		echo "FAIL: daemon crashed (status $rc)"
		HOST_FAIL=$((HOST_FAIL + 1))
	fi
	grep -a -E '^(PASS|FAIL|MEASURE|info)' "$serial" | tr -d '\r' || true
	if ! grep -a -q '^VUFS-EXIT' "$serial"; then
		echo "FAIL: $mode boot did not finish (serial log: $serial)"
		HOST_FAIL=$((HOST_FAIL + 1))
		tail -n 30 "$serial" | sed 's/^/  guest: /'
		tail -n 20 "$dlog" | sed 's/^/  daemon: /'
		tail -n 5 "$RUN/qemu-$mode.out" | sed 's/^/  qemu: /'
		KEEP=1
	fi
	grep -a -E 'dax:|backend channel' "$dlog" | tail -n 5 | sed 's/^/  daemon: /' || true
	G=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$serial" | tail -n 1 | tr -d '\r')
	GP=${G%% passed*}; GF=${G#*passed, }; GF=${GF%% failed*}
	HOST_PASS=$((HOST_PASS + ${GP:-0})); HOST_FAIL=$((HOST_FAIL + ${GF:-0}))
	[ "${GF:-0}" = 0 ] || KEEP=1
}

if [ "$SHELL_MODE" = 1 ]; then
	mkinitrd shell
	sock=$RUN/vufsd.sock
	"$VUFSD" --socket-path="$sock" --shared-dir="$SHARE" --tag=vufs --dax-window="$WINDOW" \
		--dax-min-size=1M "${DAEMON_EXTRA[@]}" >"$RUN/daemon.log" 2>&1 &
	DPID=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	say "booting Linux 6.12 under QEMU 11.1 (TCG, ~30 s); Ctrl-D in the guest shell powers off"
	"$QEMU" -machine q35 -accel tcg -m 1G -smp 2 \
		-object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
		-chardev "socket,id=vufs,path=$sock" \
		-device "vhost-user-test-device-pci,chardev=vufs,virtio-id=26,num_vqs=2,vq_size=1024,config_size=40" \
		-kernel "$KERNEL" -initrd "$RUN/initrd-shell.cpio" \
		-append "console=ttyS0 quiet panic=-1 rdinit=/init" -nographic -no-reboot || true
	kill -TERM "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=""
	say "daemon log: $(grep -a -c 'dax' "$RUN/daemon.log") DAX lines; $(tail -n 2 "$RUN/daemon.log")"
	exit 0
fi
if [ "$MEASURE" = 1 ]; then
	boot measure "$WINDOW"
	# FUSE requests per mount (with VUFSD_ARGS=--log-level=debug: one FUSE session per mount).
	grep -q ' debug: ' "$RUN/daemon-measure.log" && awk '/FUSE session: guest/ { s++ } / READ \(15\)/ { r[s]++ } / SETUPMAPPING/ { m[s]++ }
	     END { for (i = 1; i <= s; i++) printf "MEASURE session %d: READ requests %d, SETUPMAPPING %d\n", i, r[i], m[i] }' \
		"$RUN/daemon-measure.log"
	echo "$HOST_PASS passed, $HOST_FAIL failed"
	exit 0
fi
boot dax "$WINDOW"
boot nodax 0
echo "$HOST_PASS passed, $HOST_FAIL failed"
[ "$HOST_FAIL" = 0 ]
