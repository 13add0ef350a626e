#!/bin/bash
# guest-bench.sh (`make bench-guest`): a real Linux 6.1 guest (QEMU TCG) runs the same workload on
# each daemon: untar of BENCH_FILES small files (+sync), stat of all, read of all (cold), read of
# all again, delete of all (+sync), a sequential write (dd, fsync) and, after drop_caches, a
# sequential read of BENCH_MIB MiB (guest/scripts/bench.sh). Per-step times from the guest's
# /proc/uptime; for vufsd also the FUSE requests each step took, from its --metrics socket
# (HOST-METRICS?), with a per-opcode breakdown under $BENCH_OUT.
#
# Configurations (BENCH_CONFIGS, space-separated, default all but vufsd-nopoll):
#   vufsd         vufsd, default cache (auto)
#   vufsd-nopoll  vufsd --poll-max-us=0 (what ring polling costs or gains a TCG guest)
#   legacy        QEMU 7.2's C virtiofsd (/usr/lib/qemu/virtiofsd), default cache (auto)
#   rust          Rust virtiofsd 1.13, default cache (auto)
#   vufsd-wb      vufsd --cache=always --writeback
#   legacy-wb     legacy -o cache=always -o writeback
#   rust-wb       Rust --cache=always --writeback
#
# TCG guests on a 2-core host are noisy, so the configurations are booted in BENCH_ROUNDS
# alternated rounds (default 2: vufsd, legacy, rust, ..., then again) and every step runs
# BENCH_REPEAT times per boot (default 2). The table gives, per step, the median of those
# ROUNDS x REPEAT runs and the spread (half of max - min, over the median); ratios are of medians.
#
# Environment: BENCH_FILES (default 2000), BENCH_MIB (default 256), BENCH_OUT (default
# build/guest-bench), TIMEOUT per boot (default 900 s). Not part of `make check`: it takes minutes.
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${VUFS_CACHE:-/var/tmp/vufsd-cache}
FILES=${BENCH_FILES:-2000}
MIB=${BENCH_MIB:-256}
REPEAT=${BENCH_REPEAT:-2}
ROUNDS=${BENCH_ROUNDS:-2}
OUT=${BENCH_OUT:-$ROOT/build/guest-bench}
CONFIGS=${BENCH_CONFIGS:-vufsd legacy rust vufsd-wb legacy-wb rust-wb}
VUFSD_BIN=$ROOT/build/src/vufsd
LEGACY=/usr/lib/qemu/virtiofsd
RUST=${RUST_VIRTIOFSD:-$CACHE/anchors/rust-virtiofsd}
GET_RUST=${GET_RUST_VIRTIOFSD:-/work/shared/tools/get-rust-virtiofsd}

[ -x "$VUFSD_BIN" ] && [ -x "$ROOT/build/tools/vufs-metrics" ] ||
	{ echo "guest-bench: build first (ninja -C build)" >&2; exit 2; }
if [[ "$CONFIGS" == *rust* ]] && [ ! -x "$RUST" ]; then
	[ ! -x "$GET_RUST" ] || CACHE=$CACHE/anchors "$GET_RUST" >/dev/null 2>&1 || true
	[ -x "$RUST" ] || { echo "guest-bench: no Rust virtiofsd at $RUST" >&2; exit 2; }
fi

rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vufs-gbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The tarball: FILES files of 256 B to 8 KiB in directories of 100, made once.
mkdir -p "$WORK/src/tree"
(
	cd "$WORK/src/tree"
	for ((i = 0; i < FILES; i++)); do
		d=d$((i / 100))
		[ -d "$d" ] || mkdir "$d"
		head -c $((256 + (i * 7919) % 7937)) /dev/urandom >"$d/f$i"
	done
)
tar -C "$WORK/src" -cf "$WORK/bench.tar" tree
rm -rf "$WORK/src"
printf 'BIG_MIB=%s\nREPEAT=%s\n' "$MIB" "$REPEAT" >"$WORK/bench.conf"

# The legacy daemon spells the shared directory "-o source=DIR".
cat >"$WORK/legacy" <<EOT
#!/bin/sh
s=\$1 d=\${2#--shared-dir=}
shift 2
exec $LEGACY "\$s" -o source="\$d" "\$@"
EOT
chmod +x "$WORK/legacy"

run_config() {
	local cfg=$1 round=$2 daemon args metrics="" share log dir
	case "$cfg" in
	vufsd) daemon=$VUFSD_BIN args="" metrics=1 ;;
	vufsd-nopoll) daemon=$VUFSD_BIN args="--poll-max-us=0" metrics=1 ;;
	vufsd-wb) daemon=$VUFSD_BIN args="--cache=always --writeback" metrics=1 ;;
	legacy) daemon=$WORK/legacy args="" ;;
	legacy-wb) daemon=$WORK/legacy args="-o cache=always -o writeback" ;;
	rust) daemon=$RUST args="" ;;
	rust-wb) daemon=$RUST args="--cache=always --writeback" ;;
	*) echo "guest-bench: unknown configuration $cfg" >&2; return 2 ;;
	esac
	share=$WORK/share-$cfg
	dir=$OUT/$cfg/r$round
	mkdir -p "$share" "$dir"
	log=$dir/console.log
	if [ -n "$metrics" ]; then
		args="$args --metrics=$WORK/$cfg.metrics"
		export VUFS_METRICS=$WORK/$cfg.metrics VUFS_METRICS_DIR=$dir
	else
		unset VUFS_METRICS VUFS_METRICS_DIR
	fi
	echo "guest-bench: round $round: $cfg ($daemon $args)"
	VUFSD=$daemon VUFSD_ARGS=$args VUFS_KEEP=0 "$ROOT/guest/run-guest.sh" --share "$share" \
		--script "$ROOT/guest/scripts/bench.sh" --add "$WORK/bench.tar:/bench.tar" \
		--add "$WORK/bench.conf:/bench.conf" --log "$log" --timeout "${TIMEOUT:-900}" \
		>"$dir/run.out" 2>&1 || echo "guest-bench: $cfg: run-guest.sh failed (see $dir)"
	grep -a '^BENCH-RUN ' "$log" | tr -d '\r' >>"$OUT/$cfg/runs" || true
	rm -rf "$share"
	# Per-step opcode breakdown from the snapshots the guest asked for.
	if [ -n "$metrics" ]; then
		local s
		for s in untar stat read reread delete seqwrite seqread; do
			[ -f "$dir/$s-before.prom" ] && [ -f "$dir/$s-after.prom" ] || continue
			"$ROOT/build/tools/vufs-metrics" -d "$dir/$s-before.prom" \
				"$dir/$s-after.prom" >"$dir/$s.ops"
		done
	fi
}

for ((round = 1; round <= ROUNDS; round++)); do
	for cfg in $CONFIGS; do
		run_config "$cfg" "$round"
	done
done

# The table: median seconds per step, spread, requests in brackets where known, then ratios.
# med CFG STEP FIELD: median of FIELD (3: seconds, 4: requests) over that step's runs.
med() {
	awk -v s="$2" -v f="$3" '$2 == s && $f != "-" { print $f }' "$OUT/$1/runs" 2>/dev/null |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
val() { med "$1" "$2" 3; }
req() { local r; r=$(med "$1" "$2" 4); [ -z "$r" ] || printf '%.0f' "$r"; }
spread() {
	awk -v s="$2" '$2 == s { print $3 }' "$OUT/$1/runs" 2>/dev/null | sort -g |
		awk -v m="$3" '{ v[NR] = $1 } END { if (NR && m > 0) printf "%d", 100 * (v[NR] - v[1]) / 2 / m }'
}
{
	echo
	echo "guest workload: $FILES files, $MIB MiB sequential; Linux 6.1 guest, QEMU TCG, 2 vCPUs;" \
		"seconds: median of $ROUNDS alternated boots x $REPEAT runs, +-spread, [FUSE requests]"
	printf '%-9s' step
	for cfg in $CONFIGS; do printf ' %22s' "$cfg"; done
	echo
	for s in untar stat read reread delete seqwrite seqread; do
		printf '%-9s' "$s"
		for cfg in $CONFIGS; do
			t=$(val "$cfg" "$s")
			r=$(req "$cfg" "$s")
			sp=$(spread "$cfg" "$s" "${t:-0}")
			printf ' %7ss %5s %8s' "${t:--}" "${sp:+±$sp%}" "${r:+[$r]}"
		done
		echo
	done
	echo
	echo "ratios (time / anchor time, < 1 is faster):"
	for s in untar stat read reread delete seqwrite seqread; do
		line=""
		for pair in vufsd:legacy vufsd:rust vufsd:vufsd-nopoll vufsd-wb:legacy-wb vufsd-wb:rust-wb vufsd-wb:legacy vufsd-wb:rust; do
			a=${pair%%:*} b=${pair#*:}
			[[ " $CONFIGS " == *" $a "* && " $CONFIGS " == *" $b "* ]] || continue
			ta=$(val "$a" "$s") tb=$(val "$b" "$s")
			[ -n "$ta" ] && [ -n "$tb" ] || continue
			line="$line $(awk -v a="$ta" -v b="$tb" -v n="$a/$b" \
				'BEGIN { if (b > 0) printf "%s %.2f ", n, a / b; else printf "%s - ", n }')"
		done
		printf '%-9s%s\n' "$s" "$line"
	done
	echo
	echo "per-opcode breakdown of each vufsd step (last run of a boot): $OUT/<config>/r<round>/<step>.ops"
} | tee "$OUT/summary.txt"
