#!/bin/sh
# guest.sh: guest side of guest/libvirt/test.sh (busybox sh, run by /init as
# `sh /guest-script.sh /mnt` with the share that libvirt's <filesystem> exports mounted on /mnt).
# Checks that the share works, prints "N passed, N failed" and LIBVIRT-GUEST-DONE, then waits:
# the host stops the domain with `virsh destroy` (that, and what it leaves behind, is tested).
# shellcheck shell=sh disable=SC1091
. /vufs-lib.sh
exec 3>&1
mnt=$1

t_host_file() {
	expect "content of the host's file" "$(cat "$mnt/from-host.txt")" "written on the host before boot"
}
t_write_read() {
	echo "written by the guest" >"$mnt/from-guest.txt" || return 1
	sync
	expect "read back" "$(cat "$mnt/from-guest.txt")" "written by the guest"
}
t_dirs() {
	mkdir -p "$mnt/d/e/f" && echo x >"$mnt/d/e/f/g" && mv "$mnt/d/e/f/g" "$mnt/d/h" || return 1
	expect "listing" "$(ls "$mnt/d" | tr '\n' ' ')" "e h "
}
t_big_file() {
	dd if=/dev/urandom of=/tmp/big bs=64k count=64 2>/dev/null || return 1
	cp /tmp/big "$mnt/big" && sync || return 1
	expect "md5 of a 4 MiB copy" "$(md5sum <"$mnt/big" | cut -d' ' -f1)" "$(md5sum </tmp/big | cut -d' ' -f1)"
	md5sum </tmp/big | cut -d' ' -f1 >"$mnt/big.md5"
}
t_unlink() {
	echo y >"$mnt/tmpfile" && rm "$mnt/tmpfile" || return 1
	[ ! -e "$mnt/tmpfile" ] || { echo "still there after rm"; return 1; }
}
t_mount_type() {
	grep -q "^vufs $mnt virtiofs " /proc/mounts || { grep " $mnt " /proc/mounts; return 1; }
}

check "a file written on the host reads back" t_host_file
check "write and read back a file" t_write_read
check "mkdir -p, create, rename across directories" t_dirs
check "4 MiB copy has the same md5" t_big_file
check "unlink" t_unlink
check "the share is a virtiofs mount" t_mount_type
sync
echo "$npass passed, $nfail failed"
echo "LIBVIRT-GUEST-DONE"
# Wait for `virsh destroy`.
sleep 100000
