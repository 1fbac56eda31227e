#!/usr/bin/python3
"""Raw-socket probes of the NBD server's negotiation rules.

Starts nbd-test-server twice (plain, and with TLS credentials minted by
qio-pki) on UNIX sockets in a temporary directory, then sends byte-exact
option sequences that a polite client never would.  Each probe is named
after the CVE it guards where there is one.

Usage: nbd-probe.py NBD-TEST-SERVER QIO-PKI
"""

import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = b"IHAVEOPT"
REP_MAGIC = 0x0003E889045565A9
SIMPLE_REPLY_MAGIC = 0x67446698
REQUEST_MAGIC = 0x25609513
EXTENDED_REQUEST_MAGIC = 0x21E41C71
EXTENDED_REPLY_MAGIC = 0x6E8A278C

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 9, 10
OPT_EXTENDED_HEADERS = 11
REP_ACK = 1
REP_INFO = 3
ERR = 1 << 31
REP_ERR_UNSUP, REP_ERR_INVALID = ERR | 1, ERR | 3
REP_ERR_TLS_REQD, REP_ERR_TOO_BIG = ERR | 5, ERR | 9
REP_ERR_EXT_HEADER_REQD = ERR | 10
CMD_READ, CMD_DISC, CMD_TRIM = 0, 2, 4
REPLY_FLAG_DONE = 1
REPLY_TYPE_OFFSET_HOLE, REPLY_TYPE_ERROR = 2, 0x8001
NBD_EINVAL = 22

TIMEOUT = 10


class Peer:
    """A hand-driven NBD client on one connection."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("server closed after %d of %d bytes"
                               % (len(buf), n))
            buf += chunk
        return buf

    def greet(self):
        g = self.recv_exact(18)
        assert g[:16] == NBDMAGIC + IHAVEOPT, g
        assert struct.unpack(">H", g[16:])[0] == 3  # fixed newstyle, no zeroes
        self.sock.sendall(struct.pack(">I", 3))

    def option(self, opt, payload=b""):
        self.sock.sendall(IHAVEOPT + struct.pack(">II", opt, len(payload))
                          + payload)

    def reply(self, opt):
        magic, ropt, rtype, rlen = struct.unpack(">QIII", self.recv_exact(20))
        assert magic == REP_MAGIC, hex(magic)
        assert ropt == opt, (ropt, opt)
        assert rlen <= 65536, rlen
        return rtype, self.recv_exact(rlen)

    def expect(self, opt, rtype):
        got, data = self.reply(opt)
        assert got == rtype, "option %d: got 0x%x (%r), expected 0x%x" % (
            opt, got, data, rtype)
        if rtype & ERR:
            assert data, "error reply without a message"
        return data

    def expect_eof(self):
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            data = b""
        assert data == b"", "expected the server to hang up, got %r" % data

    def starttls(self, pki):
        self.option(OPT_STARTTLS)
        self.expect(OPT_STARTTLS, REP_ACK)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(pki, "ca-cert.pem"))
        ctx.load_cert_chain(os.path.join(pki, "client-cert.pem"),
                            os.path.join(pki, "client-key.pem"))
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")


def go_payload(name):
    n = name.encode()
    return struct.pack(">I", len(n)) + n + struct.pack(">H", 0)


# ---- Probes ---------------------------------------------------------------


def test_cve_2017_15119_option_length(plain, tls, pki):
    p = Peer(plain)
    p.greet()
    # Header only: a server that allocates or waits for 4 GiB is broken.
    p.sock.sendall(IHAVEOPT + struct.pack(">II", OPT_LIST, 0xFFFFFFF0))
    p.expect(OPT_LIST, REP_ERR_TOO_BIG)
    p.expect_eof()
    p.close()


def check_forgotten_after_starttls(tls, pki, option):
    """@option, refused in the clear, must not be in force after STARTTLS:
    a READ then gets a simple reply."""
    p = Peer(tls)
    p.greet()
    p.option(option)
    p.expect(option, REP_ERR_TLS_REQD)
    p.starttls(pki)
    p.option(OPT_GO, go_payload("disk"))
    while p.reply(OPT_GO)[0] != REP_ACK:
        pass
    p.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, 7,
                               0, 512))
    magic, err, cookie = struct.unpack(">IIQ", p.recv_exact(16))
    # Simple reply: nothing agreed in the clear survives STARTTLS.
    assert magic == SIMPLE_REPLY_MAGIC, hex(magic)
    assert err == 0 and cookie == 7
    p.recv_exact(512)
    p.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 8,
                               0, 0))
    p.close()


def test_cve_2021_3716_structured_reply_reset(plain, tls, pki):
    check_forgotten_after_starttls(tls, pki, OPT_STRUCTURED_REPLY)


def xrequest(cmd, cookie, offset, length, flags=0):
    return struct.pack(">IHHQQQ", EXTENDED_REQUEST_MAGIC, flags, cmd, cookie,
                       offset, length)


def xreply(p):
    """One extended reply chunk: (flags, type, cookie, offset, payload)."""
    magic, flags, rtype, cookie, offset, length = struct.unpack(
        ">IHHQQQ", p.recv_exact(32))
    assert magic == EXTENDED_REPLY_MAGIC, hex(magic)
    assert length <= 1 << 25, length
    return flags, rtype, cookie, offset, p.recv_exact(length)


def test_extended_headers(plain, tls, pki):
    p = Peer(plain)
    p.greet()
    p.option(OPT_EXTENDED_HEADERS, b"x")
    p.expect(OPT_EXTENDED_HEADERS, REP_ERR_INVALID)
    p.option(OPT_EXTENDED_HEADERS)
    p.expect(OPT_EXTENDED_HEADERS, REP_ACK)
    p.option(OPT_STRUCTURED_REPLY)
    p.expect(OPT_STRUCTURED_REPLY, REP_ERR_EXT_HEADER_REQD)
    p.option(OPT_GO, go_payload("disk"))
    while p.reply(OPT_GO)[0] != REP_ACK:
        pass
    # A hole: the header echoes the request's offset.
    p.sock.sendall(xrequest(CMD_READ, 5, 4096, 512))
    flags, rtype, cookie, offset, data = xreply(p)
    assert (flags, rtype, cookie, offset) == \
        (REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_HOLE, 5, 4096), \
        (flags, rtype, cookie, offset)
    assert struct.unpack(">QI", data) == (4096, 512), data
    # A 64-bit effect length past the end: EINVAL, not a disconnect.
    p.sock.sendall(xrequest(CMD_TRIM, 6, 0, 1 << 40))
    flags, rtype, cookie, offset, data = xreply(p)
    assert (rtype, cookie) == (REPLY_TYPE_ERROR, 6), (rtype, cookie)
    assert struct.unpack(">I", data[:4])[0] == NBD_EINVAL
    # A compact request now is a lost stream: the server hangs up.
    p.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, 7,
                               0, 512) + bytes(4))
    p.expect_eof()
    p.close()


def test_extended_headers_reset_by_starttls(plain, tls, pki):
    check_forgotten_after_starttls(tls, pki, OPT_EXTENDED_HEADERS)


def test_every_option_before_starttls_gets_tls_reqd(plain, tls, pki):
    p = Peer(tls)
    p.greet()
    for opt in (OPT_LIST, OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY,
                OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT, 11, 4242):
        p.option(opt, b"payload")
        p.expect(opt, REP_ERR_TLS_REQD)
    p.close()


def test_abort_gets_ack(plain, tls, pki):
    for path in (plain, tls):
        p = Peer(path)
        p.greet()
        p.option(OPT_ABORT)
        p.expect(OPT_ABORT, REP_ACK)
        p.expect_eof()
        p.close()


def test_export_name_in_clear_disconnects(plain, tls, pki):
    p = Peer(tls)
    p.greet()
    p.option(OPT_EXPORT_NAME, b"disk")
    p.expect_eof()  # not the export size, not a byte
    p.close()


def test_second_starttls(plain, tls, pki):
    p = Peer(tls)
    p.greet()
    p.starttls(pki)
    p.option(OPT_STARTTLS)
    p.expect(OPT_STARTTLS, REP_ERR_INVALID)
    p.option(OPT_ABORT)
    p.expect(OPT_ABORT, REP_ACK)
    p.close()


def test_starttls_with_payload(plain, tls, pki):
    p = Peer(tls)
    p.greet()
    p.option(OPT_STARTTLS, b"x")
    p.expect(OPT_STARTTLS, REP_ERR_INVALID)
    p.close()


def test_starttls_without_creds_unsup(plain, tls, pki):
    p = Peer(plain)
    p.greet()
    p.option(OPT_STARTTLS)
    p.expect(OPT_STARTTLS, REP_ERR_UNSUP)
    p.close()


def test_truncated_packets(plain, tls, pki):
    for cut in (b"\0\0", b"\0\0\0\3IHAVE", b"\0\0\0\3" + IHAVEOPT
                + struct.pack(">II", OPT_LIST, 8) + b"abc"):
        p = Peer(plain)
        p.recv_exact(18)
        p.sock.sendall(cut)
        p.sock.shutdown(socket.SHUT_WR)
        p.expect_eof()
        p.close()
    # The server is still serving.
    p = Peer(plain)
    p.greet()
    p.option(OPT_LIST)
    while p.reply(OPT_LIST)[0] != REP_ACK:
        pass
    p.close()


def test_handshake_time_limit(plain, tls, pki):
    p = Peer(tls)  # started with --handshake-timeout 1000
    p.greet()
    start = time.monotonic()
    p.expect_eof()
    assert time.monotonic() - start < 5
    p.close()


def test_qemu_interop(plain, tls, pki):
    """qemu-io and qemu-img as clients, plain and over TLS."""
    if not shutil.which("qemu-io") or not shutil.which("qemu-img"):
        print("SKIP test_qemu_interop: qemu-io/qemu-img not installed")
        return
    obj = "tls-creds-x509,id=tls0,endpoint=client,dir=" + pki
    def run(*a):
        return subprocess.run(a, check=True, timeout=TIMEOUT * 3,
                              stdout=subprocess.PIPE, text=True).stdout

    run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4096 8192",
        "-c", "read -P 0x5a 4096 8192", "-c", "flush",
        "-c", "write -z 65536 65536", "-c", "discard 131072 65536",
        "nbd+unix:///disk?socket=" + plain)
    out = run("qemu-img", "map", "--output=json",
              "nbd+unix:///disk?socket=" + plain)
    assert '"start": 4096, "length": 8192' in out, out
    run("qemu-io", "--object", obj, "-c", "read -P 0x5a 4096 8192",
        "--image-opts", "driver=nbd,path=%s,export=disk,tls-creds=tls0,"
        "tls-hostname=localhost" % tls)
    # Plain client against the TLS server: refused, with the reason shown.
    r = subprocess.run(["qemu-img", "info", "nbd+unix:///disk?socket=" + tls],
                       timeout=TIMEOUT * 3, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert r.returncode != 0 and "TLS is required" in r.stdout, r.stdout


def test_nbdinfo_interop(plain, tls, pki):
    """libnbd's nbdinfo as a client: list, block status map, TLS."""
    if not shutil.which("nbdinfo"):
        print("SKIP test_nbdinfo_interop: nbdinfo (libnbd-bin) not installed")
        return

    def run(*a):
        return subprocess.run(a, check=True, timeout=TIMEOUT * 3,
                              stdout=subprocess.PIPE, text=True).stdout

    out = run("nbdinfo", "--list", "nbd+unix://?socket=" + plain)
    assert 'export="disk"' in out and "base:allocation" in out, out
    assert "block_size_maximum: 33554432" in out, out
    out = run("nbdinfo", "--map", "nbd+unix:///disk?socket=" + plain)
    assert "data" in out or "hole" in out, out
    out = run("nbdinfo", "nbds+unix:///disk?socket=%s&tls-certificates=%s"
              % (tls, pki))
    assert "with TLS" in out, out


# ---- Driver ---------------------------------------------------------------


def start_server(exe, args):
    proc = subprocess.Popen([exe, "--max-seconds", "100"] + args,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "listening":
        proc.kill()
        proc.wait()
        raise RuntimeError("nbd-test-server did not start: %r" % line)
    return proc


def main():
    server_exe, pki_exe = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="nbd-probe-")
    procs = []
    failed = 0
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run([pki_exe, "init", pki, "--hostname", "localhost",
                        "--client-name", "qio-probe-client"], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        plain = os.path.join(tmp, "plain.sock")
        tls = os.path.join(tmp, "tls.sock")
        procs.append(start_server(server_exe, [
            "unix:" + plain, "disk=" + disk]))
        procs.append(start_server(server_exe, [
            "--object", "tls-creds-x509,id=tls0,endpoint=server,dir=" + pki,
            "--tls-creds", "tls0", "--handshake-timeout", "1000",
            "unix:" + tls, "disk=" + disk]))
        for name, fn in sorted(globals().items()):
            if not name.startswith("test_"):
                continue
            try:
                fn(plain, tls, pki)
                print("ok   %s" % name)
            except Exception as e:  # report every probe, then fail
                failed += 1
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
