#!/usr/bin/python3
"""The same HMP session sent to qemu-system-x86_64 and to qio-vm: the
bytes each answers must be the same (the echo with its cursor moves,
CR LF, the prompt, info status in every run state, QEMU's messages for
unknown commands and argument errors), except where the two programs
differ on purpose: the banner names the program and its version.  The
session is sent once typed a byte at a time and once with every line in
a single write.

Usage: qio-vm-hmp-qemu.py BUILDDIR; exits 77 when QEMU is not installed.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
QIO_VM = os.path.join(BUILD, "tools", "qio-vm")
QEMU = shutil.which("qemu-system-x86_64")
if not QEMU:
    print("qemu-system-x86_64 not installed")
    sys.exit(77)

# Lines typed; each ends with CR.  Escape sequences and control bytes
# exercise the line editor.  Left out on purpose: ESC [ H and ESC [ F,
# which QEMU 7.2 takes as nothing and as history-up where qio-vm takes
# them as Home and End (docs/monitor.md), and CR LF, on which QEMU runs
# an extra empty command.
SESSION = [
    b"info status\r",
    b"stop\r",
    b"info status\r",
    b"s\r",
    b"c\r",
    b"cont\r",
    b"info status\r",
    b"info name\r",
    b"foo bar\r",
    b"info foo\r",
    b"stop s\r",
    b"q 1\r",
    b"info status extra\r",
    b"object_del\r",
    b"object_add\r",
    b"pmemsave 0 16 /tmp/x\r",
    b"pmemsave 1/0 1 \"x\"\r",
    b"pmemsave (1 1 \"x\"\r",
    b"help nosuch\r",
    b"ab\x7fc\x08d\r",
    b"xy\x1b[Dz\r",
    b"\x1b[A\x1b[A\x1b[B\x01q\x05w\r",
    b"abc\x1b[D\x1b[D\x1b[3~\r",
    b"abc\x1b[1~\x1b[3~\x1b[4~!\r",
    b"a\x1b[9999Cb\r",
    b"\r",
    b"info status\r",
]


def connect(path, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read_prompt(s, timeout=10):
    s.settimeout(timeout)
    out = b""
    while not out.endswith(b"(qemu) "):
        d = s.recv(65536)
        if not d:
            break
        out += d
    return out


def run(argv0, path, bytewise):
    p = subprocess.Popen([argv0, "-machine", "none", "-nodefaults",
                          "-display", "none", "-name", "guest1", "-S",
                          "-monitor", f"unix:{path},server=on,wait=off"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        s = connect(path)
        answers = [read_prompt(s)]
        for line in SESSION:
            if bytewise:
                for i in range(len(line)):
                    s.sendall(line[i:i + 1])
                    if line[i:i + 1] != b"\r":
                        time.sleep(0.002)
            else:
                s.sendall(line)
            answers.append(read_prompt(s))
        s.close()
        return answers
    finally:
        p.kill()
        p.wait()


failures = 0
tmp = tempfile.mkdtemp(prefix="qio-vm-hmp-")
try:
    for bytewise in (False, True):
        how = "a byte at a time" if bytewise else "a line per write"
        qemu = run(QEMU, os.path.join(tmp, "qemu.sock"), bytewise)
        qio = run(QIO_VM, os.path.join(tmp, "qio.sock"), bytewise)
        banner = rb"monitor - type 'help' for more information\r\n\(qemu\) "
        ok = (re.fullmatch(rb"QEMU [\d.]+ " + banner, qemu[0]) and
              re.fullmatch(rb"qio-vm [\d.]+ " + banner, qio[0]))
        print(("ok" if ok else "FAIL") + f": banner shape ({how})")
        failures += not ok
        for line, a, b in zip(SESSION, qemu[1:], qio[1:]):
            if a == b:
                print(f"ok: {line!r} ({how})")
            else:
                failures += 1
                print(f"FAIL: {line!r} ({how})\n  qemu:   {a!r}\n"
                      f"  qio-vm: {b!r}")
finally:
    shutil.rmtree(tmp)

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
