#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build (if needed) and run one libFuzzer target for a bounded time.
#
#   fuzz/run.sh TARGET SECONDS         fuzz; prints executions and the result
#   fuzz/run.sh --repro TARGET FILE    run one input (e.g. a crash) once, traced
#   fuzz/run.sh --minimize TARGET FILE shrink a crashing input
#   fuzz/run.sh --list                 the targets
#
# TARGET: fuzz_vu_msg, fuzz_vq_chain, fuzz_fuse or fuzz_vu_backend. Exit status 0 when no
# finding, 1 on a finding (the input is under fuzz/crashes/TARGET/), 2 on usage or
# build errors. Environment: VUFS_FUZZ_BUILD (build dir, default
# build-fuzz), VUFS_FUZZ_JOBS (parallel fuzzing processes, default 1),
# VUFS_FUZZ_ARGS (extra libFuzzer flags), VUFS_FUZZ_LOG (daemon log level).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${VUFS_FUZZ_BUILD:-$root/build-fuzz}
targets="fuzz_vu_msg fuzz_vq_chain fuzz_fuse fuzz_vu_backend fuzz_pt_devnode fuzz_pt_xattrmap fuzz_fuse_secctx fuzz_migr"

usage() {
	sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

is_target() {
	for t in $targets; do
		[ "$t" = "$1" ] && return 0
	done
	echo "run.sh: unknown target '$1' (one of: $targets)" >&2
	exit 2
}

build_target() {
	# Several run.sh may share a build dir (parallel CI jobs): one builds at a time.
	exec 9<"$0"
	flock 9
	if [ ! -f "$build/build.ninja" ]; then
		echo "run.sh: setting up $build" >&2
		# ASan + UBSan everywhere, libFuzzer coverage in the src libraries too.
		out=$(CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=false \
			-Db_sanitize=address,undefined -Db_lundef=false \
			"-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" 2>&1) || {
			echo "$out" >&2
			exit 2
		}
	fi
	ninja -C "$build" "fuzz/$1" >"$build/ninja-$1.log" 2>&1 || {
		cat "$build/ninja-$1.log" >&2
		exit 2
	}
	flock -u 9
}

# Sanitizers: any report is fatal; libFuzzer's SIGUSR1/2 handlers are off
# because the FUSE lock code uses SIGUSR1 to interrupt waiting locks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# A unit slower than 19 s is reported by -timeout (20 s) as a hang; below that, slowness is
# the machine's load (CI shares 2 cores), not a finding.
common="-handle_usr1=0 -handle_usr2=0 -timeout=20 -report_slow_units=19 -rss_limit_mb=2048 -max_len=8192"

case "${1:-}" in
--list)
	echo "$targets"
	exit 0
	;;
--repro)
	[ $# -eq 3 ] || usage
	is_target "$2"
	build_target "$2"
	# shellcheck disable=SC2086 # $common is a list of flags
	VUFS_FUZZ_TRACE=1 "$build/fuzz/$2" $common -runs=1 "$3"
	exit $?
	;;
--minimize)
	[ $# -eq 3 ] || usage
	is_target "$2"
	build_target "$2"
	mkdir -p "$here/crashes/$2"
	min="$here/crashes/$2/min-$(basename "$3")"
	# shellcheck disable=SC2086
	"$build/fuzz/$2" $common -minimize_crash=1 -max_total_time=60 \
		-exact_artifact_path="$min" "$3" || true
	echo "minimized: $min"
	exit 0
	;;
-*|'')
	usage
	;;
esac

[ $# -eq 2 ] || usage
target=$1
seconds=$2
is_target "$target"
case "$seconds" in
*[!0-9]*|'') usage ;;
esac
build_target "$target"

seeds="$here/corpus/$target"
corpus="$build/corpus/$target" # grows while fuzzing; the seeds stay untouched
crashes="$here/crashes/$target" # findings; also replayed first, as regression inputs
log="$build/fuzz-$target.log"
mkdir -p "$corpus" "$crashes"
jobs=${VUFS_FUZZ_JOBS:-1}
par=""
[ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"

echo "run.sh: $target for ${seconds}s (log: $log)"
set +e
# shellcheck disable=SC2086
"$build/fuzz/$target" $common $par -max_total_time="$seconds" -print_final_stats=1 \
	-artifact_prefix="$crashes/" ${VUFS_FUZZ_ARGS:-} "$corpus" "$seeds" "$crashes" >"$log" 2>&1
status=$?
set -e
[ "$jobs" -gt 1 ] && cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | awk '{s += $1} END {print s + 0}')
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
units=$(find "$corpus" -type f | wc -l)
artifact=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$log" | head -1)
echo "run.sh: $target: $execs executions (${rate}/s), coverage ${cov:-?} edges, corpus $units"
if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
	echo "run.sh: $target: OK, no finding in ${seconds}s"
	exit 0
fi
grep -m1 -E 'ERROR: |FUZZ INVARIANT|runtime error' "$log" | sed "s/^/run.sh: $target: /"
# A committed reproducer that still fails comes back under its sha1 name: keep only the original.
if [ -n "$artifact" ] && [ -f "$artifact" ]; then
	for f in "$crashes"/*; do
		if [ "$f" != "$artifact" ] && cmp -s "$f" "$artifact"; then
			rm -f "$artifact"
			artifact=$f
			echo "run.sh: $target: known finding, not fixed yet: $f"
			break
		fi
	done
fi
echo "run.sh: $target: FINDING (libFuzzer status $status); input: ${artifact:-see $log}"
echo "run.sh: reproduce: fuzz/run.sh --repro $target ${artifact:-FILE}"
exit 1
