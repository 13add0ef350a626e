#!/bin/sh
# unpriv.sh: guest side of guest/unpriv/test.sh (busybox sh). The daemon runs as an ordinary host
# user U in a user namespace where U is root and 1.. are the host's SUB..; the kernel command
# line carries vufs.uid=U vufs.sub=SUB. Guest root's files must be U's on the host, guest user
# 1000's SUB + 999's, and the host's files of U must look like root's here.
# shellcheck disable=SC3045
set -eu

M=${1:?usage: unpriv.sh MOUNTPOINT}
exec 3>&1
# shellcheck source=guest/scripts/lib.sh
. /vufs-lib.sh

U=
SUB=
for w in $(cat /proc/cmdline); do
	case "$w" in
	vufs.uid=*) U=${w#vufs.uid=} ;;
	vufs.sub=*) SUB=${w#vufs.sub=} ;;
	esac
done
T0=$(now)

# host_owner RELPATH: "uid:gid" of RELPATH on the host (HOST-STAT).
host_owner() {
	host_ask "HOST-STAT? $1" 30
	[ "$REPLY_STATUS" = OK ] || { echo "HOST-STAT $1: $REPLY_STATUS $REPLY_DETAIL"; return 1; }
	u=$(echo "$REPLY_DETAIL" | sed -n 's/.*uid=\([0-9]*\).*/\1/p')
	g=$(echo "$REPLY_DETAIL" | sed -n 's/.*gid=\([0-9]*\).*/\1/p')
	echo "$u:$g"
}

t_mount() {
	grep -q "^[^ ]* $M virtiofs " /proc/mounts || { echo "not virtiofs"; return 1; }
	[ -n "$U" ] && [ -n "$SUB" ] || { echo "no vufs.uid/vufs.sub on the command line"; return 1; }
}

t_root_creates() {
	echo data >"$M/by-root" && mkdir "$M/dir-by-root" || return 1
	expect "guest owner" "$(stat -c %u:%g "$M/by-root")" 0:0 || return 1
	expect "host owner of the file" "$(host_owner by-root)" "$U:$U_GID" || return 1
	expect "host owner of the dir" "$(host_owner dir-by-root)" "$U:$U_GID"
}

t_user_creates() {
	mkdir -m 0777 "$M/pub" && chmod 0777 "$M/pub" || return 1
	r=$(vufs-as 1000 1000 --op write "$M/pub/by-1000" 0 hello) || { echo "$r"; return 1; }
	expect "guest owner" "$(stat -c %u:%g "$M/pub/by-1000")" 1000:1000 || return 1
	expect "host owner" "$(host_owner pub/by-1000)" "$((SUB + 999)):$((SUB + 999))" || return 1
	expect "content" "$(cat "$M/pub/by-1000")" hello
}

t_chown() {
	echo x >"$M/given" && chown 1234:4321 "$M/given" || return 1
	expect "guest owner" "$(stat -c %u:%g "$M/given")" 1234:4321 || return 1
	expect "host owner" "$(host_owner given)" "$((SUB + 1233)):$((SUB + 4320))"
}

t_host_files() {
	expect "the user's host file" "$(stat -c %u:%g "$M/user-file.txt")" 0:0 || return 1
	expect "its content" "$(cat "$M/user-file.txt")" "made on the host by the user" || return 1
	# host root is not mapped in the namespace: the overflow id
	expect "host root's file" "$(stat -c %u "$M/root-file.txt")" 65534
}

t_permissions() {
	# The guest kernel and the host agree: user 1000 cannot write root's file.
	r=$(vufs-as 1000 1000 --op open "$M/by-root" w) && { echo "opened: $r"; return 1; }
	expect "error" "$r" EACCES
}

t_ops() {
	mkdir -p "$M/ops/a/b" && echo one >"$M/ops/a/b/f" || return 1
	mv "$M/ops/a/b/f" "$M/ops/g" && ln -s g "$M/ops/l" && ln "$M/ops/g" "$M/ops/h" || return 1
	expect "via symlink" "$(cat "$M/ops/l")" one || return 1
	expect "links" "$(stat -c %h "$M/ops/g")" 2 || return 1
	rm -r "$M/ops" || return 1
	[ ! -e "$M/ops" ] || { echo "ops still there"; return 1; }
}

t_umount() {
	umount "$M"
}

U_GID=$(host_owner user-file.txt | cut -d: -f2)
check "virtiofs mounted, ids known" t_mount
check "guest root's files are the user's on the host" t_root_creates
check "guest user 1000's files are SUB+999's on the host" t_user_creates
check "chown lands in the subordinate range" t_chown
check "host files of the user are root's in the guest" t_host_files
check "permissions still apply" t_permissions
check "mkdir, rename, links, rm -r" t_ops
info "INFO: tests before unmount took $(since "$T0") s"
check "umount" t_umount

if grep -q " $M " /proc/mounts; then
	skip "daemon released fds after unmount" "share still mounted"
else
	host_ask "VUFS-UNMOUNTED" 30
	case "$REPLY_STATUS" in
	OK) echo "PASS: daemon released inode fds after unmount ($REPLY_DETAIL)"; npass=$((npass + 1)) ;;
	FAIL) echo "FAIL: daemon released inode fds after unmount ($REPLY_DETAIL)"; nfail=$((nfail + 1)) ;;
	*) skip "daemon released inode fds after unmount" "$REPLY_STATUS $REPLY_DETAIL" ;;
	esac
fi
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
