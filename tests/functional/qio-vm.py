#!/usr/bin/python3
"""qio-vm driven end to end: the command line's errors, HMP and QMP
sessions on the same machine over UNIX sockets, the serial console, quit
and SIGTERM, -pidfile and -daemonize, a monitor client that floods
without reading while another is served, and monitors on TCP and on a
TLS chardev at once, with chardevs added and removed at run time.

Usage: qio-vm.py BUILDDIR
Every process started here is ended by its pid, and every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
QIO_VM = os.path.join(BUILD, "tools", "qio-vm")
TMP = tempfile.mkdtemp(prefix="qio-vm-test-")
procs = []
failures = 0


def check(cond, what):
    global failures
    if cond:
        print("ok:", what)
    else:
        failures += 1
        print("FAIL:", what)


def start(*args):
    p = subprocess.Popen([QIO_VM, *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(p)
    return p


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


def read_until(s, pattern, timeout=10):
    """Read until the bytes read match @pattern (a regex on bytes)."""
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, out, re.S):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waiting for {pattern!r}, got {out!r}")
        d = s.recv(65536)
        if not d:
            break
        out += d
    return out


def qmp_cmd(s, cmd, args=None):
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    s.sendall(json.dumps(msg).encode())
    buf = b""
    while True:
        buf += read_until(s, rb"\n")
        lines = buf.split(b"\r\n")
        for line in lines:
            if not line.strip():
                continue
            obj = json.loads(line)
            if "return" in obj or "error" in obj:
                return obj
        buf = b""


def hmp_cmd(s, line):
    s.sendall(line.encode() + b"\r")
    out = read_until(s, rb"\r\n.*\(qemu\) $")
    # Drop the echo: everything up to the CR LF that ends the line typed.
    return out.split(b"\x1b[K\r\n")[-1].decode()


def sock(name):
    return os.path.join(TMP, name)


def test_option_errors():
    cases = [
        (["-cpu", "host"], "qio-vm: -cpu: not supported\n"),
        (["-m=1G"], "qio-vm: -m=1G: invalid option\n"),
        (["-m"], "qio-vm: -m: requires an argument\n"),
        (["-incoming", "defer"],
         "qio-vm: -incoming defer: not supported: qio-vm cannot receive "
         "a migration yet\n"),
        (["-nodefaults", "-mon", "chardev=nosuch"], None),
        (["-nodefaults", "-chardev", "socket,id=c0", "-S"], None),
        (["-nodefaults", "-machine", "none", "-machine",
          "memory-backend=nosuch"], None),
    ]
    for args, want in cases:
        p = start(*args)
        out, err = p.communicate(timeout=20)
        text = err.decode()
        check(p.returncode == 1, f"{args}: exit 1 (got {p.returncode})")
        if want:
            check(text == want, f"{args}: message {text!r}")
        else:
            check(text.startswith("qio-vm: ") and text.count("\n") == 1,
                  f"{args}: one message {text!r}")
    p = start("-version")
    out, _ = p.communicate(timeout=20)
    check(p.returncode == 0 and out.startswith(b"qio-vm version "),
          "-version")


def test_session():
    q, h, s = sock("q.sock"), sock("h.sock"), sock("s.sock")
    pidfile = sock("vm.pid")
    p = start("-machine", "none", "-nodefaults", "-display", "none",
              "-name", "guest1", "-m", "16", "-S", "-pidfile", pidfile,
              "-qmp", f"unix:{q},server=on,wait=off",
              "-monitor", f"unix:{h},server=on,wait=off",
              "-chardev", f"socket,id=s0,path={s},server=on,wait=off",
              "-device", "isa-serial,chardev=s0")
    qs = connect(q)
    greeting = json.loads(read_until(qs, rb"\r\n"))
    check(set(greeting["QMP"]) == {"version", "capabilities"},
          "QMP greeting in QEMU's shape")
    check(qmp_cmd(qs, "qmp_capabilities") == {"return": {}}, "negotiated")
    with open(pidfile) as f:
        check(f.read() == f"{p.pid}\n", "pid file holds the pid")

    hs = connect(h)
    banner = read_until(hs, rb"\(qemu\) $")
    check(re.fullmatch(rb"qio-vm \d+\.\d+\.\d+ monitor - type 'help' for "
                       rb"more information\r\n\(qemu\) ", banner) is not None,
          f"HMP banner {banner!r}")
    check(hmp_cmd(hs, "info status") ==
          "VM status: paused (prelaunch)\r\n(qemu) ", "prelaunch")

    ss = connect(s)
    ss.sendall(b"hostname\r")
    time.sleep(0.3)
    ss.settimeout(0.2)
    try:
        early = ss.recv(4096)
    except socket.timeout:
        early = b""
    check(early == b"", "the guest console is silent before cont")

    check(hmp_cmd(hs, "cont") == "(qemu) ", "cont")
    ev = read_until(qs, rb"RESUME.*\r\n")
    check(b'"event": "RESUME"' in ev, "RESUME event on QMP")
    out = read_until(ss, rb"guest1\$ .*guest1\r\nguest1\$ ")
    check(out.startswith(b"qio-vm guest console on ttyS0"),
          "banner, then the input typed while paused ran")

    check(qmp_cmd(qs, "query-status")["return"] ==
          {"running": True, "singlestep": False, "status": "running"},
          "query-status running")
    ss.sendall(b"write 0x100 716d7000\r")
    read_until(ss, rb"wrote 4 bytes.*guest1\$ ")
    dump = sock("dump")
    r = qmp_cmd(qs, "pmemsave", {"val": 0x100, "size": 4, "filename": dump})
    check(r == {"return": {}}, "pmemsave")
    with open(dump, "rb") as f:
        check(f.read() == b"qmp\0", "pmemsave wrote what the guest wrote")
    r = qmp_cmd(qs, "pmemsave", {"val": 16 << 20, "size": 1,
                                 "filename": dump})
    check(r.get("error", {}).get("class") == "GenericError",
          "pmemsave outside RAM refused")
    r = qmp_cmd(qs, "human-monitor-command",
                {"command-line": "info status"})
    check(r == {"return": "VM status: running\r\n"}, "human-monitor-command")
    check(hmp_cmd(hs, "stop") == "(qemu) ", "stop")
    read_until(qs, rb'"STOP"')
    check(hmp_cmd(hs, "nosuch") == "unknown command: 'nosuch'\r\n(qemu) ",
          "unknown command")

    # quit from QMP: the reply, the SHUTDOWN event, exit 0.
    qs.sendall(b'{"execute": "quit"}')
    rest = read_until(qs, rb"host-qmp-quit.*\r\n")
    check(b'"reason": "host-qmp-quit"' in rest, "SHUTDOWN host-qmp-quit")
    p.wait(timeout=20)
    check(p.returncode == 0, "exit status 0 after quit")
    check(not os.path.exists(pidfile), "pid file removed")


def test_sigterm_and_flood():
    q, h1, h2 = sock("q2.sock"), sock("h1.sock"), sock("h2.sock")
    p = start("-machine", "none", "-nodefaults",
              "-qmp", f"unix:{q},server=on,wait=off",
              "-chardev", f"socket,id=m1,path={h1},server=on,wait=off",
              "-chardev", f"socket,id=m2,path={h2},server=on,wait=off",
              "-mon", "m1", "-mon", "chardev=m2,mode=readline")
    qs = connect(q)
    read_until(qs, rb"\r\n")
    qmp_cmd(qs, "qmp_capabilities")
    flood = connect(h1)
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    read_until(flood, rb"\(qemu\) $")
    flood.setblocking(False)
    sent = 0
    chunk = b"help\r" * 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            sent += flood.send(chunk)
        except BlockingIOError:
            time.sleep(0.05)
    check(sent < 16 << 20, f"a client that does not read is not read "
                           f"either ({sent} bytes taken)")
    other = connect(h2)
    read_until(other, rb"\(qemu\) $")
    check(hmp_cmd(other, "info status") == "VM status: running\r\n(qemu) ",
          "another HMP client is served meanwhile")
    check(qmp_cmd(qs, "query-status")["return"]["status"] == "running",
          "and QMP too")
    os.kill(p.pid, signal.SIGTERM)
    ev = read_until(qs, rb"host-signal.*\r\n")
    check(b'"event": "SHUTDOWN"' in ev, "SHUTDOWN host-signal on SIGTERM")
    p.wait(timeout=20)
    check(p.returncode == 0, "exit status 0 after SIGTERM")
    flood.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect_tcp(port, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), 1)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read_event(s, name, timeout=10):
    """The next event called @name on QMP socket @s."""
    out = read_until(s, rb'"event": "' + name.encode() + rb'".*\r\n',
                     timeout)
    for line in out.split(b"\r\n"):
        if line.strip() and b'"event"' in line:
            obj = json.loads(line)
            if obj["event"] == name:
                return obj
    return None


def test_tcp_tls_runtime():
    pki = sock("pki")
    subprocess.run([os.path.join(BUILD, "tools", "qio-pki"), "init", pki,
                    "--hostname", "localhost", "--ip", "127.0.0.1",
                    "--client-name", "test-client"], check=True,
                   stdout=subprocess.DEVNULL)
    qport, tport = free_port(), free_port()
    h = sock("rt-h.sock")
    p = start("-machine", "none", "-nodefaults", "-display", "none",
              "-object",
              f"tls-creds-x509,id=tls0,endpoint=server,dir={pki}",
              "-qmp", f"tcp:127.0.0.1:{qport},server=on,wait=off",
              "-chardev", f"socket,id=t0,host=127.0.0.1,port={tport},"
              "tls-creds=tls0,server=on,wait=off",
              "-mon", "chardev=t0,mode=control",
              "-monitor", f"unix:{h},server=on,wait=off")
    # QMP on TCP.
    qs = connect_tcp(qport)
    greeting = json.loads(read_until(qs, rb"\r\n").split(b"\r\n")[0])
    check("QMP" in greeting, "QMP greeting on TCP")
    check(qmp_cmd(qs, "qmp_capabilities") == {"return": {}},
          "QMP negotiated on TCP")
    # QMP on the TLS chardev, with a client certificate.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca-cert.pem"))
    ctx.load_cert_chain(os.path.join(pki, "client-cert.pem"),
                        os.path.join(pki, "client-key.pem"))
    ts = ctx.wrap_socket(connect_tcp(tport), server_hostname="127.0.0.1")
    greeting = json.loads(read_until(ts, rb"\r\n").split(b"\r\n")[0])
    check("QMP" in greeting, "QMP greeting on the TLS chardev")
    check(qmp_cmd(ts, "qmp_capabilities") == {"return": {}},
          "QMP negotiated over TLS")
    # A command on one monitor, its event on both.
    check(qmp_cmd(ts, "stop") == {"return": {}}, "stop over TLS")
    ev = read_event(qs, "STOP")
    check(ev is not None and set(ev["timestamp"]) ==
          {"seconds", "microseconds"}, "STOP reaches the TCP monitor")
    st = qmp_cmd(qs, "query-status")
    check(st.get("return", {}).get("status") == "paused",
          f"paused, seen from TCP ({st})")
    # HMP on UNIX: a chardev added and removed at run time.
    hs = connect(h)
    read_until(hs, rb"\(qemu\) $")
    r = sock("rt-r.sock")
    out = hmp_cmd(hs, f"chardev-add socket,id=r0,path={r},server=on,"
                      "wait=off")
    check(out.strip() == "(qemu)", f"HMP chardev-add answers nothing "
                                   f"({out!r})")
    labels = {c["label"]: c["filename"]
              for c in qmp_cmd(qs, "query-chardev")["return"]}
    check(labels.get("r0") == f"disconnected:unix:{r},server=on",
          f"the new chardev in query-chardev ({labels.get('r0')!r})")
    rc = connect(r)
    rc.close()
    res = qmp_cmd(ts, "chardev-add",
                  {"id": "r1", "backend": {"type": "ringbuf",
                                           "data": {"size": 64}}})
    check(res == {"return": {}}, "QMP chardev-add over TLS")
    hmp_cmd(hs, "chardev-remove r0")
    res = qmp_cmd(qs, "chardev-remove", {"id": "r1"})
    check(res == {"return": {}}, "QMP chardev-remove on TCP")
    labels = {c["label"] for c in qmp_cmd(qs, "query-chardev")["return"]}
    check("r0" not in labels and "r1" not in labels and "t0" in labels,
          f"both removed, the monitors' chardevs kept ({sorted(labels)})")
    check(not os.path.exists(r), "the removed server's socket file is gone")
    out = hmp_cmd(hs, "chardev-remove t0")
    check("busy" in out or "in use" in out,
          f"a monitor's chardev cannot be removed ({out!r})")
    check(qmp_cmd(ts, "quit") == {"return": {}}, "quit over TLS")
    p.wait(timeout=20)
    check(p.returncode == 0, "exit 0 after quit")
    for s_ in (qs, ts, hs):
        s_.close()


def test_wait_on_serial():
    """The source documents' line: a server chardev with wait=on (the
    default of the legacy bare `server`) behind a serial port.  Startup
    waits for the client, which then gets the console's banner."""
    port = free_port()
    p = start("-nodefaults", "-display", "none", "-chardev",
              f"socket,id=s0,host=127.0.0.1,port={port},server",
              "-device", "isa-serial,chardev=s0")
    c = connect_tcp(port)
    try:
        out = read_until(c, rb"qio-vm\$ $")
        check(b"guest console on ttyS0" in out,
              f"wait=on: the banner reaches the first client ({out!r})")
        c.sendall(b"hostname\r")
        out = read_until(c, rb"\r\nqio-vm\r\n")
        check(b"\r\nqio-vm\r\n" in out, "wait=on: the console answers")
    except (TimeoutError, OSError) as e:
        check(False, f"wait=on: the console on the first client ({e})")
    c.close()
    p.terminate()
    _, err = p.communicate(timeout=20)
    check(p.returncode == 0, f"wait=on: exit 0 on SIGTERM ({p.returncode})")
    check(b"short-form boolean option 'server' deprecated" in err and
          b"waiting for connection on: disconnected:tcp:127.0.0.1:%d,"
          b"server=on" % port in err,
          f"wait=on: QEMU's warning and waiting line ({err!r})")


def test_mux_stdio():
    """-serial mon:stdio as QEMU has it: the serial console in front
    (the monitor with -S), C-a c to switch, C-a x to quit cleanly, also
    while the focused serial port of a paused machine takes no input."""
    for paused in (False, True):
        pidfile = sock("mux.pid")
        args = ["-nodefaults", "-name", "g1", "-serial", "mon:stdio",
                "-pidfile", pidfile] + (["-S"] if paused else [])
        p = subprocess.Popen([QIO_VM, *args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(p)
        steps = ([b"info status\r", b"\x01c", b"hostname\r", b"\x01x"]
                 if paused else
                 [b"hostname\r", b"\x01c", b"info status\r", b"\x01x"])
        for step in steps:
            time.sleep(0.3)
            p.stdin.write(step)
            p.stdin.flush()
        try:
            out, _ = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        what = "-S " if paused else ""
        check(p.returncode == 0, f"{what}mon:stdio: C-a x exits 0 "
                                 f"({p.returncode})")
        check(not os.path.exists(pidfile),
              f"{what}mon:stdio: C-a x removes the pid file")
        if paused:
            check(b"VM status: paused (prelaunch)" in out,
                  f"-S mon:stdio: the monitor is in front ({out[-300:]!r})")
        else:
            check(b"\r\ng1\r\n" in out and b"VM status: running" in out,
                  f"mon:stdio: the console in front, C-a c to the monitor "
                  f"({out[-300:]!r})")


def test_daemonize():
    pidfile = sock("d.pid")
    q = sock("dq.sock")
    p = start("-machine", "none", "-nodefaults", "-daemonize",
              "-pidfile", pidfile, "-qmp", f"unix:{q},server=on,wait=off")
    p.wait(timeout=20)
    check(p.returncode == 0, "-daemonize: the parent exits 0 once set up")
    with open(pidfile) as f:
        pid = int(f.read())
    check(pid != p.pid, "the daemon is another process")
    qs = connect(q)
    read_until(qs, rb"\r\n")
    check(qmp_cmd(qs, "qmp_capabilities") == {"return": {}},
          "the daemon serves QMP")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not os.path.exists(pidfile), "the daemon removed its pid file")
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    check(time.monotonic() < deadline, "the daemon ended on SIGTERM")
    # A setup failure in the child reaches the terminal.
    p = start("-nodefaults", "-daemonize", "-mon", "chardev=nosuch")
    _, err = p.communicate(timeout=20)
    check(p.returncode == 1 and b"nosuch" in err,
          f"-daemonize: a failed setup exits 1 ({err!r})")
    p = start("-daemonize", "-serial", "stdio")
    _, err = p.communicate(timeout=20)
    check(p.returncode == 1 and b"cannot use stdio with -daemonize" in err,
          "-daemonize refuses stdio")


try:
    test_option_errors()
    test_session()
    test_sigterm_and_flood()
    test_daemonize()
    test_tcp_tls_runtime()
    test_wait_on_serial()
    test_mux_stdio()
finally:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutil.rmtree(TMP, ignore_errors=True)

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
