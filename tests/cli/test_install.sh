#!/bin/bash
# test_install.sh: `meson install` puts exactly what a Debian-style install needs, and it works:
# the daemon in libexecdir, vufsd(1) in man1, the vhost-user backend description
# share/qemu/vhost-user/50-vufsd.json ("type": "fs", "binary" = the installed daemon), and
# the metrics reader vufs-metrics in bindir (a user command).
# Usage: test_install.sh BUILDDIR   (prints "N passed, N failed")
set -u
B=$1
D=$(mktemp -d /tmp/vufs-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! meson install -C "$B" --destdir "$D" --no-rebuild --quiet >"$D.log" 2>&1; then
	bad "meson install: $(tail -n 5 "$D.log")"
	rm -f "$D.log"
	echo "$pass passed, $fail failed"
	exit 1
fi
rm -f "$D.log"
intro=$(meson introspect "$B" --buildoptions)
opt() { python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]][0])' "$1" <<<"$intro"; }
prefix=$(opt prefix) libexecdir=$(opt libexecdir) mandir=$(opt mandir) datadir=$(opt datadir)
bindir=$(opt bindir)
bin=$prefix/$libexecdir/vufsd
man=$prefix/$mandir/man1/vufsd.1
json=$prefix/$datadir/qemu/vhost-user/50-vufsd.json

files=$(cd "$D" && find . -type f -o -type l | sed 's/^\.//' | sort)
want=$(printf '%s\n' "$bin" "$man" "$json" "$prefix/$bindir/vufs-metrics" | sort)
[ "$files" = "$want" ] && ok "installed tree is exactly: $(echo $want)" ||
	bad "installed tree: $(echo $files), expected $(echo $want)"
[ -x "$D$bin" ] && "$D$bin" --version | grep -q '^vufsd ' && ok "$bin runs" || bad "$bin does not run"
if man -l "$D$man" 2>/dev/null | grep -q -- '--shared-dir=DIR' || grep -q 'shared\\-dir' "$D$man"; then
	ok "$man documents the options"
else
	bad "$man is not a man page of vufsd"
fi
if python3 - "$D$json" "$bin" <<'PY'; then
import json, sys
d = json.load(open(sys.argv[1]))
assert d["type"] == "fs", d
assert d["binary"] == sys.argv[2], d
assert isinstance(d["description"], str), d
PY
	ok "$json: type fs, binary $bin"
else
	bad "$json: $(cat "$D$json")"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
