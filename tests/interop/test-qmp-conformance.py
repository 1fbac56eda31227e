#!/usr/bin/python3
"""QMP side by side: the same exchanges to qemu-system-x86_64 and to
qio-vm, both started with the same command line, comparing the replies.

Errors must match in class and text, replies and events in shape (the
same members with values of the same types; timestamps and version
numbers aside), and pretty=on output byte for byte.  Exits 77 when
qemu-system-x86_64 is not installed.

Usage: test-qmp-conformance.py BUILD-ROOT
"""

import json
import re
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10.0


class Peer:
    """A QMP server process and one client connection to it."""

    def __init__(self, name, argv, path):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("%s did not create %s" % (name, path))
            time.sleep(0.05)
        self.path = path
        self.sock = None
        self.buf = b""

    def connect(self):
        if self.sock:
            self.sock.close()
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(self.path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _decode_one(self):
        text = self.buf.decode("utf-8", "replace")
        stripped = text.lstrip()
        if not stripped:
            return None
        try:
            value, end = json.JSONDecoder().raw_decode(stripped)
        except json.JSONDecodeError:
            return None
        used = len(text) - len(stripped) + end
        raw = text[:used]
        rest = text[used:]
        if not rest.startswith("\r\n"):
            return None
        self.buf = rest[2:].encode()
        return value, raw + "\r\n"

    def recv(self, n):
        """n messages as (value, raw text), in order."""
        out = []
        deadline = time.monotonic() + TIMEOUT
        while len(out) < n:
            got = self._decode_one()
            if got:
                out.append(got)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError("%s: %d of %d messages, then %r" %
                                   (self.name, len(out), n, self.buf))
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("%s closed the connection" % self.name)
            self.buf += data
        return out

    def quiet(self):
        """True when nothing more arrives for a moment."""
        self.sock.settimeout(0.2)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = None
        finally:
            self.sock.settimeout(TIMEOUT)
        if data:
            self.buf += data
        return not data and not self.buf

    def stop(self):
        if self.sock:
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def shape(v):
    """The members and types of a value, without scalar values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v[:1]]
    return type(v).__name__


def normalize(v):
    """Drop what legitimately differs: timestamps, version numbers."""
    if isinstance(v, dict):
        v = dict(v)
        if "timestamp" in v:
            ts = v["timestamp"]
            assert set(ts) == {"seconds", "microseconds"}, ts
            assert 0 <= ts["microseconds"] < 1000000, ts
            assert abs(ts["seconds"] - time.time()) < 3600, ts
            v["timestamp"] = "T"
        return {k: normalize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    return v


failures = []


def check(what, ok, qemu, qio):
    if ok:
        print("ok   %s" % what)
    else:
        print("FAIL %s\n  qemu: %s\n  qio:  %s" % (what, qemu, qio))
        failures.append(what)


def exchange(peers, what, data, n=1, mode="exact"):
    """Send data to both; compare n replies: exact, shape, or events (any
    order of events and reply, compared by shape)."""
    got = []
    for p in peers:
        p.send(data)
        got.append([normalize(v) for v, _ in p.recv(n)])
        if not p.quiet():
            check(what + " (nothing more)", False, "-", p.name + " " +
                  repr(p.buf))
    qemu, qio = got
    if mode == "exact":
        ok = qemu == qio
    elif mode == "shape":
        ok = [shape(x) for x in qemu] == [shape(x) for x in qio]
    else:
        key = lambda x: json.dumps(shape(x), sort_keys=True)
        ok = sorted(map(key, qemu)) == sorted(map(key, qio))
        ok = ok and sorted(x.get("event", "") for x in qemu) == \
            sorted(x.get("event", "") for x in qio)
    check(what, ok, qemu, qio)
    return qemu, qio


def negotiate(peers):
    for p in peers:
        p.connect()
        p.recv(1)
        p.send(b'{"execute": "qmp_capabilities"}')
        p.recv(1)


def compact_checks(qemu, qio):
    peers = [qemu, qio]
    for p in peers:
        p.connect()
    greetings = [p.recv(1)[0][0] for p in peers]
    check("greeting offers no oob",
          greetings[1]["QMP"]["capabilities"] == [], "-", greetings[1])
    for g in greetings:
        g["QMP"]["capabilities"] = []   # QEMU offers oob, qio nothing
    check("greeting shape", shape(greetings[0]) == shape(greetings[1]),
          greetings[0], greetings[1])

    exchange(peers, "before negotiation: known command",
             b'{"execute": "query-status", "id": 1}')
    exchange(peers, "before negotiation: unknown command",
             b'{"execute": "no-such-command"}')
    exchange(peers, "before negotiation: no execute", b'{"id": "a"}')
    exchange(peers, "negotiation, id echoed",
             b'{"execute": "qmp_capabilities", "id": {"a": [1, null]}}')
    exchange(peers, "negotiation again", b'{"execute": "qmp_capabilities"}')

    bad = [
        ("not an object", b'[1]'),
        ("a string", b'"x"\n'),
        ("no execute", b'{}'),
        ("execute not a string", b'{"execute": 1}'),
        ("arguments not an object",
         b'{"execute": "query-name", "arguments": [1]}'),
        ("unexpected member", b'{"execute": "query-name", "bogus": 1}'),
        ("exec-oob without oob", b'{"exec-oob": "query-name"}'),
        ("unknown command", b'{"execute": "no-such", "id": "x"}'),
        ("unexpected parameter",
         b'{"execute": "query-version", "arguments": {"a": 1}}'),
        ("missing parameter", b'{"execute": "getfd", "arguments": {}}'),
        ("wrong parameter type",
         b'{"execute": "getfd", "arguments": {"fdname": 1}}'),
        ("getfd without a descriptor",
         b'{"execute": "getfd", "arguments": {"fdname": "f"}}'),
        ("closefd of an unknown name",
         b'{"execute": "closefd", "arguments": {"fdname": "f"}}'),
        ("wrong type in qmp_capabilities (after negotiation)",
         b'{"execute": "qmp_capabilities", "arguments": {"enable": "x"}}'),
        ("JSON: invalid keyword", b'foo\n'),
        ("JSON: missing colon", b'{"a" 1}'),
        ("JSON: stray byte", b'@'),
        ("JSON: stray closer", b'}'),
        ("JSON: separator in dict", b'{"a": 1]'),
        ("JSON: separator in list", b'[1 2]'),
        ("JSON: key not a string", b'{1: 2}'),
        ("JSON: duplicate key", b'{"a": 1, "a": 2}'),
        ("JSON: trailing comma", b'[1,]'),
        ("JSON: bad escape", b'"\\x"'),
        ("JSON: lone surrogate", b'"\\ud800"'),
        ("JSON: bad UTF-8", b'"\xc3\x28"'),
        ("JSON: control byte in a string", b'"a\tb"\n'),
    ]
    for what, data in bad:
        exchange(peers, what, data)
    exchange(peers, "broken message, then a good one",
             b'{"execute": @ "x"}\n{"execute": "query-name", "id": 2}', 3)

    for what, ident in [("null", b"null"), ("true", b"true"),
                        ("a double", b"1.5"), ("a string", b'"\\u00e9\'"'),
                        ("an array", b'[1, {}, "x"]'),
                        ("an object", b'{"k": {"l": []}}')]:
        exchange(peers, "id echo: " + what,
                 b'{"execute": "query-name", "id": ' + ident + b'}')
    exchange(peers, "single quotes",
             b"{'execute': 'query-name', 'id': 'q'}")
    exchange(peers, "several requests in one write",
             b'{"execute": "query-name", "id": 1}{"execute": "no", '
             b'"id": 2}\n{"execute": "query-name", "id": 3}', 3)
    exchange(peers, "query-version", b'{"execute": "query-version"}',
             mode="shape")
    exchange(peers, "query-status", b'{"execute": "query-status"}')
    exchange(peers, "stop: STOP event and reply",
             b'{"execute": "stop", "id": "s"}', 2, mode="events")
    exchange(peers, "query-status while stopped",
             b'{"execute": "query-status"}')
    exchange(peers, "cont: RESUME event and reply",
             b'{"execute": "cont", "id": "c"}', 2, mode="events")

    # Objects, good and bad.
    exchange(peers, "object-add without qom-type",
             b'{"execute": "object-add", "arguments": {"id": "s1"}}')
    exchange(peers, "object-add of an unknown type",
             b'{"execute": "object-add", "arguments": '
             b'{"qom-type": "no-such-type", "id": "s1"}}')
    exchange(peers, "object-add with a wrongly typed property",
             b'{"execute": "object-add", "arguments": '
             b'{"qom-type": "secret", "id": "s1", "data": 12}}')
    exchange(peers, "object-add of a secret",
             b'{"execute": "object-add", "arguments": '
             b'{"qom-type": "secret", "id": "s1", "data": "hunter2"}}')
    exchange(peers, "object-add of a taken id",
             b'{"execute": "object-add", "arguments": '
             b'{"qom-type": "secret", "id": "s1", "data": "x"}}',
             mode="shape")
    exchange(peers, "object-del",
             b'{"execute": "object-del", "arguments": {"id": "s1"}}')
    exchange(peers, "object-del of an unknown id",
             b'{"execute": "object-del", "arguments": {"id": "s1"}}')
    exchange(peers, "object-del without id",
             b'{"execute": "object-del", "arguments": {}}')
    # Character devices.
    exchange(peers, "chardev-add of a TCP server",
             b'{"execute": "chardev-add", "arguments": {"id": "c0", '
             b'"backend": {"type": "socket", "data": {"addr": '
             b'{"type": "inet", "data": {"host": "127.0.0.1", '
             b'"port": "0"}}, "server": true, "wait": false}}}}')
    exchange(peers, "chardev-add of a ringbuf",
             b'{"execute": "chardev-add", "arguments": {"id": "c1", '
             b'"backend": {"type": "ringbuf", "data": {"size": 1024}}}}')
    exchange(peers, "chardev-add of a taken id",
             b'{"execute": "chardev-add", "arguments": {"id": "c1", '
             b'"backend": {"type": "null", "data": {}}}}')
    exchange(peers, "chardev-add of an unknown backend",
             b'{"execute": "chardev-add", "arguments": {"id": "c2", '
             b'"backend": {"type": "no-such", "data": {}}}}')
    exchange(peers, "ringbuf-write",
             b'{"execute": "ringbuf-write", "arguments": '
             b'{"device": "c1", "data": "hello"}}')
    exchange(peers, "ringbuf-read",
             b'{"execute": "ringbuf-read", "arguments": '
             b'{"device": "c1", "size": 100}}')
    qc = []
    for p in peers:
        p.send(b'{"execute": "query-chardev"}')
        found = {}
        for c in p.recv(1)[0][0]["return"]:
            f = re.sub(r"127\.0\.0\.1:[0-9]+", "127.0.0.1:PORT",
                       c["filename"])
            f = re.sub(r"unix:[^,]*", "unix:PATH", f)
            found[c["label"]] = (f, c["frontend-open"])
        qc.append(found)
    check("query-chardev: labels, filenames, frontend-open",
          qc[0] == qc[1], qc[0], qc[1])
    exchange(peers, "chardev-remove",
             b'{"execute": "chardev-remove", "arguments": {"id": "c1"}}')
    exchange(peers, "chardev-remove of an unknown id",
             b'{"execute": "chardev-remove", "arguments": {"id": "c1"}}')
    exchange(peers, "chardev-remove of a monitor's chardev",
             b'{"execute": "chardev-remove", "arguments": '
             b'{"id": "compat_monitor0"}}')
    # HMP through QMP.
    exchange(peers, "human-monitor-command: info status",
             b'{"execute": "human-monitor-command", '
             b'"arguments": {"command-line": "info status"}}')
    exchange(peers, "human-monitor-command: unknown command",
             b'{"execute": "human-monitor-command", '
             b'"arguments": {"command-line": "no-such-command"}}')

    # query-commands: every qio command is one QEMU has.
    names = []
    for p in peers:
        p.send(b'{"execute": "query-commands"}')
        names.append({c["name"] for c in p.recv(1)[0][0]["return"]})
    check("query-commands: qio's commands are QEMU's",
          names[1] and names[1] <= names[0], sorted(names[0]),
          sorted(names[1] - names[0]))
    schemas = []
    for p in peers:
        p.send(b'{"execute": "query-qmp-schema"}')
        schemas.append(p.recv(1)[0][0]["return"])
    want = {"name", "meta-type"}
    check("query-qmp-schema: SchemaInfo entries",
          all(want <= set(e) for s in schemas for e in s),
          len(schemas[0]), len(schemas[1]))
    commands = [{e["name"] for e in s if e["meta-type"] == "command"}
                for s in schemas]
    check("query-qmp-schema: qio's commands are QEMU's",
          commands[1] and commands[1] <= commands[0], "-",
          sorted(commands[1] - commands[0]))

    # A new connection starts a new session.
    for p in peers:
        p.connect()
        p.recv(1)
    exchange(peers, "reconnect: negotiation needed again",
             b'{"execute": "query-name"}')


def pretty_checks(qemu, qio):
    peers = [qemu, qio]
    raws = []
    for p in peers:
        p.connect()
        raws.append(p.recv(1)[0][1])
    check("pretty greeting layout",
          raws[0].count("\r\n") == raws[1].count("\r\n") + 1 and
          raws[0].startswith('{\r\n    "QMP": {\r\n') and
          raws[1].startswith('{\r\n    "QMP": {\r\n'), raws[0], raws[1])
    for what, data in [
            ("negotiation", b'{"execute": "qmp_capabilities"}'),
            ("empty return and array id",
             b'{"execute": "query-name", "id": [1, {}]}'),
            ("error", b'{"execute": "no-such", "id": {"a": []}}'),
            ("query-status", b'{"execute": "query-status"}')]:
        raws = []
        for p in peers:
            p.send(data)
            raws.append(p.recv(1)[0][1])
        # QEMU orders the members of an object as its hash table does,
        # qio as the schema does: the lines must be the same (but for the
        # comma after all but the last member), in any order.
        lines = [sorted(l.rstrip(",") for l in r.split("\r\n"))
                 for r in raws]
        check("pretty " + what + ": the same lines", lines[0] == lines[1],
              repr(raws[0]), repr(raws[1]))


def quit_checks(qemu, qio):
    """quit: the SHUTDOWN event, the reply, and a clean exit."""
    peers = [qemu, qio]
    negotiate(peers)
    exchange(peers, "quit: SHUTDOWN event and reply",
             b'{"execute": "quit"}', 2, mode="events")
    for p in peers:
        try:
            rc = p.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        check("%s exits with status 0 after quit" % p.name, rc == 0,
              "-", rc)


def main():
    build = sys.argv[1]
    qemu_bin = shutil.which("qemu-system-x86_64")
    if not qemu_bin:
        print("qemu-system-x86_64 not installed")
        return 77
    qio_vm = os.path.join(build, "tools", "qio-vm")
    tmp = tempfile.mkdtemp(prefix="qio-qmp-")
    peers = []
    try:
        qa = os.path.join(tmp, "qemu.sock")
        qb = os.path.join(tmp, "qemu-pretty.sock")
        peers.append(Peer("qemu", [
            qemu_bin, "-machine", "none", "-nodefaults", "-display", "none",
            "-qmp", "unix:%s,server=on,wait=off" % qa,
            "-chardev", "socket,id=p0,path=%s,server=on,wait=off" % qb,
            "-mon", "chardev=p0,mode=control,pretty=on"], qa))
        va = os.path.join(tmp, "qio.sock")
        vb = os.path.join(tmp, "qio-pretty.sock")
        peers.append(Peer("qio", [
            qio_vm, "-machine", "none", "-nodefaults", "-display", "none",
            "-qmp", "unix:%s,server=on,wait=off" % va,
            "-chardev", "socket,id=p0,path=%s,server=on,wait=off" % vb,
            "-mon", "chardev=p0,mode=control,pretty=on"], va))
        compact_checks(peers[0], peers[1])
        pretty = []
        for name, peer, path in (("qemu-pretty", peers[0], qb),
                                 ("qio-pretty", peers[1], vb)):
            p = Peer.__new__(Peer)
            p.name, p.proc, p.path, p.sock, p.buf = \
                name, peer.proc, path, None, b""
            pretty.append(p)
        pretty_checks(pretty[0], pretty[1])
        for p in pretty:
            p.sock.close()
        quit_checks(peers[0], peers[1])
    finally:
        for p in peers:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
