#!/bin/sh
# test.sh: the guest side of the DAX stage (/dax-test.sh), busybox sh. /expected.env (written
# by run.sh) gives MODE (dax: the checks; nodax: the daemon has no window; measure: numbers
# only) and the host's checksums. Each check prints PASS:/FAIL: NAME; the host counts them.
# shellcheck source=/dev/null
. /expected.env
npass=0
nfail=0
pass() { echo "PASS: $1"; npass=$((npass + 1)); }
fail() { echo "FAIL: $1${2:+ ($2)}"; nfail=$((nfail + 1)); }
# check NAME ACTUAL EXPECTED
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected '$3'"; fi; }
md5() { md5sum "$1" | cut -d' ' -f1; }
cached_kb() { awk '/^Cached:/ { print $2 }' /proc/meminfo; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

if [ "$MODE" = shell ]; then
	mount -t virtiofs vufs /mnt -o dax=always || echo "mount -o dax=always failed"
	dmesg | grep -i 'cache len'
	grep virtiofs /proc/mounts
	echo
	cat /mnt/README
	echo
	cd /mnt || exit 1
	PS1='dax-guest:\w# ' setsid cttyhack sh -i
	cd /
	umount /mnt
	exit 0
fi

if [ "$MODE" = nodax ]; then
	# The daemon offers no window: the dax mount must fail, a plain one work.
	if mount -t virtiofs vufs /mnt -o dax=always 2>/dev/null; then
		fail "dax=always refused without a window" "it mounted"
		umount /mnt
	else
		pass "dax=always refused without a window"
	fi
	if mount -t virtiofs vufs /mnt; then
		pass "plain mount without a window"
		check "read without DAX" "$(md5 /mnt/big16)" "$MD5_BIG16"
		umount /mnt
	else
		fail "plain mount without a window"
	fi
	echo "$npass passed, $nfail failed"
	[ "$nfail" = 0 ]
	exit
fi

if [ "$MODE" = measure ]; then
	for opt in dax=always dax=never; do
		mount -t virtiofs vufs /mnt -o "$opt"
		drop
		c0=$(cached_kb)
		# shellcheck disable=SC2046 # three numbers
		set -- $(vufs-dax seqread /mnt/big64)
		c1=$(cached_kb)
		echo "MEASURE $opt seqread bytes=$1 s=$2 MBps=$3 pagecache_growth_kb=$((c1 - c0))"
		drop
		# shellcheck disable=SC2046
		set -- $(vufs-dax mmaprand /mnt/big64 4000)
		echo "MEASURE $opt mmaprand reads=$1 s=$2 reads_per_s=$3"
		umount /mnt
	done
	echo "0 passed, 0 failed"
	exit 0
fi

# MODE=dax
if mount -t virtiofs vufs /mnt -o dax=always; then
	pass "mount -o dax=always"
else
	fail "mount -o dax=always"
	echo "$npass passed, $nfail failed"
	exit 1
fi
cache=$(dmesg | sed -n 's/.*Cache len: \(0x[0-9a-f]*\).*/\1/p' | head -n 1)
check "the guest sees the DAX window" "$cache" "$WINDOW_HEX"
check "isdax on dax=always" "$(vufs-dax isdax /mnt/big16)" 1

# A file read through the window has the host's checksum.
check "16 MiB file read through DAX" "$(md5 /mnt/big16)" "$MD5_BIG16"

# No second copy in the guest's page cache.
drop
c0=$(cached_kb)
cat /mnt/big64 >/dev/null
c1=$(cached_kb)
growth=$((c1 - c0))
echo "info: page cache grew by $growth KiB while reading 64 MiB through DAX"
if [ "$growth" -lt 8192 ]; then pass "no page-cache growth (64 MiB read, ${growth} KiB)"; else fail "no page-cache growth" "${growth} KiB"; fi

# A store through a MAP_SHARED mapping is in the host's file before msync/munmap (the host
# checks when it sees MMAP-STORED; the helper holds the mapping meanwhile).
if vufs-dax mmapstore /mnt/store 4096 VUFS-DAX-STORE-42; then
	pass "mmap store through the window"
else
	fail "mmap store through the window"
fi

# A file larger than the window: the guest reclaims ranges while reading.
check "file larger than the window (${HUGE_MB} MiB, window ${WINDOW_MB} MiB)" "$(md5 /mnt/huge)" "$MD5_HUGE"

# Many small files: more 2 MiB ranges than the window has.
check "$NSMALL small files (window pressure)" "$(cat /mnt/small/* | md5sum | cut -d' ' -f1)" "$MD5_SMALL"

# Appends under a mapping: the guest extends with FUSE_WRITE, then reads through its range.
head -c 5000 /dev/urandom >/tmp/a
cp /tmp/a /mnt/app
cat /mnt/app >/dev/null
head -c 20000 /dev/urandom >/tmp/b
cat /tmp/b >>/mnt/app
cat /tmp/b >>/tmp/a
check "append under a mapping" "$(md5 /mnt/app)" "$(md5 /tmp/a)"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	head -c 3000 /dev/urandom >/tmp/c
	cat /tmp/c >>/mnt/app
	cat /tmp/c >>/tmp/a
	cat /mnt/app >/dev/null
done
check "ten more appends, read between them" "$(md5 /mnt/app)" "$(md5 /tmp/a)"

# Truncation under a mapping: shrink, read, grow again.
cp /tmp/a /mnt/tr
cat /mnt/tr >/dev/null
truncate -s 3000 /mnt/tr
head -c 3000 /tmp/a >/tmp/t
check "truncate under a mapping (size)" "$(stat -c %s /mnt/tr)" 3000
check "truncate under a mapping (data)" "$(md5 /mnt/tr)" "$(md5 /tmp/t)"
truncate -s 0 /mnt/tr
cat /tmp/b >>/mnt/tr
check "grow after truncating to 0" "$(md5 /mnt/tr)" "$(md5 /tmp/b)"

# Removed while in use: the data stays readable through the open file.
cp /tmp/b /mnt/gone
exec 4</mnt/gone
rm /mnt/gone
check "unlinked file still readable" "$(md5sum <&4 | cut -d' ' -f1)" "$(md5 /tmp/b)"
exec 4<&-

umount /mnt || fail "umount"

# dax=inode: the daemon marks files of at least --dax-min-size.
if mount -t virtiofs vufs /mnt -o dax=inode; then
	pass "mount -o dax=inode"
	check "dax=inode: large file uses DAX" "$(vufs-dax isdax /mnt/big16)" 1
	check "dax=inode: small file does not" "$(vufs-dax isdax /mnt/small/s000)" 0
	check "dax=inode: large file data" "$(md5 /mnt/big16)" "$MD5_BIG16"
	umount /mnt
else
	fail "mount -o dax=inode"
fi
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
