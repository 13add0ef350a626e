#!/bin/bash
# fetch-kernel.sh: fetch the Debian 6.1 guest kernel used by the real-guest tests and demos.
#
# Usage: guest/fetch-kernel.sh            (prints the vmlinuz path on stdout)
#
# Resolves the versioned package that Debian's `linux-image-amd64` depends on
# (linux-image-6.1.0-NN-amd64 on bookworm), downloads it with `apt-get download` and unpacks it
# with `dpkg -x` into $VUFS_CACHE/kernel (default /var/tmp/vufsd-cache/kernel), then runs
# `depmod -b` on the unpacked tree and checks that the modules the guest needs resolve.
# Idempotent: once a kernel is unpacked it is reused (delete the directory to refetch).
# Needs: apt (Debian's archive), dpkg, kmod (depmod/modinfo). Works as any user; root may need
# to run `apt-get update` once, which this script does only if apt-cache knows nothing.
#
# Cache layout ($VUFS_CACHE/kernel):
#   root/                  the unpacked package (root/boot/vmlinuz-REL, root/lib/modules/REL/)
#   release                the kernel release string REL (e.g. 6.1.0-56-amd64)
#   vmlinuz                symlink to root/boot/vmlinuz-REL
#   .complete              written last; its absence means "fetch again"
set -eu

CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
KDIR=$CACHE/kernel
# Modules the guest's /init loads, in load order (mkinitramfs.sh uses the same list).
GUEST_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs"

log() { echo "fetch-kernel: $*" >&2; }
die() { echo "fetch-kernel: error: $*" >&2; exit 1; }

if [ -f "$KDIR/.complete" ] && [ -e "$KDIR/vmlinuz" ]; then
	echo "$KDIR/vmlinuz"
	exit 0
fi

# Serialise concurrent runs (re-checking the cache once we hold the lock).
mkdir -p "$CACHE"
if command -v flock >/dev/null; then
	exec 9>"$CACHE/kernel.lock"
	flock 9
	if [ -f "$KDIR/.complete" ] && [ -e "$KDIR/vmlinuz" ]; then
		echo "$KDIR/vmlinuz"
		exit 0
	fi
fi

command -v apt-get >/dev/null || die "apt-get not found (this script needs a Debian system)"
command -v dpkg >/dev/null || die "dpkg not found"
command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v depmod >/dev/null || die "depmod not found (install kmod)"

# The versioned image package, e.g. linux-image-6.1.0-56-amd64.
resolve_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

apt_opts=()
if [ "$(id -u)" = 0 ]; then
	# apt's download sandbox user (_apt) cannot write to root's cache directory; as root just
	# download as root instead of printing a warning.
	apt_opts+=(-o APT::Sandbox::User=root)
fi

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return 0
	[ "$(id -u)" = 0 ] || die "apt lists are missing or stale; run 'apt-get update' as root"
	log "running apt-get update"
	apt-get -q update >/dev/null || die "apt-get update failed"
	apt_updated=1
}

pkg=$(resolve_pkg)
if [ -z "$pkg" ]; then
	apt_update
	pkg=$(resolve_pkg)
fi
[ -n "$pkg" ] || die "cannot resolve the package linux-image-amd64 depends on"

mkdir -p "$KDIR"
dl=$(mktemp -d "$KDIR/download.XXXXXX")
trap 'rm -rf "$dl"' EXIT

log "downloading $pkg"
if ! (cd "$dl" && apt-get -q "${apt_opts[@]}" download "$pkg" >/dev/null 2>"$dl/apt.err"); then
	# A stale package list names a version the archive no longer has: refresh once and retry.
	apt_update
	pkg=$(resolve_pkg)
	[ -n "$pkg" ] || die "cannot resolve the package linux-image-amd64 depends on"
	log "downloading $pkg (after apt-get update)"
	(cd "$dl" && apt-get -q "${apt_opts[@]}" download "$pkg" >/dev/null 2>"$dl/apt.err") ||
		{ cat "$dl/apt.err" >&2; die "apt-get download $pkg failed"; }
fi
debs=("$dl"/*.deb)
deb=${debs[0]}
[ -f "$deb" ] || die "apt-get download produced no .deb"

rm -rf "$KDIR/root" "$KDIR/vmlinuz" "$KDIR/release"
log "unpacking $(basename "$deb")"
dpkg -x "$deb" "$KDIR/root"

images=("$KDIR"/root/boot/vmlinuz-*)
vmlinuz=${images[0]}
[ -f "$vmlinuz" ] || die "no vmlinuz in $deb"
rel=${vmlinuz##*/vmlinuz-}
[ -d "$KDIR/root/lib/modules/$rel" ] || die "no lib/modules/$rel in $deb"

# Regenerate modules.dep for the unpacked tree and check that every module the guest needs
# exists and depends only on modules loaded before it.
depmod -b "$KDIR/root" "$rel" || die "depmod -b failed"
loaded=""
for m in $GUEST_MODULES; do
	f=$(modinfo -b "$KDIR/root" -k "$rel" -F filename "$m" 2>/dev/null) ||
		die "module $m not found in $rel"
	[ -f "$f" ] || die "module $m: $f missing"
	deps=$(modinfo -b "$KDIR/root" -k "$rel" -F depends "$m" 2>/dev/null | tr ',' ' ')
	for d in $deps; do
		case " $loaded " in
		*" $d "*) ;;
		*) die "module $m depends on $d, which the guest does not load before it" ;;
		esac
	done
	loaded="$loaded $m"
done

echo "$rel" >"$KDIR/release"
ln -s "root/boot/vmlinuz-$rel" "$KDIR/vmlinuz"
touch "$KDIR/.complete"
log "kernel $rel ready"
echo "$KDIR/vmlinuz"
