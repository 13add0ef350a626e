#!/bin/sh
# fhsub.sh: guest side of guest/fhsub/test.sh (busybox sh): the host's tmpfs at sub/ is a
# submount here, and a walk of the whole tree (vufs.files entries under tree/) keeps every inode.
# shellcheck disable=SC3045
set -eu

M=${1:?usage: fhsub.sh MOUNTPOINT}
exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

FILES=
for w in $(cat /proc/cmdline); do
	case "$w" in vufs.files=*) FILES=${w#vufs.files=} ;; esac
done

t_submount_dev() {
	d0=$(stat -c %d "$M")
	d1=$(stat -c %d "$M/sub/f")
	d2=$(stat -c %d "$M/tree")
	[ "$d0" = "$d2" ] || { echo "tree/ on device $d2, share on $d0"; return 1; }
	[ "$d0" != "$d1" ] || { echo "sub/f on the share's device $d0"; return 1; }
	expect "content" "$(cat "$M/sub/f")" "on the tmpfs" || return 1
	info "INFO: share st_dev $d0, submount st_dev $d1"
}

t_submount_listed() {
	# The guest kernel mounted it itself: a virtiofs mount at sub/.
	grep -q "^[^ ]* $M/sub virtiofs " /proc/mounts || { grep virtiofs /proc/mounts; return 1; }
}

t_submount_use() {
	echo written >"$M/sub/g" && mkdir "$M/sub/d" && mv "$M/sub/g" "$M/sub/d/g" || return 1
	expect "read back" "$(cat "$M/sub/d/g")" written || return 1
	# A hard link across the filesystems must fail as on the host.
	if ln "$M/sub/d/g" "$M/cross" 2>/dev/null; then echo "cross-device link worked"; return 1; fi
	sync -f "$M/sub/d/g"
}

t_walk() {
	t=$(now)
	n=$(find "$M/tree" | wc -l)
	info "INFO: find walked $n entries in $(since "$t") s"
	expect "entries" "$n" "$FILES" || return 1
	# And every file's attributes once more (stat of each, from the daemon by handle).
	t=$(now)
	n=$(find "$M/tree" -type f -size 0 | wc -l)
	info "INFO: find -size saw $n empty files in $(since "$t") s"
	[ "$n" -gt 0 ] || { echo "no files seen"; return 1; }
}

T0=$(now)
check "the host mount is a filesystem of its own (st_dev)" t_submount_dev
check "the guest mounted it (/proc/mounts)" t_submount_listed
check "use the submount, sync -f it" t_submount_use
check "walk the whole tree, keeping every inode" t_walk
info "TIME: guest test total: $(since "$T0") s"
umount "$M/sub" 2>/dev/null || true
umount "$M" || true
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
