#!/bin/bash
# soak.sh: the soak stage of `make check`. tools/vufs-soak drives a mixed workload (create,
# write, lock, read, getattr, flush, release, rename, readdirplus, forget, unlink, mkdir,
# rmdir) from 8 streams over 4 request queues against a fresh vufsd for SECONDS, checks every
# reply, and samples the daemon's RSS and fd count at quiescent points every 5 s: after the
# warm-up (60 s, or a quarter of a shorter run) the fd count must not change and RSS must not
# grow by more than 2 MiB. Prints the table and ends with "vufs-soak: PASS" or "FAIL".
#
# Usage: scripts/soak.sh [SECONDS]     (default: $SOAK_SECONDS, else 600)
# Environment: VUFSD (default build/src/vufsd), VUFS_SOAK (default build/tools/vufs-soak),
#              SOAK_ARGS (more vufs-soak options, e.g. "--agents 16 --queues 8 -v").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-${SOAK_SECONDS:-600}}
bin=${VUFS_SOAK:-$ROOT/build/tools/vufs-soak}
export VUFSD=${VUFSD:-$ROOT/build/src/vufsd}
if [ ! -x "$bin" ] || [ ! -x "$VUFSD" ]; then
	echo "soak: $bin or $VUFSD not built (ninja -C build)" >&2
	exit 1
fi
# shellcheck disable=SC2086 # SOAK_ARGS is a list of options
exec "$bin" --seconds "$secs" ${SOAK_ARGS:-}
