#!/bin/bash
# test_cli.sh: vufsd's command line as the Rust virtiofsd's users and libvirt use it.
#   - --help and vufsd(1) list the same options (both come from src/cli_opts.def), and every
#     option of the Rust virtiofsd 1.13 is among them;
#   - --print-capabilities is the JSON libvirt reads;
#   - libvirt's "-o" forms start the daemon; unknown words and unsupported options fail at
#     start with one line that names them;
#   - the socket is 0600 (0660 and our group with --socket-group), PATH.pid is written and
#     locked: a second daemon on the same socket fails, naming the first one's pid;
#   - -d, -f and -o warn that they are deprecated.
# Usage: test_cli.sh VUFSD MANPAGE   (meson passes both; prints "N passed, N failed")
set -u
VUFSD=$1
MAN=$2
RUST=${RUST_VIRTIOFSD:-/var/tmp/vufsd-cache/anchors/rust-virtiofsd}
T=$(mktemp -d /tmp/vufs-cli.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/share"

# The options of the Rust virtiofsd 1.13.2 (its --help), so the test does not need it installed.
RUST_OPTS="--shared-dir --tag --socket --socket-path --socket-group --fd --thread-pool-size --xattr
--posix-acl --xattrmap --sandbox --readonly --seccomp --announce-submounts --no-announce-submounts
--inode-file-handles --cache --allow-mmap --no-readdirplus --writeback --allow-direct-io
--print-capabilities --modcaps --log-level --syslog --rlimit-nofile -o -d --no-killpriv-v2
--killpriv-v2 -f --security-label --uid-map --gid-map --translate-uid --translate-gid
--preserve-noatime --migration-mode --migration-on-error --migration-verify-handles
--migration-confirm-paths -h --help -V --version"
if [ -x "$RUST" ]; then
	# ... and if it is here, check that list against the real one.
	real=$("$RUST" --help | grep -o -E '^ +(-[a-zA-Z], )?--?[a-z][a-z0-9-]*' | tr ',' '\n' | tr -d ' ' | sort -u)
	for o in $real; do
		case " $(echo $RUST_OPTS) " in *" $o "*) ;; *) bad "the Rust virtiofsd has $o, missing from this test's list" ;; esac
	done
fi

# --help and the man page: same option set, and it covers the Rust one.
# Option lines are indented 2 ("  -o", "  -h, --help") or 6 ("      --xattr"); help text 10.
help_opts=$("$VUFSD" --help | sed '/^Compatibility options/q' |
	grep -o -E '^(  -[a-zA-Z](, --[a-z0-9-]+)?|      --[a-z0-9-]+)' | tr ',' '\n' | tr -d ' ' | sort -u)
man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN" | grep -o -E '^\\fB\\-[a-zA-Z]\\fR|\\fB\\-\\-[a-z0-9\\-]*' |
	sed 's/\\f[RB]//g; s/\\-/-/g; s/\\f$//; s/\\$//' | sort -u)
if [ -n "$help_opts" ] && [ "$help_opts" = "$man_opts" ]; then
	ok "--help and vufsd(1) list the same $(echo "$help_opts" | wc -l) options"
else
	bad "--help and vufsd(1) differ: $(diff <(echo "$help_opts") <(echo "$man_opts") | grep '^[<>]' | tr '\n' ' ')"
fi
missing=""
for o in $RUST_OPTS; do
	echo "$help_opts" | grep -qx -- "$o" || missing="$missing $o"
done
[ -z "$missing" ] && ok "every Rust virtiofsd option is in --help" || bad "missing from --help:$missing"

# --print-capabilities
caps=$("$VUFSD" --print-capabilities)
if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d=={"type":"fs","features":["migrate-precopy","separate-options"]}, d' "$caps"; then
	ok "--print-capabilities: {type: fs, features: [migrate-precopy, separate-options]}"
else
	bad "--print-capabilities printed: $caps"
fi

# refuse ARGS... / EXPECTED-TEXT: exit 1 with one line naming the word.
refuse() {
	local want=$1 out rc=0
	shift
	out=$("$VUFSD" "$@" 2>&1) || rc=$?
	if [ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && [[ "$out" == *"$want"* ]]; then
		ok "refused: $* -> $out"
	else
		bad "'$*': exit $rc, output: $out (expected one line with '$want')"
	fi
}
base=(--socket-path="$T/r.sock" --shared-dir="$T/share")
refuse "invalid compat argument '-o bogus'" "${base[@]}" -o xattr,bogus
refuse "invalid compat value 'often' for '-o cache'" "${base[@]}" -o cache=often
refuse "'-o source' needs a value" --fd=5 -o source
refuse "'-o timeout'" "${base[@]}" -o timeout=1.5
refuse "unknown option '--bogus'" "${base[@]}" --bogus
refuse "--tag needs 1 to 36 bytes" "${base[@]}" --tag=0123456789012345678901234567890123456
refuse "must be 0 or a power of two" "${base[@]}" --dax-window=3M
refuse "unknown --migration-mode 'x'" "${base[@]}" --migration-mode=x
refuse "--socket-group cannot be used with --fd" --fd=5 --shared-dir="$T/share" --socket-group=root
refuse "missing --shared-dir (or -o source=)" --fd=5 -o xattr
refuse "give exactly one of --socket-path and --fd" --shared-dir="$T/share"
refuse "unknown --inode-file-handles 'x'" "${base[@]}" --inode-file-handles=x
refuse "cannot be used with --posix-acl" "${base[@]}" --posix-acl --translate-uid=guest:0:0:1

# start NAME ARGS...: run the daemon in the background (socket T/NAME.sock) until it says it
# is serving (socket, sandbox and seccomp all set up).
start() {
	local name=$1 i
	shift
	"$VUFSD" --socket-path="$T/$name.sock" "$@" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 100); do
		grep -q " serving " "$T/$name.log" && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# libvirt 9's own form, with a comma in the path (libvirt doubles it) and -d/-f.
mkdir "$T/sh,are"
if start lv -o "source=$T/sh,,are,cache=always,sandbox=none,xattr,flock,posix_lock,no_readdirplus" \
	--thread-pool-size=4 -d -f; then
	ok "libvirt's '-o source=...,cache=always,sandbox=none,xattr,flock,posix_lock --thread-pool-size=4' starts"
	grep -q "serving $T/sh,are " "$T/lv.log" && ok "',,' in -o source= is a literal comma" ||
		bad "',,' not unescaped: $(grep serving "$T/lv.log")"
	for w in "deprecated flag '-d'" "deprecated flag '-f'" "deprecated option format '-o'"; do
		grep -q "$w" "$T/lv.log" && ok "warns: $w" || bad "no warning about $w"
	done
	grep -q "debug: options:" "$T/lv.log" && ok "-d: debug log level" || bad "-d did not turn debug logging on"
else
	bad "libvirt's -o form did not start: $(cat "$T/lv.log")"
fi

# Socket mode, pid file and its lock.
if start a --shared-dir="$T/share" --sandbox=none; then
	mode=$(stat -c %a "$T/a.sock")
	[ "$mode" = 600 ] && ok "socket mode 0600" || bad "socket mode $mode"
	pid=$(cat "$T/a.sock.pid" 2>/dev/null)
	[ "$pid" = "${PIDS[-1]}" ] && ok "pid file $T/a.sock.pid holds the daemon's pid" ||
		bad "pid file holds '$pid', daemon is ${PIDS[-1]}"
	out=$("$VUFSD" --socket-path="$T/a.sock" --shared-dir="$T/share" --sandbox=none 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && [[ "$out" == *"in use by another daemon (pid $pid"* ]]; then
		ok "a second daemon on the same socket fails: $(echo "$out" | grep -o 'in use.*')"
	else
		bad "second daemon on the same socket: exit $rc, $out"
	fi
	[ -S "$T/a.sock" ] && ok "the first daemon's socket survives the attempt" || bad "socket gone"
	kill -TERM "${PIDS[-1]}"
	wait "${PIDS[-1]}"
	[ ! -e "$T/a.sock.pid" ] && [ ! -e "$T/a.sock" ] && ok "socket and pid file removed at exit" ||
		bad "left behind: $(ls "$T" | grep a.sock)"
else
	bad "daemon did not start: $(cat "$T/a.log")"
fi

# --socket-group: by name as root (group 'daemon' is in every Debian), else our own gid.
if [ "$(id -u)" = 0 ]; then grp=daemon; else grp=$(id -g); fi
gid=$(getent group "$grp" | cut -d: -f3)
[ -n "$gid" ] || gid=$grp
if start g --shared-dir="$T/share" --sandbox=none --socket-group="$grp"; then
	st=$(stat -c '%a %g' "$T/g.sock")
	[ "$st" = "660 $gid" ] && ok "--socket-group=$grp: socket 0660, group $gid" || bad "--socket-group: socket is '$st'"
else
	bad "--socket-group=$grp did not start: $(cat "$T/g.log")"
fi
refuse "--socket-group: no group 'no-such-group-xyz'" --socket-path="$T/ng.sock" --shared-dir="$T/share" \
	--sandbox=none --socket-group=no-such-group-xyz

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
