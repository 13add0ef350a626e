#!/bin/bash
# test.sh: vufsd as libvirt's virtiofs daemon, the way a user sets it up: Debian's libvirt 9.0
# starts it from a domain's <filesystem><driver type='virtiofs'/><binary path='.../vufsd'/>
# (as `vufsd --fd=N -o source=DIR,... [--thread-pool-size=N]`), QEMU 7.2 (TCG) boots the
# guest (Linux 6.1, direct kernel boot, initramfs from guest/mkinitramfs.sh) which mounts the
# share and uses it (guest/libvirt/guest.sh), the host checks what the guest wrote, then
# `virsh destroy` must leave no vufsd process behind.
#
# Two domains: one with <cache mode='always'/> <sandbox mode='chroot'/> <lock posix='on'
# flock='on'/> <thread_pool size='4'/> xattr='on', one with libvirt's defaults.
#
# Usage: guest/libvirt/test.sh   (as root; prints "N passed, N failed"; exit 0 if all passed,
#                                 77 if it cannot run here: not root, no QEMU)
#
# What it does to the host, all undone at exit except the packages and the user:
#   - installs libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients if missing (apt-get);
#   - creates the groups kvm and libvirt-qemu and the system user libvirt-qemu if missing
#     (libvirt's QEMU driver refuses to load without them, even when QEMU runs as root);
#   - writes a test-only /etc/libvirt/qemu.conf (QEMU as root, security_driver "none", no
#     cgroups, no per-domain /dev namespace), keeping a copy of the original to restore;
#   - starts virtlogd and libvirtd by hand (no service manager needed) with pid files in a
#     temp dir, and stops them by those pid files. It refuses to run if a libvirtd is running.
#
# Environment: VUFSD (default build/src/vufsd), VUFS_LIBVIRT_TIMEOUT (seconds per guest,
# default 300), VUFS_KEEP=1 (keep the temp dir), VUFS_CACHE (kernel/initramfs cache).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/guest/libvirt
VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
VUFSD=$(readlink -f "$VUFSD")
TIMEOUT=${VUFS_LIBVIRT_TIMEOUT:-300}
QEMU_BIN=/usr/bin/qemu-system-x86_64

pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
say() { echo "libvirt: $*"; }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if [ "$(id -u)" != 0 ]; then
	say "SKIP (needs root: libvirt's system daemon)"
	exit 77
fi
[ -x "$QEMU_BIN" ] || { say "SKIP ($QEMU_BIN not installed)"; exit 77; }
[ -x "$VUFSD" ] || { bad "daemon $VUFSD not built"; finish; }

if ! command -v virsh >/dev/null || [ ! -x /usr/sbin/libvirtd ] ||
	[ ! -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
	! command -v virtlogd >/dev/null; then
	say "installing libvirt (Debian's archive)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients >/dev/null; then
		bad "apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
		finish
	fi
fi
getent group kvm >/dev/null || groupadd --system kvm
# Debian's build looks up both the user libvirt-qemu and a group of that name at startup.
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
	useradd --system --gid kvm --home-dir /var/lib/libvirt --no-create-home \
		--shell /usr/sbin/nologin libvirt-qemu

if pgrep -x libvirtd >/dev/null; then
	bad "a libvirtd is already running; this test starts its own (stop it first)"
	finish
fi

KERNEL=$("$ROOT/guest/fetch-kernel.sh") || { bad "guest/fetch-kernel.sh"; finish; }
BASE_INITRD=$("$ROOT/guest/mkinitramfs.sh") || { bad "guest/mkinitramfs.sh"; finish; }

TMP=$(mktemp -d /tmp/vufs-libvirt.XXXXXX)
chmod 755 "$TMP"
QEMU_CONF=/etc/libvirt/qemu.conf
HAD_CONF=0
CLEANED=0
DOMS=()

stop_by_pidfile() {
	local f=$1 pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
	[ "$CLEANED" = 0 ] || return 0
	CLEANED=1
	local d
	for d in "${DOMS[@]}"; do
		virsh -q destroy "$d" >/dev/null 2>&1 || true
	done
	stop_by_pidfile "$TMP/libvirtd.pid"
	stop_by_pidfile "$TMP/virtlogd.pid"
	if [ "$HAD_CONF" = 1 ]; then
		cp -p "$TMP/qemu.conf.orig" "$QEMU_CONF"
	else
		rm -f "$QEMU_CONF"
	fi
	if [ "$fail" -eq 0 ] && [ "${VUFS_KEEP:-0}" != 1 ]; then
		rm -rf "$TMP"
	else
		say "logs kept in $TMP"
	fi
}
trap cleanup EXIT
trap 'bad interrupted; cleanup; exit 130' INT TERM

# --- libvirt, by hand -------------------------------------------------------------------------
if [ -e "$QEMU_CONF" ]; then
	cp -p "$QEMU_CONF" "$TMP/qemu.conf.orig"
	HAD_CONF=1
fi
mkdir -p /etc/libvirt
cat >"$QEMU_CONF" <<'EOF'
# Test-only configuration written by vufsd's guest/libvirt/test.sh (restored when it ends).
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
cat >"$TMP/libvirtd.conf" <<EOF
log_outputs = "3:file:$TMP/libvirtd.log"
EOF
cat >"$TMP/virtlogd.conf" <<EOF
log_outputs = "3:file:$TMP/virtlogd.log"
EOF
mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt/qemu /var/cache/libvirt
virtlogd -d -f "$TMP/virtlogd.conf" -p "$TMP/virtlogd.pid" || { bad "virtlogd did not start"; finish; }
libvirtd -d -f "$TMP/libvirtd.conf" -p "$TMP/libvirtd.pid" || { bad "libvirtd did not start"; finish; }
for i in $(seq 100); do
	virsh -c qemu:///system -q version >/dev/null 2>&1 && break
	sleep 0.2
done
if ! virsh -c qemu:///system -q version >"$TMP/version" 2>&1; then
	bad "libvirtd does not answer on qemu:///system: $(tail -n 3 "$TMP/version" | tr '\n' ' ')"
	tail -n 20 "$TMP/libvirtd.log" 2>/dev/null | sed 's/^/  libvirtd: /'
	finish
fi
export LIBVIRT_DEFAULT_URI=qemu:///system
ok "libvirtd $(virsh version --daemon 2>/dev/null | sed -n 's/^Running against daemon: *//p') started by hand"

# --- the guest's initramfs: the base one + the guest script ------------------------------------
mkdir -p "$TMP/extra"
cp "$HERE/guest.sh" "$TMP/extra/guest-script.sh"
cp "$ROOT/guest/scripts/lib.sh" "$TMP/extra/vufs-lib.sh"
(cd "$TMP/extra" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$TMP/extra.cpio"
cat "$BASE_INITRD" "$TMP/extra.cpio" >"$TMP/initrd.cpio"

# Processes started from our binary (libvirt daemonizes it; namespace mode adds a child).
vufsd_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$({ tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | head -n 1) || continue
		[ "$exe" = "$VUFSD" ] && echo "${p#/proc/}"
	done
}

# run_domain NAME BINARY_XML EXPECTED_ARGS...: boot, check, destroy.
run_domain() {
	local name=$1 binary_xml=$2
	shift 2
	local share=$TMP/$name-share serial=$TMP/$name-serial.log xml=$TMP/$name.xml
	local i pids cmdline counts p f want
	mkdir -p "$share"
	echo "written on the host before boot" >"$share/from-host.txt"
	: >"$serial"
	cat >"$xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$TMP/initrd.cpio</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU_BIN</emulator>
    <filesystem type='mount' accessmode='passthrough'>
      <driver type='virtiofs' queue='1024'/>
      $binary_xml
      <source dir='$share'/>
      <target dir='vufs'/>
    </filesystem>
    <serial type='file'>
      <source path='$serial'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	say "$name: virsh create (vufsd started by libvirt)"
	local t0=$SECONDS
	if ! virsh -q create "$xml" >"$TMP/$name.create" 2>&1; then
		bad "$name: virsh create: $(tr '\n' ' ' <"$TMP/$name.create")"
		ls /var/log/libvirt/qemu/ 2>/dev/null | grep "$name" | while read -r l; do
			tail -n 20 "/var/log/libvirt/qemu/$l" | sed "s/^/  $l: /"
		done
		return
	fi
	DOMS+=("$name")
	ok "$name: domain started with vufsd as its virtiofs daemon"

	pids=$(vufsd_pids)
	if [ -z "$pids" ]; then
		bad "$name: no vufsd process while the domain runs"
	else
		cmdline=$(tr '\0' ' ' </proc/"$(echo "$pids" | head -n 1)"/cmdline)
		say "$name: libvirt ran: $cmdline"
		for want in "$@"; do
			case " $cmdline " in
			*"$want"*) ok "$name: libvirt passed '$want'" ;;
			*) bad "$name: libvirt did not pass '$want' (command line: $cmdline)" ;;
			esac
		done
	fi

	for i in $(seq $((TIMEOUT * 2))); do
		grep -q LIBVIRT-GUEST-DONE "$serial" 2>/dev/null && break
		grep -q "VUFS-EXIT" "$serial" 2>/dev/null && break
		virsh -q domstate "$name" 2>/dev/null | grep -q running || break
		sleep 0.5
	done
	sed 's/^/  guest: /' "$serial" | tr -d '\r' | grep -a -E "PASS|FAIL|SKIP|passed|init:|VUFS-EXIT|Kernel panic" || true
	counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$serial" | tail -n 1 | tr -d '\r')
	if grep -q LIBVIRT-GUEST-DONE "$serial" && [ -n "$counts" ]; then
		p=${counts%% passed*}
		f=${counts#*passed, }
		f=${f%% failed*}
		pass=$((pass + p))
		fail=$((fail + f))
		say "$name: guest checks done after $((SECONDS - t0)) s"
	else
		bad "$name: the guest did not finish its checks within ${TIMEOUT} s (serial log: $serial)"
	fi

	# What the guest wrote, seen on the host.
	if [ "$(cat "$share/from-guest.txt" 2>/dev/null)" = "written by the guest" ]; then
		ok "$name: the host reads the file the guest wrote"
	else
		bad "$name: from-guest.txt on the host: '$(cat "$share/from-guest.txt" 2>&1)'"
	fi
	if [ -s "$share/big.md5" ] && [ "$(md5sum <"$share/big" | cut -d' ' -f1)" = "$(cat "$share/big.md5")" ]; then
		ok "$name: the guest's 4 MiB file has the same md5 on the host"
	else
		bad "$name: the guest's 4 MiB file differs on the host"
	fi

	virsh -q destroy "$name" >"$TMP/$name.destroy" 2>&1 ||
		bad "$name: virsh destroy: $(tr '\n' ' ' <"$TMP/$name.destroy")"
	DOMS=("${DOMS[@]/$name/}")
	for i in $(seq 50); do
		[ -z "$(vufsd_pids)" ] && break
		sleep 0.2
	done
	pids=$(vufsd_pids)
	if [ -z "$pids" ]; then
		ok "$name: no vufsd left after virsh destroy"
	else
		bad "$name: vufsd still running after virsh destroy (pids $(echo $pids))"
		for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	fi
	# libvirt sends the daemon's output to /var/log/libvirt/qemu/NAME-fs0-virtiofsd.log.
	local vlog
	for vlog in /var/log/libvirt/qemu/"$name"*; do
		[ -f "$vlog" ] && mv "$vlog" "$TMP/"
	done
	vlog=$(ls "$TMP/$name"-fs*-virtiofsd.log 2>/dev/null | head -n 1)
	if [ -z "$vlog" ]; then
		bad "$name: no vufsd log from libvirt"
	elif grep -q -E " error: " "$vlog"; then
		bad "$name: vufsd logged errors: $(grep -E ' error: ' "$vlog" | head -n 3 | tr '\n' ' ')"
	elif ! grep -q "exiting (clean)" "$vlog"; then
		bad "$name: vufsd did not exit cleanly: $(tail -n 2 "$vlog" | tr '\n' ' ')"
	else
		ok "$name: vufsd exited cleanly when the domain was destroyed"
	fi
}

run_domain vufsd-libvirt-options \
	"<binary path='$VUFSD' xattr='on'>
        <cache mode='always'/>
        <sandbox mode='chroot'/>
        <lock posix='on' flock='on'/>
        <thread_pool size='4'/>
      </binary>" \
	"--fd=" "-o source=$TMP/vufsd-libvirt-options-share,cache=always,sandbox=chroot,xattr,flock,posix_lock" \
	"--thread-pool-size=4"
run_domain vufsd-libvirt-defaults "<binary path='$VUFSD'/>" \
	"--fd=" "-o source=$TMP/vufsd-libvirt-defaults-share "

finish
