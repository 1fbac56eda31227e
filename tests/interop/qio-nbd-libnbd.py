#!/usr/bin/python3
"""python3-libnbd as a client of qio-nbd.

One mode per run; the calling script (test-qio-nbd-libnbd.sh) starts the
server, plain or with TLS, and names the export with a libnbd URI, or
with "-" and --socket/--export/--tls-* to use libnbd's setters instead.

  rw URI       a read-write export: flags, pread/pwrite, 64 requests in
               flight, zero (plain, NO_HOLE, FAST_ZERO, FUA), trim,
               flush, cache, block status, error codes from the server
               (strict mode off), simple replies, option mode (list,
               info, description), and the whole export at the end
               compared with a model kept here and with the file.
  ro URI       a read-only export: flags, reads, writes refused (EPERM).
  refused URI  connecting must fail; --expect REGEX must match the error.
  compare URI URI2
               base:allocation of two servers exporting the same file
               (merged runs): holes must agree.
  map URI      print the merged base:allocation map.

Every check prints "ok - ..." or "FAIL - ..."; exit 1 if any failed.
"""

import argparse
import errno
import hashlib
import json
import os
import random
import re
import sys

import nbd

MiB = 1 << 20
MAX_REQUEST = 32 * MiB
failures = 0


def ok(what):
    print("ok - " + what)


def fail(what):
    global failures
    failures += 1
    print("FAIL - " + what)


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + detail if detail else ""))
    return cond


def sha(data):
    return hashlib.sha256(data).hexdigest()


def connect(args, meta=True, structured=True, opt=False, export=None):
    """A connected handle (in option mode if opt)."""
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    if meta:
        h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    if not structured:
        h.set_request_structured_replies(False)
    if opt:
        h.set_opt_mode(True)
    if args.uri != "-":
        h.connect_uri(args.uri)
        return h
    if args.tls_certificates or args.tls_psk_file:
        h.set_tls(nbd.TLS_REQUIRE)
    if args.tls_certificates:
        h.set_tls_certificates(args.tls_certificates)
    if args.tls_psk_file:
        h.set_tls_psk_file(args.tls_psk_file)
    if args.tls_username:
        h.set_tls_username(args.tls_username)
    h.set_export_name(export if export is not None else args.export)
    h.connect_unix(args.socket)
    return h


def expect_errno(what, fn, codes):
    """fn() must fail with one of codes (errno values) from the server."""
    names = "/".join(errno.errorcode[c] for c in codes)
    try:
        fn()
    except nbd.Error as e:
        got = errno.errorcode.get(e.errnum, str(e.errnum))
        check(e.errnum in codes, "%s: %s" % (what, names),
              "got %s (%s)" % (got, e.string))
        return
    fail("%s: %s expected, the request succeeded" % (what, names))


def allocation_map(h, size):
    """[(offset, length, flags)] of base:allocation, equal runs merged."""
    runs = []
    offset = 0
    while offset < size:
        got = []

        def extent(ctx, off, entries, err):
            if ctx == nbd.CONTEXT_BASE_ALLOCATION:
                got.extend(entries)
            return 0

        h.block_status(min(size - offset, 1 << 30), offset, extent)
        if not got:
            raise RuntimeError("no base:allocation extents at %d" % offset)
        for i in range(0, len(got), 2):
            length = min(got[i], size - offset)
            flags = got[i + 1]
            if length == 0:
                raise RuntimeError("zero-length extent at %d" % offset)
            if runs and runs[-1][2] == flags:
                runs[-1] = (runs[-1][0], runs[-1][1] + length, flags)
            else:
                runs.append((offset, length, flags))
            offset += length
            if offset >= size:
                break
    return runs


def file_holes(path):
    """Hole ranges of a file by SEEK_DATA/SEEK_HOLE."""
    holes = []
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                data = size
            if data > pos:
                holes.append((pos, data - pos))
            if data >= size:
                break
            pos = os.lseek(fd, data, os.SEEK_HOLE)
    finally:
        os.close(fd)
    return holes


def holes_of(runs):
    holes = []
    for off, length, flags in runs:
        if flags & nbd.STATE_HOLE:
            if holes and holes[-1][0] + holes[-1][1] == off:
                holes[-1] = (holes[-1][0], holes[-1][1] + length)
            else:
                holes.append((off, length))
    return holes


def read_all(h, size):
    out = bytearray()
    for off in range(0, size, 4 * MiB):
        out += h.pread(min(4 * MiB, size - off), off)
    return bytes(out)


def drain(h, cookies, what):
    """Wait for every cookie; each must have succeeded."""
    while h.aio_in_flight() > 0:
        h.poll(-1)
    bad = []
    for c in cookies:
        try:
            h.aio_command_completed(c)
        except nbd.Error as e:
            bad.append(e.string)
    check(not bad, what, "; ".join(bad[:3]))


def is_zero(b):
    return b.count(0) == len(b)


def check_flags(h, args, readonly):
    size = h.get_size()
    check(size == args.size, "get_size is %d" % args.size, str(size))
    check(h.get_protocol() == "newstyle-fixed", "fixed newstyle",
          h.get_protocol())
    check(h.is_read_only() == readonly, "is_read_only %s" % readonly)
    for name in ("can_fua", "can_trim", "can_zero", "can_fast_zero"):
        check(getattr(h, name)() == (not readonly),
              "%s %s" % (name, not readonly))
    check(h.can_flush(), "can_flush")
    check(h.can_cache(), "can_cache")
    check(h.can_df(), "can_df (structured replies)")
    check(h.get_structured_replies_negotiated(), "structured replies")
    check(h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION), "base:allocation")
    check(h.can_multi_conn() == args.multi_conn,
          "can_multi_conn %s" % args.multi_conn)
    check(h.get_tls_negotiated() == args.tls, "TLS negotiated %s" % args.tls)
    check(h.get_block_size(nbd.SIZE_MAXIMUM) == MAX_REQUEST,
          "maximum block size 32 MiB",
          str(h.get_block_size(nbd.SIZE_MAXIMUM)))


def errors_past_end(h, size, readonly):
    """Bad requests reach the server (strict mode off) and get its errno."""
    h.set_strict_mode(0)
    expect_errno("read past the end", lambda: h.pread(1024, size), [
        errno.EINVAL])
    expect_errno("read straddling the end", lambda: h.pread(1024, size - 512),
                 [errno.EINVAL])
    expect_errno("cache past the end", lambda: h.cache(4096, size),
                 [errno.EINVAL])
    expect_errno("block status past the end",
                 lambda: h.block_status(4096, size, lambda *a: 0),
                 [errno.EINVAL])
    expect_errno("read with an unknown flag (0x80)",
                 lambda: h.pread(512, 0, flags=0x80), [errno.EINVAL])
    if readonly:
        expect_errno("write to a read-only export",
                     lambda: h.pwrite(b"x" * 512, 0), [errno.EPERM])
        expect_errno("FUA write to a read-only export",
                     lambda: h.pwrite(b"x" * 512, 0, nbd.CMD_FLAG_FUA),
                     [errno.EPERM])
        expect_errno("zero on a read-only export",
                     lambda: h.zero(4096, 0), [errno.EPERM])
        expect_errno("trim on a read-only export",
                     lambda: h.trim(4096, 0), [errno.EPERM])
    else:
        expect_errno("write past the end",
                     lambda: h.pwrite(b"x" * 1024, size), [errno.ENOSPC])
        expect_errno("write straddling the end",
                     lambda: h.pwrite(b"x" * 1024, size - 512),
                     [errno.ENOSPC])
        expect_errno("zero past the end", lambda: h.zero(4096, size),
                     [errno.ENOSPC, errno.EINVAL])
        expect_errno("trim past the end", lambda: h.trim(4096, size),
                     [errno.EINVAL])
    try:
        check(len(h.pread(512, 0)) == 512,
              "the connection still serves after the errors")
    except nbd.Error as e:
        fail("read after the errors: " + e.string)
    h.set_strict_mode(nbd.STRICT_MASK)


def mode_rw(args):
    size = args.size
    rng = random.Random(args.seed)
    model = bytearray(size)
    if args.file:
        with open(args.file, "rb") as f:
            model[:] = f.read()
    h = connect(args)
    check_flags(h, args, False)

    # pread/pwrite at an unaligned offset, checksum compared.
    data = rng.randbytes(MiB)
    h.pwrite(data, MiB + 123)
    model[MiB + 123:2 * MiB + 123] = data
    check(sha(h.pread(MiB, MiB + 123)) == sha(data),
          "pwrite 1 MiB at an unaligned offset reads back (sha256)")

    # 64 writes of random sizes in flight, then 64 reads in flight.
    slot = size // 64
    spans = []
    cookies = []
    for i in range(64):
        length = rng.randrange(1, slot // 2)
        off = i * slot + rng.randrange(0, slot - length)
        buf = rng.randbytes(length)
        spans.append((off, length))
        model[off:off + length] = buf
        cookies.append(h.aio_pwrite(nbd.Buffer.from_bytearray(buf), off))
    drain(h, cookies, "64 aio_pwrite of random sizes in flight")
    bufs = [nbd.Buffer(length) for off, length in spans]
    cookies = [h.aio_pread(b, off) for b, (off, length) in zip(bufs, spans)]
    drain(h, cookies, "64 aio_pread in flight")
    bad = [off for b, (off, length) in zip(bufs, spans)
           if bytes(b.to_bytearray()) != bytes(model[off:off + length])]
    check(not bad, "the 64 aio reads return what the aio writes wrote",
          "first bad offset %s" % bad[:1])

    # Reads and writes mixed in flight: even slots rewritten, odd read.
    cookies = []
    reads = []
    for i, (off, length) in enumerate(spans):
        if i % 2 == 0:
            buf = rng.randbytes(length)
            model[off:off + length] = buf
            flags = nbd.CMD_FLAG_FUA if i % 4 == 0 else 0
            cookies.append(h.aio_pwrite(nbd.Buffer.from_bytearray(buf), off,
                                        flags=flags))
        else:
            b = nbd.Buffer(length)
            reads.append((b, off, length))
            cookies.append(h.aio_pread(b, off))
    drain(h, cookies, "32 writes (some FUA) and 32 reads mixed in flight")
    bad = [off for b, off, length in reads
           if bytes(b.to_bytearray()) != bytes(model[off:off + length])]
    check(not bad, "reads in flight with writes to other ranges are intact",
          "first bad offset %s" % bad[:1])

    # FUA write, flush, cache.
    data = rng.randbytes(65536)
    h.pwrite(data, 3 * MiB, nbd.CMD_FLAG_FUA)
    model[3 * MiB:3 * MiB + 65536] = data
    check(h.pread(65536, 3 * MiB) == data, "FUA write reads back")
    h.flush()
    ok("flush")
    h.cache(MiB, 0)
    ok("cache")

    # Zeroes, each variant over data written first.
    variants = [("zero", 0), ("zero NO_HOLE", nbd.CMD_FLAG_NO_HOLE),
                ("zero FUA", nbd.CMD_FLAG_FUA)]
    for k, (what, flags) in enumerate(variants):
        off = 4 * MiB + k * MiB
        h.pwrite(rng.randbytes(MiB), off)
        h.zero(MiB, off, flags)
        model[off:off + MiB] = bytes(MiB)
        check(is_zero(h.pread(MiB, off)), what + " reads back as zeroes")
    off = 7 * MiB
    h.pwrite(rng.randbytes(MiB), off)
    try:
        h.zero(MiB, off, nbd.CMD_FLAG_FAST_ZERO)
        model[off:off + MiB] = bytes(MiB)
        check(is_zero(h.pread(MiB, off)),
              "zero FAST_ZERO succeeded and reads back as zeroes")
    except nbd.Error as e:
        check(e.errnum == errno.ENOTSUP,
              "zero FAST_ZERO refused with ENOTSUP (allowed)", e.string)
        model[off:off + MiB] = h.pread(MiB, off)
    holes = [] if not args.discard else [(4 * MiB, MiB)]

    # Trim: ignored by default, a punched hole with --discard=unmap.
    off = 8 * MiB
    data = rng.randbytes(MiB)
    h.pwrite(data, off)
    model[off:off + MiB] = data
    h.trim(MiB, off)
    after = h.pread(MiB, off)
    if args.discard:
        check(is_zero(after), "trim with --discard=unmap reads as zeroes")
        model[off:off + MiB] = bytes(MiB)
        holes.append((off, MiB))
    else:
        check(after == data, "trim with --discard=ignore leaves the data")

    # Block status: the server's map is the file's (SEEK_HOLE) map.
    runs = allocation_map(h, size)
    check(sum(r[1] for r in runs) == size, "block status covers the export")
    for hoff, hlen in holes:
        check(any(o <= hoff and hoff + hlen <= o + n and f & nbd.STATE_HOLE
                  for o, n, f in runs),
              "block status shows the punched hole at %d" % hoff,
              json.dumps(runs))
    data_at = spans[0][0]
    check(any(o <= data_at < o + n and not f & nbd.STATE_HOLE
              for o, n, f in runs), "block status shows written data")
    if args.file:
        h.flush()
        check(holes_of(runs) == file_holes(args.file),
              "block status holes equal the file's SEEK_HOLE map",
              "%s vs %s" % (holes_of(runs), file_holes(args.file)))
    got = []
    h.block_status(size, 0, lambda c, o, e, err: got.extend(e) or 0,
                   nbd.CMD_FLAG_REQ_ONE)
    check(len(got) == 2 and got[0] <= size,
          "block status REQ_ONE returns one extent", str(got))

    errors_past_end(h, size, False)
    if args.file:
        check(os.path.getsize(args.file) == size,
              "writes past the end did not grow the file",
              str(os.path.getsize(args.file)))

    # The whole export, then the file behind it, against the model.
    h.flush()
    want = sha(bytes(model))
    check(sha(read_all(h, size)) == want, "whole export equals the model")
    if args.file:
        with open(args.file, "rb") as f:
            check(sha(f.read()) == want, "the file equals the model")
    h.shutdown()

    # A block status request without a negotiated context: EINVAL.
    h = connect(args, meta=False)
    h.set_strict_mode(0)
    expect_errno("block status without SET_META_CONTEXT",
                 lambda: h.block_status(4096, 0, lambda *a: 0),
                 [errno.EINVAL])
    h.shutdown()

    simple_replies(args, model)
    option_mode(args)


def simple_replies(args, model):
    h = connect(args, structured=False)
    check(not h.get_structured_replies_negotiated(),
          "simple replies when structured replies are not requested")
    check(not h.can_df(), "no DF without structured replies")
    check(h.pread(MiB, MiB) == bytes(model[MiB:2 * MiB]),
          "simple replies: pread matches")
    h.set_strict_mode(0)
    expect_errno("simple replies: read past the end",
                 lambda: h.pread(512, args.size), [errno.EINVAL])
    check(h.pread(512, 0) == bytes(model[:512]),
          "simple replies: the connection survives the error")
    h.shutdown()


def option_mode(args):
    h = connect(args, opt=True)
    seen = []
    n = h.opt_list(lambda name, desc: seen.append((name, desc)) or 0)
    check(n >= 1 and (args.export, args.desc or "") in seen,
          "opt_list lists %r with its description" % args.export, str(seen))
    h.set_export_name("no-such-export")
    try:
        h.opt_info()
        fail("opt_info for an unknown export succeeded")
    except nbd.Error as e:
        ok("opt_info for an unknown export fails: " + e.string)
    h.set_export_name(args.export)
    h.set_full_info(True)
    h.opt_info()
    check(h.get_size() == args.size, "opt_info gives the size")
    if args.desc:
        check(h.get_export_description() == args.desc,
              "opt_info gives the description (-D)")
    h.opt_go()
    check(len(h.pread(4096, 0)) == 4096, "opt_go then pread")
    h.shutdown()


def mode_ro(args):
    with open(args.file, "rb") as f:
        before = f.read()
    h = connect(args)
    check_flags(h, args, True)
    check(sha(read_all(h, args.size)) == sha(before),
          "read-only export reads as the file (sha256)")
    bufs = [(nbd.Buffer(65536), off) for off in
            range(0, min(args.size, 64 * 65536), 65536)]
    cookies = [h.aio_pread(b, off) for b, off in bufs]
    drain(h, cookies, "64 aio_pread in flight on a read-only export")
    check(all(bytes(b.to_bytearray()) == before[off:off + 65536]
              for b, off in bufs), "the aio reads match the file")
    h.cache(4096, 0)
    h.flush()
    ok("cache and flush on a read-only export")
    check(holes_of(allocation_map(h, args.size)) == file_holes(args.file),
          "block status holes equal the file's SEEK_HOLE map")
    errors_past_end(h, args.size, True)
    h.shutdown()
    with open(args.file, "rb") as f:
        check(f.read() == before, "the read-only export's file is unchanged")


def mode_refused(args):
    try:
        h = connect(args, opt=args.list)
        if args.list:
            names = []
            h.opt_list(lambda name, desc: names.append(name) or 0)
            fail("exports listed: %s" % names)
        else:
            fail("connected (TLS %s)" % h.get_tls_negotiated())
    except nbd.Error as e:
        check(re.search(args.expect, e.string, re.I) is not None,
              "refused: %s" % e.string, "expected /%s/" % args.expect)


def mode_compare(args):
    ha = connect(args)
    a = allocation_map(ha, args.size)
    args.uri = args.uri2
    hb = connect(args)
    b = allocation_map(hb, args.size)
    print("# qio-nbd:  " + json.dumps(a))
    print("# qemu-nbd: " + json.dumps(b))
    for name, runs in (("qio-nbd", a), ("qemu-nbd", b)):
        check(sum(n for o, n, f in runs) == args.size,
              "%s's map covers the export" % name)
        check(all(f in (0, nbd.STATE_ZERO,
                        nbd.STATE_HOLE | nbd.STATE_ZERO) for o, n, f in runs),
              "%s: every hole also reads as zeroes (HOLE|ZERO)" % name)
    check(holes_of(a) == holes_of(b), "both servers report the same holes",
          "qio-nbd %s, qemu-nbd %s" % (holes_of(a), holes_of(b)))
    if args.file:
        check(holes_of(a) == file_holes(args.file),
              "the holes are the file's SEEK_HOLE map")
    # With equal holes the data runs are equal too; they may still differ
    # in STATE_ZERO, which a server may set on allocated zeroes it knows
    # about.  Say where, and by whom.
    if a == b:
        ok("the maps are identical, flags included")
    else:
        for name, runs in (("qio-nbd", a), ("qemu-nbd", b)):
            zd = [(o, n) for o, n, f in runs if f == nbd.STATE_ZERO]
            if zd:
                print("# %s marks allocated zeroes STATE_ZERO: %s"
                      % (name, zd))
    da = read_all(ha, args.size)
    check(da == read_all(hb, args.size), "both servers read the same bytes")
    if args.file:
        with open(args.file, "rb") as f:
            check(da == f.read(), "... which are the file's")
    ha.shutdown()
    hb.shutdown()


def mode_map(args):
    print(json.dumps(allocation_map(connect(args), args.size)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rw", "ro", "refused", "compare", "map"])
    p.add_argument("uri")
    p.add_argument("uri2", nargs="?")
    p.add_argument("--size", type=int, default=16 * MiB)
    p.add_argument("--file", help="the exported file, for cross-checks")
    p.add_argument("--export", default="")
    p.add_argument("--desc")
    p.add_argument("--multi-conn", type=int, default=0)
    p.add_argument("--tls", type=int, default=0)
    p.add_argument("--discard", action="store_true",
                   help="the server runs with --discard=unmap")
    p.add_argument("--expect", default=".")
    p.add_argument("--list", action="store_true",
                   help="refused: try to list the exports in option mode")
    p.add_argument("--socket")
    p.add_argument("--tls-certificates")
    p.add_argument("--tls-psk-file")
    p.add_argument("--tls-username")
    p.add_argument("--seed", type=int, default=4)
    args = p.parse_args()
    args.multi_conn = bool(args.multi_conn)
    args.tls = bool(args.tls)
    try:
        globals()["mode_" + args.mode](args)
    except nbd.Error as e:
        fail("unexpected libnbd error: %s" % e.string)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
