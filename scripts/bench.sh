#!/bin/bash
# make bench: vufs-bench for vufsd against the legacy C virtiofsd (QEMU 7.2's, from Debian's
# qemu-system-common) and the Rust virtiofsd 1.13 (Debian trixie's binary, fetched by
# ../shared/tools/get-rust-virtiofsd), in one invocation, at queue depth 1 and 4.
# Extra arguments go to vufs-bench (e.g. --runs 5 --seconds 3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
BENCH=$ROOT/$BUILD/tools/vufs-bench
export VUFSD=$ROOT/$BUILD/src/vufsd

backends=(--backend vufsd)
if [ -x /usr/lib/qemu/virtiofsd ]; then
	backends+=(--backend legacy)
else
	echo "bench: /usr/lib/qemu/virtiofsd missing (qemu-system-common), skipping legacy" >&2
fi
RUST=${RUST_VIRTIOFSD:-/tmp/anchors/rust-virtiofsd}
if [ ! -x "$RUST" ] && [ -x ../shared/tools/get-rust-virtiofsd ]; then
	../shared/tools/get-rust-virtiofsd >/dev/null 2>&1 || true
fi
if [ -x "$RUST" ]; then
	backends+=(--backend "rust=$RUST --socket-path={socket} --shared-dir={dir} --cache=auto")
else
	echo "bench: Rust virtiofsd not available, skipping it" >&2
fi
for depth in 1 4; do
	echo "== queue depth $depth =="
	"$BENCH" "${backends[@]}" --depth "$depth" "$@"
	echo
done
