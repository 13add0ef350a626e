#!/usr/bin/env python3
# qmp.py SOCKET COMMAND [JSON-ARGS]: one QMP command over QEMU's monitor socket; prints the
# "return" value as JSON (exit 1 on an error reply). Used by guest/migrate/test.sh.
import json
import socket
import sys


def main():
    path, cmd = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    while "return" not in json.loads(f.readline()):
        pass
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    f.write(json.dumps(msg) + "\n")
    f.flush()
    while True:
        try:
            r = json.loads(f.readline())
        except ValueError:
            print("null")  # QEMU quit before answering (quit)
            return 0
        if "return" in r:
            print(json.dumps(r["return"]))
            return 0
        if "error" in r:
            print(json.dumps(r["error"]), file=sys.stderr)
            return 1


sys.exit(main())
