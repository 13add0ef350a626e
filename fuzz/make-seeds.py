#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets to fuzz/corpus/<target>/.

Each seed is a small valid input in the target's input format (see the
comment at the top of each fuzz_*.c). Deterministic: rerunning rewrites the
same files. Run from anywhere: fuzz/make-seeds.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


# ---------------------------------------------------------------- vq_chain
VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT = 1, 2, 4
A_GPA, A_SIZE = 0x10000, 0x10000
B_GPA = A_GPA + A_SIZE


def desc(addr, length, flags=0, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)


def vq_input(num, descs, heads, flags=0, base=0, extra=None, used_idx=0, used_event=0):
    """descs: {index: bytes}; heads: avail ring entries; extra: {offset in A: bytes}."""
    log2 = num.bit_length() - 1
    assert 1 << log2 == num and log2 <= 7
    flags |= log2 << 2
    avail_off = 16 * num
    used_off = (avail_off + 4 + 2 * num + 2 + 3) & ~3
    a = bytearray(used_off + 4 + 8 * num + 2)
    for i, d in descs.items():
        a[16 * i:16 * i + 16] = d
    ring = [0] * num
    for i, h in enumerate(heads):
        ring[(base + i) % num] = h
    a[avail_off:avail_off + 4 + 2 * num + 2] = struct.pack(
        '<HH%dHH' % num, 0, (base + len(heads)) & 0xffff, *ring, used_event)
    a[used_off:used_off + 4] = struct.pack('<HH', 0, used_idx)
    for off, b in (extra or {}).items():
        if len(a) < off + len(b):
            a.extend(bytes(off + len(b) - len(a)))
        a[off:off + len(b)] = b
    return struct.pack('<BH', flags, base) + bytes(a)


def vq_seeds():
    t = 'fuzz_vq_chain'
    buf = A_GPA + 0x800
    # A readable + writable chain.
    write(t, 'direct', vq_input(4, {0: desc(buf, 32, VRING_DESC_F_NEXT, 1),
                                    1: desc(buf + 0x100, 64, VRING_DESC_F_WRITE)}, [0]))
    # Two chains, event idx, a zero-length descriptor in the middle.
    write(t, 'event-idx', vq_input(8, {0: desc(buf, 16, VRING_DESC_F_NEXT, 3),
                                       3: desc(0, 0, VRING_DESC_F_NEXT, 5),
                                       5: desc(buf + 0x40, 8, VRING_DESC_F_WRITE),
                                       6: desc(buf + 0x80, 100)},
                                   [0, 6], flags=1, base=0xfffe, used_idx=0xfffe))
    # An indirect table (3 entries) after one direct descriptor.
    table = desc(buf, 8, VRING_DESC_F_NEXT, 1) + desc(buf + 0x10, 8, VRING_DESC_F_NEXT, 2) + \
        desc(buf + 0x20, 256, VRING_DESC_F_WRITE)
    write(t, 'indirect', vq_input(4, {1: desc(buf + 0x300, 4, VRING_DESC_F_NEXT, 2),
                                      2: desc(A_GPA + 0x400, 48, VRING_DESC_F_INDIRECT)},
                                  [1], flags=2, extra={0x400: table}))
    # A buffer across the boundary of regions A and B.
    write(t, 'cross-region', vq_input(2, {0: desc(B_GPA - 16, 64, VRING_DESC_F_WRITE)}, [0]))
    # Finished with vq_complete_chain.
    write(t, 'complete', vq_input(4, {0: desc(buf, 8, VRING_DESC_F_NEXT, 1),
                                      1: desc(buf + 0x100, 32, VRING_DESC_F_WRITE)},
                                  [0], flags=0x20 | 3))
    # Malformed: a loop.
    write(t, 'loop', vq_input(4, {0: desc(buf, 8, VRING_DESC_F_NEXT, 1),
                                  1: desc(buf, 8, VRING_DESC_F_NEXT, 0)}, [0]))


# ---------------------------------------------------------------- vu_msg
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
SET_BACKEND_REQ_FD, RESET_DEVICE, GET_MAX_MEM_SLOTS = 21, 34, 36
ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = 37, 38, 39, 40
POOL_MEM0, POOL_MEM1, POOL_EV0, POOL_EV1, POOL_SOCK = range(5)
FEATURES = (1 << 32) | (1 << 28) | (1 << 29) | (1 << 30)
PROTOCOL_FEATURES = (1 << 0) | (1 << 3) | (1 << 5) | (1 << 10) | (1 << 15) | (1 << 16)
PREFIX_QVA = 0x100000000
NOFD = 1 << 8


def msg(req, payload=b'', fds=()):
    ctl = len(fds)
    return struct.pack('<BBIH', ctl, req, 1, len(payload)) + payload + bytes(fds)


def u64(v):
    return struct.pack('<Q', v)


def state(index, num):
    return struct.pack('<II', index, num)


def vaddr(index, desc_a, avail_a, used_a):
    return struct.pack('<IIQQQQ', index, 0, desc_a, used_a, avail_a, 0)


def region(gpa, size, qva, off):
    return struct.pack('<QQQQ', gpa, size, qva, off)


def mem_table(*regions):
    return struct.pack('<II', len(regions), 0) + b''.join(regions)


def guest_write(offset, data, which=0):
    return struct.pack('<BIB', 0x80, (which << 31) | offset, len(data)) + data


def kick(which=0):
    return struct.pack('<BB', 0x81, which)


YIELD = b'\x82'
WAIT = b'\x83'


def ring_request(q=0):
    """One chain (16 readable, 64 writable bytes) on prefix queue q, then a kick."""
    base = q * 0x4000
    d = desc(0x8000 + base, 16, VRING_DESC_F_NEXT, 1) + desc(0x9000 + base, 64, VRING_DESC_F_WRITE)
    return (guest_write(base, d) + guest_write(0x8000 + base, b'request payload!') +
            guest_write(base + 0x1000, struct.pack('<HHH', 0, 1, 0)) + kick() + WAIT)


def vu_seeds():
    t = 'fuzz_vu_msg'
    # mode bit 0: the harness's valid prefix (queues 0 and 1 started); 2 queues.
    write(t, 'prefix-request', bytes([1 | (1 << 1)]) + ring_request() +
          msg(GET_VRING_BASE, state(0, 0)))
    # The same start-up spelled out, then a reset.
    s = bytes([0 | (1 << 1)])
    s += msg(GET_FEATURES) + msg(SET_FEATURES, u64(FEATURES))
    s += msg(GET_PROTOCOL_FEATURES) + msg(SET_PROTOCOL_FEATURES, u64(PROTOCOL_FEATURES))
    s += msg(SET_OWNER) + msg(GET_QUEUE_NUM) + msg(GET_MAX_MEM_SLOTS)
    s += msg(SET_MEM_TABLE, mem_table(region(0, 1 << 20, PREFIX_QVA, 0)), [POOL_MEM0])
    s += msg(SET_VRING_NUM, state(0, 64))
    s += msg(SET_VRING_ADDR, vaddr(0, PREFIX_QVA, PREFIX_QVA + 0x1000, PREFIX_QVA + 0x2000))
    s += msg(SET_VRING_BASE, state(0, 0))
    s += msg(SET_VRING_CALL, u64(0), [POOL_EV1]) + msg(SET_VRING_ERR, u64(0), [POOL_EV1])
    s += msg(SET_VRING_KICK, u64(0), [POOL_EV0])
    s += ring_request() + msg(SET_VRING_ENABLE, state(0, 0)) + msg(SET_VRING_ENABLE, state(0, 1))
    s += msg(GET_VRING_BASE, state(0, 0)) + msg(SET_STATUS, u64(15)) + msg(GET_STATUS)
    s += msg(RESET_DEVICE)
    write(t, 'startup', s)
    # Memory slots added and removed one by one, backend channel.
    s = bytes([1 << 1]) + msg(SET_PROTOCOL_FEATURES, u64(PROTOCOL_FEATURES))
    s += msg(ADD_MEM_REG, u64(0) + region(0, 1 << 19, PREFIX_QVA, 0), [POOL_MEM0])
    s += msg(ADD_MEM_REG, u64(0) + region(1 << 19, 1 << 19, PREFIX_QVA + (1 << 19), 4096),
             [POOL_MEM1])
    s += msg(REM_MEM_REG, u64(0) + region(0, 1 << 19, PREFIX_QVA, 0), [POOL_MEM0])
    s += msg(SET_BACKEND_REQ_FD, b'', [POOL_SOCK]) + msg(RESET_OWNER)
    write(t, 'mem-slots', s)
    # Poll mode (kick without fd) on a prefix queue; a request that fails in the handler.
    s = bytes([1 | (1 << 1)]) + msg(SET_VRING_KICK, u64(1 | NOFD))
    d = desc(0x8000 + 0x4000, 4, 0, 0)
    s += guest_write(0x4000, d) + guest_write(0x8000 + 0x4000, b'\xee\xee\xee\xee')
    s += guest_write(0x5000, struct.pack('<HHH', 0, 1, 0)) + YIELD + WAIT
    write(t, 'poll-mode-fail', s)
    # Malformed: wrong fd counts and sizes, a bad ring size, an unknown request.
    s = bytes([1 << 1])
    s += msg(GET_FEATURES, b'', [POOL_EV0]) + msg(SET_VRING_CALL, u64(0), [POOL_EV0, POOL_EV1])
    s += msg(SET_VRING_NUM, state(0, 3)) + msg(SET_MEM_TABLE, mem_table(region(0, 4096, 0, 0)))
    s += msg(99, b'', [POOL_SOCK]) + msg(SET_FEATURES, b'\0\0\0\0')
    write(t, 'malformed', s)
    # Config space and DAX window (the harness sets a tag and a 1 GiB window): GET_CONFIG of
    # the whole struct, a window inside it, one past 256 bytes; GET_SHMEM_CONFIG; many slots.
    GET_CONFIG, GET_SHMEM_CONFIG = 24, 44
    s = bytes([1 << 1]) + msg(GET_PROTOCOL_FEATURES)
    s += msg(SET_PROTOCOL_FEATURES, u64(PROTOCOL_FEATURES | (1 << 9) | (1 << 22)))
    s += msg(GET_CONFIG, struct.pack('<III', 0, 40, 0) + bytes(40))
    s += msg(GET_CONFIG, struct.pack('<III', 36, 4, 0) + bytes(4))
    s += msg(GET_CONFIG, struct.pack('<III', 250, 8, 0) + bytes(8))
    s += msg(GET_SHMEM_CONFIG)
    for i in range(40):
        s += msg(ADD_MEM_REG, u64(0) + region(i << 12, 4096, PREFIX_QVA + (i << 12), i << 12),
                 [POOL_MEM0])
    s += msg(REM_MEM_REG, u64(0) + region(5 << 12, 4096, PREFIX_QVA + (5 << 12), 5 << 12))
    write(t, 'config-shmem', s)


# ---------------------------------------------------------------- fuse
(LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK,
 OPEN, READ, WRITE, STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR, FLUSH,
 INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, GETLK, SETLK, SETLKW, ACCESS, CREATE, INTERRUPT,
 BMAP, DESTROY) = (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24,
                   25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38)
BATCH_FORGET, FALLOCATE, READDIRPLUS, RENAME2, LSEEK, COPY_FILE_RANGE, SYNCFS, TMPFILE = \
    42, 43, 44, 45, 46, 47, 50, 51
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY = 0, 1, 2, 0o100, 0o1000, 0o200000
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
ROOT = 1
FATTR_MODE, FATTR_SIZE, FATTR_FH, FATTR_ATIME_NOW, FATTR_MTIME_NOW = 1, 8, 64, 128, 256
CTL_RAW, CTL_UIDGID, CTL_NODE, CTL_FH = 1, 2, 4, 8


def nodeid(k):
    """The k-th inode a fresh session hands out (idtable index k + 2, generation 1)."""
    return (1 << 32) | (k + 2)


def fh(k):
    """The k-th open handle of a fresh session (index k, generation 1)."""
    return (1 << 32) | k


def fuse(opcode, node, body=b'', out=4096, ctl=0, uid=0, cuts_in=(), cuts_out=(), unique=None,
         hdr_len=None):
    hdr = struct.pack('<IIQQIIIHH', hdr_len or 40 + len(body), opcode, unique or opcode, node, uid,
                      uid, 1234, 0, 0)
    req = hdr + body
    return (struct.pack('<BH', ctl, len(req)) + req + struct.pack('<H', out) +
            struct.pack('<B', len(cuts_in)) + b''.join(struct.pack('<H', c) for c in cuts_in) +
            struct.pack('<B', len(cuts_out)) + b''.join(struct.pack('<H', c) for c in cuts_out))


def name(s):
    return s.encode() + b'\0'


def open_in(flags):
    return struct.pack('<II', flags, 0)


def create_in(flags, mode=0o644):
    return struct.pack('<IIII', flags, mode, 0o022, 0)


def rw_in(h, off, size, flags=0):
    return struct.pack('<QQIIQII', h, off, size, flags, 0, 0, 0)


def release_in(h):
    return struct.pack('<QIIQ', h, 0, 0, 0)


def lk_in(h, owner, start, end, typ, flock=False):
    return struct.pack('<QQQQIIII', h, owner, start, end, typ, 0, 1 if flock else 0, 0)


def fuse_seeds():
    t = 'fuzz_fuse'
    # Directory and file life cycle, READ/WRITE cut into pieces.
    s = fuse(MKDIR, ROOT, struct.pack('<II', 0o755, 0o022) + name('d'))
    s += fuse(LOOKUP, ROOT, name('d'))
    s += fuse(CREATE, nodeid(0), create_in(O_RDWR | O_CREAT) + name('f'))
    s += fuse(WRITE, nodeid(1), rw_in(fh(0), 0, 12) + b'hello world\n', cuts_in=(7, 60, 85))
    s += fuse(READ, nodeid(1), rw_in(fh(0), 0, 100), out=200, cuts_out=(3, 20, 21))
    s += fuse(GETATTR, nodeid(1), struct.pack('<IIQ', 0, 0, 0))
    s += fuse(SETATTR, nodeid(1), struct.pack('<IIQQQQQQIIIIIIII', FATTR_SIZE | FATTR_FH, 0,
                                               fh(0), 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    s += fuse(OPENDIR, nodeid(0), open_in(O_RDONLY | O_DIRECTORY))
    s += fuse(READDIRPLUS, nodeid(0), rw_in(fh(1), 0, 4096), out=4096)
    s += fuse(READDIR, nodeid(0), rw_in(fh(1), 0, 4096), out=4096)
    s += fuse(RELEASEDIR, nodeid(0), release_in(fh(1)))
    s += fuse(RENAME, nodeid(0), u64(ROOT) + name('f') + name('g'))
    s += fuse(RELEASE, nodeid(1), release_in(fh(0)))
    s += fuse(UNLINK, ROOT, name('g'))
    s += fuse(RMDIR, ROOT, name('d'))
    s += fuse(FORGET, nodeid(0), u64(2), out=0)
    write(t, 'lifecycle', s)
    # Links, special files, attributes, as a guest user too.
    s = fuse(SYMLINK, ROOT, name('s') + name('target/elsewhere'))
    s += fuse(READLINK, nodeid(0), out=256)
    s += fuse(MKNOD, ROOT, struct.pack('<IIII', 0o010644, 0, 0o022, 0) + name('fifo'))
    s += fuse(OPEN, nodeid(1), open_in(O_RDONLY))
    s += fuse(CREATE, ROOT, create_in(O_WRONLY | O_CREAT) + name('h'), ctl=CTL_UIDGID, uid=1000)
    s += fuse(LINK, ROOT, u64(nodeid(2)) + name('h2'))
    s += fuse(ACCESS, nodeid(2), struct.pack('<II', 4, 0), ctl=CTL_UIDGID, uid=1000)
    s += fuse(STATFS, ROOT)
    s += fuse(SETATTR, nodeid(2), struct.pack('<IIQQQQQQIIIIIIII', FATTR_MODE | FATTR_MTIME_NOW,
                                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0o4755, 0, 0, 0, 0))
    s += fuse(RENAME2, ROOT, struct.pack('<QII', ROOT, 2, 0) + name('h') + name('h2'))
    s += fuse(LOOKUP, ROOT, name('..'))
    s += fuse(BATCH_FORGET, 0, struct.pack('<II', 2, 0) + struct.pack('<QQ', nodeid(0), 1) +
              struct.pack('<QQ', nodeid(1), 1), out=0)
    write(t, 'links', s)
    # Extended attributes on the root.
    s = fuse(SETXATTR, ROOT, struct.pack('<II', 5, 0) + name('user.test') + b'value')
    s += fuse(GETXATTR, ROOT, struct.pack('<II', 0, 0) + name('user.test'))
    s += fuse(GETXATTR, ROOT, struct.pack('<II', 64, 0) + name('user.test'))
    s += fuse(LISTXATTR, ROOT, struct.pack('<II', 256, 0), out=512)
    s += fuse(REMOVEXATTR, ROOT, name('user.test'))
    write(t, 'xattr', s)
    # Locks: a write lock, a conflicting SETLKW that has to wait, the unlock that frees it.
    s = fuse(CREATE, ROOT, create_in(O_RDWR | O_CREAT) + name('l'))
    s += fuse(OPEN, nodeid(0), open_in(O_RDWR))
    s += fuse(SETLK, nodeid(0), lk_in(fh(0), 1, 0, 99, F_WRLCK))
    s += fuse(GETLK, nodeid(0), lk_in(fh(1), 2, 0, 99, F_WRLCK))
    s += fuse(SETLKW, nodeid(0), lk_in(fh(1), 2, 0, 99, F_WRLCK), unique=777)
    s += fuse(SETLK, nodeid(0), lk_in(fh(0), 1, 0, 99, F_UNLCK))
    s += fuse(SETLK, nodeid(0), lk_in(fh(0), 1, 0, 0, F_WRLCK, flock=True))
    s += fuse(SETLKW, nodeid(0), lk_in(fh(1), 2, 0, 0, F_WRLCK, flock=True), unique=778)
    s += fuse(INTERRUPT, 0, u64(778), out=0)
    s += fuse(FLUSH, nodeid(0), struct.pack('<QIIQ', fh(0), 0, 0, 1))
    s += fuse(FSYNC, nodeid(0), struct.pack('<QII', fh(0), 1, 0))
    write(t, 'locks', s)
    # Newer requests: fallocate, lseek, copy_file_range, syncfs, tmpfile.
    s = fuse(CREATE, ROOT, create_in(O_RDWR | O_CREAT) + name('a'))
    s += fuse(FALLOCATE, nodeid(0), struct.pack('<QQQII', fh(0), 0, 8192, 0, 0))
    s += fuse(LSEEK, nodeid(0), struct.pack('<QQII', fh(0), 0, 3, 0))
    s += fuse(TMPFILE, ROOT, create_in(O_RDWR))
    s += fuse(COPY_FILE_RANGE, nodeid(0), struct.pack('<QQQQQQQ', fh(0), 0, nodeid(1), fh(1), 10,
                                                       100, 0))
    s += fuse(SYNCFS, ROOT, u64(0))
    s += fuse(DESTROY, 0)
    write(t, 'newer-ops', s)
    # Malformed: header len disagreeing (raw), a name with '/', a tiny reply buffer.
    s = fuse(GETATTR, ROOT, struct.pack('<IIQ', 0, 0, 0), ctl=CTL_RAW, hdr_len=999)
    s += fuse(LOOKUP, ROOT, name('a/b'))
    s += fuse(GETATTR, ROOT, struct.pack('<IIQ', 0, 0, 0), out=20)
    s += fuse(READ, ROOT, rw_in(fh(0), 0, 10), out=8)
    s += fuse(12345, ROOT, b'\0' * 8)
    write(t, 'malformed', s)
    # DAX (the harness has a 64 MiB window): map a file of 3000 bytes (a tail copy),
    # append under the mapping, truncate, remap writable, unmap twice, map outside the window.
    SETUPMAPPING, REMOVEMAPPING, RW = 48, 49, 3
    MB2 = 2 << 20
    s = fuse(CREATE, ROOT, create_in(O_RDWR | O_CREAT) + name('dax'))
    s += fuse(WRITE, nodeid(0), rw_in(fh(0), 0, 3000) + b'd' * 3000)
    s += fuse(SETUPMAPPING, nodeid(0), struct.pack('<QQQQQ', 2**64 - 1, 0, MB2, 2, 0))
    s += fuse(WRITE, nodeid(0), rw_in(fh(0), 3000, 3000) + b'e' * 3000)
    s += fuse(GETATTR, nodeid(0), struct.pack('<IIQ', 0, 0, 0))
    s += fuse(SETATTR, nodeid(0), struct.pack('<IIQQQQQQIIIIIIII', FATTR_SIZE, 0, 0, 100, 0, 0,
                                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    s += fuse(SETUPMAPPING, nodeid(0), struct.pack('<QQQQQ', 2**64 - 1, 0, MB2, RW, 0))
    s += fuse(FLUSH, nodeid(0), struct.pack('<QIIQ', fh(0), 0, 0, 1))
    s += fuse(REMOVEMAPPING, 0, struct.pack('<I', 2) + struct.pack('<QQ', 0, MB2) * 2)
    s += fuse(SETUPMAPPING, nodeid(0), struct.pack('<QQQQQ', 2**64 - 1, 0, MB2, RW, 64 << 20))
    write(t, 'dax', s)


def main():
    vq_seeds()
    vu_seeds()
    fuse_seeds()
    return 0


if __name__ == '__main__':
    sys.exit(main())
