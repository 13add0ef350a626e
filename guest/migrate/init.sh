#!/bin/sh
# /init of the live-migration stage (guest/migrate/test.sh), appended over the base initramfs
# of guest/mkinitramfs.sh (its busybox). The Linux 6.12 kernel has virtio_pci and virtiofs built
# in, so no modules are loaded. Runs /vufs-mig on the share and prints VUFS-EXIT <status>.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mkdir -p /mnt
tries=0
until mount -t virtiofs vufs /mnt; do
	tries=$((tries + 1))
	if [ "$tries" -ge 20 ]; then
		echo "VUFS-EXIT 125"
		poweroff -f
	fi
	sleep 0.5
done
/vufs-mig /mnt
echo "VUFS-EXIT $?"
umount /mnt
sync
poweroff -f
