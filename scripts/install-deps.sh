#!/bin/sh
# Install, from Debian's archive, everything vufsd needs to build, test and demo.
# Idempotent and quiet when everything is already there.
set -eu
PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev linux-libc-dev \
libcmocka-dev libseccomp-dev libcap-ng-dev \
qemu-system-x86 qemu-system-common busybox-static cpio kmod libc6-dev debootstrap uidmap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
