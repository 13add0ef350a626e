#!/bin/sh
# init.sh: the guest's /init (PID 1) for the real-guest tests and demos of vufsd.
# mkinitramfs.sh copies this file into the initramfs as /init; it runs under busybox sh.
#
# It mounts proc/sys/dev/tmp, loads the virtio and virtio-fs modules (unless built in) from /lib/modules/vufs/
# with insmod, and mounts the virtio-fs device tagged "vufs" on /mnt. Then:
#   - script mode (/guest-script.sh present, delivered as an extra cpio appended to the
#     initramfs by run-guest.sh): runs `sh /guest-script.sh /mnt`, prints `VUFS-EXIT <status>`
#     on the console and powers off. Console echo is turned off so that the host's replies
#     (see run-guest.sh) do not show up in the log.
#   - shell mode (kernel command line has vufs.shell=1): runs an interactive shell with the
#     console as its controlling tty (Ctrl-C works); powers off when the shell exits.
#   - rootfs mode (kernel command line has vufs.rootfs=1; run-guest.sh --rootfs): the share is
#     the guest's root instead. It is mounted on /newroot, proc, sysfs, devtmpfs, devpts and
#     tmpfs (/tmp, /run) are mounted inside it, and /init switch_root()s into it, running the
#     share's /bin/sh as PID 1: in script mode it runs `sh /vufs-rootfs-test.sh` (a script the
#     host put into the share), prints `VUFS-EXIT <status>` and powers off through
#     /proc/sysrq-trigger (the share has no busybox); with vufs.shell=1 it runs an interactive
#     shell (setsid -c, from util-linux) and powers off when it exits.
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
rootfs_mode=0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	vufs.shell=1) shell_mode=1 ;;
	vufs.rootfs=1) rootfs_mode=1 ;;
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

# A kernel with virtio-fs built in (e.g. Debian's 6.12, VUFS_KERNEL) needs none of our modules.
if grep -qw virtiofs /proc/filesystems; then
	echo "init: virtio-fs is built into the kernel"
else
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
		insmod "/lib/modules/vufs/$m.ko" || setup_failed "insmod $m failed"
	done
fi

mnt=/mnt
[ "$rootfs_mode" = 0 ] || mnt=/newroot
mkdir -p "$mnt"
# The device is probed when virtio_pci and virtiofs load; retry briefly in case it is late.
tries=0
until mount -t virtiofs vufs "$mnt"; do
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || setup_failed "mount -t virtiofs vufs $mnt failed"
	sleep 0.5
done
read -r up _ </proc/uptime
echo "init: virtio-fs share mounted on $mnt (guest uptime ${up} s)"

if [ "$rootfs_mode" = 1 ]; then
	[ -x /newroot/bin/sh ] || setup_failed "the share has no /bin/sh: not a root file system"
	if [ "$shell_mode" = 0 ] && [ ! -f /newroot/vufs-rootfs-test.sh ]; then
		setup_failed "the share has no /vufs-rootfs-test.sh"
	fi
	for d in proc sys dev tmp run; do
		mkdir -p "/newroot/$d" 2>/dev/null
	done
	mount -t proc proc /newroot/proc || setup_failed "mounting proc in the new root failed"
	mount -t sysfs sysfs /newroot/sys || setup_failed "mounting sysfs in the new root failed"
	mount -t devtmpfs devtmpfs /newroot/dev || setup_failed "mounting devtmpfs in the new root failed"
	mkdir -p /newroot/dev/pts
	mount -t devpts devpts /newroot/dev/pts 2>/dev/null
	mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
	mount -t tmpfs -o mode=755 tmpfs /newroot/run
	off='sync; echo o >/proc/sysrq-trigger; sleep 10'
	if [ "$shell_mode" = 1 ]; then
		echo "init: switching to the virtio-fs root; exit the shell to power off"
		exec switch_root /newroot /bin/sh -c \
			"cd /; HOME=/root PS1='guest-rootfs# ' setsid -c /bin/sh -i </dev/ttyS0 >/dev/ttyS0 2>&1; $off"
	fi
	echo "init: switching to the virtio-fs root to run /vufs-rootfs-test.sh"
	exec switch_root /newroot /bin/sh -c \
		"stty -echo 2>/dev/null; cd /; sh /vufs-rootfs-test.sh; echo \"VUFS-EXIT \$?\"; $off"
fi

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
