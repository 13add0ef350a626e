#!/bin/bash
# make bench: vufs-bench for vufsd (default options, and with polling off) against the legacy C
# virtiofsd (QEMU 7.2's, from Debian's qemu-system-common) and the Rust virtiofsd 1.13 (Debian
# trixie's binary, fetched by get-rust-virtiofsd), each with its default options, in one
# invocation per table so the ratios compare alternated runs:
#  1. every workload at queue depth 1, 4 and 16 on one request queue;
#  2. queue scaling: 1, 2 and 4 request queues at depth 1, 4 and 16 (n/a where a daemon does not
#     offer that many queues).
# Extra arguments go to every vufs-bench call (e.g. --runs 5 --seconds 3, or --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
BENCH=$ROOT/$BUILD/tools/vufs-bench
export VUFSD=$ROOT/$BUILD/src/vufsd
CACHE=${VUFSD_CACHE:-/var/tmp/vufsd-cache}
TOOLS=${SHARED_TOOLS:-$ROOT/../shared/tools}
[ -d "$TOOLS" ] || TOOLS=/work/shared/tools
DEPTHS=${BENCH_DEPTHS:-1 4 16}

backends=(--backend vufsd
	--backend "vufsd-nopoll=$VUFSD --socket-path={socket} --shared-dir={dir} --poll-max-us=0")
if [ -x /usr/lib/qemu/virtiofsd ]; then
	backends+=(--backend legacy)
else
	echo "bench: /usr/lib/qemu/virtiofsd missing (qemu-system-common), skipping legacy" >&2
fi
RUST=${RUST_VIRTIOFSD:-$CACHE/anchors/rust-virtiofsd}
if [ ! -x "$RUST" ] && [ -x "$TOOLS/get-rust-virtiofsd" ]; then
	CACHE=$CACHE/anchors "$TOOLS/get-rust-virtiofsd" >/dev/null 2>&1 || true
fi
if [ -x "$RUST" ]; then
	backends+=(--backend "rust=$RUST --socket-path={socket} --shared-dir={dir} --cache=auto")
else
	echo "bench: Rust virtiofsd not available, skipping it" >&2
fi
SHARE=$(mktemp -d /tmp/vufs-bench-share.XXXXXX)
trap 'rm -rf "$SHARE"' EXIT
for depth in $DEPTHS; do
	echo "== all workloads, one request queue, queue depth $depth =="
	"$BENCH" "${backends[@]}" --dir "$SHARE" --depth "$depth" "$@"
	echo
done
for depth in $DEPTHS; do
	echo "== request queues 1, 2, 4 at queue depth $depth =="
	"$BENCH" "${backends[@]}" --dir "$SHARE" --queues 1,2,4 --depth "$depth" \
		--tests lookup,randread,randwrite,treewalk "$@"
	echo
done
