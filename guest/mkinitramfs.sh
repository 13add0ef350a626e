#!/bin/bash
# mkinitramfs.sh: build (and cache) the base initramfs for the real-guest tests and demos.
#
# Usage: guest/mkinitramfs.sh            (prints the initramfs path on stdout)
#
# The image is an uncompressed newc cpio holding: busybox-static (/bin/busybox plus a symlink for
# every applet), the kernel modules virtio_ring virtio virtio_pci_modern_dev
# virtio_pci_legacy_dev virtio_pci fuse virtiofs (as plain .ko files in /lib/modules/vufs/;
# .ko.xz/.ko.zst/.ko.gz are decompressed here, on the host, because busybox insmod may not handle
# them), /dev/console, a root-only /etc/passwd and /etc/group, and guest/init.sh as /init.
#
# It is cached as $VUFS_CACHE/initramfs/base-REL.cpio (default cache /var/tmp/vufsd-cache) and
# rebuilt only when an input changes: this script, init.sh, the busybox binary or the module files
# (a sha256 over all of them is kept next to the image).
#
# Per-run guest scripts are not part of the base: run-guest.sh appends a second small cpio with
# /guest-script.sh to a copy of this image (Linux unpacks concatenated cpio archives in order).
# Needs: guest/fetch-kernel.sh (run first, here, if the kernel is not cached), busybox-static,
# cpio, and xz/zstd/gzip only if the modules are compressed.
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs"
BUSYBOX=${VUFS_BUSYBOX:-/bin/busybox}

log() { echo "mkinitramfs: $*" >&2; }
die() { echo "mkinitramfs: error: $*" >&2; exit 1; }

command -v cpio >/dev/null || die "cpio not found (install cpio)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static)"
command -v modinfo >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v modinfo >/dev/null || die "modinfo not found (install kmod)"

"$HERE/fetch-kernel.sh" >/dev/null
KROOT=$CACHE/kernel/root
REL=$(cat "$CACHE/kernel/release")

# Module files in load order.
modfiles=()
for m in $MODULES; do
	f=$(modinfo -b "$KROOT" -k "$REL" -F filename "$m" 2>/dev/null) || die "module $m not found"
	modfiles+=("$f")
done

OUT_DIR=$CACHE/initramfs
OUT=$OUT_DIR/base-$REL.cpio
KEY_FILE=$OUT.key
key=$( (echo "$REL"; sha256sum "${BASH_SOURCE[0]}" "$HERE/init.sh" "$BUSYBOX" "${modfiles[@]}" |
	cut -d' ' -f1) | sha256sum | cut -d' ' -f1)

if [ -f "$OUT" ] && [ -f "$KEY_FILE" ] && [ "$(cat "$KEY_FILE")" = "$key" ]; then
	echo "$OUT"
	exit 0
fi

mkdir -p "$OUT_DIR"
# Serialise concurrent builds; another run may have built it while we waited.
if command -v flock >/dev/null; then
	exec 9>"$OUT_DIR/build.lock"
	flock 9
	if [ -f "$OUT" ] && [ -f "$KEY_FILE" ] && [ "$(cat "$KEY_FILE")" = "$key" ]; then
		echo "$OUT"
		exit 0
	fi
fi
log "building $OUT"
tree=$(mktemp -d "$OUT_DIR/tree.XXXXXX")
trap 'rm -rf "$tree"' EXIT

mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,root,lib/modules/vufs}
chmod 1777 "$tree/tmp"
cp "$BUSYBOX" "$tree/bin/busybox"
# One symlink per applet, at the path busybox wants it (bin/sh, sbin/insmod, usr/bin/md5sum...).
"$BUSYBOX" --list-full | while read -r applet; do
	case "$applet" in
	bin/busybox | "") continue ;;
	esac
	[ -e "$tree/$applet" ] || ln -s /bin/busybox "$tree/$applet"
done
[ -L "$tree/bin/sh" ] || die "busybox has no sh applet"

for f in "${modfiles[@]}"; do
	name=$(basename "$f")
	base=${name%%.ko*}
	dst=$tree/lib/modules/vufs/$base.ko
	case "$name" in
	*.ko) cp "$f" "$dst" ;;
	*.ko.xz)
		if command -v xz >/dev/null; then xz -dc "$f" >"$dst"; else "$BUSYBOX" xzcat "$f" >"$dst"; fi ;;
	*.ko.zst)
		command -v zstd >/dev/null || die "$name is zstd-compressed: install zstd"
		zstd -qdc "$f" >"$dst" ;;
	*.ko.gz) gzip -dc "$f" >"$dst" ;;
	*) die "unknown module file type: $name" ;;
	esac
done

mkdir -p "$tree/etc"
echo "root:x:0:0:root:/root:/bin/sh" >"$tree/etc/passwd"
echo "root:x:0:" >"$tree/etc/group"
cp "$HERE/init.sh" "$tree/init"
chmod 755 "$tree/init"
# /dev/console lets the kernel give /init a console before devtmpfs is mounted. mknod needs
# root; without it /init still opens /dev/console itself after mounting devtmpfs.
mknod -m 600 "$tree/dev/console" c 5 1 2>/dev/null || true

tmp_out=$OUT.tmp.$$
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp_out"
mv -f "$tmp_out" "$OUT"
echo "$key" >"$KEY_FILE"
log "built $(du -h "$OUT" | cut -f1) image for kernel $REL"
echo "$OUT"
