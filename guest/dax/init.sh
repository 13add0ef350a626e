#!/bin/busybox sh
# init.sh: /init of the DAX guest stage (guest/dax/run.sh builds the initramfs). The Linux 6.12
# kernel has virtio-pci and virtio-fs built in, so nothing is loaded: mount the basics, run
# /dax-test.sh (which mounts the share itself, with the DAX options it tests), print
# `VUFS-EXIT <status>` and power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
sh /dax-test.sh
echo "VUFS-EXIT $?"
sync
poweroff -f
