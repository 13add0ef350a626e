#!/bin/bash
# build.sh: build (once) the minimal Debian bookworm root tree that guest/rootfs/test.sh boots a
# guest on, with vufsd serving the whole tree as the guest's root filesystem.
#
# Usage: guest/rootfs/build.sh            (prints the tree's path on stdout)
#
# The tree is made with
#   debootstrap --variant=minbase --include=gcc,make,git,perl,libc6-dev bookworm TREE MIRROR
# where MIRROR is the first non-security archive URI in /etc/apt/sources.list.d/debian.sources
# (else /etc/apt/sources.list; VUFS_MIRROR overrides). debootstrap is installed with apt-get if it
# is missing. Needs root (debootstrap creates device nodes and chowns files) and about 450 MB.
#
# Cache: $VUFS_CACHE/rootfs (default /var/tmp/vufsd-cache/rootfs), outside the repo:
#   tree/        the root tree
#   key          sha256 of the suite, variant and package list the tree was built with
# The tree is rebuilt only when it is missing or the key changes (edit INCLUDE below). A build
# goes to a temporary directory first and is renamed into place when debootstrap succeeded, so an
# interrupted build leaves no half tree behind. Concurrent builds are serialised with flock.
# Delete the directory to force a rebuild.
set -eu

CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
DIR=$CACHE/rootfs
SUITE=bookworm
VARIANT=minbase
INCLUDE=gcc,make,git,perl,libc6-dev

log() { echo "rootfs-build: $*" >&2; }
die() { echo "rootfs-build: error: $*" >&2; exit 1; }

key=$(printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" | sha256sum | cut -d' ' -f1)
cached() { [ -d "$DIR/tree/usr/bin" ] && [ -f "$DIR/key" ] && [ "$(cat "$DIR/key")" = "$key" ]; }

if cached; then
	echo "$DIR/tree"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the root tree needs root (debootstrap)"
mkdir -p "$DIR"
exec 9>"$DIR/build.lock"
flock 9
if cached; then
	echo "$DIR/tree"
	exit 0
fi

if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	apt-get -q install -y debootstrap >/dev/null 2>&1 ||
		{ apt-get -q update >/dev/null && apt-get -q install -y debootstrap >/dev/null; } ||
		die "apt-get install debootstrap failed"
fi

MIRROR=${VUFS_MIRROR:-}
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
	MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list ]; then
	MIRROR=$(awk '$1 == "deb" && $0 !~ /security/ {
		for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
[ -n "$MIRROR" ] || die "no Debian archive URI found in apt's sources (set VUFS_MIRROR)"

tmp=$(mktemp -d "$DIR/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "debootstrap --variant=$VARIANT --include=$INCLUDE $SUITE from $MIRROR (a few minutes)"
t0=$SECONDS
if ! debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$tmp/tree" "$MIRROR" \
	>"$tmp/debootstrap.log" 2>&1; then
	tail -n 30 "$tmp/debootstrap.log" >&2
	die "debootstrap failed"
fi
# The downloaded .debs are not needed in the guest; apt's lists are not there anyway.
rm -f "$tmp"/tree/var/cache/apt/archives/*.deb
rm -rf "$DIR/tree" "$DIR/key"
mv "$tmp/tree" "$DIR/tree"
echo "$key" >"$DIR/key"
log "built $DIR/tree ($(du -sh "$DIR/tree" | cut -f1)) in $((SECONDS - t0)) s"
echo "$DIR/tree"
