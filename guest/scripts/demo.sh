#!/bin/sh
# demo.sh: guest side of `make demo` (busybox sh; runs inside the guest via guest/demo.sh).
#
# Usage: sh demo.sh MOUNTPOINT
#
# A short tour of the virtio-fs share for people: every command is shown before it runs. It
# reads the file the host put there (hello-from-host.txt) and leaves hello-from-guest.txt for
# the host to look at afterwards.
set -eu

M=${1:?usage: demo.sh MOUNTPOINT}

say() { printf '\n== %s\n' "$*"; }
# run CMD: show the command as typed at a prompt, then run it.
run() {
	printf 'guest# %s\n' "$*"
	sh -c "$*" || printf '(exit status %s)\n' "$?"
}

say "Inside the guest: Linux $(uname -r). The host directory is mounted on $M over virtio-fs."
run "grep virtiofs /proc/mounts"
run "ls -l $M"

say "A file the host wrote before the guest booted:"
run "cat $M/hello-from-host.txt"

say "Write a file from the guest and read it back:"
run "echo \"Hello from the guest (Linux \$(uname -r), \$(date -u '+%Y-%m-%d %H:%M:%S UTC'))\" > $M/hello-from-guest.txt"
run "cat $M/hello-from-guest.txt"
run "mkdir -p $M/guest-dir && seq 1 5 > $M/guest-dir/numbers.txt && ls -l $M/guest-dir"

say "Sizes and free space of the share, as the guest sees them:"
run "df -h $M"
run "stat $M/hello-from-guest.txt"

sync
say "Done; the guest powers off and the host looks at the share."
