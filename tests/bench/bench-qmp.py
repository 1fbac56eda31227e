#!/usr/bin/python3
"""QMP round trips and idle cost: qio-vm beside qemu-system-x86_64.

Round trips: each contender is started with `-machine none -nodefaults
-display none -qmp unix:SOCK,server=on,wait=off`; one client negotiates
and then sends `query-status` and waits for each reply, N times.  The
contenders run interleaved (A B A B ...) for several rounds; the figures
are medians of round trips per second, of the server's own CPU time per
round trip (from /proc/PID/stat, so the client's cost is not
counted), and their ratios qio-vm / QEMU.

Idle: qio-vm with three monitors (QMP on unix, QMP on TCP, HMP on a unix
socket) and two TLS chardevs, one a server and one a client reconnecting
to a port where nothing listens, left alone for --idle seconds; the CPU
time it used in that window is printed (it should be near zero: no
polling, no spinning).  The same is measured for QEMU with the same
options where QEMU accepts them.

Usage: bench-qmp.py BUILD_ROOT [--rounds N] [--count N] [--idle SECS]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_for(path_or_port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a contender exited early: %s" % proc.args)
        try:
            if isinstance(path_or_port, int):
                socket.create_connection(("127.0.0.1", path_or_port),
                                         0.2).close()
                return
            if os.path.exists(path_or_port):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("timed out waiting for %s" % path_or_port)


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        # Buffered reads: one recv per reply, not one per byte.
        self.f = self.s.makefile("rb")
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name):
        self.s.sendall(b'{"execute": "%s"}\n' % name.encode())
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def close(self):
        self.s.close()


def start(argv):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def round_trips(prog, tmp, count):
    sock = os.path.join(tmp, "rt.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = start([prog, "-machine", "none", "-nodefaults", "-display", "none",
               "-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        wait_for(sock, p)
        q = Qmp(sock)
        q.cmd("query-status")
        cpu0 = cpu_seconds(p.pid)
        t0 = time.monotonic()
        for _ in range(count):
            r = q.cmd("query-status")
            if "return" not in r:
                raise SystemExit("%s: query-status failed: %s" % (prog, r))
        wall = time.monotonic() - t0
        cpu = cpu_seconds(p.pid) - cpu0
        q.close()
    finally:
        stop(p)
    return count / wall, cpu * 1e6 / count


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def idle(prog, tmp, pki, seconds):
    qmp_sock = os.path.join(tmp, "idle-qmp.sock")
    hmp_sock = os.path.join(tmp, "idle-hmp.sock")
    for path in (qmp_sock, hmp_sock):
        if os.path.exists(path):
            os.unlink(path)
    qmp_port, tls_port, dead_port = free_port(), free_port(), free_port()
    argv = [prog, "-machine", "none", "-nodefaults", "-display", "none",
            "-object", "tls-creds-x509,id=tls0,endpoint=server,dir=%s"
            % os.path.join(pki, "server"),
            "-object", "tls-creds-x509,id=tls1,endpoint=client,dir=%s"
            % os.path.join(pki, "client"),
            "-qmp", "unix:%s,server=on,wait=off" % qmp_sock,
            "-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % qmp_port,
            "-monitor", "unix:%s,server=on,wait=off" % hmp_sock,
            "-chardev", "socket,id=t0,host=127.0.0.1,port=%d,tls-creds=tls0,"
            "server=on,wait=off" % tls_port,
            "-chardev", "socket,id=t1,host=127.0.0.1,port=%d,tls-creds=tls1,"
            "reconnect=1" % dead_port]
    p = start(argv)
    try:
        wait_for(qmp_sock, p)
        wait_for(tls_port, p)
        time.sleep(1)
        cpu0 = cpu_seconds(p.pid)
        time.sleep(seconds)
        cpu = cpu_seconds(p.pid) - cpu0
    finally:
        stop(p)
    return cpu


def make_pki(build, tmp):
    tool = os.path.join(build, "tools", "qio-pki")
    pki = os.path.join(tmp, "pki")
    subprocess.run([tool, "init", os.path.join(pki, "server"),
                    "--hostname", "localhost", "--ip", "127.0.0.1",
                    "--client-name", "bench"], check=True,
                   stdout=subprocess.DEVNULL)
    client = os.path.join(pki, "client")
    os.makedirs(client)
    for name in ("ca-cert.pem", "client-cert.pem", "client-key.pem"):
        shutil.copy(os.path.join(pki, "server", name), client)
    return pki


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--idle", type=float, default=60.0)
    args = ap.parse_args()
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise SystemExit("qemu-system-x86_64 is not installed")
    vm = os.path.join(args.build, "tools", "qio-vm")
    contenders = [("qio-vm", vm), ("qemu", qemu)]
    tmp = tempfile.mkdtemp(prefix="bench-qmp-")
    try:
        rate = {n: [] for n, _ in contenders}
        cpu = {n: [] for n, _ in contenders}
        for r in range(args.rounds):
            for name, prog in contenders:
                rt, c = round_trips(prog, tmp, args.count)
                rate[name].append(rt)
                cpu[name].append(c)
                print("round %d %-7s %8.0f round trips/s  %6.1f us server CPU "
                      "per round trip" % (r + 1, name, rt, c), flush=True)
        print()
        print("query-status over a unix socket, %d per round, %d rounds, "
              "medians:" % (args.count, args.rounds))
        for name, _ in contenders:
            print("  %-7s %8.0f round trips/s  %6.1f us server CPU per round trip"
                  % (name, statistics.median(rate[name]),
                     statistics.median(cpu[name])))
        print("  ratio qio-vm/qemu: %.2fx round trips/s, %.2fx CPU per "
              "round trip" % (statistics.median(rate["qio-vm"]) /
                              statistics.median(rate["qemu"]),
                              statistics.median(cpu["qio-vm"]) /
                              statistics.median(cpu["qemu"])))
        if args.idle > 0:
            pki = make_pki(args.build, tmp)
            print()
            print("idle for %.0f s with 3 monitors and 2 TLS chardevs "
                  "(one reconnecting to nothing):" % args.idle)
            for name, prog in contenders:
                used = idle(prog, tmp, pki, args.idle)
                print("  %-7s %.3f s CPU" % (name, used), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
