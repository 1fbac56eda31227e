#!/usr/bin/python3
"""Write seed inputs for one fuzz target into a directory.

Usage: gen-seeds.py TARGET OUTDIR

Each seed is a valid (or deliberately borderline) conversation in the
input format of the target, first byte included (see the comment at the
top of each fuzz-*.c); libFuzzer mutates from there, so the seeds only
need to walk each parser's main paths once.  Stdlib only, deterministic.
"""

import hashlib
import os
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQUEST_MAGIC = 0x25609513
EXTENDED_REQUEST_MAGIC = 0x21E41C71
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF
EXTENDED_REPLY_MAGIC = 0x6E8A278C

OPT = dict(EXPORT_NAME=1, ABORT=2, LIST=3, PEEK_EXPORT=4, STARTTLS=5,
           INFO=6, GO=7, STRUCTURED_REPLY=8, LIST_META_CONTEXT=9,
           SET_META_CONTEXT=10, EXTENDED_HEADERS=11)
REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR = 1 << 31
REP_ERR_UNSUP, REP_ERR_POLICY, REP_ERR_INVALID = REP_ERR | 1, REP_ERR | 2, \
    REP_ERR | 3
REP_ERR_TLS_REQD, REP_ERR_UNKNOWN = REP_ERR | 5, REP_ERR | 6
REP_ERR_EXT_HEADER_REQD = REP_ERR | 10
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3
CMD = dict(READ=0, WRITE=1, DISC=2, FLUSH=3, TRIM=4, CACHE=5,
           WRITE_ZEROES=6, BLOCK_STATUS=7)
CMD_FLAG_FUA, CMD_FLAG_NO_HOLE, CMD_FLAG_DF = 1, 2, 4
CMD_FLAG_REQ_ONE, CMD_FLAG_FAST_ZERO, CMD_FLAG_PAYLOAD_LEN = 8, 16, 32
REPLY_FLAG_DONE = 1
REPLY_TYPE_NONE, REPLY_TYPE_OFFSET_DATA, REPLY_TYPE_OFFSET_HOLE = 0, 1, 2
REPLY_TYPE_BLOCK_STATUS, REPLY_TYPE_BLOCK_STATUS_EXT = 5, 6
REPLY_TYPE_ERROR, REPLY_TYPE_ERROR_OFFSET = 0x8001, 0x8002
C_FIXED_NEWSTYLE, C_NO_ZEROES = 1, 2
# Transmission flags: HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM,
# SEND_WRITE_ZEROES, SEND_DF, CAN_MULTI_CONN, SEND_CACHE, SEND_FAST_ZERO.
EFLAGS_ALL = 0x1 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800
EFLAGS_RO = 0x1 | 0x2 | 0x4 | 0x80 | 0x400
META = b"base:allocation"
EXPORT_SIZE = 1024 * 1024


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def name_field(name):
    return u32(len(name)) + name


# ---- Client to server ------------------------------------------------------

def option(opt, payload=b""):
    return u64(IHAVEOPT) + u32(opt) + u32(len(payload)) + payload


def info_payload(name, infos=()):
    return name_field(name) + u16(len(infos)) + b"".join(u16(i) for i in infos)


def meta_payload(name, queries):
    return name_field(name) + u32(len(queries)) + \
        b"".join(name_field(q) for q in queries)


def request(cmd, offset=0, length=0, flags=0, cookie=1, payload=b""):
    return u32(REQUEST_MAGIC) + u16(flags) + u16(CMD[cmd]) + u64(cookie) + \
        u64(offset) + u32(length) + payload


def xrequest(cmd, offset=0, length=0, flags=0, cookie=1, payload=b""):
    """An extended request; a payload sets NBD_CMD_FLAG_PAYLOAD_LEN."""
    if payload:
        flags |= CMD_FLAG_PAYLOAD_LEN
        length = len(payload)
    return u32(EXTENDED_REQUEST_MAGIC) + u16(flags) + u16(CMD[cmd]) + \
        u64(cookie) + u64(offset) + u64(length) + payload


FLAGS = u32(C_FIXED_NEWSTYLE | C_NO_ZEROES)


def server_options_seeds():
    plain, tls = b"\x00", b"\x01"
    infos = (INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE)
    some_requests = request("READ", 0, 4096, cookie=1) + \
        request("DISC", cookie=2)
    yield "go-default", plain + FLAGS + option(OPT["GO"], info_payload(b"")) \
        + some_requests
    yield "list-info-go", plain + FLAGS + option(OPT["LIST"]) + \
        option(OPT["INFO"], info_payload(b"ro", infos)) + \
        option(OPT["GO"], info_payload(b"ro", infos)) + some_requests
    yield "structured-meta-go", plain + FLAGS + \
        option(OPT["STRUCTURED_REPLY"]) + \
        option(OPT["LIST_META_CONTEXT"], meta_payload(b"", [b"base:"])) + \
        option(OPT["LIST_META_CONTEXT"], meta_payload(b"", [])) + \
        option(OPT["SET_META_CONTEXT"], meta_payload(b"zeroes", [META])) + \
        option(OPT["GO"], info_payload(b"zeroes", (INFO_BLOCK_SIZE,))) + \
        request("BLOCK_STATUS", 0, 65536) + request("DISC", cookie=2)
    yield "export-name", plain + FLAGS + option(OPT["EXPORT_NAME"], b"sync") \
        + some_requests
    yield "export-name-zeroes", plain + u32(C_FIXED_NEWSTYLE) + \
        option(OPT["EXPORT_NAME"], b"")
    yield "abort", plain + FLAGS + option(OPT["ABORT"])
    yield "errors", plain + FLAGS + option(99, b"xyz") + \
        option(OPT["STARTTLS"]) + option(OPT["PEEK_EXPORT"]) + \
        option(OPT["EXTENDED_HEADERS"]) + \
        option(OPT["INFO"], info_payload(b"nonexistent")) + \
        option(OPT["LIST"], b"junk") + \
        option(OPT["STRUCTURED_REPLY"], b"x") + \
        option(OPT["SET_META_CONTEXT"], b"\x00\x00") + \
        option(OPT["GO"], u32(100) + b"short") + option(OPT["ABORT"])
    yield "too-long", plain + FLAGS + u64(IHAVEOPT) + u32(OPT["GO"]) + \
        u32(0x10001)
    yield "tls-starttls", tls + FLAGS + option(OPT["STARTTLS"]) + \
        b"\x16\x03\x01\x00\x05hello"
    yield "tls-required", tls + FLAGS + option(OPT["LIST"]) + \
        option(OPT["GO"], info_payload(b"")) + \
        option(OPT["STARTTLS"], b"x") + option(OPT["ABORT"])
    yield "tls-export-name", tls + FLAGS + option(OPT["EXPORT_NAME"], b"")
    # Extended headers: the option's rules, then 32-byte requests.
    yield "extended-go", plain + FLAGS + \
        option(OPT["EXTENDED_HEADERS"], b"x") + \
        option(OPT["STRUCTURED_REPLY"]) + option(OPT["EXTENDED_HEADERS"]) + \
        option(OPT["STRUCTURED_REPLY"]) + \
        option(OPT["SET_META_CONTEXT"], meta_payload(b"", [META])) + \
        option(OPT["GO"], info_payload(b"")) + \
        xrequest("READ", 0, 4096, cookie=1) + \
        xrequest("BLOCK_STATUS", 0, 1 << 33, cookie=2) + \
        xrequest("DISC", cookie=3)
    yield "extended-export-name", plain + FLAGS + \
        option(OPT["EXTENDED_HEADERS"]) + option(OPT["EXPORT_NAME"], b"")
    yield "tls-extended", tls + FLAGS + option(OPT["EXTENDED_HEADERS"]) + \
        option(OPT["ABORT"])


def server_commands_seeds():
    data = bytes(range(256)) * 2
    zeros = bytes(512)
    rw = request("WRITE", 4096, 512, cookie=1, payload=data) + \
        request("WRITE", 8192, 512, CMD_FLAG_FUA, cookie=2, payload=zeros) + \
        request("READ", 4096, 8192, cookie=3) + \
        request("READ", 0, 4096, CMD_FLAG_DF, cookie=4) + \
        request("FLUSH", cookie=5) + \
        request("TRIM", 0, 65536, cookie=6) + \
        request("CACHE", 0, 65536, cookie=7) + \
        request("WRITE_ZEROES", 0, 4096, CMD_FLAG_NO_HOLE, cookie=8) + \
        request("WRITE_ZEROES", 4096, 4096, CMD_FLAG_FAST_ZERO, cookie=9) + \
        request("BLOCK_STATUS", 0, EXPORT_SIZE, cookie=10) + \
        request("BLOCK_STATUS", 0, 65536, CMD_FLAG_REQ_ONE, cookie=11) + \
        request("READ", EXPORT_SIZE - 1, 2, cookie=12) + \
        request("WRITE", EXPORT_SIZE, 1, cookie=13, payload=b"x") + \
        request("DISC", cookie=14)
    for mode in range(16):
        yield "mode%02d-all" % mode, bytes([mode]) + rw
    yield "bad-magic", b"\x04" + u32(0x12345678) + bytes(24)
    yield "bad-flags-write", b"\x00" + request("WRITE", 0, 4, 0x8000,
                                                payload=b"abcd")
    yield "unknown-cmd", b"\x04" + u32(REQUEST_MAGIC) + u16(0) + u16(42) + \
        u64(1) + u64(0) + u32(0) + request("DISC", cookie=2)
    # Extended headers (mode bit 4 with bit 2): 64-bit effect lengths,
    # payload flags where they belong and where they do not.
    big = 1 << 33
    xrw = xrequest("WRITE", 4096, cookie=1, payload=data) + \
        xrequest("WRITE", 8192, 512, cookie=2) + \
        xrequest("FLUSH", cookie=3, payload=b"12345678") + \
        xrequest("READ", 4096, 8192, CMD_FLAG_DF, cookie=4) + \
        xrequest("READ", 0, big, cookie=5) + \
        xrequest("TRIM", 0, big, cookie=6) + \
        xrequest("TRIM", 0, 65536, CMD_FLAG_FUA, cookie=7) + \
        xrequest("CACHE", 0, EXPORT_SIZE, cookie=8) + \
        xrequest("WRITE_ZEROES", (1 << 64) - 512, big, cookie=9) + \
        xrequest("WRITE_ZEROES", 0, 4096, CMD_FLAG_NO_HOLE, cookie=10) + \
        xrequest("BLOCK_STATUS", 0, EXPORT_SIZE, cookie=11) + \
        xrequest("BLOCK_STATUS", 0, big, CMD_FLAG_REQ_ONE, cookie=12) + \
        xrequest("DISC", cookie=13)
    for mode in (0x14, 0x15, 0x16, 0x17):
        yield "mode%02x-extended" % mode, bytes([mode]) + xrw
    yield "extended-then-compact", b"\x14" + \
        request("FLUSH", cookie=1) + bytes(4)
    yield "extended-huge-payload", b"\x14" + u32(EXTENDED_REQUEST_MAGIC) + \
        u16(CMD_FLAG_PAYLOAD_LEN) + u16(CMD["WRITE"]) + u64(1) + u64(0) + \
        u64(1 << 40)


# ---- Server to client -----------------------------------------------------

def greeting(flags=C_FIXED_NEWSTYLE | C_NO_ZEROES):
    return u64(NBDMAGIC) + u64(IHAVEOPT) + u16(flags)


def reply(opt, rtype, payload=b""):
    return u64(REP_MAGIC) + u32(opt) + u32(rtype) + u32(len(payload)) + \
        payload


def go_replies(opt, size, eflags, name=b""):
    return reply(opt, REP_INFO, u16(INFO_EXPORT) + u64(size) + u16(eflags)) \
        + reply(opt, REP_INFO, u16(INFO_NAME) + name) \
        + reply(opt, REP_INFO, u16(INFO_BLOCK_SIZE) + u32(1) + u32(4096) +
                u32(32 << 20)) \
        + reply(opt, REP_ACK)


def simple(cookie, error=0, data=b""):
    return u32(SIMPLE_REPLY_MAGIC) + u32(error) + u64(cookie) + data


def chunk(cookie, ctype, payload=b"", flags=REPLY_FLAG_DONE):
    return u32(STRUCTURED_REPLY_MAGIC) + u16(flags) + u16(ctype) + \
        u64(cookie) + u32(len(payload)) + payload


def xchunk(cookie, offset, ctype, payload=b"", flags=REPLY_FLAG_DONE):
    return u32(EXTENDED_REPLY_MAGIC) + u16(flags) + u16(ctype) + \
        u64(cookie) + u64(offset) + u64(len(payload)) + payload


def client_replies_extended(eflags):
    """The same answers as client_replies() with extended headers."""
    out = b""
    cookie = 1
    # pread 4096 at 0
    out += xchunk(cookie, 0, REPLY_TYPE_OFFSET_DATA, u64(0) + b"A" * 1024, 0)
    out += xchunk(cookie, 0, REPLY_TYPE_OFFSET_HOLE, u64(1024) + u32(3072))
    cookie += 1
    # block status 64 KiB at 0: 64-bit lengths and flags, with a count
    out += xchunk(cookie, 0, REPLY_TYPE_BLOCK_STATUS_EXT,
                  u32(1) + u32(2) + u64(4096) + u64(0) + u64(1 << 33) +
                  u64(3))
    cookie += 1
    # pwrite, pwrite FUA, zeroes, trim, cache, flush: each a chunk
    out += xchunk(cookie, 4096, REPLY_TYPE_NONE)
    cookie += 1
    if eflags & 0x8:
        out += xchunk(cookie, 8192, REPLY_TYPE_ERROR,
                      u32(28) + u16(4) + b"full")
        cookie += 1
    if eflags & 0x40:
        out += xchunk(cookie, 0, REPLY_TYPE_NONE)
        cookie += 1
        if eflags & 0x800:
            out += xchunk(cookie, 0, REPLY_TYPE_ERROR, u32(95) + u16(0))
            cookie += 1
    for flag in (0x20, 0x400, 0x4):
        if eflags & flag:
            out += xchunk(cookie, 0, REPLY_TYPE_NONE)
            cookie += 1
    # pread 1 byte at the end
    out += xchunk(cookie, EXPORT_SIZE - 1, REPLY_TYPE_ERROR_OFFSET,
                  u32(22) + u16(3) + b"eof" + u64(EXPORT_SIZE - 1))
    return out


def client_replies(structured, eflags):
    """Replies to fuzz_requests() in fuzz-nbd-client.c, in its order."""
    out = b""
    cookie = 1
    # pread 4096 at 0
    if structured:
        out += chunk(cookie, REPLY_TYPE_OFFSET_DATA, u64(0) + b"A" * 1024, 0)
        out += chunk(cookie, REPLY_TYPE_OFFSET_HOLE, u64(1024) + u32(3072))
    else:
        out += simple(cookie, data=b"A" * 4096)
    cookie += 1
    # block status 64 KiB at 0: only with the context agreed
    if structured:
        out += chunk(cookie, REPLY_TYPE_BLOCK_STATUS,
                     u32(1) + u32(4096) + u32(0) + u32(61440) + u32(3))
        cookie += 1
    # pwrite, pwrite FUA
    out += simple(cookie)
    cookie += 1
    if eflags & 0x8:
        out += simple(cookie, error=28) if not structured else \
            chunk(cookie, REPLY_TYPE_ERROR, u32(28) + u16(4) + b"full")
        cookie += 1
    if eflags & 0x40:
        out += simple(cookie)
        cookie += 1
        if eflags & 0x800:
            out += simple(cookie, error=95)
            cookie += 1
    if eflags & 0x20:
        out += simple(cookie) if not structured else \
            chunk(cookie, REPLY_TYPE_NONE)
        cookie += 1
    if eflags & 0x400:
        out += simple(cookie)
        cookie += 1
    if eflags & 0x4:
        out += simple(cookie)
        cookie += 1
    # pread 1 byte at the end
    if structured:
        out += chunk(cookie, REPLY_TYPE_ERROR_OFFSET,
                     u32(22) + u16(3) + b"eof" + u64(EXPORT_SIZE - 1))
    else:
        out += simple(cookie, data=b"Z")
    return out


def client_seeds():
    size = EXPORT_SIZE
    for mode in range(8):
        name = b"disk" if mode & 4 else b""
        for structured in (True, False):
            for eflags in (EFLAGS_ALL, EFLAGS_RO):
                out = greeting()
                if structured:
                    out += reply(OPT["STRUCTURED_REPLY"], REP_ACK)
                else:
                    out += reply(OPT["STRUCTURED_REPLY"], REP_ERR_UNSUP,
                                 b"no structured replies here")
                if mode & 3 in (1, 3):
                    out += reply(OPT["LIST"], REP_SERVER, name_field(b"") +
                                 b"default")
                    out += reply(OPT["LIST"], REP_SERVER,
                                 name_field(b"disk"))
                    out += reply(OPT["LIST"], REP_ACK)
                if mode & 3 in (2, 3):
                    out += go_replies(OPT["INFO"], size, eflags, name)
                if mode & 3 != 3:
                    if structured:
                        out += reply(OPT["SET_META_CONTEXT"],
                                     REP_META_CONTEXT, u32(1) + META)
                        out += reply(OPT["SET_META_CONTEXT"], REP_ACK)
                    out += go_replies(OPT["GO"], size, eflags, name)
                    out += client_replies(structured, eflags)
                yield "mode%d-%s-%x" % (mode, "sr" if structured else
                                        "simple", eflags), \
                    bytes([mode]) + out
    # Refusals and broken servers.
    yield "oldstyle", b"\x00" + u64(NBDMAGIC) + u64(0x00420281861253) + \
        bytes(136)
    yield "not-fixed", b"\x00" + greeting(0)
    yield "tls-refused", b"\x08" + greeting() + \
        reply(OPT["STARTTLS"], REP_ERR_POLICY, b"no TLS")
    yield "tls-ack", b"\x08" + greeting() + reply(OPT["STARTTLS"], REP_ACK) + \
        b"\x16\x03\x03\x00\x02\x02\x28"
    yield "tls-required", b"\x00" + greeting() + \
        reply(OPT["STRUCTURED_REPLY"], REP_ERR_TLS_REQD, b"use TLS")
    yield "go-unknown", b"\x00" + greeting() + \
        reply(OPT["STRUCTURED_REPLY"], REP_ACK) + \
        reply(OPT["SET_META_CONTEXT"], REP_ERR_UNKNOWN) + \
        reply(OPT["GO"], REP_ERR_UNKNOWN, b"no such export")
    # Mode bit 5: the client asks for extended headers first.
    for mode in (0x20, 0x24, 0x30):
        name = b"disk" if mode & 4 else b""
        for eflags in (EFLAGS_ALL, EFLAGS_RO):
            out = greeting() + reply(OPT["EXTENDED_HEADERS"], REP_ACK) + \
                reply(OPT["SET_META_CONTEXT"], REP_META_CONTEXT,
                      u32(1) + META) + \
                reply(OPT["SET_META_CONTEXT"], REP_ACK) + \
                go_replies(OPT["GO"], size, eflags, name) + \
                client_replies_extended(eflags)
            yield "mode%02x-extended-%x" % (mode, eflags), bytes([mode]) + out
    # A server without them: the fallback to structured replies.
    yield "extended-unsup", b"\x20" + greeting() + \
        reply(OPT["EXTENDED_HEADERS"], REP_ERR_UNSUP, b"unknown option") + \
        reply(OPT["STRUCTURED_REPLY"], REP_ACK) + \
        reply(OPT["SET_META_CONTEXT"], REP_META_CONTEXT, u32(1) + META) + \
        reply(OPT["SET_META_CONTEXT"], REP_ACK) + \
        go_replies(OPT["GO"], size, EFLAGS_ALL) + \
        client_replies(True, EFLAGS_ALL)
    # Hostile: simple and structured replies where extended ones belong.
    yield "extended-wrong-style", b"\x20" + greeting() + \
        reply(OPT["EXTENDED_HEADERS"], REP_ACK) + \
        go_replies(OPT["GO"], size, EFLAGS_ALL) + \
        chunk(1, REPLY_TYPE_NONE) + simple(1) + bytes(16)


def qapi_input_seeds():
    """Seeds for fuzz-qapi-input: first byte the path (see the target)."""
    keyval_backends = [
        "socket,data.addr.type=inet,data.addr.data.host=127.0.0.1,"
        "data.addr.data.port=9000,data.server=on,data.wait=off,"
        "data.tls-creds=tls0,data.reconnect-ms=500",
        "socket,data.addr.type=unix,data.addr.data.path=/tmp/s,"
        "data.addr.data.abstract=on",
        "file,data.out=/tmp/f,data.append=yes,data.logfile=/tmp/l",
        "ringbuf,data.size=4096",
        "mux,data.chardev=c0",
        "stdio,data.signal=off",
        "null,data.x.0=1,data.x.2=3",
    ]
    objects = [
        "secret,id=s0,data=letmein,format=raw",
        "memory-backend-ram,id=m,size=1G,share=on,host-nodes.0=0",
        "memory-backend-file,id=f,size=64M,mem-path=/dev/shm/q",
        "authz-list,id=a,policy=deny,rules.0.match=CN=*,"
        "rules.0.policy=allow,rules.0.format=glob",
        "tls-creds-x509,id=t,endpoint=server,dir=/etc,verify-peer=off",
    ]
    json_backends = [
        '{"type": "socket", "data": {"addr": {"type": "inet", "data": '
        '{"host": "::1", "port": "1", "ipv6": true}}, "server": false}}',
        '{"type": "pty", "data": {}}',
    ]
    json_objects = [
        '{"qom-type": "secret_keyring", "id": "k", "serial": 5}',
        '{"qom-type": "authz-list", "id": "a", "rules": '
        '[{"match": "x", "policy": "allow"}]}',
    ]
    for i, text in enumerate(keyval_backends):
        yield "keyval-backend-%d" % i, b"\x00" + text.encode()
    for i, text in enumerate(objects):
        yield "keyval-object-%d" % i, b"\x01" + text.encode()
    yield "keyval-mon", b"\x02chardev=c0,mode=control,pretty=on,id=m"
    for i, text in enumerate(json_backends):
        yield "json-backend-%d" % i, b"\x03" + text.encode()
    for i, text in enumerate(json_objects):
        yield "json-object-%d" % i, b"\x04" + text.encode()
# ---- QMP client to monitor -------------------------------------------------

def monitor_json_seeds():
    """First byte: bits 0-3 piece size (0: whole), bit 4 small limits,
    bit 5 one message at a time."""
    msgs = [
        b'{"execute": "qmp_capabilities"}',
        b'{"execute": "query-version", "id": 1}',
        b'{"execute": "object-add", "arguments": {"qom-type": "secret", '
        b'"id": "s0", "data": "x"}, "id": {"a": [1, 2.5e3, null]}}',
        b"{'execute': 'query-status', 'id': '\\u00e9\\'x'}",
        b'{"execute": "ringbuf-write", "arguments": {"device": "r", '
        b'"data": "\\ud83d\\ude00 \\n\\t\\"", "format": "utf8"}}',
        b'[1, -0, 1e5, -2.5E-3, true, false, null, [], {}]',
        b'{"a" 1}\n{"execute": "cont"}',
        b'@\n{"execute": "stop"}',
        b'"abc\n{"execute": "stop"}',
        b'[[[[[[[[[[1]]]]]]]]]]{"execute": "stop"}',
        b'"' + b"x" * 100 + b'"{"execute": "stop"}',
        b'"\xc3\xa9 \xed\xa0\x80"',
        b"}]:,",
    ]
    for i, m in enumerate(msgs):
        for mode in (0x00, 0x01, 0x07, 0x10, 0x13, 0x20, 0x33):
            yield "msg%d-mode%02x" % (i, mode), bytes([mode]) + m
    yield "all-whole", b"\x00" + b"".join(msgs)
    yield "all-small-bytes", b"\x11" + b"".join(msgs)
    yield "all-one-at-a-time", b"\x20" + b"".join(msgs)


def vm_hmp_seeds():
    lines = [b"info status\r", b"help info\r", b"stop s\r",
             b"pmemsave 0x10+1 (2*3) \"/tmp/x y\"\r",
             b"object_add secret,id=s0,data=x\r", b"object_del \"a\\\"b\"\r",
             b"ab\x7fc\x08d\x1b[D\x1b[3~\x1b[A\x1b[B\x01\x05\r",
             b"pmemsave ((((1)))) ~0 f\r\n", b"info qom-tree /objects\r"]
    for i, line in enumerate(lines):
        for mode in (0x00, 0x01, 0x03):
            yield "hmp%d-mode%02x" % (i, mode), bytes([mode]) + line
    yield "hmp-all", b"\x00" + b"".join(lines)
    console = [b"help\r", b"write 0x10 68656c6c6f\r", b"read 16 5\r",
               b"sum 0 65536\r", b"uptime\rhostname\r", b"read 65535 2\r"]
    for i, line in enumerate(console):
        yield "console%d" % i, b"\x10" + line
    yield "console-bytes", b"\x11" + b"".join(console)
    # A state blob as vm_guest_console_save() writes it: magic, version,
    # port, hostname, uptime, scrollback, then the line editor's state.
    blob = (b"QGC1" + u32(1) + u32(0) + u32(4) + b"fuzz" +
            struct.pack(">Q", 5000000) + u32(3) + b"ab$" +
            u32(2) + b"hi" + u32(1) + bytes([0, 0]) + u32(0) +
            u32(1) + u32(4) + b"help")
    yield "blob", b"\x20" + blob


TARGETS = {
    "fuzz-qapi-input": qapi_input_seeds,
    "fuzz-nbd-server-options": server_options_seeds,
    "fuzz-nbd-server-commands": server_commands_seeds,
    "fuzz-nbd-client": client_seeds,
    "fuzz-monitor-json": monitor_json_seeds,
    "fuzz-vm-hmp": vm_hmp_seeds,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in TARGETS:
        sys.exit("usage: gen-seeds.py {%s} OUTDIR" % ",".join(TARGETS))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for label, data in TARGETS[sys.argv[1]]():
        digest = hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(outdir, "%s-%s" % (label, digest)), "wb") as f:
            f.write(data)
        n += 1
    print("%s: %d seeds in %s" % (sys.argv[1], n, outdir))


if __name__ == "__main__":
    main()
