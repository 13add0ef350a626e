#!/bin/sh
# rootfs-test.sh: guest-side workload for a guest whose root file system is served by the daemon
# (Debian's dash; runs as PID 1's child after init.sh's switch_root into the virtio-fs root).
#
# guest/rootfs/test.sh copies this file into the served tree as /vufs-rootfs-test.sh and boots
# the guest with vufs.rootfs=1. The workload:
#   - / is virtiofs;
#   - dpkg -l lists more than 100 installed packages;
#   - dpkg --verify over every installed package: no output, or only configuration files (the
#     output is shown);
#   - git init/add/commit/status/log/fsck on a generated tree of a few hundred files;
#   - make builds a small three-file C program (two rounds: full, then after touching one file)
#     and the program prints what it should.
# Everything it writes is under /root/work (on the share, so through the daemon), removed at the
# end (test.sh removes it too). /tmp and /run are tmpfs (init.sh). Prints PASS/FAIL lines, TIME
# lines, and `N passed, N failed`; exits non-zero if any check failed.
set -u

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C
W=/root/work
# gcc's temporary files go through the daemon too.
export TMPDIR=$W/tmp

npass=0
nfail=0

now() { read -r up _ </proc/uptime; echo "$up"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

check() {
	name=$1
	shift
	t0=$(now)
	if out=$("$@" 2>&1); then
		echo "PASS: $name ($(since "$t0") s)"
		npass=$((npass + 1))
	else
		detail=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-600)
		echo "FAIL: $name ($(since "$t0") s: ${detail:-exit status non-zero})"
		nfail=$((nfail + 1))
	fi
}

expect() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', expected '$3'"
	return 1
}

t_root() {
	line=$(awk '$2 == "/" { print $1, $2, $3 }' /proc/mounts | tail -n 1)
	expect "the / mount" "$line" "vufs / virtiofs"
}

t_dpkg_l() {
	n=$(dpkg -l | grep -c '^ii') || return 1
	echo "INFO: dpkg -l: $n packages installed" >&3
	[ "$n" -gt 100 ] || { echo "only $n packages"; return 1; }
}

t_dpkg_verify() {
	dpkg --verify >"$W/verify.out" 2>&1
	rc=$?
	n=$(wc -l <"$W/verify.out")
	echo "INFO: dpkg --verify: status $rc, $n lines" >&3
	sed 's/^/INFO: dpkg --verify: /' "$W/verify.out" | head -n 40 >&3
	# Only configuration files (second column "c") may differ.
	bad=$(awk '$2 != "c"' "$W/verify.out")
	[ -z "$bad" ] || { echo "non-conffile differences: $bad"; return 1; }
	[ "$rc" = 0 ] || [ "$n" -gt 0 ] || { echo "dpkg --verify failed with status $rc"; return 1; }
}

t_git() {
	r=$W/repo
	mkdir -p "$r" || return 1
	cd "$r" || return 1
	i=0
	while [ "$i" -lt 300 ]; do
		d=dir$((i % 15))
		[ -d "$d" ] || mkdir "$d" || return 1
		printf 'file %d\nline two of %d\n' "$i" "$i" >"$d/file$i.txt" || return 1
		i=$((i + 1))
	done
	g() { git -c user.name=vufs -c user.email=vufs@example.invalid "$@"; }
	g init -q -b main . || return 1
	g add -A || return 1
	g commit -q -m "300 generated files" || return 1
	expect "files in HEAD" "$(git ls-files | wc -l)" 300 || return 1
	expect "status after commit" "$(git status --porcelain)" "" || return 1
	echo changed >>dir3/file3.txt && rm dir4/file4.txt && echo new >dir0/new.txt || return 1
	expect "status after changes" "$(git status --porcelain | sort | tr '\n' ' ')" \
		" D dir4/file4.txt  M dir3/file3.txt ?? dir0/new.txt " || return 1
	g add -A && g commit -q -m "second" || return 1
	expect "log" "$(git log --format=%s | tr '\n' ' ')" "second 300 generated files " || return 1
	expect "diff --stat" "$(git diff --shortstat HEAD~1 HEAD)" \
		" 3 files changed, 2 insertions(+), 2 deletions(-)" || return 1
	expect "fsck" "$(git fsck --full --strict --no-dangling --no-progress 2>&1)" "" || return 1
	g gc -q || return 1
	expect "fsck after gc" "$(git fsck --full --strict --no-dangling --no-progress 2>&1)" "" || return 1
	expect "status after gc" "$(git status --porcelain)" ""
}

t_make() {
	p=$W/prog
	mkdir -p "$p" || return 1
	cd "$p" || return 1
	cat >calc.h <<'EOF'
#ifndef CALC_H
#define CALC_H
long sum_to(long n);
long fib(int n);
const char *greeting(void);
#endif
EOF
	cat >sum.c <<'EOF'
#include "calc.h"
long sum_to(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i; return s; }
EOF
	cat >fib.c <<'EOF'
#include "calc.h"
long fib(int n) { long a = 0, b = 1; while (n-- > 0) { long t = a + b; a = b; b = t; } return a; }
const char *greeting(void) { return "hello from vufsd"; }
EOF
	cat >main.c <<'EOF'
#include <stdio.h>
#include "calc.h"
int main(void)
{
	printf("%s: sum_to(100)=%ld fib(50)=%ld\n", greeting(), sum_to(100), fib(50));
	return 0;
}
EOF
	# shellcheck disable=SC2016 # make variables
	printf 'CFLAGS = -O2 -Wall -Werror\nOBJS = main.o sum.o fib.o\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n%%.o: %%.c calc.h\n\t$(CC) $(CFLAGS) -c $<\n\nclean:\n\trm -f prog $(OBJS)\n' >Makefile
	make -j2 >make.out 2>&1 || { cat make.out; return 1; }
	expect "output" "$(./prog)" "hello from vufsd: sum_to(100)=5050 fib(50)=12586269025" || return 1
	# The guest's clock starts from the RTC (whole seconds), so it may lag the host's, which
	# stamps the files: make may warn about clock skew, which is not what this checks.
	expect "second make" "$(make 2>&1 | grep -v -e 'in the future' -e 'Clock skew')" \
		"make: 'prog' is up to date." || return 1
	sleep 1
	touch sum.c || return 1
	expect "rebuild after touching sum.c" "$(make 2>&1 | grep -c '^cc ')" 2 || return 1
	./prog >/dev/null || return 1
}

exec 3>&1
T0=$(now)
echo "INFO: kernel $(uname -r), $(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release), root $(awk '$2 == "/" { print $1 " " $3 }' /proc/mounts | tail -n 1)"
rm -rf "$W"
mkdir -p "$TMPDIR"
: >"$W/clock"
echo "INFO: host clock (mtime of a new file) minus guest clock: $(($(stat -c %Y "$W/clock") - $(date +%s))) s"
check "/ is virtio-fs" t_root
check "dpkg -l lists > 100 packages" t_dpkg_l
check "dpkg --verify: only conffile differences" t_dpkg_verify
check "git init/add/commit/status/log/fsck/gc on 300 files" t_git
check "make: build and run a 3-file C program" t_make
cd /
check "remove the work tree" rm -rf "$W"
echo "TIME: rootfs workload total: $(since "$T0") s"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
