#!/usr/bin/python3
"""The socket chardev against real peers on 127.0.0.1.

qio's end is examples/chardev-bridge: a TLS chardev joined to a UNIX
socket chardev, so that what a TLS peer sends comes out of the UNIX
socket and the other way round.  Checked here:

  - python ssl and gnutls-cli as clients of a qio TLS chardev server with
    tls-authz: data both ways;
  - refusals, each followed by a good client that is served: a client
    trusting another CA, no client certificate (verify-peer is on), a
    certificate from another CA, a certificate authz denies, a plain TCP
    client;
  - QEMU as TLS chardev client of qio (its HMP banner arrives at qio), and
    qio as TLS chardev client of QEMU's TLS chardev server with an HMP
    monitor ("info version" answered);
  - telnet=on: qio offers the same options QEMU offers.

Certificates come from the built qio-pki.  Exits 77 when QEMU or
gnutls-cli is missing, 1 on any failure.  Every process started is
stopped by its pid.

    test-chardev-tls.py BUILD_ROOT
"""

import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
BRIDGE = os.path.join(BUILD, "examples", "chardev-bridge")
PKI = os.path.join(BUILD, "tools", "qio-pki")
QEMU = shutil.which("qemu-system-x86_64")
GNUTLS_CLI = shutil.which("gnutls-cli")
TIMEOUT = 10

procs = []
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        failures += 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(argv, **kw):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(pred, what, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    check(False, "in time: " + what)
    return False


def recv_until(sock, want, timeout=TIMEOUT):
    """Read from sock until want (bytes) is in what came; return it all."""
    sock.settimeout(0.2)
    got = b""
    end = time.monotonic() + timeout
    while want not in got and time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            continue
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        got += chunk
    return got


def type_slowly(sock, text):
    """One byte per TLS record: QEMU 7.2's TLS chardev reads one byte of a
    record for its readline monitor and leaves the rest in the TLS layer
    until more arrives on the socket, so a whole command in one record
    stalls it (qio's own server handles that case: test-chardev-socket)."""
    for i in range(len(text)):
        sock.sendall(text[i:i + 1])
        time.sleep(0.05)


def connect_unix(path):
    end = time.monotonic() + TIMEOUT
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def bridge(tmp, name, objects, net):
    """Start a bridge: net chardev <-> UNIX server; return (proc, line)."""
    path = os.path.join(tmp, name + ".sock")
    argv = [BRIDGE]
    for o in objects:
        argv += ["--object", o]
    # The line first, with wait=on: the bridge connects the net side only
    # once this test holds the line, so no early byte (a banner) is
    # dropped for want of a reader.
    argv += ["--chardev", "socket,id=line,path=%s,server=on,wait=on" % path,
             "--chardev", net]
    p = start(argv)
    line = connect_unix(path)
    wait_ready(p)
    return p, line


def wait_ready(p):
    """Read the bridge's stderr up to its "ready" line (kept in p.log)."""
    p.log = b""
    end = time.monotonic() + TIMEOUT
    while b"ready" not in p.log and time.monotonic() < end:
        r, _, _ = select.select([p.stderr], [], [], 0.1)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            p.log += chunk
    check(b"ready" in p.log, "bridge ready")


def tls_client(port, cadir, certdir=None, cert="client"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(cadir, "ca-cert.pem"))
    if certdir:
        ctx.load_cert_chain(os.path.join(certdir, cert + "-cert.pem"),
                            os.path.join(certdir, cert + "-key.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def good_client(port, pki, line, tag):
    """A client with the right certificate is served both ways."""
    try:
        s = tls_client(port, pki, pki)
    except (ssl.SSLError, OSError) as e:
        check(False, "%s: good client handshake (%s)" % (tag, e))
        return
    msg = ("hello from %s\n" % tag).encode()
    s.sendall(msg)
    got = recv_until(line, msg)
    check(msg in got, "%s: TLS client's bytes reach the line" % tag)
    line.sendall(b"reply\n")
    got = recv_until(s, b"reply\n")
    check(got.endswith(b"reply\n"), "%s: line's bytes reach the client" % tag)
    s.close()
    time.sleep(0.2)


def refused(port, line, tag, make):
    """A refused client: nothing of it reaches the line."""
    try:
        s = make()
        try:
            s.sendall(b"should not arrive\n")
            s.settimeout(2)
            s.recv(16)
        except (ssl.SSLError, OSError):
            pass
        s.close()
    except (ssl.SSLError, OSError):
        pass
    line.settimeout(0.5)
    try:
        leaked = line.recv(4096)
    except socket.timeout:
        leaked = b""
    check(b"should not arrive" not in leaked, "%s: refused" % tag)


def pki_init(tmp, name, ca_name, client=None):
    d = os.path.join(tmp, name)
    argv = [PKI, "init", d, "--hostname", "localhost", "--ip", "127.0.0.1",
            "--ca-name", ca_name]
    if client:
        argv += ["--client-name", client]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=60)
    return d


def main():
    if not QEMU or not GNUTLS_CLI:
        print("SKIP: qemu-system-x86_64 or gnutls-cli not found")
        sys.exit(77)
    for prog in (BRIDGE, PKI):
        if not os.access(prog, os.X_OK):
            print("FAIL: %s is not built" % prog)
            sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="test-chardev-tls-")
    try:
        run(tmp)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % failures)
    sys.exit(1 if failures else 0)


def run(tmp):
    pki = pki_init(tmp, "pki", "qio test CA", client="client1")
    other = pki_init(tmp, "other", "other CA", client="client1")
    subprocess.run([PKI, "client", pki, "intruder"], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    port = free_port()
    objects = [
        "tls-creds-x509,id=tls0,endpoint=server,dir=%s" % pki,
        "authz-simple,id=auth0,identity=CN=client1",
    ]
    net = ("socket,id=net,host=127.0.0.1,port=%d,server=on,wait=off,"
           "tls-creds=tls0,tls-authz=auth0" % port)
    srv, line = bridge(tmp, "srv", objects, net)

    good_client(port, pki, line, "python ssl")
    refused(port, line, "client trusting another CA",
            lambda: tls_client(port, other, pki))
    good_client(port, pki, line, "after another CA")
    refused(port, line, "no client certificate",
            lambda: tls_client(port, pki))
    good_client(port, pki, line, "after no certificate")
    refused(port, line, "certificate from another CA",
            lambda: tls_client(port, pki, other))
    good_client(port, pki, line, "after a foreign certificate")
    refused(port, line, "tls-authz denies CN=intruder",
            lambda: tls_client(port, pki, pki, cert="intruder"))
    good_client(port, pki, line, "after authz deny")
    refused(port, line, "plain TCP client",
            lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    good_client(port, pki, line, "after a plain client")

    # gnutls-cli as the client.
    cli = subprocess.Popen(
        [GNUTLS_CLI, "--x509cafile", os.path.join(pki, "ca-cert.pem"),
         "--x509certfile", os.path.join(pki, "client-cert.pem"),
         "--x509keyfile", os.path.join(pki, "client-key.pem"),
         "-p", str(port), "127.0.0.1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    procs.append(cli)
    cli.stdin.write(b"from gnutls-cli\n")
    cli.stdin.flush()
    got = recv_until(line, b"from gnutls-cli\n")
    check(b"from gnutls-cli\n" in got, "gnutls-cli's bytes reach the line")
    stop(cli)
    time.sleep(0.2)
    good_client(port, pki, line, "after gnutls-cli")
    line.close()
    stop(srv)
    err = (srv.log + srv.stderr.read()).decode(errors="replace")
    check("refused" in err and "intruder" in err,
          "refusals are logged with the reason")

    # QEMU as TLS client of qio: its monitor greets qio's end.
    port = free_port()
    srv, line = bridge(tmp, "qsrv", objects,
        "socket,id=net,host=127.0.0.1,port=%d,server=on,wait=off,"
        "tls-creds=tls0,tls-authz=auth0" % port)
    qemu = start([QEMU, "-machine", "none", "-nodefaults", "-display", "none",
                  "-object", "tls-creds-x509,id=tls0,endpoint=client,dir=%s"
                  % pki,
                  "-chardev", "socket,id=c,host=localhost,port=%d,"
                  "tls-creds=tls0,reconnect=1" % port,
                  "-mon", "chardev=c,mode=readline"])
    got = recv_until(line, b"(qemu) ")
    check(b"monitor - type 'help'" in got,
          "QEMU's TLS chardev client reaches qio's server")
    type_slowly(line, b"info version\r\n")
    got = recv_until(line, b"(qemu) ", timeout=TIMEOUT)
    check(b"7." in got or b"8." in got or b"9." in got,
          "QEMU answers info version through qio's TLS server")
    stop(qemu)
    line.close()
    stop(srv)

    # qio as TLS client of QEMU's TLS chardev server.
    port = free_port()
    qemu = start([QEMU, "-machine", "none", "-nodefaults", "-display", "none",
                  "-object", "tls-creds-x509,id=tls0,endpoint=server,"
                  "verify-peer=on,dir=%s" % pki,
                  "-chardev", "socket,id=c,host=127.0.0.1,port=%d,server=on,"
                  "wait=off,tls-creds=tls0" % port,
                  "-mon", "chardev=c,mode=readline"])
    wait_for(lambda: port_open(port), "QEMU listening")
    cli, line = bridge(tmp, "qcli", [
        "tls-creds-x509,id=tlsc,endpoint=client,dir=%s" % pki],
        "socket,id=net,host=localhost,port=%d,tls-creds=tlsc,"
        "reconnect=1" % port)
    got = recv_until(line, b"(qemu) ")
    check(b"monitor - type 'help'" in got,
          "qio's TLS chardev client gets QEMU's banner")
    type_slowly(line, b"info version\r\n")
    got = recv_until(line, b"(qemu) ")
    check(b"info version" in got and got.count(b"(qemu) ") >= 1,
          "QEMU answers qio's TLS client")
    line.close()
    stop(cli)
    stop(qemu)

    # telnet=on: the same offer as QEMU's.
    offers = []
    for who in ("qemu", "qio"):
        port = free_port()
        if who == "qemu":
            p = start([QEMU, "-machine", "none", "-nodefaults", "-display",
                       "none", "-chardev", "socket,id=c,host=127.0.0.1,"
                       "port=%d,server=on,wait=off,telnet=on" % port,
                       "-mon", "chardev=c,mode=readline"])
            wait_for(lambda: port_open(port), "QEMU telnet listening")
        else:
            p, line = bridge(tmp, "tn", [],
                             "socket,id=net,host=127.0.0.1,port=%d,"
                             "server=on,wait=off,telnet=on" % port)
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        got = recv_until(s, b"\xff\xfd\x00")
        offers.append(got[:12])
        s.close()
        stop(p)
    check(offers[0] == offers[1] and len(offers[0]) == 12,
          "telnet offer as QEMU's: %s" % offers[1].hex(" "))


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
