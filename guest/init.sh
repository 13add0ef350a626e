#!/bin/sh
# init.sh: the guest's /init (PID 1) for the real-guest tests and demos of vufsd.
# mkinitramfs.sh copies this file into the initramfs as /init; it runs under busybox sh.
#
# It mounts proc/sys/dev/tmp, loads the virtio and virtio-fs modules from /lib/modules/vufs/
# with insmod, and mounts the virtio-fs device tagged "vufs" on /mnt. Then:
#   - script mode (/guest-script.sh present, delivered as an extra cpio appended to the
#     initramfs by run-guest.sh): runs `sh /guest-script.sh /mnt`, prints `VUFS-EXIT <status>`
#     on the console and powers off. Console echo is turned off so that the host's replies
#     (see run-guest.sh) do not show up in the log.
#   - shell mode (kernel command line has vufs.shell=1): runs an interactive shell with the
#     console as its controlling tty (Ctrl-C works); powers off when the shell exits.
#   - neither: shows the mount and prints `VUFS-EXIT 0`.
# If the setup fails it prints `VUFS-EXIT <non-zero>` (script mode) or drops to a shell.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The kernel gave us /dev/console from the initramfs if it had one; make sure anyway.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /root
mount -t devpts devpts /dev/pts 2>/dev/null

shell_mode=0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	vufs.shell=1) shell_mode=1 ;;
	esac
done

power_off() {
	sync
	poweroff -f
	sleep 5
	echo "init: poweroff failed" >&2
	exit 1
}

# Called when setup fails: in script mode report and stop, in shell mode let the user look.
setup_failed() {
	echo "init: $*" >&2
	if [ "$shell_mode" = 1 ]; then
		echo "init: starting a rescue shell (exit it to power off)"
		setsid cttyhack sh
	else
		echo "VUFS-EXIT 125"
	fi
	power_off
}

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod "/lib/modules/vufs/$m.ko" || setup_failed "insmod $m failed"
done

mkdir -p /mnt
# The device is probed when virtio_pci and virtiofs load; retry briefly in case it is late.
tries=0
until mount -t virtiofs vufs /mnt; do
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || setup_failed "mount -t virtiofs vufs /mnt failed"
	sleep 0.5
done
read -r up _ </proc/uptime
echo "init: virtio-fs share mounted on /mnt (guest uptime ${up} s)"

if [ "$shell_mode" = 1 ]; then
	cat <<'EOF'

  vufsd demo shell: the virtio-fs share (tag "vufs") is mounted on /mnt.
  Try: ls -l /mnt; echo hi > /mnt/from-guest.txt; cat /proc/mounts; df -h /mnt
  Ctrl-D (or `poweroff -f`) powers the guest off.

EOF
	cd /mnt || true
	PS1='guest:\w# ' setsid cttyhack sh -i
	cd /
	umount /mnt 2>/dev/null
	power_off
fi

if [ -f /guest-script.sh ]; then
	stty -echo 2>/dev/null
	sh /guest-script.sh /mnt
	status=$?
	cd /
	echo "VUFS-EXIT $status"
else
	grep ' /mnt ' /proc/mounts
	echo "VUFS-EXIT 0"
fi
power_off
