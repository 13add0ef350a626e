#!/bin/sh
# basic.sh: guest-side functional test of a virtio-fs mount (busybox sh; runs inside the guest).
#
# Usage (normally via guest/test.sh, which runs it through guest/run-guest.sh --check-fds):
#   sh basic.sh MOUNTPOINT
#
# Each check prints `PASS: name` or `FAIL: name (detail)`; informational lines start with
# `TIME:` or `INFO:`. The script ends with `N passed, N failed` and exits non-zero if any check
# failed. It expects the host to have created host-file.txt (content below) in the share before
# boot, and talks to run-guest.sh on the host through console lines (see run-guest.sh):
#   HOST-WRITE? host-late.txt ...  the host writes a file during the run; we poll for it.
#   HOST-MD5? big.bin SUM          the host compares the 64 MiB file's md5 with its own view.
#   VUFS-UNMOUNTED                 after `umount`, the host checks the daemon's fds and answers.
# Each request is answered by one `HOST-REPLY <OK|FAIL|SKIP> detail` line on our stdin. Without
# a host answering (e.g. run by hand), those checks print SKIP after a timeout.
# busybox sh has `read -t`; ls -l is what these checks are about.
# shellcheck disable=SC3045,SC2010,SC2012
set -eu

M=${1:?usage: basic.sh MOUNTPOINT}
HOST_FILE_CONTENT="vufs host-file: created on the host before boot"
LATE_CONTENT="vufs host-late: written by the host during the run"

# Informational output and host requests go to fd 3, which the checks' output capture skips.
exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

t_mount() {
	grep -q "^[^ ]* $M virtiofs " /proc/mounts || { grep " $M " /proc/mounts; echo "not virtiofs"; return 1; }
}

t_file() {
	f=$M/file.txt
	echo hello >"$f" || return 1
	expect "read after create" "$(cat "$f")" hello || return 1
	echo world >>"$f" || return 1
	expect "read after append" "$(cat "$f")" "hello
world" || return 1
	expect "size after append" "$(stat -c %s "$f")" 12 || return 1
	truncate -s 3 "$f" || return 1
	expect "read after truncate" "$(cat "$f")" hel || return 1
	truncate -s 100000 "$f" || return 1
	expect "size after extending truncate" "$(stat -c %s "$f")" 100000 || return 1
	: >"$f" || return 1
	expect "size after O_TRUNC" "$(stat -c %s "$f")" 0 || return 1
	printf 'overwrite' >"$f" && printf 'OVER' | dd of="$f" conv=notrunc 2>/dev/null || return 1
	expect "read after in-place write" "$(cat "$f")" OVERwrite
}

t_dirs() {
	d=$M/dir1
	mkdir "$d" || return 1
	[ -d "$d" ] || { echo "mkdir: not a directory"; return 1; }
	mkdir -p "$d/a/b/c" || return 1
	rmdir "$d/a/b/c" "$d/a/b" "$d/a" || return 1
	rmdir "$d" || return 1
	[ ! -e "$d" ] || { echo "rmdir: still exists"; return 1; }
	mkdir "$M/dir2" && : >"$M/dir2/x" || return 1
	if err=$(rmdir "$M/dir2" 2>&1); then
		echo "rmdir of a non-empty dir succeeded"
		return 1
	fi
	case "$err" in
	*"not empty"*) ;;
	*) echo "rmdir of a non-empty dir: unexpected error '$err'"; return 1 ;;
	esac
	rm "$M/dir2/x" && rmdir "$M/dir2" || return 1
}

t_rename_same() {
	echo one >"$M/r1" || return 1
	mv "$M/r1" "$M/r2" || return 1
	[ ! -e "$M/r1" ] || { echo "old name still exists"; return 1; }
	expect "content after rename" "$(cat "$M/r2")" one
}

t_rename_across() {
	mkdir "$M/ra" "$M/rb" && echo two >"$M/ra/x" || return 1
	mv "$M/ra/x" "$M/rb/y" || return 1
	[ ! -e "$M/ra/x" ] || { echo "old name still exists"; return 1; }
	expect "content after rename" "$(cat "$M/rb/y")" two || return 1
	mv "$M/rb" "$M/ra/rb" || return 1
	expect "content after directory rename" "$(cat "$M/ra/rb/y")" two
}

t_rename_over() {
	echo old >"$M/target" && echo new >"$M/source" || return 1
	mv -f "$M/source" "$M/target" || return 1
	[ ! -e "$M/source" ] || { echo "source still exists"; return 1; }
	expect "target content" "$(cat "$M/target")" new
}

t_unlink() {
	echo bye >"$M/gone" || return 1
	rm "$M/gone" || return 1
	[ ! -e "$M/gone" ] || { echo "file still exists"; return 1; }
	if err=$(cat "$M/gone" 2>&1); then
		echo "read after unlink succeeded"
		return 1
	fi
	case "$err" in
	*"No such file"*) ;;
	*) echo "after unlink: expected ENOENT, got '$err'"; return 1 ;;
	esac
}

t_many() {
	mkdir "$M/many" || return 1
	t0=$(now)
	i=1
	while [ "$i" -le 2000 ]; do
		: >"$M/many/f$i" || return 1
		i=$((i + 1))
	done
	info "TIME: create 2000 files: $(since "$t0") s"
	t0=$(now)
	n=$(ls -l "$M/many" | grep -c '^-')
	info "TIME: ls -l 2000 files: $(since "$t0") s"
	expect "ls -l line count" "$n" 2000
}

t_big() {
	f=$M/big.bin
	t0=$(now)
	dd if=/dev/urandom of="$f" bs=1M count=64 2>/dev/null || return 1
	sync
	info "TIME: write 64 MiB: $(since "$t0") s"
	expect "size" "$(stat -c %s "$f")" 67108864 || return 1
	t0=$(now)
	sum=$(md5sum "$f" | cut -d' ' -f1)
	info "TIME: md5sum 64 MiB (page cache): $(since "$t0") s"
	info "GUEST-MD5 $sum"
	# Read it again through the daemon, not the page cache.
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now)
	sum2=$(md5sum "$f" | cut -d' ' -f1)
	info "TIME: read 64 MiB (cold): $(since "$t0") s"
	expect "md5 after dropping caches" "$sum2" "$sum" || return 1
	host_ask "HOST-MD5? big.bin $sum"
	case "$REPLY_STATUS" in
	OK) ;;
	NONE) info "INFO: no host answer to HOST-MD5?; host-side md5 not compared" ;;
	*) echo "host: $REPLY_DETAIL"; return 1 ;;
	esac
}

t_host_file() {
	[ -f "$M/host-file.txt" ] || { echo "host-file.txt missing (the host creates it before boot)"; return 1; }
	expect "host-file.txt" "$(cat "$M/host-file.txt")" "$HOST_FILE_CONTENT"
}

t_df() {
	line=$(df -k "$M" | tail -n 1)
	info "INFO: df: $line"
	# shellcheck disable=SC2086 # split df's fields
	set -- $line
	[ "${2:-0}" -gt 0 ] 2>/dev/null || { echo "df shows no size: $line"; return 1; }
	[ "${4:-x}" -ge 0 ] 2>/dev/null || { echo "df shows no free space: $line"; return 1; }
}

t_modes() {
	f=$M/modes.txt
	: >"$f" && chmod 640 "$f" || return 1
	expect "file mode" "$(stat -c %a "$f")" 640 || return 1
	expect "ls -l file" "$(ls -l "$f" | cut -c1-10)" "-rw-r-----" || return 1
	mkdir "$M/modes.d" && chmod 755 "$M/modes.d" || return 1
	expect "ls -ld dir" "$(ls -ld "$M/modes.d" | cut -c1-10)" drwxr-xr-x || return 1
	expect "file type" "$(stat -c %F "$f")" "regular empty file" || return 1
	expect "owner" "$(stat -c %u:%g "$f")" 0:0
}

t_links() {
	echo linked >"$M/lnk-target" || return 1
	ln -s lnk-target "$M/lnk-sym" || return 1
	expect "readlink" "$(readlink "$M/lnk-sym")" lnk-target || return 1
	expect "read through symlink" "$(cat "$M/lnk-sym")" linked || return 1
	expect "ls -l symlink" "$(ls -l "$M/lnk-sym" | cut -c1)" l || return 1
	ln "$M/lnk-target" "$M/lnk-hard" || return 1
	expect "link count" "$(stat -c %h "$M/lnk-target")" 2 || return 1
	expect "read through hard link" "$(cat "$M/lnk-hard")" linked
}

t_host_late() {
	host_ask "HOST-WRITE? host-late.txt $LATE_CONTENT"
	[ "$REPLY_STATUS" != NONE ] || { echo "host did not answer HOST-WRITE?"; return 1; }
	[ "$REPLY_STATUS" = OK ] || { echo "host: $REPLY_DETAIL"; return 1; }
	i=0
	while [ "$i" -lt 50 ]; do
		[ "$(cat "$M/host-late.txt" 2>/dev/null)" = "$LATE_CONTENT" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "host-late.txt not visible (or wrong) after 5 s: '$(cat "$M/host-late.txt" 2>&1)'"
	return 1
}

# The host made tree/ (100 directories x 100 files) before boot: walk it all, with stat of
# every entry, so the daemon holds ~10,000 inodes; the fd check after umount shows they go.
t_walk_tree() {
	[ -d "$M/tree" ] || { echo "host did not create tree/"; return 1; }
	t0=$(now)
	n=$(find "$M/tree" -type f | wc -l)
	expect "files found" "$n" 10000 || return 1
	s=$(ls -lR "$M/tree" | grep -c '^-')
	info "TIME: walk and ls -lR 10,000 files: $(since "$t0") s"
	expect "ls -lR files" "$s" 10000
}

t_umount() {
	cd / || return 1
	sync
	umount "$M" || return 1
	! grep -q " $M " /proc/mounts || { echo "still mounted"; return 1; }
}

T0=$(now)
info "INFO: kernel $(uname -r), mount point $M"
check "mount is virtiofs" t_mount
check "file create/write/read/append/truncate" t_file
check "mkdir/rmdir (non-empty rmdir fails)" t_dirs
check "rename in the same dir" t_rename_same
check "rename across dirs" t_rename_across
check "rename over an existing file" t_rename_over
check "unlink, then ENOENT" t_unlink
check "create and ls -l 2000 files" t_many
check "64 MiB file: write, md5 in guest and on host" t_big
check "file created on the host before boot" t_host_file
check "file written on the host during the run" t_host_late
check "df shows sizes" t_df
check "stat/ls -l modes" t_modes
check "symlink and hard link" t_links
check "walk a 10,000-file tree" t_walk_tree
info "INFO: tests before unmount took $(since "$T0") s"
host_ask "HOST-METRICS? basic" 10
[ "$REPLY_STATUS" != OK ] || info "INFO: FUSE requests so far: $REPLY_DETAIL"
check "umount" t_umount

if grep -q " $M " /proc/mounts; then
	skip "daemon released fds after unmount" "share still mounted"
else
	host_ask "VUFS-UNMOUNTED" 30
	case "$REPLY_STATUS" in
	OK) echo "PASS: daemon released inode fds after unmount ($REPLY_DETAIL)"; npass=$((npass + 1)) ;;
	FAIL) echo "FAIL: daemon released inode fds after unmount ($REPLY_DETAIL)"; nfail=$((nfail + 1)) ;;
	SKIP) skip "daemon released inode fds after unmount" "$REPLY_DETAIL" ;;
	*) skip "daemon released inode fds after unmount" "no answer from the host" ;;
	esac
fi

info "TIME: guest test total: $(since "$T0") s"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
