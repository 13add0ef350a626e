#!/bin/sh
# durability.sh: guest side of guest/durability.sh (busybox sh, run as `sh durability.sh /mnt`).
#
# Writes and fsyncs in a loop until the host kills QEMU or the daemon, and prints one console
# line per record right after its fsync returned:
#   DUR-SYNCED log N    record N (a line `rec N PAD`) was appended to dur/log and dur/log was
#                       fsync'ed (FUSE FSYNC);
#   DUR-SYNCED file N   dur/f.N (content `file N PAD`) was written under a temporary name,
#                       fsync'ed, renamed into place, and the directory fsync'ed (FSYNCDIR).
# The host then checks that every record reported here is in the share. `sync FILE` (busybox)
# opens FILE read-only and calls fsync(2) on it; on a directory that is the guest's FSYNCDIR.
# Stops by itself after $2 records (default 100000) with `DUR-DONE N`.
mnt=${1:-/mnt}
max=${2:-100000}
dir=$mnt/dur
pad=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz0123456789

mkdir "$dir" || exit 1
: >"$dir/log" || exit 1
sync "$dir/log" "$dir" "$mnt" || exit 1
echo "DUR-READY"
n=0
while [ "$n" -lt "$max" ]; do
	n=$((n + 1))
	printf 'rec %d %s\n' "$n" "$pad" >>"$dir/log" || exit 1
	sync "$dir/log" || exit 1
	echo "DUR-SYNCED log $n"
	printf 'file %d %s\n' "$n" "$pad" >"$dir/tmp" || exit 1
	sync "$dir/tmp" || exit 1
	mv "$dir/tmp" "$dir/f.$n" || exit 1
	sync "$dir" || exit 1
	echo "DUR-SYNCED file $n"
done
echo "DUR-DONE $n"
