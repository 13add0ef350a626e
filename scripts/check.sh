#!/bin/bash
# The whole test suite, as `make check` and CI run it:
#   1. release build (gcc, -Werror) and every meson test (unit + frontend integration), then
#      the soak (scripts/soak.sh, SOAK_SECONDS, default 600)
#   2. the same tests on an ASan+UBSan build (daemon and tests instrumented)
#   3. a bounded libFuzzer run of each fuzz target under ASan+UBSan
#   4. the real-guest test: Linux 6.1 under QEMU (TCG) mounting a share served by vufsd,
#      fsync'ed data surviving a SIGKILL of QEMU and of the daemon (guest/durability.sh),
#      the guest POSIX suite, and a guest whose root filesystem is served by vufsd;
#      then the basic guest test again with ASan+UBSan and TSan daemons, and Linux 6.12 on
#      QEMU 11.1 with four request queues (guest/mq-test.sh)
# Prints one line per stage and ends with "check: N passed, N failed" (N counts tests);
# exits non-zero if anything failed. Logs: build*/meson-logs/, build/guest-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-30}
passed=0
failed=0
failures=()
start=$(date +%s)

stage() { printf '\n==== %s ====\n' "$*"; }

# Add a meson build dir's results (from testlog.json) to the totals.
count_meson() {
	local dir=$1 label=$2 counts p f s
	if [ ! -f "$dir/meson-logs/testlog.json" ]; then
		failed=$((failed + 1)); failures+=("$label: no test log"); return
	fi
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, re, sys
# Count cmocka cases where a test program prints cmocka's summary, else the program itself.
p = f = s = 0
names = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    r = t.get("result", "")
    out = (t.get("stdout", "") or "") + (t.get("stderr", "") or "")
    cp = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
    cf = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
    cs = sum(int(n) for n in re.findall(r"\[  SKIPPED \] (\d+) test", out))
    if r == "SKIP":
        s += 1
    elif cp or cf:
        p += cp
        s += cs
        f += cf
        if r not in ("OK", "EXPECTEDFAIL") and not cf:
            f += 1  # the program failed after its cases (crash, leak report, exit code)
    elif r in ("OK", "EXPECTEDFAIL"):
        p += 1
    else:
        f += 1
    if r not in ("OK", "EXPECTEDFAIL", "SKIP"):
        names.append(t.get("name", "?"))
print(p, f, s, ",".join(names) or "-")
PY
)
	read -r p f s names <<<"$counts"
	passed=$((passed + p)); failed=$((failed + f))
	echo "$label: $p passed, $f failed, $s skipped"
	[ "$f" -gt 0 ] && failures+=("$label: $names")
}

build_dir() { # dir, meson options...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" || return 1
}

stage "build and test (gcc, -Werror)"
if build_dir build; then
	meson test -C build --print-errorlogs --num-processes 2 || true
	count_meson build "tests"
else
	failed=$((failed + 1)); failures+=("build failed")
fi

stage "soak (${SOAK_SECONDS:-600} s mixed workload; daemon RSS and fds flat)"
if scripts/soak.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("soak"); fi

stage "ASan + UBSan"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if build_dir build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; then
	meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 || true
	count_meson build-asan "tests (asan+ubsan)"
else
	failed=$((failed + 1)); failures+=("sanitizer build failed")
fi
unset ASAN_OPTIONS UBSAN_OPTIONS

stage "fuzz smoke (${FUZZ_SMOKE_SECONDS}s per target)"
if [ -x fuzz/run.sh ]; then
	for t in fuzz_vu_msg fuzz_vq_chain fuzz_fuse fuzz_vu_backend fuzz_pt_devnode fuzz_pt_xattrmap \
		fuzz_fuse_secctx fuzz_migr; do
		if fuzz/run.sh "$t" "$FUZZ_SMOKE_SECONDS"; then
			passed=$((passed + 1)); echo "fuzz $t: passed"
		else
			failed=$((failed + 1)); failures+=("fuzz $t"); echo "fuzz $t: FAILED"
		fi
	done
fi

# Run a guest-side suite (its output ends with "N passed, N failed" from inside the guest)
# and add its cases to the totals; a run that fails without failing cases counts one failure.
guest_stage() {
	local label=$1 out rc=0 counts p=0 f=0
	shift
	out=$(mktemp)
	"$@" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
	counts=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 | tr -d '\r')
	rm -f "$out"
	if [ -n "$counts" ]; then
		p=${counts%% passed*}
		f=${counts#*passed, }
		f=${f%% failed*}
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	echo "$label: $p passed, $f failed"
	[ "$f" -gt 0 ] && failures+=("$label (logs: build/guest-logs)")
	return 0
}

# The basic real-guest test with the given daemon binary (and extra daemon arguments).
guest_run() {
	local bin=$1 label=$2 extra=${3:-}
	VUFSD=$bin VUFSD_ARGS="--xattr $extra" guest_stage "$label" guest/test.sh
}

stage "real guest (Linux 6.1, QEMU TCG)"
guest_run "$ROOT/build/src/vufsd" "real guest"

stage "guest reboots (reboot -f twice, share and daemon fd count checked after each boot)"
VUFSD=$ROOT/build/src/vufsd guest_stage "guest reboots" guest/reboot-test.sh

stage "durability (fsync'ed data after SIGKILL of QEMU and of the daemon)"
VUFSD=$ROOT/build/src/vufsd guest_stage "durability" guest/durability.sh

stage "guest POSIX suite"
# With --posix-acl and the suite's --xattrmap rules, so its ACL and xattr mapping cases run.
VUFSD=$ROOT/build/src/vufsd VUFSD_ARGS="--posix-acl --xattrmap=$(cat "$ROOT/guest/posix/xattrmap.rules")" \
	guest_stage "guest POSIX suite" guest/posix/test.sh

stage "guest root filesystem on vufsd (debootstrap tree, dpkg/git/make)"
VUFSD=$ROOT/build/src/vufsd guest_stage "rootfs" guest/rootfs/test.sh

stage "real guest, file-handle inodes (200,000-file walk) and a host submount"
VUFSD=$ROOT/build/src/vufsd guest_stage "file handles + submounts guest" guest/fhsub/test.sh

stage "real guest, unprivileged daemon in a user namespace (newuidmap ranges)"
VUFSD=$ROOT/build/src/vufsd guest_stage "unprivileged guest" guest/unpriv/test.sh

stage "live migration under QEMU 11.1 (find-paths, file-handles, a rename during the switch)"
VUFSD=$ROOT/build/src/vufsd guest_stage "live migration" guest/migrate/test.sh

stage "libvirt 9.0 starts vufsd for a domain (virsh create/destroy, two configurations)"
guest_stage "libvirt" env VUFSD="$ROOT/build/src/vufsd" guest/libvirt/test.sh

stage "DAX guest (Linux 6.12, QEMU 11.1 TCG, vhost-user-test-device)"
VUFSD=$ROOT/build/src/vufsd guest_stage "DAX guest" guest/dax/run.sh

stage "real guest, ASan+UBSan daemon"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	guest_run "$ROOT/build-asan/src/vufsd" "real guest (asan+ubsan)"

stage "real guest, TSan daemon (threaded paths)"
if CC=clang build_dir build-tsan -Db_sanitize=thread -Db_lundef=false -Dtests=false; then
	# TSan's runtime makes system calls of its own (the allow-list covers ASan's only).
	TSAN_OPTIONS="halt_on_error=1 suppressions=$ROOT/tests/tsan.supp" \
		guest_run "$ROOT/build-tsan/src/vufsd" "real guest (tsan)" --seccomp=none
else
	failed=$((failed + 1)); failures+=("tsan build failed")
fi

stage "real guest with 4 request queues (Linux 6.12, QEMU 11.1)"
VUFSD=$ROOT/build/src/vufsd guest_stage "multi-queue guest" guest/mq-test.sh

echo
echo "check took $(( $(date +%s) - start )) s"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
