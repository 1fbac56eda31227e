#!/usr/bin/python3
"""QMP round trips per second: qio's QMP monitor against QEMU's.

One client on a UNIX socket sends query-status and waits for each reply,
N times, against qemu-system-x86_64 -machine none and against a qio QMP
monitor (build/tests/interop/qmp-test-server, or qio-vm with --qio-vm),
interleaved for several rounds; it prints the median rate of each, the
server's CPU time per 1000 round trips (from /proc/PID/stat), and the
ratio qio / QEMU.  A program to run by hand, never a pass/fail test.

  bench-qmp.py [--build DIR] [--count N] [--rounds R] [--qio-vm]
"""

import argparse
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
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start(argv, path):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("bench-qmp: %s did not start" % argv[0])
        time.sleep(0.05)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def round_trips(path, pid, count):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'{"execute": "qmp_capabilities"}')
    f.readline()
    req = b'{"execute": "query-status"}'
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    for _ in range(count):
        s.sendall(req)
        line = f.readline()
        if not line.startswith(b'{"return"'):
            sys.exit("bench-qmp: unexpected reply %r" % line)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    s.close()
    return count / elapsed, cpu * 1000 / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--qio-vm", action="store_true",
                    help="measure build/tools/qio-vm instead of "
                    "qmp-test-server")
    args = ap.parse_args()
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("bench-qmp: qemu-system-x86_64 not installed")
    tmp = tempfile.mkdtemp(prefix="qio-bench-qmp-")
    qemu_path = os.path.join(tmp, "qemu.sock")
    qio_path = os.path.join(tmp, "qio.sock")
    if args.qio_vm:
        qio_argv = [os.path.join(args.build, "tools", "qio-vm"),
                    "-machine", "none", "-nodefaults", "-display", "none",
                    "-qmp", "unix:%s,server=on,wait=off" % qio_path]
    else:
        qio_argv = [os.path.join(args.build, "tests", "interop",
                                 "qmp-test-server"), qio_path]
    procs = {
        "qemu": start([qemu, "-machine", "none", "-nodefaults", "-display",
                       "none", "-qmp",
                       "unix:%s,server=on,wait=off" % qemu_path], qemu_path),
        "qio": start(qio_argv, qio_path),
    }
    paths = {"qemu": qemu_path, "qio": qio_path}
    rates = {"qemu": [], "qio": []}
    cpus = {"qemu": [], "qio": []}
    try:
        for r in range(args.rounds):
            for name in ("qio", "qemu"):
                rate, cpu = round_trips(paths[name], procs[name].pid,
                                        args.count)
                rates[name].append(rate)
                cpus[name].append(cpu)
                print("round %d %-5s %8.0f round trips/s  %6.3f CPU s per "
                      "1000" % (r + 1, name, rate, cpu), flush=True)
    finally:
        for p in procs.values():
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| server | round trips/s (median) | server CPU s per 1000 |")
    print("| --- | --- | --- |")
    for name in ("qio", "qemu"):
        print("| %s | %.0f | %.3f |" % (name, statistics.median(rates[name]),
                                       statistics.median(cpus[name])))
    print("ratio qio / qemu: %.2f" %
          (statistics.median(rates["qio"]) / statistics.median(rates["qemu"])))


if __name__ == "__main__":
    main()
