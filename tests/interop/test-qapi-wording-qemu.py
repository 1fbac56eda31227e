#!/usr/bin/python3
"""QMP argument errors and -object errors, qio beside QEMU.

Sends the same malformed arguments to qemu-system-x86_64 (-machine none,
over a QMP UNIX socket) and to qio's generated marshallers (the
qapi-wording-probe program) and requires the same error class and the
same text for each: clients written for QEMU match these strings.  Then
the same for -object option strings, read by qio's keyval visitor.

Usage: test-qapi-wording-qemu.py BUILD_ROOT   (exit 77 without QEMU)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# (command, arguments) pairs that QEMU refuses before running the command.
CASES = [
    ("qom-list", {}),
    ("qom-list", {"path": 1}),
    ("query-status", {"x": 1}),
    ("stop", {"a": None}),
    ("query-qmp-schema", {"a": 1}),
    ("object-del", {}),
    ("getfd", {"fdname": 5}),
    ("memsave", {"val": 0, "size": 1}),
    ("pmemsave", {"val": "x", "size": 1, "filename": "/nonexistent"}),
    ("ringbuf-write", {"device": "x"}),
    ("ringbuf-read", {"device": "x", "size": 1, "format": "foo"}),
    ("human-monitor-command", {"command-line": "info version",
                               "cpu-index": "x"}),
    ("chardev-add", {"id": "c", "backend": {"type": "socket", "data": {
        "addr": {"type": "inet", "data": {"host": "h"}}}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "socket", "data": {
        "addr": {"type": "inet", "data": {"host": "h", "port": "1",
                                          "bogus": 1}}}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "bogus"}}),
    ("chardev-add", {"id": "c", "backend": {"type": "null",
                                            "data": {"bogus": 1}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "ringbuf",
                                            "data": {"size": "x"}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "ringbuf",
                                            "data": {"size": 1.5}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "socket", "data": {
        "addr": {"type": "inet", "data": {"host": "h", "port": "1"}},
        "server": "yes"}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "null", "data": {}},
                     "x": 1}),
    ("chardev-add", {"backend": {"type": "null", "data": {}}}),
    ("object-add", {"qom-type": "bogus-type", "id": "x"}),
    ("object-add", {"id": "x"}),
    ("object-add", {"qom-type": "secret", "id": "s", "data": "x",
                    "bogus": 1}),
    ("object-add", {"qom-type": "secret", "id": "s", "format": "hex2",
                    "data": "x"}),
    ("object-add", {"qom-type": "memory-backend-ram", "id": "m",
                    "size": "1G"}),
    ("object-add", {"qom-type": "memory-backend-ram", "id": "m",
                    "size": 1048576, "share": "on"}),
    ("object-add", {"qom-type": "tls-creds-x509", "id": "t",
                    "endpoint": "middle"}),
    ("object-add", {"qom-type": "authz-list", "id": "a",
                    "rules": [{"match": "x"}]}),
    ("object-add", {"qom-type": "authz-list", "id": "a",
                    "rules": [{"match": "x", "policy": "allow"}, 5]}),
    ("object-add", {"qom-type": "authz-simple", "id": "a"}),
    ("object-add", {"qom-type": "secret_keyring", "id": "k",
                    "serial": "x"}),
    ("object-add", {"qom-type": "secret_keyring", "id": "k",
                    "serial": 2147483648}),
    ("object-add", {"qom-type": "memory-backend-ram", "id": "m",
                    "size": 1048576, "prealloc-threads": 4294967296}),
    ("chardev-add", {"id": "c", "backend": {"type": "socket", "data": {
        "addr": {"type": "inet", "data": {"host": "h", "port": "1",
                                          "to": 65536}}}}}),
    ("chardev-add", {"id": "c", "backend": {"type": "socket", "data": {
        "addr": {"type": "inet", "data": {"host": "h", "port": "1",
                                          "to": -1}}}}}),
]

# Refused while capabilities are being negotiated (sent first to QEMU).
NEGOTIATION_CASES = [
    ("qmp_capabilities", {"enable": ["oob", 5]}),
    ("qmp_capabilities", {"enable": ["bogus"]}),
    ("qmp_capabilities", {"x": 1}),
]


# -object strings QEMU refuses while parsing them.
OBJECT_CASES = [
    "memory-backend-ram,id=m,size=abc",
    "memory-backend-ram,id=m,size=16E",
    "memory-backend-ram,id=m,size=-1",
    "memory-backend-ram,id=m,size=1M,share=maybe",
    "memory-backend-ram,id=m,size=1M,bogus=1",
    "memory-backend-ram,id=m",
    "memory-backend-ram,id=m,size=1M,prealloc-threads=x",
    "memory-backend-ram,id=m,size=1M,prealloc-threads=4294967296",
    "memory-backend-ram,id=m,size=1M,policy=x",
    "secret,id=s,data=x,format=hex2",
    "secret_keyring,id=k,serial=x",
    "tls-creds-x509,id=t,endpoint=middle",
    "tls-creds-anon,id=t,verify-peer=maybe",
    "authz-simple,id=a",
    "bogus-type,id=x",
]


def qemu_object_error(opt):
    # Without a monitor, a QEMU that accepted the option would wait: the
    # timeout ends it, and the case fails.
    try:
        r = subprocess.run(["qemu-system-x86_64", "-machine", "none",
                            "-nodefaults", "-display", "none", "-S",
                            "-object", opt],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "(QEMU accepted it)"
    prefix = "qemu-system-x86_64: -object %s: " % opt
    text = r.stderr.strip().split("\n")[0]
    return text[len(prefix):] if text.startswith(prefix) else text


class Qemu:
    def __init__(self, tmp):
        self.sock_path = os.path.join(tmp, "qmp.sock")
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "none", "-nodefaults",
             "-display", "none", "-qmp",
             "unix:%s,server=on,wait=off" % self.sock_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock_path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("QEMU did not start: %s"
                                   % self.proc.stderr.read())
            time.sleep(0.05)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(self.sock_path)
        self.file = self.sock.makefile("rw")
        self.read()  # greeting

    def read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QEMU closed the monitor")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def execute(self, name, args):
        self.file.write(json.dumps({"execute": name, "arguments": args})
                        + "\n")
        self.file.flush()
        return self.read()

    def stop(self):
        try:
            self.execute("quit", {})
        except (OSError, RuntimeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def probe_answers(probe, cases):
    lines = "".join(json.dumps({"execute": n, "arguments": a}) + "\n"
                    for n, a in cases)
    r = subprocess.run([probe], input=lines, stdout=subprocess.PIPE,
                       universal_newlines=True, timeout=60, check=True)
    return [json.loads(line) for line in r.stdout.splitlines()]


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    probe = os.path.join(argv[1], "tests", "interop", "qapi-wording-probe")
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed")
        return 77
    if not os.access(probe, os.X_OK):
        print("%s is not built" % probe)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="qapi-wording.") as tmp:
        qemu = Qemu(tmp)
        try:
            theirs = [qemu.execute(n, a) for n, a in NEGOTIATION_CASES]
            ok = qemu.execute("qmp_capabilities", {})
            assert ok == {"return": {}}, ok
            theirs += [qemu.execute(n, a) for n, a in CASES]
        finally:
            qemu.stop()
    ours = probe_answers(probe, NEGOTIATION_CASES + CASES)
    for (name, args), q, o in zip(NEGOTIATION_CASES + CASES, theirs, ours):
        request = json.dumps({"execute": name, "arguments": args})
        if "error" not in q:
            print("FAILED: QEMU accepted %s: %s" % (request, q))
            failures += 1
        elif q == o:
            print("ok: %s -> %s" % (request, o["error"]["desc"]))
        else:
            print("FAILED: %s\n  QEMU: %s\n  qio:  %s" % (request, q, o))
            failures += 1
    if len(ours) != len(theirs):
        print("FAILED: %d answers from the probe, %d from QEMU"
              % (len(ours), len(theirs)))
        failures += 1
    r = subprocess.run([probe, "--object"],
                       input="".join(o + "\n" for o in OBJECT_CASES),
                       stdout=subprocess.PIPE, universal_newlines=True,
                       timeout=60, check=True)
    ours = r.stdout.splitlines()
    for opt, o in zip(OBJECT_CASES, ours):
        q = qemu_object_error(opt)
        if q == o:
            print("ok: -object %s -> %s" % (opt, o))
        else:
            print("FAILED: -object %s\n  QEMU: %s\n  qio:  %s" % (opt, q, o))
            failures += 1
    print("%d case(s), %d failure(s)"
          % (len(theirs) + len(OBJECT_CASES), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
