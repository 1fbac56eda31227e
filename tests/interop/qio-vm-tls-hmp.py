#!/usr/bin/python3
"""qio-vm's HMP monitor on a TLS socket chardev, as the issue's example
runs QEMU's: python ssl and gnutls-cli connect, get the banner and have
`info version` answered, typed one byte at a time and as one write (one
TLS record holding the whole command, where QEMU 7.2 stalls).  A client
without a certificate is refused (verify-peer is on) and the next good
client is still served.

Usage: qio-vm-tls-hmp.py BUILDDIR; exits 77 when gnutls-cli is missing.
"""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
QIO_VM = os.path.join(BUILD, "tools", "qio-vm")
PKI = os.path.join(BUILD, "tools", "qio-pki")
GNUTLS_CLI = shutil.which("gnutls-cli")
if not GNUTLS_CLI:
    print("SKIP: gnutls-cli not found")
    sys.exit(77)

failures = 0
BANNER = rb"qio-vm \d+\.\d+\.\d+ monitor - type 'help' for more information" \
         rb"\r\n\(qemu\) "


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    failures += not cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_until(s, pattern, timeout=10):
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


def tls_client(port, pki, cert=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca-cert.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(pki, "client-cert.pem"),
                            os.path.join(pki, "client-key.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def main():
    tmp = tempfile.mkdtemp(prefix="qio-vm-tls-")
    proc = None
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run([PKI, "init", pki, "--hostname", "localhost", "--ip",
                        "127.0.0.1", "--client-name", "client1"],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        port = free_port()
        proc = subprocess.Popen(
            [QIO_VM, "-machine", "none", "-nodefaults", "-display", "none",
             "-object", f"tls-creds-x509,id=tls0,endpoint=server,dir={pki}",
             "-chardev", f"socket,id=m0,host=127.0.0.1,port={port},"
                         "server=on,wait=off,tls-creds=tls0",
             "-mon", "chardev=m0,mode=readline"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        for how in ("one write", "a byte at a time"):
            s = tls_client(port, pki)
            banner = read_until(s, rb"\(qemu\) $")
            check(re.fullmatch(BANNER, banner) is not None,
                  f"python ssl ({how}): banner")
            if how == "one write":
                s.sendall(b"info version\r")
            else:
                for b in b"info version\r":
                    s.sendall(bytes([b]))
            out = read_until(s, rb"\r\n\d+\.\d+\.\d+\r\n\(qemu\) $")
            answer = out.split(b"\x1b[K")[-1]
            check(re.fullmatch(rb"\r\n\d+\.\d+\.\d+\r\n\(qemu\) ",
                               answer) is not None,
                  f"python ssl ({how}): info version answered {answer!r}")
            s.close()

        # No client certificate: refused; the next client is served.
        try:
            bad = tls_client(port, pki, cert=False)
            bad.settimeout(5)
            got = bad.recv(4096)
            check(b"monitor" not in got, "no client certificate: refused")
        except (ssl.SSLError, OSError):
            check(True, "no client certificate: refused")

        cli = subprocess.Popen(
            [GNUTLS_CLI, "--x509cafile", os.path.join(pki, "ca-cert.pem"),
             "--x509certfile", os.path.join(pki, "client-cert.pem"),
             "--x509keyfile", os.path.join(pki, "client-key.pem"),
             "-p", str(port), "127.0.0.1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        try:
            cli.stdin.write(b"info status\r")
            cli.stdin.flush()
            time.sleep(1.5)
            cli.stdin.close()
            cli.wait(timeout=20)
            out = cli.stdout.read()
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        check(re.search(BANNER, out) is not None and
              b"VM status: running\r\n(qemu) " in out,
              "gnutls-cli: banner, then info status answered")
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp)
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)


main()
