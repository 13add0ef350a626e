#!/bin/sh
# posix.sh: guest-side POSIX semantics suite for a virtio-fs mount (busybox sh; runs inside the
# guest as root).
#
# Usage (normally via guest/posix/test.sh, which runs it through guest/run-guest.sh with the
# helper /bin/vufs-as added to the initramfs and the daemon started with --xattr):
#   sh posix.sh MOUNTPOINT
#
# Works in MOUNTPOINT/posix (created fresh). Non-root cases run through vufs-as (vufs-as.c): uid
# 1000 and 1001 (primary groups 1000 and 1001), group 2000 as a supplementary group where said.
# Each case prints `PASS: name`, `FAIL: name (detail)` or `SKIP: name (why)`; `INFO:`/`TIME:`
# lines are informational. Ends with `N passed, N failed` (SKIPs count as neither) and exits
# non-zero if any case failed.
#
# Host requests (answered by run-guest.sh with one `HOST-REPLY` line on our stdin):
#   HOST-STAT? posix/REL    owner, mode, size and type of the file as the host sees it
#   HOST-MD5? posix/REL SUM the host compares the file's md5
#   HOST-LOCK? posix/REL N  a host process holds flock + an OFD write lock on it for N s
#   HOST-XATTR? posix/REL NAME  the value of the file's attribute NAME on the host (or its errno)
#   VUFS-UNMOUNTED          after the final umount: the host checks the daemon's fds
# Without a host answering (run by hand), host-side comparisons are skipped with an INFO line.
#
# Modes (kernel command line, passed by test.sh --long): vufs.long=1 lists a directory of
# 100,000 entries instead of 20,000 (the default keeps the suite near 3 minutes under TCG; see
# guest/posix/README.md).
# vufs.acl=1 (test.sh, when VUFSD_ARGS has --posix-acl): run the POSIX ACL case.
# vufs.xattrmap=1 (test.sh, when VUFSD_ARGS has --xattrmap= with the rules of
# guest/posix/xattrmap.rules): run the xattr mapping case.
# busybox sh has read -t; `A && B || fail` is meant; ls is what some checks are about.
# shellcheck disable=SC3045,SC2015,SC2012,SC2010
set -eu

M=${1:?usage: posix.sh MOUNTPOINT}
D=$M/posix
R=posix # $D relative to the share, for host requests
BIG_N=20000
case " $(cat /proc/cmdline) " in
*" vufs.long=1 "*) BIG_N=100000 ;;
esac

exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

# host_has REL KEY=VALUE...: the host's lstat of posix/REL shows every KEY=VALUE.
host_has() {
	rel=$1
	shift
	host_ask "HOST-STAT? $R/$rel"
	case "$REPLY_STATUS" in
	NONE) info "INFO: no host answer to HOST-STAT? $R/$rel"; return 0 ;;
	OK) ;;
	*) echo "host stat of $rel: $REPLY_DETAIL"; return 1 ;;
	esac
	for kv in "$@"; do
		case " $REPLY_DETAIL " in
		*" $kv "*) ;;
		*) echo "host sees $rel as '$REPLY_DETAIL', expected $kv"; return 1 ;;
		esac
	done
}

# host_xattr REL NAME EXPECTED: the host's attribute NAME of posix/REL reads as EXPECTED (`OK
# VALUE`, or `FAIL ERRNO` such as `FAIL ENODATA`).
host_xattr() {
	host_ask "HOST-XATTR? $R/$1 $2"
	case "$REPLY_STATUS" in
	NONE) info "INFO: no host answer to HOST-XATTR? $R/$1 $2"; return 0 ;;
	esac
	expect "host's $2 of $1" "$REPLY_STATUS${REPLY_DETAIL:+ $REPLY_DETAIL}" "$3"
}

op() { vufs-as --op "$@"; }
u1000() { vufs-as 1000 1000 --op "$@"; }
u1001() { vufs-as 1001 1001 --op "$@"; }
# stat fields as the guest sees them: st PATH FIELD... -> "OK f=v ..."
st() { op stat "$@"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# locked ACTUAL WHAT: ACTUAL is a lock op's success line.
locked() {
	case "$1" in
	LOCKED*) return 0 ;;
	esac
	echo "$2: got '$1', expected LOCKED"
	return 1
}

# wait_line FILE PATTERN SECONDS: wait until FILE has a line matching PATTERN.
wait_line() {
	i=0
	while [ "$i" -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wait_gone PID SECONDS
wait_gone() {
	i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# holder OUTFILE ARGS...: run `vufs-as ARGS` in the background (stdout to OUTFILE), wait for its
# LOCKED line; sets HPID. Prints the holder's output and fails if it does not lock in 15 s.
holder() {
	hout=$1
	shift
	: >"$hout"
	vufs-as "$@" >"$hout" 2>&1 &
	HPID=$!
	if ! wait_line "$hout" '^LOCKED' 15; then
		echo "lock holder ($*) did not lock: $(cat "$hout")"
		kill "$HPID" 2>/dev/null
		return 1
	fi
}

# release RELEASEFILE PID: let a holder waiting for RELEASEFILE go and reap it.
release() {
	: >"$1"
	wait_gone "$2" 15 || { echo "holder $2 did not exit"; kill "$2" 2>/dev/null; return 1; }
	wait "$2" 2>/dev/null || true
}

#
# --- ownership and permissions ------------------------------------------------------------------
#

t_create_denied() {
	mkdir "$D/rootonly" && chmod 755 "$D/rootonly" || return 1
	expect "uid 1000 creates a file in a 0755 root dir" \
		"$(u1000 open "$D/rootonly/f" w,creat 0644)" EACCES || return 1
	expect "uid 1000 mkdir in a 0755 root dir" "$(u1000 mkdir "$D/rootonly/d" 0755)" EACCES ||
		return 1
	expect "uid 1000 symlink in a 0755 root dir" "$(u1000 symlink x "$D/rootonly/l")" EACCES ||
		return 1
	[ ! -e "$D/rootonly/f" ] && [ ! -e "$D/rootonly/d" ] || { echo "something was created"; return 1; }
	mkdir "$D/private" && chmod 700 "$D/private" && : >"$D/private/f" || return 1
	expect "uid 1000 opens a file in a 0700 root dir" "$(u1000 open "$D/private/f" r)" EACCES
}

t_owner() {
	mkdir "$D/pub" && chmod 777 "$D/pub" || return 1
	expect "create as 1000" "$(u1000 open "$D/pub/u1000" w,creat,excl 0644)" OK || return 1
	expect "guest owner" "$(st "$D/pub/u1000" uid gid perm)" "OK uid=1000 gid=1000 perm=644" ||
		return 1
	host_has pub/u1000 uid=1000 gid=1000 mode=644 type=file || return 1
	expect "mkdir as 1000" "$(u1000 mkdir "$D/pub/d1000" 0750)" OK || return 1
	host_has pub/d1000 uid=1000 gid=1000 mode=750 type=dir || return 1
	expect "symlink as 1000" "$(u1000 symlink u1000 "$D/pub/l1000")" OK || return 1
	host_has pub/l1000 uid=1000 gid=1000 type=symlink || return 1
	expect "mkfifo as 1000" "$(u1000 mknod "$D/pub/p1000" p 0640)" OK || return 1
	host_has pub/p1000 uid=1000 gid=1000 mode=640 type=fifo || return 1
	expect "mknod S_IFREG as 1001" "$(u1001 mknod "$D/pub/f1001" f 0600)" OK || return 1
	host_has pub/f1001 uid=1001 gid=1001 mode=600 type=file
}

t_chmod_chown_eperm() {
	: >"$D/pub/rootfile" && chmod 644 "$D/pub/rootfile" || return 1
	expect "chmod of root's file as 1000" "$(u1000 chmod "$D/pub/rootfile" 0666)" EPERM || return 1
	expect "chown of root's file as 1000" "$(u1000 chown "$D/pub/rootfile" 1000 1000)" EPERM ||
		return 1
	u1000 open "$D/pub/own" w,creat 0644 >/dev/null || return 1
	expect "chown own file to 1001 as 1000" "$(u1000 chown "$D/pub/own" 1001 -1)" EPERM || return 1
	expect "chgrp own file to non-member group" "$(u1000 chown "$D/pub/own" -1 2000)" EPERM ||
		return 1
	expect "chgrp own file to a supplementary group" \
		"$(vufs-as 1000 1000,2000 --op chown "$D/pub/own" -1 2000)" OK || return 1
	host_has pub/own uid=1000 gid=2000 || return 1
	expect "chmod own file as 1000" "$(u1000 chmod "$D/pub/own" 0600)" OK || return 1
	host_has pub/own mode=600 || return 1
	expect "chown by root" "$(op chown "$D/pub/rootfile" 1001 1001)" OK || return 1
	host_has pub/rootfile uid=1001 gid=1001 || return 1
	expect "guest sees the chown" "$(st "$D/pub/rootfile" uid gid)" "OK uid=1001 gid=1001"
}

t_lchown() {
	: >"$D/pub/lc-target" && ln -s lc-target "$D/pub/lc-link" || return 1
	expect "lchown of a symlink" "$(op lchown "$D/pub/lc-link" 1001 1001)" OK || return 1
	host_has pub/lc-link uid=1001 gid=1001 type=symlink || return 1
	host_has pub/lc-target uid=0 gid=0 type=file
}

t_perm_access() {
	echo secret >"$D/pub/secret" && chmod 600 "$D/pub/secret" || return 1
	expect "uid 1000 reads a 0600 root file" "$(u1000 open "$D/pub/secret" r)" EACCES || return 1
	echo grp >"$D/pub/grpfile" && chown 0:2000 "$D/pub/grpfile" && chmod 640 "$D/pub/grpfile" || return 1
	expect "group member reads a 0640 file" "$(vufs-as 1000 1000,2000 --op open "$D/pub/grpfile" r)" OK ||
		return 1
	expect "non-member reads a 0640 file" "$(u1000 open "$D/pub/grpfile" r)" EACCES || return 1
	u1000 open "$D/pub/ro1000" w,creat 0444 >/dev/null || return 1
	expect "owner writes its 0444 file" "$(u1000 open "$D/pub/ro1000" w)" EACCES || return 1
	expect "root writes a 0444 file" "$(op open "$D/pub/ro1000" w)" OK || return 1
	expect "uid 1000 truncates a 0600 root file" "$(u1000 truncate "$D/pub/secret" 0)" EACCES || return 1
	expect "content intact" "$(cat "$D/pub/secret")" secret
}

t_supp_group_create() {
	mkdir "$D/grpdir" && chown 0:2000 "$D/grpdir" && chmod 770 "$D/grpdir" || return 1
	expect "non-member creates in a 0770 root:2000 dir" "$(u1000 open "$D/grpdir/x" w,creat 0644)" \
		EACCES || return 1
	expect "member (supplementary group 2000) creates in it" \
		"$(vufs-as 1000 1000,2000 --op open "$D/grpdir/f" w,creat 0644)" OK || return 1
	expect "member mkdir in it" "$(vufs-as 1000 1000,2000 --op mkdir "$D/grpdir/d" 0755)" OK ||
		return 1
	host_has grpdir/f uid=1000 gid=1000
}

t_sticky() {
	mkdir "$D/sticky" && chmod 1777 "$D/sticky" || return 1
	u1000 open "$D/sticky/mine" w,creat 0666 >/dev/null || return 1
	expect "uid 1001 unlinks uid 1000's file" "$(u1001 unlink "$D/sticky/mine")" EPERM || return 1
	expect "uid 1001 renames uid 1000's file away" \
		"$(u1001 rename "$D/sticky/mine" "$D/sticky/theirs")" EPERM || return 1
	u1001 open "$D/sticky/other" w,creat 0666 >/dev/null || return 1
	expect "uid 1001 renames over uid 1000's file" \
		"$(u1001 rename "$D/sticky/other" "$D/sticky/mine")" EPERM || return 1
	[ -e "$D/sticky/mine" ] || { echo "the file is gone"; return 1; }
	host_has sticky/mine uid=1000 || return 1
	expect "uid 1001 unlinks its own file" "$(u1001 unlink "$D/sticky/other")" OK || return 1
	expect "owner unlinks its file" "$(u1000 unlink "$D/sticky/mine")" OK || return 1
	host_has sticky mode=1777
}

t_setgid_dir() {
	mkdir "$D/sg" && chown 0:2000 "$D/sg" && chmod 2777 "$D/sg" || return 1
	host_has sg gid=2000 mode=2777 || return 1
	: >"$D/sg/by-root" || return 1
	expect "root's file group" "$(st "$D/sg/by-root" gid)" "OK gid=2000" || return 1
	host_has sg/by-root uid=0 gid=2000 || return 1
	expect "create as 1000" "$(u1000 open "$D/sg/by-1000" w,creat 0644)" OK || return 1
	host_has sg/by-1000 uid=1000 gid=2000 mode=644 || return 1
	expect "mkdir as 1000" "$(u1000 mkdir "$D/sg/sub" 0755)" OK || return 1
	expect "subdir as the guest sees it" "$(st "$D/sg/sub" uid gid perm)" \
		"OK uid=1000 gid=2000 perm=2755" || return 1
	host_has sg/sub uid=1000 gid=2000 mode=2755 || return 1
	expect "create in the inherited setgid subdir" "$(u1001 open "$D/sg/sub/deep" w,creat 0644)" \
		EACCES || return 1
	expect "mknod as 1001" "$(u1001 mknod "$D/sg/node" f 0640)" OK || return 1
	host_has sg/node uid=1001 gid=2000 mode=640
}

# CVE-2022-0358 class: a file created with S_ISGID in a setgid directory by someone who is not a
# member of the directory's group must not keep S_ISGID.
t_setgid_nonmember() {
	expect "non-member creates 02755 in a setgid dir" "$(u1000 open "$D/sg/sgid-nm" w,creat 02755)" OK ||
		return 1
	expect "guest mode" "$(st "$D/sg/sgid-nm" gid perm)" "OK gid=2000 perm=755" || return 1
	host_has sg/sgid-nm uid=1000 gid=2000 mode=755 || return 1
	expect "non-member mknod 02755" "$(u1000 mknod "$D/sg/sgid-nm2" f 02755)" OK || return 1
	host_has sg/sgid-nm2 gid=2000 mode=755 || return 1
	expect "non-member chmod g+s on its file in the setgid dir" "$(u1000 chmod "$D/sg/sgid-nm" 02755)" OK ||
		return 1
	host_has sg/sgid-nm mode=755
}

# ... while a member of the group (here through a supplementary group) keeps it.
# A documented difference from a local filesystem (README): FUSE 7.38 does not carry
# supplementary groups, and a create mode's S_ISGID cannot be taken as proof of membership
# (guest kernels before 6.0 send it unstripped: CVE-2022-0358). So a member only through a
# supplementary group gets the directory's group but not the bit; never more than local.
t_setgid_member() {
	expect "member creates 02755" \
		"$(vufs-as 1000 1000,2000 --op open "$D/sg/sgid-m" w,creat 02755)" OK || return 1
	expect "guest mode" "$(st "$D/sg/sgid-m" gid perm)" "OK gid=2000 perm=755" || return 1
	host_has sg/sgid-m uid=1000 gid=2000 mode=755
}

t_umask() {
	(
		umask 027
		: >"$D/um-file" && mkdir "$D/um-dir" || exit 1
		expect "file under umask 027" "$(st "$D/um-file" perm)" "OK perm=640" || exit 1
		expect "dir under umask 027" "$(st "$D/um-dir" perm)" "OK perm=750" || exit 1
		umask 077
		u1000 open "$D/pub/um-1000" w,creat 0666 >/dev/null || exit 1
		expect "uid 1000 file under umask 077" "$(st "$D/pub/um-1000" perm)" "OK perm=600" || exit 1
		umask 0
		op open "$D/um-zero" w,creat 0666 >/dev/null && op mkdir "$D/um-zero.d" 0777 >/dev/null || exit 1
		expect "file under umask 0" "$(st "$D/um-zero" perm)" "OK perm=666" || exit 1
		expect "dir under umask 0" "$(st "$D/um-zero.d" perm)" "OK perm=777" || exit 1
	) || return 1
	host_has um-file mode=640 || return 1
	host_has um-dir mode=750 || return 1
	host_has pub/um-1000 mode=600 || return 1
	host_has um-zero mode=666
}

# Writes and truncates by a non-root owner clear set-user-ID/set-group-ID (HANDLE_KILLPRIV_V2).
t_killpriv() {
	u1000 open "$D/pub/suid" w,creat 0755 >/dev/null || return 1
	expect "chmod 6755 as owner" "$(u1000 chmod "$D/pub/suid" 06755)" OK || return 1
	host_has pub/suid mode=6755 || return 1
	expect "write as owner" "$(u1000 write "$D/pub/suid" 0 data)" OK || return 1
	host_has pub/suid mode=755 || return 1
	expect "guest mode after write" "$(st "$D/pub/suid" perm)" "OK perm=755" || return 1
	u1000 chmod "$D/pub/suid" 04755 >/dev/null || return 1
	expect "truncate as owner" "$(u1000 truncate "$D/pub/suid" 1)" OK || return 1
	host_has pub/suid mode=755 size=1 || return 1
	u1000 chmod "$D/pub/suid" 04755 >/dev/null || return 1
	expect "O_TRUNC open as owner" "$(u1000 open "$D/pub/suid" w,trunc)" OK || return 1
	host_has pub/suid mode=755 size=0 || return 1
	u1000 chmod "$D/pub/suid" 04755 >/dev/null || return 1
	expect "write as root" "$(op write "$D/pub/suid" 0 root)" OK || return 1
	host_has pub/suid mode=4755 || return 1
	expect "chown by root" "$(op chown "$D/pub/suid" 1001 1001)" OK || return 1
	host_has pub/suid uid=1001 mode=755
}

#
# --- rename -------------------------------------------------------------------------------------
#

t_rename_same() {
	mkdir "$D/rn" && echo one >"$D/rn/a" || return 1
	expect "rename" "$(op rename "$D/rn/a" "$D/rn/b")" OK || return 1
	[ ! -e "$D/rn/a" ] || { echo "old name still exists"; return 1; }
	expect "content" "$(cat "$D/rn/b")" one || return 1
	host_has rn/b type=file size=4 || return 1
	host_ask "HOST-STAT? $R/rn/a"
	[ "$REPLY_STATUS" != OK ] || { echo "the host still sees the old name"; return 1; }
}

t_rename_across() {
	mkdir "$D/rn/x" "$D/rn/y" "$D/rn/x/sub" && echo two >"$D/rn/x/f" && echo in >"$D/rn/x/sub/g" ||
		return 1
	expect "file across dirs" "$(op rename "$D/rn/x/f" "$D/rn/y/f2")" OK || return 1
	expect "content" "$(cat "$D/rn/y/f2")" two || return 1
	expect "dir across dirs" "$(op rename "$D/rn/x/sub" "$D/rn/y/sub2")" OK || return 1
	expect "content in the moved dir" "$(cat "$D/rn/y/sub2/g")" in || return 1
	expect ".. of the moved dir" "$(stat -c %i "$D/rn/y/sub2/..")" "$(stat -c %i "$D/rn/y")" ||
		return 1
	drop_caches
	expect "content after dropping caches" "$(cat "$D/rn/y/sub2/g")" in || return 1
	host_has rn/y/sub2/g type=file
}

t_rename_over_file() {
	echo old >"$D/rn/t" && echo new >"$D/rn/s" || return 1
	exec 5<"$D/rn/t"
	expect "rename over a file" "$(op rename "$D/rn/s" "$D/rn/t")" OK || return 1
	expect "target content" "$(cat "$D/rn/t")" new || return 1
	expect "replaced file still readable through an open fd" "$(cat <&5)" old || return 1
	exec 5<&-
	[ ! -e "$D/rn/s" ] || { echo "source still exists"; return 1; }
	ln "$D/rn/t" "$D/rn/t-link" || return 1
	expect "rename onto its own hard link" "$(op rename "$D/rn/t" "$D/rn/t-link")" OK || return 1
	[ -e "$D/rn/t" ] && [ -e "$D/rn/t-link" ] || { echo "rename onto a hard link removed a name"; return 1; }
}

t_rename_over_dir() {
	mkdir -p "$D/rn/d1/in" "$D/rn/d2" "$D/rn/full/x" && : >"$D/rn/d1/in/f" && : >"$D/rn/file" || return 1
	expect "dir over an empty dir" "$(op rename "$D/rn/d1" "$D/rn/d2")" OK || return 1
	[ -f "$D/rn/d2/in/f" ] && [ ! -e "$D/rn/d1" ] || { echo "wrong result"; return 1; }
	expect "dir over a non-empty dir" "$(op rename "$D/rn/d2" "$D/rn/full")" ENOTEMPTY || return 1
	expect "file over a dir" "$(op rename "$D/rn/file" "$D/rn/full")" EISDIR || return 1
	expect "dir over a file" "$(op rename "$D/rn/full" "$D/rn/file")" ENOTDIR || return 1
	expect "dir into its own subdir" "$(op rename "$D/rn/full" "$D/rn/full/x/y")" EINVAL || return 1
	[ -d "$D/rn/full/x" ] && [ -f "$D/rn/file" ] && [ -f "$D/rn/d2/in/f" ] ||
		{ echo "a failed rename changed something"; return 1; }
	host_has rn/full type=dir && host_has rn/file type=file
}

t_rename_noreplace() {
	echo a >"$D/rn/nr-a" && echo b >"$D/rn/nr-b" || return 1
	expect "RENAME_NOREPLACE onto an existing name" "$(op rename "$D/rn/nr-a" "$D/rn/nr-b" noreplace)" \
		EEXIST || return 1
	expect "target unchanged" "$(cat "$D/rn/nr-b")" b || return 1
	expect "RENAME_NOREPLACE to a new name" "$(op rename "$D/rn/nr-a" "$D/rn/nr-c" noreplace)" OK ||
		return 1
	[ ! -e "$D/rn/nr-a" ] && [ "$(cat "$D/rn/nr-c")" = a ] || { echo "wrong result"; return 1; }
}

t_rename_exchange() {
	echo a >"$D/rn/ex-a" && echo b >"$D/rn/ex-b" && mkdir "$D/rn/ex-d" && : >"$D/rn/ex-d/inside" ||
		return 1
	expect "RENAME_EXCHANGE of two files" "$(op rename "$D/rn/ex-a" "$D/rn/ex-b" exchange)" OK ||
		return 1
	expect "first after exchange" "$(cat "$D/rn/ex-a")" b || return 1
	expect "second after exchange" "$(cat "$D/rn/ex-b")" a || return 1
	expect "RENAME_EXCHANGE of a file and a dir" "$(op rename "$D/rn/ex-a" "$D/rn/ex-d" exchange)" OK ||
		return 1
	[ -f "$D/rn/ex-a/inside" ] && [ "$(cat "$D/rn/ex-d")" = b ] || { echo "wrong result"; return 1; }
	host_has rn/ex-a type=dir || return 1
	host_has rn/ex-d type=file || return 1
	expect "RENAME_EXCHANGE with a missing name" "$(op rename "$D/rn/ex-b" "$D/rn/ex-none" exchange)" \
		ENOENT
}

#
# --- links --------------------------------------------------------------------------------------
#

t_hardlinks() {
	mkdir "$D/ln" && echo shared >"$D/ln/a" || return 1
	expect "nlink 1" "$(st "$D/ln/a" nlink)" "OK nlink=1" || return 1
	ln "$D/ln/a" "$D/ln/b" && ln "$D/ln/a" "$D/ln/c" || return 1
	expect "nlink 3" "$(st "$D/ln/a" nlink)" "OK nlink=3" || return 1
	ino=$(stat -c %i "$D/ln/a")
	expect "same inode" "$(stat -c %i "$D/ln/b") $(stat -c %i "$D/ln/c")" "$ino $ino" || return 1
	echo more >>"$D/ln/b" || return 1
	expect "write through one name, read through another" "$(cat "$D/ln/c")" "shared
more" || return 1
	rm "$D/ln/a" || return 1
	expect "nlink after unlink" "$(st "$D/ln/b" nlink)" "OK nlink=2" || return 1
	drop_caches
	expect "nlink after dropping caches" "$(st "$D/ln/c" nlink)" "OK nlink=2" || return 1
	expect "link to a dir" "$(op link "$D/ln" "$D/ln-dir-link")" EPERM || return 1
	expect "link onto an existing name" "$(op link "$D/ln/b" "$D/ln/c")" EEXIST || return 1
	mkdir "$D/ln/sub" || return 1
	expect "dir nlink with one subdir" "$(st "$D/ln" nlink)" "OK nlink=3"
}

t_symlinks() {
	s=$D/sl
	mkdir "$s" "$s/dir" && echo target >"$s/target" && : >"$s/dir/in-dir" || return 1
	ln -s target "$s/rel" && ln -s "$s/target" "$s/abs" && ln -s missing "$s/dangling" || return 1
	ln -s dir "$s/dirlink" && ln -s ../target "$s/dir/up" || return 1
	expect "readlink relative" "$(op readlink "$s/rel")" "OK target" || return 1
	expect "readlink absolute" "$(op readlink "$s/abs")" "OK $s/target" || return 1
	expect "read through relative" "$(cat "$s/rel")" target || return 1
	expect "read through absolute" "$(cat "$s/abs")" target || return 1
	expect "read through ../" "$(cat "$s/dir/up")" target || return 1
	expect "traverse a dir symlink" "$(ls "$s/dirlink/")" "in-dir
up" || return 1
	expect "lstat type" "$(st "$s/rel" type size)" "OK type=symlink size=6" || return 1
	expect "dangling: readlink" "$(op readlink "$s/dangling")" "OK missing" || return 1
	expect "dangling: open" "$(op open "$s/dangling" r)" ENOENT || return 1
	expect "dangling: open O_CREAT creates the target" "$(op open "$s/dangling" w,creat 0644)" OK ||
		return 1
	[ -f "$s/missing" ] || { echo "O_CREAT through a dangling symlink did not create the target"; return 1; }
	ln -s loop2 "$s/loop1" && ln -s loop1 "$s/loop2" || return 1
	expect "open a symlink loop" "$(op open "$s/loop1" r)" ELOOP || return 1
	expect "O_NOFOLLOW on a symlink" "$(op open "$s/rel" r,nofollow)" ELOOP || return 1
	expect "readlink of a regular file" "$(op readlink "$s/target")" EINVAL || return 1
	long=$(printf '%0200d' 0 | tr 0 a)/$(printf '%0200d' 0 | tr 0 b)/$(printf '%0200d' 0 | tr 0 c)
	ln -s "$long" "$s/long" || return 1
	drop_caches
	expect "readlink of a 602-byte target" "$(op readlink "$s/long")" "OK $long" || return 1
	host_has sl/rel type=symlink size=6 || return 1
	host_has sl/dangling type=symlink
}

#
# --- xattrs -------------------------------------------------------------------------------------
#

t_xattr() {
	f=$D/xa
	: >"$f" && mkdir "$D/xa.d" || return 1
	r=$(op xattr-set "$f" user.probe 1)
	case "$r" in
	OK) ;;
	EOPNOTSUPP | ENOTSUP) echo "SKIP: the daemon does not serve xattrs ($r; run it with --xattr)"; return 3 ;;
	*) echo "setxattr user.probe: $r"; return 1 ;;
	esac
	expect "get" "$(op xattr-get "$f" user.probe)" "OK 1" || return 1
	expect "set user.colour" "$(op xattr-set "$f" user.colour blue)" OK || return 1
	expect "size probe" "$(op xattr-size "$f" user.colour)" "OK 4" || return 1
	expect "list" "$(op xattr-list "$f")" "OK user.colour,user.probe" || return 1
	expect "XATTR_CREATE on an existing name" "$(op xattr-set "$f" user.colour red create)" EEXIST ||
		return 1
	expect "XATTR_REPLACE on a missing name" "$(op xattr-set "$f" user.none red replace)" ENODATA ||
		return 1
	expect "XATTR_REPLACE on an existing name" "$(op xattr-set "$f" user.colour green replace)" OK ||
		return 1
	expect "XATTR_CREATE on a new name" "$(op xattr-set "$f" user.new x create)" OK || return 1
	expect "value after replace" "$(op xattr-get "$f" user.colour)" "OK green" || return 1
	expect "get a missing name" "$(op xattr-get "$f" user.none)" ENODATA || return 1
	expect "empty value" "$(op xattr-set "$f" user.empty '')" OK || return 1
	expect "empty value size" "$(op xattr-size "$f" user.empty)" "OK 0" || return 1
	big=$(printf '%04000d' 7)
	expect "4000-byte value" "$(op xattr-set "$f" user.big "$big")" OK || return 1
	drop_caches
	expect "4000-byte value read back" "$(op xattr-get "$f" user.big)" "OK $big" || return 1
	expect "remove" "$(op xattr-remove "$f" user.colour)" OK || return 1
	expect "get after remove" "$(op xattr-get "$f" user.colour)" ENODATA || return 1
	expect "remove a missing name" "$(op xattr-remove "$f" user.colour)" ENODATA || return 1
	expect "list after remove" "$(op xattr-list "$f")" "OK user.big,user.empty,user.new,user.probe" ||
		return 1
	expect "xattr on a dir" "$(op xattr-set "$D/xa.d" user.d dirval)" OK || return 1
	expect "dir xattr read back" "$(op xattr-get "$D/xa.d" user.d)" "OK dirval" || return 1
	chmod 644 "$f" || return 1
	expect "non-owner without write permission sets a user xattr" \
		"$(u1000 xattr-set "$f" user.u1000 x)" EACCES || return 1
	expect "non-owner reads a user xattr" "$(u1000 xattr-get "$f" user.probe)" "OK 1" || return 1
	expect "xattr survives a rename" "$(op rename "$f" "$f.moved")" OK || return 1
	expect "value after rename" "$(op xattr-get "$f.moved" user.probe)" "OK 1"
}

#
# --- locks --------------------------------------------------------------------------------------
#

t_posix_lock() {
	f=$D/lockf
	echo data >"$f" && chmod 666 "$f" && rm -f /tmp/rel.pl || return 1
	holder /tmp/a.out --op lock "$f" setlk w 0 100 /tmp/rel.pl || return 1
	apid=$HPID
	rc=0
	{
		expect "F_SETLK on an overlapping range" "$(op lock "$f" setlk w 50 10 0)" EAGAIN &&
			expect "read lock on a write-locked range" "$(op lock "$f" setlk r 0 1 0)" EAGAIN &&
			locked "$(op lock "$f" setlk w 100 100 0)" "F_SETLK beyond the held range" &&
			r=$(op lock "$f" getlk w 0 1 0) &&
			case "$r" in
			"OK WRLCK start=0 len=100 pid="*) ;;
			*) echo "F_GETLK: got '$r', expected 'OK WRLCK start=0 len=100 pid=$apid'"; false ;;
			esac &&
			expect "F_GETLK on a free range" "$(op lock "$f" getlk w 200 10 0)" "OK UNLCK" &&
			expect "uid 1000 F_SETLK" "$(u1000 lock "$f" setlk w 0 0 0)" EAGAIN
	} || rc=1
	release /tmp/rel.pl "$apid" || return 1
	[ "$rc" = 0 ] || return 1
	locked "$(op lock "$f" setlk w 0 0 0)" "F_SETLK after release"
}

t_getlk_pid() {
	f=$D/lockf
	rm -f /tmp/rel.gp
	holder /tmp/a.out --op lock "$f" setlk w 0 100 /tmp/rel.gp || return 1
	apid=$HPID
	r=$(op lock "$f" getlk w 0 1 0)
	release /tmp/rel.gp "$apid" || return 1
	expect "F_GETLK" "$r" "OK WRLCK start=0 len=100 pid=$apid"
}

t_posix_shared() {
	f=$D/lockf
	rm -f /tmp/rel.sh
	holder /tmp/a.out --op lock "$f" setlk r 0 0 /tmp/rel.sh || return 1
	apid=$HPID
	rc=0
	locked "$(op lock "$f" setlk r 0 0 0)" "second read lock" || rc=1
	[ "$rc" = 1 ] || expect "write lock on a read-locked file" "$(op lock "$f" setlk w 10 10 0)" EAGAIN ||
		rc=1
	release /tmp/rel.sh "$apid" || return 1
	return "$rc"
}

t_posix_setlkw() {
	f=$D/lockf
	rm -f /tmp/rel.w
	holder /tmp/a.out --op lock "$f" setlk w 0 0 /tmp/rel.w || return 1
	apid=$HPID
	: >/tmp/b.out
	vufs-as --op lock "$f" setlkw w 0 10 0 >/tmp/b.out 2>&1 &
	bpid=$!
	sleep 2
	if [ -s /tmp/b.out ]; then
		echo "F_SETLKW did not wait: $(cat /tmp/b.out)"
		release /tmp/rel.w "$apid"
		return 1
	fi
	release /tmp/rel.w "$apid" || return 1
	wait_gone "$bpid" 15 || { echo "F_SETLKW still waiting 15 s after the release"; kill "$bpid"; return 1; }
	r=$(cat /tmp/b.out)
	case "$r" in
	"LOCKED waited="[1-9]* | "LOCKED waited="[1-9][0-9]*) ;;
	*) echo "F_SETLKW: '$r'"; return 1 ;;
	esac
}

t_flock() {
	f=$D/flockf
	: >"$f" && chmod 666 "$f" && rm -f /tmp/rel.fl /tmp/rel.fl2 || return 1
	holder /tmp/a.out --op lock "$f" flock w 0 0 /tmp/rel.fl || return 1
	apid=$HPID
	rc=0
	expect "LOCK_EX|LOCK_NB on a flock()ed file" "$(op lock "$f" flock-nb w 0 0 0)" EAGAIN || rc=1
	[ "$rc" = 1 ] || expect "LOCK_SH|LOCK_NB on it" "$(op lock "$f" flock-nb r 0 0 0)" EAGAIN || rc=1
	if [ "$rc" = 0 ]; then
		: >/tmp/b.out
		vufs-as --op lock "$f" flock w 0 0 0 >/tmp/b.out 2>&1 &
		bpid=$!
		sleep 2
		[ ! -s /tmp/b.out ] || { echo "blocking flock did not wait: $(cat /tmp/b.out)"; rc=1; }
	fi
	release /tmp/rel.fl "$apid" || return 1
	[ "$rc" = 0 ] || return 1
	wait_gone "$bpid" 15 || { echo "blocking flock still waiting after the release"; kill "$bpid"; return 1; }
	case "$(cat /tmp/b.out)" in
	"LOCKED waited="[1-9]*) ;;
	*) echo "blocking flock: '$(cat /tmp/b.out)'"; return 1 ;;
	esac
	holder /tmp/a.out --op lock "$f" flock r 0 0 /tmp/rel.fl2 || return 1
	apid=$HPID
	locked "$(op lock "$f" flock-nb r 0 0 0)" "second shared flock" || rc=1
	release /tmp/rel.fl2 "$apid" || return 1
	return "$rc"
}

# flock() and POSIX locks are independent on Linux (local file systems).
t_flock_vs_posix() {
	f=$D/flockf
	rm -f /tmp/rel.fp /tmp/rel.fp2
	holder /tmp/a.out --op lock "$f" flock w 0 0 /tmp/rel.fp || return 1
	apid=$HPID
	rc=0
	locked "$(op lock "$f" setlk w 0 0 0)" "F_SETLK while another process holds flock" || rc=1
	release /tmp/rel.fp "$apid" || return 1
	holder /tmp/a.out --op lock "$f" setlk w 0 0 /tmp/rel.fp2 || return 1
	apid=$HPID
	locked "$(op lock "$f" flock-nb w 0 0 0)" "flock while another process holds a POSIX lock" || rc=1
	release /tmp/rel.fp2 "$apid" || return 1
	return "$rc"
}

t_host_lock() {
	f=$D/hostlock
	echo data >"$f" || return 1
	host_ask "HOST-LOCK? $R/hostlock 6"
	case "$REPLY_STATUS" in
	OK) ;;
	NONE) echo "SKIP: no host answer to HOST-LOCK?"; return 3 ;;
	*) echo "host could not lock: $REPLY_DETAIL"; return 1 ;;
	esac
	t0=$(date +%s)
	rc=0
	expect "guest F_SETLK while the host holds an OFD lock" "$(op lock "$f" setlk w 0 0 0)" EAGAIN || rc=1
	expect "guest read lock" "$(op lock "$f" setlk r 10 1 0)" EAGAIN || rc=1
	expect "guest flock LOCK_NB while the host holds flock" "$(op lock "$f" flock-nb w 0 0 0)" EAGAIN ||
		rc=1
	r=$(op lock "$f" getlk w 0 0 0)
	case "$r" in
	"OK WRLCK"*) ;;
	*) echo "guest F_GETLK: '$r', expected a write lock"; rc=1 ;;
	esac
	# The host lets go after 6 s; the guest gets the locks then.
	r=$(op lock "$f" setlkw w 0 0 0)
	w=$(($(date +%s) - t0))
	case "$r" in
	LOCKED*) [ "$w" -ge 3 ] || { echo "F_SETLKW returned after $w s, before the host released"; rc=1; } ;;
	*) echo "F_SETLKW after the host lock: '$r'"; rc=1 ;;
	esac
	locked "$(op lock "$f" flock-nb w 0 0 0)" "flock after the host released" || rc=1
	return "$rc"
}

t_guest_lock_seen_by_host() {
	f=$D/hostlock2
	echo data >"$f" || return 1
	# Control: with no guest lock the host gets both locks (held 1 s).
	host_ask "HOST-LOCK? $R/hostlock2 1"
	case "$REPLY_STATUS" in
	OK) ;;
	NONE) echo "SKIP: no host answer to HOST-LOCK?"; return 3 ;;
	*) echo "the host could not lock an unlocked file: $REPLY_DETAIL"; return 1 ;;
	esac
	sleep 2
	rm -f /tmp/rel.gh
	holder /tmp/a.out --op lock "$f" setlk w 0 0 /tmp/rel.gh || return 1
	apid=$HPID
	host_ask "HOST-LOCK? $R/hostlock2 1"
	st_=$REPLY_STATUS
	det=$REPLY_DETAIL
	release /tmp/rel.gh "$apid" || return 1
	case "$st_" in
	FAIL) case "$det" in *F_OFD_SETLK*) ;; *) echo "host lock failed, but not at F_OFD_SETLK: $det"; return 1 ;; esac ;;
	*) echo "the host got an OFD write lock while a guest process held a POSIX one ($st_ $det)"; return 1 ;;
	esac
	rm -f /tmp/rel.gh2
	holder /tmp/a.out --op lock "$f" flock w 0 0 /tmp/rel.gh2 || return 1
	apid=$HPID
	host_ask "HOST-LOCK? $R/hostlock2 1"
	st_=$REPLY_STATUS
	det=$REPLY_DETAIL
	release /tmp/rel.gh2 "$apid" || return 1
	case "$st_" in
	FAIL) case "$det" in *flock*) ;; *) echo "host lock failed, but not at flock: $det"; return 1 ;; esac ;;
	*) echo "the host got flock while a guest process held one ($st_ $det)"; sleep 1.2; return 1 ;;
	esac
}

#
# --- data ---------------------------------------------------------------------------------------
#

t_truncate() {
	f=$D/trunc
	printf abcdef >"$f" || return 1
	expect "truncate down" "$(op truncate "$f" 3)" OK || return 1
	expect "content" "$(cat "$f")" abc || return 1
	expect "truncate up" "$(op truncate "$f" 10000)" OK || return 1
	expect "size" "$(st "$f" size)" "OK size=10000" || return 1
	drop_caches
	expect "extension reads as zeros" "$(op zeros "$f" 3 9997)" OK || return 1
	expect "data kept" "$(op pread "$f" 0 3)" "OK abc" || return 1
	host_has trunc size=10000 || return 1
	expect "write past EOF" "$(op write "$f" 1048576 end)" OK || return 1
	expect "size after the write" "$(st "$f" size)" "OK size=1048579" || return 1
	expect "gap reads as zeros" "$(op zeros "$f" 10000 1038576)" OK || return 1
	expect "truncate to 0" "$(op truncate "$f" 0)" OK || return 1
	host_has trunc size=0
}

t_otrunc() {
	f=$D/otrunc
	echo "hello world" >"$f" || return 1
	expect "O_TRUNC" "$(op open "$f" w,trunc)" OK || return 1
	expect "size after O_TRUNC" "$(st "$f" size)" "OK size=0" || return 1
	echo "longer content here" >"$f" && echo x >"$f" || return 1
	expect "shell > truncates" "$(cat "$f")" x || return 1
	chmod 644 "$f"
	expect "O_TRUNC without write permission" "$(u1000 open "$f" w,trunc)" EACCES || return 1
	expect "size unchanged" "$(st "$f" size)" "OK size=2" || return 1
	host_has otrunc size=2
}

t_append() {
	f=$D/append
	: >"$f" || return 1
	vufs-as --op append "$f" A 800 >/tmp/app.a 2>&1 &
	pa=$!
	vufs-as --op append "$f" B 800 >/tmp/app.b 2>&1 &
	pb=$!
	wait "$pa" || { echo "appender A: $(cat /tmp/app.a)"; return 1; }
	wait "$pb" || { echo "appender B: $(cat /tmp/app.b)"; return 1; }
	drop_caches
	expect "lines" "$(wc -l <"$f" | tr -d ' ')" 1600 || return 1
	expect "A lines" "$(grep -c '^A ' "$f")" 800 || return 1
	expect "B lines" "$(grep -c '^B ' "$f")" 800 || return 1
	expect "torn lines" "$(grep -cvE '^[AB] [0-9]{6}$' "$f" || true)" 0 || return 1
	expect "size" "$(st "$f" size)" "OK size=14400" || return 1
	host_has append size=14400
}

t_timestamps() {
	f=$D/times
	: >"$f" || return 1
	TZ=UTC0 touch -d "2001-02-03 04:05:06" "$f" || return 1
	expect "touch -d mtime" "$(stat -c %Y "$f")" 981173106 || return 1
	expect "utimensat atime, mtime OMIT" "$(op utimens "$f" 1000000000.123456789 OMIT)" OK || return 1
	expect "times" "$(st "$f" atime mtime)" \
		"OK atime=1000000000.123456789 mtime=981173106.000000000" || return 1
	expect "utimensat atime OMIT, mtime NOW" "$(op utimens "$f" OMIT NOW)" OK || return 1
	m=$(stat -c %Y "$f")
	n=$(date +%s)
	[ "$m" -ge $((n - 10)) ] && [ "$m" -le $((n + 2)) ] || { echo "mtime $m after UTIME_NOW, now $n"; return 1; }
	expect "atime kept" "$(st "$f" atime)" "OK atime=1000000000.123456789" || return 1
	drop_caches
	expect "atime after dropping caches" "$(st "$f" atime)" "OK atime=1000000000.123456789" || return 1
	# Does a write move mtime and ctime, and chmod ctime only?
	op utimens "$f" 1000000000 1000000000 >/dev/null || return 1
	before=$(st "$f" mtime ctime)
	sleep 0.1
	echo data >>"$f" || return 1
	after=$(st "$f" mtime ctime)
	m0=$(echo "$before" | sed 's/.*mtime=\([^ ]*\).*/\1/')
	m1=$(echo "$after" | sed 's/.*mtime=\([^ ]*\).*/\1/')
	c0=$(echo "$before" | sed 's/.*ctime=\([^ ]*\).*/\1/')
	c1=$(echo "$after" | sed 's/.*ctime=\([^ ]*\).*/\1/')
	awk -v a="$m0" -v b="$m1" 'BEGIN { exit !(b > a + 100000) }' || { echo "mtime after write: $m0 -> $m1"; return 1; }
	awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b > a) }' || { echo "ctime after write: $c0 -> $c1"; return 1; }
	sleep 0.1
	chmod 600 "$f" || return 1
	after2=$(st "$f" mtime ctime)
	m2=$(echo "$after2" | sed 's/.*mtime=\([^ ]*\).*/\1/')
	c2=$(echo "$after2" | sed 's/.*ctime=\([^ ]*\).*/\1/')
	expect "mtime after chmod" "$m2" "$m1" || return 1
	awk -v a="$c1" -v b="$c2" 'BEGIN { exit !(b > a) }' || { echo "ctime after chmod: $c1 -> $c2"; return 1; }
	mkdir "$D/tdir" && op utimens "$D/tdir" 1000000000 1000000000 >/dev/null || return 1
	: >"$D/tdir/new" || return 1
	[ "$(stat -c %Y "$D/tdir")" -gt 1000000000 ] || { echo "dir mtime unchanged by a create"; return 1; }
}

t_large() {
	f=$D/large
	printf x | dd of="$f" bs=1 seek=5368709120 2>/dev/null || return 1
	expect "size" "$(st "$f" size)" "OK size=5368709121" || return 1
	blocks=$(st "$f" blocks | sed 's/.*blocks=//')
	[ "$blocks" -lt 1024 ] || { echo "not sparse: $blocks blocks"; return 1; }
	info "INFO: 5 GiB sparse file: st_blocks $blocks, du -k $(du -k "$f" | cut -f1)"
	drop_caches
	expect "the byte at 5 GiB" "$(op pread "$f" 5368709120 10)" "OK x" || return 1
	expect "zeros at 4 GiB" "$(op zeros "$f" 4294967296 65536)" OK || return 1
	expect "SEEK_DATA from 0" "$(op seek "$f" data 0)" "OK 5368709120" || return 1
	expect "SEEK_HOLE from 0" "$(op seek "$f" hole 0)" "OK 0" || return 1
	expect "SEEK_HOLE in the data" "$(op seek "$f" hole 5368709120)" "OK 5368709121" || return 1
	expect "SEEK_DATA at EOF" "$(op seek "$f" data 5368709121)" ENXIO || return 1
	host_has large size=5368709121 || return 1
	expect "write at 4 GiB + 1" "$(op write "$f" 4294967297 y)" OK || return 1
	expect "read at 4 GiB + 1" "$(op pread "$f" 4294967297 1)" "OK y"
}

t_sparse() {
	f=$D/sparse
	dd if=/dev/urandom of="$f" bs=4096 count=1 2>/dev/null || return 1
	dd if=/dev/urandom of="$f" bs=4096 count=1 seek=256 conv=notrunc 2>/dev/null || return 1
	op truncate "$f" 2097152 >/dev/null || return 1
	expect "SEEK_DATA 0" "$(op seek "$f" data 0)" "OK 0" || return 1
	expect "SEEK_HOLE 0" "$(op seek "$f" hole 0)" "OK 4096" || return 1
	expect "SEEK_DATA 4096" "$(op seek "$f" data 4096)" "OK 1048576" || return 1
	expect "SEEK_HOLE 1048576" "$(op seek "$f" hole 1048576)" "OK 1052672" || return 1
	expect "SEEK_DATA past the last data" "$(op seek "$f" data 1052672)" ENXIO || return 1
	expect "SEEK_HOLE in the tail hole" "$(op seek "$f" hole 1500000)" "OK 1500000" || return 1
	expect "SEEK_HOLE past EOF" "$(op seek "$f" hole 2097152)" ENXIO || return 1
	expect "hole reads as zeros" "$(op zeros "$f" 4096 1044480)" OK
}

t_fallocate() {
	f=$D/falloc
	: >"$f" || return 1
	r=$(op fallocate "$f" 0 0 1048576)
	case "$r" in
	OK) ;;
	EOPNOTSUPP | ENOTSUP) echo "SKIP: fallocate not supported ($r)"; return 3 ;;
	*) echo "fallocate: $r"; return 1 ;;
	esac
	expect "size after fallocate" "$(st "$f" size)" "OK size=1048576" || return 1
	b=$(st "$f" blocks | sed 's/.*blocks=//')
	[ "$b" -ge 2048 ] || { echo "fallocate 1 MiB: only $b blocks"; return 1; }
	expect "KEEP_SIZE" "$(op fallocate "$f" keep 1048576 1048576)" OK || return 1
	expect "size after KEEP_SIZE" "$(st "$f" size)" "OK size=1048576" || return 1
	b=$(st "$f" blocks | sed 's/.*blocks=//')
	[ "$b" -ge 4096 ] || { echo "after KEEP_SIZE 1 MiB more: only $b blocks"; return 1; }
	host_has falloc size=1048576 || return 1
	dd if=/dev/urandom of="$D/punch" bs=65536 count=1 2>/dev/null || return 1
	b0=$(st "$D/punch" blocks | sed 's/.*blocks=//')
	expect "PUNCH_HOLE" "$(op fallocate "$D/punch" punch 4096 8192)" OK || return 1
	expect "size after punch" "$(st "$D/punch" size)" "OK size=65536" || return 1
	b1=$(st "$D/punch" blocks | sed 's/.*blocks=//')
	[ "$b1" -lt "$b0" ] || { echo "blocks $b0 -> $b1 after punching 8 KiB"; return 1; }
	drop_caches
	expect "punched range reads as zeros" "$(op zeros "$D/punch" 4096 8192)" OK || return 1
	expect "SEEK_HOLE finds the punched hole" "$(op seek "$D/punch" hole 0)" "OK 4096" || return 1
	expect "ZERO_RANGE" "$(op fallocate "$D/punch" zero 20000 1000)" OK || return 1
	expect "zeroed range" "$(op zeros "$D/punch" 20000 1000)" OK
}

t_copy_file_range() {
	dd if=/dev/urandom of="$D/cfr-src" bs=65536 count=16 2>/dev/null || return 1
	r=$(op copy "$D/cfr-src" "$D/cfr-dst" 4096 0 524288)
	expect "copy_file_range" "$r" "OK copied=524288" || return 1
	drop_caches
	want=$(dd if="$D/cfr-src" bs=4096 skip=1 count=128 2>/dev/null | md5sum | cut -d' ' -f1)
	got=$(md5sum <"$D/cfr-dst" | cut -d' ' -f1)
	expect "copied data" "$got" "$want" || return 1
	expect "copy into the middle" "$(op copy "$D/cfr-src" "$D/cfr-dst" 0 1000 10)" "OK copied=10" ||
		return 1
	expect "size" "$(st "$D/cfr-dst" size)" "OK size=524288" || return 1
	host_ask "HOST-MD5? $R/cfr-dst $(md5sum <"$D/cfr-dst" | cut -d' ' -f1)"
	[ "$REPLY_STATUS" = OK ] || [ "$REPLY_STATUS" = NONE ] || { echo "host: $REPLY_DETAIL"; return 1; }
}

t_mmap() {
	f=$D/mmap
	dd if=/dev/zero of="$f" bs=4096 count=4 2>/dev/null || return 1
	expect "mmap write" "$(op mmap-write "$f" 4096 hello-mmap)" OK || return 1
	expect "mmap write at the last byte" "$(op mmap-write "$f" 16383 Z)" OK || return 1
	expect "read() after msync" "$(op pread "$f" 4096 10)" "OK hello-mmap" || return 1
	drop_caches
	expect "read() after dropping caches" "$(op pread "$f" 4096 10)" "OK hello-mmap" || return 1
	expect "last byte" "$(op pread "$f" 16383 1)" "OK Z" || return 1
	expect "size" "$(st "$f" size)" "OK size=16384" || return 1
	host_ask "HOST-MD5? $R/mmap $(md5sum <"$f" | cut -d' ' -f1)"
	[ "$REPLY_STATUS" = OK ] || [ "$REPLY_STATUS" = NONE ] || { echo "host: $REPLY_DETAIL"; return 1; }
}

t_fsync() {
	expect "fsync" "$(op fsync "$D/fsync")" OK || return 1
	expect "fdatasync" "$(op fsync "$D/fsync" data)" OK || return 1
	expect "fsync of a directory" "$(op fsync "$D" dir)" OK || return 1
	expect "syncfs" "$(op syncfs "$D/fsync")" OK || return 1
	sync || return 1
	host_ask "HOST-MD5? $R/fsync $(md5sum <"$D/fsync" | cut -d' ' -f1)"
	[ "$REPLY_STATUS" = OK ] || [ "$REPLY_STATUS" = NONE ] || { echo "host: $REPLY_DETAIL"; return 1; }
}

t_unlink_open() {
	f=$D/unl
	echo still-here >"$f" || return 1
	exec 6<"$f"
	rm "$f" || return 1
	[ ! -e "$f" ] || { echo "still exists after rm"; return 1; }
	expect "read through an fd opened before unlink" "$(cat <&6)" still-here || return 1
	exec 6<&-
	host_ask "HOST-STAT? $R/unl"
	[ "$REPLY_STATUS" != OK ] || { echo "the host still sees the file"; return 1; }
}

#
# --- directories --------------------------------------------------------------------------------
#

t_readdir_big() {
	mkdir "$D/big" || return 1
	t0=$(now)
	# Hard links (one inode per 50,000 names): each inode the guest caches costs the daemon an
	# fd, and $BIG_N distinct ones may exceed its RLIMIT_NOFILE (see README.md).
	r=$(op mkfiles "$D/big" f "$BIG_N" links) || { echo "$r"; return 1; }
	info "TIME: create $BIG_N names (link): $(since "$t0") s"
	drop_caches
	t0=$(now)
	r=$(op readdir "$D/big")
	info "TIME: readdir $BIG_N entries (cold): $(since "$t0") s"
	case "$r" in
	"OK entries=$BIG_N dots=2 dups=0 "*) ;;
	*) echo "readdir: $r (expected $BIG_N entries, 2 dots, no dups)"; return 1 ;;
	esac
	t0=$(now)
	n=$(ls "$D/big" | wc -l)
	info "TIME: ls $BIG_N entries: $(since "$t0") s"
	expect "ls count" "$n" "$BIG_N" || return 1
	t0=$(now)
	r=$(op seekdir "$D/big")
	info "TIME: seekdir test on $BIG_N entries: $(since "$t0") s"
	case "$r" in
	"OK total=$((BIG_N + 2)) "*) ;;
	*) echo "seekdir: $r"; return 1 ;;
	esac
}

t_readdir_mod() {
	mkdir "$D/mod" || return 1
	op mkfiles "$D/mod" o 600 >/dev/null || return 1
	r=$(op readdir-mod "$D/mod" o 600)
	case "$r" in
	OK*) info "INFO: readdir under modification: $r" ;;
	*) echo "$r"; return 1 ;;
	esac
}

t_seekdir() {
	mkdir "$D/sd" || return 1
	op mkfiles "$D/sd" "entry-with-a-longer-name-" 500 >/dev/null || return 1
	r=$(op seekdir "$D/sd")
	case "$r" in
	"OK total=502 half=251 rest=251") ;;
	*) echo "seekdir: $r"; return 1 ;;
	esac
}

t_dots() {
	mkdir -p "$D/dots/sub" || return 1
	d=$D/dots
	expect "ino of ." "$(stat -c %i "$d/sub/.")" "$(stat -c %i "$d/sub")" || return 1
	expect "ino of .." "$(stat -c %i "$d/sub/..")" "$(stat -c %i "$d")" || return 1
	expect "readdir . and .." "$(op readdir "$d/sub" | cut -d' ' -f1-4)" "OK entries=0 dots=2 dups=0" ||
		return 1
	l=$(ls -ai "$d/sub" | awk '$2 == "." || $2 == ".." { print $2 "=" $1 }' | sort | tr '\n' ' ')
	expect "readdir d_ino of . and .." "$l" "..=$(stat -c %i "$d") .=$(stat -c %i "$d/sub") " ||
		return 1
	expect "$M/.. is the guest's root" "$(stat -c %d:%i "$M/..")" "$(stat -c %d:%i /)" || return 1
	expect "$M/../.. too" "$(stat -c %d:%i "$M/../..")" "$(stat -c %d:%i /)" || return 1
	expect "cd $M/..; pwd" "$(cd "$M/.." && pwd -P)" / || return 1
	ls "$M/.." | grep -qx init || { echo "ls $M/.. does not show the initramfs' /init"; return 1; }
	expect "$d/sub/../../../.. is the guest's root" "$(stat -c %d:%i "$d/sub/../../../..")" \
		"$(stat -c %d:%i /)" || return 1
	expect "rmdir ." "$(op rmdir "$d/sub/.")" EINVAL
}

#
# --- special files ------------------------------------------------------------------------------
#

t_fifo() {
	f=$D/fifo
	mkfifo "$f" || return 1
	expect "type" "$(st "$f" type)" "OK type=fifo" || return 1
	host_has fifo type=fifo || return 1
	(echo through-the-fifo >"$f") &
	w=$!
	r=$(timeout 15 cat "$f") || { echo "reading the fifo failed or timed out"; kill "$w" 2>/dev/null; return 1; }
	wait "$w" || true
	expect "data through the fifo" "$r" through-the-fifo
}

t_unix_socket() {
	s=$D/sock
	: >/tmp/srv.out
	vufs-as --op sock-server "$s" >/tmp/srv.out 2>&1 &
	spid=$!
	wait_line /tmp/srv.out '^LISTENING' 15 || { echo "server: $(cat /tmp/srv.out)"; kill "$spid" 2>/dev/null; return 1; }
	expect "type" "$(st "$s" type)" "OK type=socket" || { kill "$spid"; return 1; }
	expect "client" "$(op sock-client "$s" hello)" "OK echo:hello" || { kill "$spid"; return 1; }
	wait "$spid" || { echo "server: $(cat /tmp/srv.out)"; return 1; }
	host_has sock type=socket
}

# Device nodes. vufsd's default (--device-nodes=mapped): the guest gets a real device node (its
# own kernel does the I/O: c 1,3 is the guest's /dev/null), the host an empty 0600 regular file
# with the node in user.vufsd.devnode, which the guest cannot see. With --device-nodes=host (or
# another daemon) the host has a real node; with --device-nodes=refuse mknod gives EPERM.
t_mknod_dev() {
	expect "mknod of a regular file" "$(op mknod "$D/regular" f 0600)" OK || return 1
	expect "mknod of a fifo" "$(op mknod "$D/fifo2" p 0600)" OK || return 1
	host_has regular type=file mode=600 || return 1
	r=$(op mknod "$D/null" c 0666 1 3)
	if [ "$r" = EPERM ]; then
		[ ! -e "$D/null" ] || { echo "EPERM, but a node exists after all"; return 1; }
		expect "mknod of a block device" "$(op mknod "$D/blk" b 0600 7 0)" EPERM || return 1
		echo "SKIP: device nodes refused by the daemon (EPERM; --device-nodes=refuse?)"
		return 3
	fi
	expect "mknod c 1 3" "$r" OK || return 1
	# The suite's umask is 022.
	expect "guest stat" "$(st "$D/null" type perm rdev size uid)" \
		"OK type=chardev perm=644 rdev=1:3 size=0 uid=0" || return 1
	l=$(ls -l "$D/null")
	case "$l" in
	crw-r--r--*" 1, "*3*) ;;
	*) echo "ls -l shows '$l', expected crw-r--r-- ... 1, 3"; return 1 ;;
	esac
	echo x >"$D/null" || { echo "writing to the node (the guest's /dev/null) failed"; return 1; }
	expect "reading the node" "$(wc -c <"$D/null" | tr -d ' ')" 0 || return 1
	host_ask "HOST-STAT? $R/null"
	mapped=1
	case "$REPLY_DETAIL" in
	*type=chardev*) mapped=0; info "INFO: the daemon made a real device node on the host" ;;
	*type=file*) host_has null type=file mode=600 size=0 || return 1 ;;
	"") info "INFO: no host answer" ;;
	*) echo "the host sees '$REPLY_DETAIL'"; return 1 ;;
	esac
	# The attribute is not the guest's.
	expect "getxattr of the map" "$(op xattr-get "$D/null" user.vufsd.devnode)" ENODATA || return 1
	case "$(op xattr-list "$D/null")" in
	*vufsd*) echo "listxattr shows the map: $(op xattr-list "$D/null")"; return 1 ;;
	esac
	expect "setxattr of the map on a file" \
		"$(op xattr-set "$D/regular" user.vufsd.devnode "v1 c 1:1 0666")" EPERM || return 1
	# chmod/chown: the guest's mode and owner; the host file stays 0600.
	chmod 4640 "$D/null" || return 1
	expect "after chmod" "$(st "$D/null" type perm)" "OK type=chardev perm=4640" || return 1
	[ "$mapped" = 0 ] || host_has null type=file mode=600 || return 1
	chown 1000:1000 "$D/null" || return 1
	expect "after chown" "$(st "$D/null" perm uid gid)" "OK perm=640 uid=1000 gid=1000" || return 1
	host_has null uid=1000 gid=1000 || return 1
	expect "chmod by another user" "$(u1001 chmod "$D/null" 0666)" EPERM || return 1
	TZ=UTC0 touch -d "2001-02-03 04:05:06" "$D/null" || return 1
	expect "touch -d" "$(st "$D/null" type mtime)" "OK type=chardev mtime=981173106.000000000" ||
		return 1
	# Names: link, rename, unlink; a fresh lookup after dropping the caches; find -type c.
	ln "$D/null" "$D/null-link" || return 1
	mv "$D/null-link" "$D/null-moved" || return 1
	drop_caches
	expect "the link" "$(st "$D/null-moved" type rdev nlink)" "OK type=chardev rdev=1:3 nlink=2" ||
		return 1
	expect "find -type c" "$(cd "$D" && find . -maxdepth 1 -type c | sort | tr '\n' ' ')" \
		"./null ./null-moved " || return 1
	rm "$D/null-moved" "$D/null" || return 1
	[ ! -e "$D/null" ] || { echo "still there after rm"; return 1; }
	expect "mknod b 7 0" "$(op mknod "$D/blk" b 0600 7 0)" OK || return 1
	expect "block node" "$(st "$D/blk" type perm rdev)" "OK type=blockdev perm=600 rdev=7:0" ||
		return 1
	[ "$mapped" = 0 ] || host_has blk type=file mode=600 size=0
}

# POSIX ACLs (daemon started with --posix-acl; otherwise the guest has none: skipped). The
# guest kernel enforces them, the host keeps and enforces the same ACL, and under a default ACL
# the daemon leaves the umask to the host (FUSE_DONT_MASK).
t_acl() {
	case " $(cat /proc/cmdline) " in
	*" vufs.acl=1 "*) ;;
	*) echo "SKIP: the daemon runs without --posix-acl (test.sh says vufs.acl=1 when it does)"; return 3 ;;
	esac
	f=$D/pub/acl
	echo acl-data >"$f" && chmod 600 "$f" || return 1
	expect "setting an access ACL" "$(op acl-set "$f" access 6 0 0 1000 4 4)" OK || return 1
	expect "uid 1000 reads through its ACL entry" "$(u1000 open "$f" r)" OK || return 1
	expect "uid 1000 cannot write" "$(u1000 open "$f" w)" EACCES || return 1
	expect "uid 1001 has no entry" "$(u1001 open "$f" r)" EACCES || return 1
	expect "mode shows the mask" "$(st "$f" perm)" "OK perm=640" || return 1
	chmod 600 "$f" || return 1
	expect "chmod g-r masks the entry" "$(u1000 open "$f" r)" EACCES || return 1
	mkdir "$D/pub/acld" && chmod 700 "$D/pub/acld" || return 1
	expect "default ACL" "$(op acl-set "$D/pub/acld" default 7 5 5 1000 7 7)" OK || return 1
	expect "access ACL on the dir" "$(op acl-set "$D/pub/acld" access 7 5 5 1000 7 7)" OK || return 1
	(umask 077 && echo inherited >"$D/pub/acld/child") || return 1
	expect "umask 077 ignored under a default ACL" "$(st "$D/pub/acld/child" perm)" "OK perm=664" ||
		return 1
	expect "uid 1000 writes the inherited file" "$(u1000 open "$D/pub/acld/child" w)" OK
}

# --xattrmap with guest/posix/xattrmap.rules (otherwise skipped): a guest's trusted.* and
# security.* names live under user.virtiofs. on the host and come back unprefixed in lists;
# user.* and system.* (ACLs) pass unchanged; the guest cannot name user.virtiofs.* (EPERM).
t_xattrmap() {
	case " $(cat /proc/cmdline) " in
	*" vufs.xattrmap=1 "*) ;;
	*) echo "SKIP: the daemon runs without --xattrmap=(guest/posix/xattrmap.rules; test.sh says vufs.xattrmap=1 when it does)"; return 3 ;;
	esac
	f=$D/xm
	: >"$f" || return 1
	expect "guest root sets trusted.vufs" "$(op xattr-set "$f" trusted.vufs 1)" OK || return 1
	expect "guest reads trusted.vufs" "$(op xattr-get "$f" trusted.vufs)" "OK 1" || return 1
	host_xattr xm user.virtiofs.trusted.vufs "OK 1" || return 1
	host_xattr xm trusted.vufs "FAIL ENODATA" || return 1
	expect "guest sets security.vufs" "$(op xattr-set "$f" security.vufs 2)" OK || return 1
	host_xattr xm user.virtiofs.security.vufs "OK 2" || return 1
	host_xattr xm security.vufs "FAIL ENODATA" || return 1
	expect "guest sets user.plain" "$(op xattr-set "$f" user.plain 3)" OK || return 1
	host_xattr xm user.plain "OK 3" || return 1
	host_xattr xm user.virtiofs.user.plain "FAIL ENODATA" || return 1
	drop_caches
	expect "guest list: unprefixed names" "$(op xattr-list "$f")" \
		"OK security.vufs,trusted.vufs,user.plain" || return 1
	expect "security.vufs after dropping caches" "$(op xattr-get "$f" security.vufs)" "OK 2" ||
		return 1
	expect "size of trusted.vufs" "$(op xattr-size "$f" trusted.vufs)" "OK 1" || return 1
	expect "guest sets a user.virtiofs. name" "$(op xattr-set "$f" user.virtiofs.x 1)" EPERM ||
		return 1
	expect "guest reads the host name of trusted.vufs" \
		"$(op xattr-get "$f" user.virtiofs.trusted.vufs)" EPERM || return 1
	expect "guest removes the host name of trusted.vufs" \
		"$(op xattr-remove "$f" user.virtiofs.trusted.vufs)" EPERM || return 1
	expect "guest removes trusted.vufs" "$(op xattr-remove "$f" trusted.vufs)" OK || return 1
	host_xattr xm user.virtiofs.trusted.vufs "FAIL ENODATA" || return 1
	expect "list after remove" "$(op xattr-list "$f")" "OK security.vufs,user.plain" || return 1
	case " $(cat /proc/cmdline) " in
	*" vufs.acl=1 "*)
		# t_acl's access ACL (version 2 header: \x02\x00\x00\x00) under its own name on the host
		host_ask "HOST-XATTR? $R/pub/acl system.posix_acl_access"
		case "$REPLY_STATUS $REPLY_DETAIL" in
		NONE*) ;;
		'OK \x02\x00\x00\x00'*) ;;
		*) echo "host's system.posix_acl_access of pub/acl: $REPLY_STATUS $REPLY_DETAIL"; return 1 ;;
		esac
		;;
	esac
}

t_tmpfile() {
	r=$(op tmpfile "$D" 0600)
	case "$r" in
	OK) ;;
	EOPNOTSUPP | ENOTSUP | EISDIR) echo "SKIP: O_TMPFILE not supported ($r)"; return 3 ;;
	*) echo "O_TMPFILE: $r"; return 1 ;;
	esac
	before=$(op readdir "$D" | cut -d' ' -f2)
	expect "O_TMPFILE + linkat" "$(op tmpfile "$D" 0640 "$D/from-tmpfile")" OK || return 1
	expect "content" "$(cat "$D/from-tmpfile")" tmpfile-data || return 1
	expect "nlink" "$(st "$D/from-tmpfile" nlink perm)" "OK nlink=1 perm=640" || return 1
	host_has from-tmpfile type=file mode=640 size=13 || return 1
	after=$(op readdir "$D" | cut -d' ' -f2)
	expect "one more entry" "$after" "entries=$((${before#entries=} + 1))" || return 1
	expect "O_TMPFILE as uid 1000" "$(u1000 tmpfile "$D/pub" 0600 "$D/pub/tmp-1000")" OK || return 1
	host_has pub/tmp-1000 uid=1000 gid=1000 mode=600
}

#
# --- main ---------------------------------------------------------------------------------------
#

t_umount() {
	cd / || return 1
	sync
	umount "$M" || return 1
	! grep -q " $M " /proc/mounts || { echo "still mounted"; return 1; }
}

T0=$(now)
info "INFO: kernel $(uname -r), mount point $M, big directory $BIG_N entries"
if ! command -v vufs-as >/dev/null; then
	echo "FAIL: helper vufs-as missing from the guest (run through guest/posix/test.sh)"
	echo "0 passed, 1 failed"
	exit 1
fi
umask 022
rm -rf "$D"
mkdir "$D" && chmod 755 "$D"

check "uid 1000 cannot create in a 0755 root dir (EACCES)" t_create_denied
check "files created by uid 1000/1001 are theirs on the host" t_owner
check "chmod/chown as non-owner: EPERM; chgrp to own groups" t_chmod_chown_eperm
check "lchown changes the symlink, not its target" t_lchown
check "read/write permission checks as uid 1000" t_perm_access
check "create in a dir writable via a supplementary group" t_supp_group_create
check "sticky directory: others cannot unlink or rename" t_sticky
check "setgid directory: group and setgid inherited" t_setgid_dir
check "setgid directory: non-member does not get S_ISGID (CVE-2022-0358)" t_setgid_nonmember
check "setgid directory: a member via a supplementary group gets the group, not S_ISGID" t_setgid_member
check "umask honoured" t_umask
check "write/truncate by non-root clear set-user/group-ID" t_killpriv
check "rename in the same dir" t_rename_same
check "rename across dirs (files and dirs)" t_rename_across
check "rename over an existing file" t_rename_over_file
check "rename over dirs: empty OK, ENOTEMPTY, EISDIR, ENOTDIR, EINVAL" t_rename_over_dir
check "renameat2 RENAME_NOREPLACE" t_rename_noreplace
check "renameat2 RENAME_EXCHANGE" t_rename_exchange
check "hard links: nlink, same inode, EPERM on dirs" t_hardlinks
check "symlinks: relative, absolute, dangling, ELOOP, readlink" t_symlinks
check "xattrs: user.* set/get/list/remove, CREATE/REPLACE, size probe" t_xattr
check "POSIX locks between guest processes" t_posix_lock
check "F_GETLK reports the holder's pid" t_getlk_pid
check "POSIX shared read locks" t_posix_shared
check "F_SETLKW waits until the holder releases" t_posix_setlkw
check "flock between guest processes (LOCK_NB, blocking, shared)" t_flock
check "flock and POSIX locks do not conflict" t_flock_vs_posix
check "locks held on the host block the guest" t_host_lock
check "locks held in the guest block the host" t_guest_lock_seen_by_host
check "truncate down/up, zero-filled extension" t_truncate
check "O_TRUNC" t_otrunc
check "O_APPEND: two concurrent appenders lose nothing" t_append
check "timestamps: touch -d, UTIME_NOW/OMIT, write, chmod" t_timestamps
check "5 GiB sparse file: size, st_blocks, SEEK_DATA/HOLE" t_large
check "sparse file: SEEK_DATA/SEEK_HOLE" t_sparse
check "fallocate: default, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE" t_fallocate
check "copy_file_range" t_copy_file_range
check "shared writable mmap: msync, read(), host md5" t_mmap
check "fsync, fdatasync, fsync(dir), syncfs" t_fsync
check "unlinked file readable through an open fd" t_unlink_open
check "readdir while creating and deleting entries" t_readdir_mod
check "seekdir/telldir: same names after seeking back" t_seekdir
check ". and .., $M/.. is the guest's root" t_dots
check "mkfifo in the share works in the guest" t_fifo
check "unix socket bound in the share works in the guest" t_unix_socket
check "mknod of device nodes: a device in the guest, an empty 0600 file on the host" t_mknod_dev
check "O_TMPFILE and linkat" t_tmpfile
check "POSIX ACLs: guest and host enforce them, default ACL beats the umask" t_acl
check "--xattrmap: trusted./security. under user.virtiofs. on the host, user./system. unchanged" t_xattrmap
# Last: it makes the guest hold $BIG_N more inodes (daemon fds) until the caches are dropped.
check "readdir of $BIG_N entries, complete, and seekdir on it" t_readdir_big
drop_caches
info "INFO: tests before unmount took $(since "$T0") s"
check "umount" t_umount

if grep -q " $M " /proc/mounts; then
	echo "SKIP: daemon released inode fds after unmount (share still mounted)"
else
	host_ask "VUFS-UNMOUNTED" 30
	case "$REPLY_STATUS" in
	OK) echo "PASS: daemon released inode fds after unmount ($REPLY_DETAIL)"; npass=$((npass + 1)) ;;
	FAIL) echo "FAIL: daemon released inode fds after unmount ($REPLY_DETAIL)"; nfail=$((nfail + 1)) ;;
	*) echo "SKIP: daemon released inode fds after unmount (${REPLY_DETAIL:-no answer from the host})" ;;
	esac
fi

info "TIME: guest suite total: $(since "$T0") s"
[ "$nskip" = 0 ] || info "INFO: $nskip skipped"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
