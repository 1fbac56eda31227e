#!/usr/bin/python3
"""qio-nbd against peers that try to use up its resources.

Each case starts its own qio-nbd on 127.0.0.1, plays one hostile peer
and checks that the server refuses what it must, keeps serving and says
so on stderr, briefly:

  nproc         as user nobody under a small process limit, 60 silent
                connections: the server stays up and serves the next
                client once they are gone
  burst         1000 connects at once: every one gets the greeting
  idle          -e 1 and a client that negotiates and goes silent: with
                --idle-limit it is dropped and the next client is served
  tls-refusal   a client refused by --tls-authz and one that fails the
                TLS handshake each leave one line on stderr (no -v)
  accept-flood  out of descriptors: the accept warning is rate limited

Usage: qio-nbd-hostile.py BUILD_ROOT CASE
Every server runs under timeout(1) and is stopped by its pid; exit 77
when the case cannot run here (not root for nproc, no setpriv).
"""

import os
import resource
import shutil
import signal
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
OPT_STARTTLS, OPT_GO = 5, 7
REP_ACK = 1
CMD_READ, CMD_DISC, CMD_FLUSH = 0, 2, 3
SIMPLE_REPLY_MAGIC = 0x67446698
REQUEST_MAGIC = 0x25609513
SKIP = 77


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """qio-nbd under timeout(1), stderr in a file, stopped by pid."""

    def __init__(self, build, tmp, name, args, prefix=(), port=None):
        self.port = port or free_port()
        self.log = os.path.join(tmp, name + ".log")
        qnbd = os.path.join(build, "tools", "qio-nbd")
        cmd = (list(prefix) + ["timeout", "--preserve-status", "120", qnbd,
                               "-b", "127.0.0.1", "-p", str(self.port)]
               + args)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("qio-nbd exited at start: %s"
                                   % self.output())
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                # That probe was a client too: wait for it to be gone.
                time.sleep(0.2)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("qio-nbd did not listen: %s" % self.output())

    def server_pid(self):
        """qio-nbd's pid: timeout(1)'s child."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        with open(path) as f:
            return int(f.read().split()[0])

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.server_pid()) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("server closed after %d of %d bytes"
                           % (len(buf), n))
        buf += chunk
    return buf


def greet(sock):
    g = recv_exact(sock, 18)
    assert g[:16] == NBDMAGIC + IHAVEOPT, g
    sock.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes


def option(sock, opt, payload=b""):
    sock.sendall(IHAVEOPT + struct.pack(">II", opt, len(payload)) + payload)


def go(sock, name=""):
    """NBD_OPT_GO: read replies up to the final ACK."""
    n = name.encode()
    option(sock, OPT_GO, struct.pack(">I", len(n)) + n + struct.pack(">H", 0))
    while True:
        magic, _, rtype, rlen = struct.unpack(">QIII", recv_exact(sock, 20))
        assert magic == REP_MAGIC, hex(magic)
        recv_exact(sock, rlen)
        if rtype == REP_ACK:
            return
        assert not rtype & (1 << 31), "GO refused: 0x%x" % rtype


def read_block(sock, cookie=1):
    sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, cookie,
                             0, 512))
    magic, err, got = struct.unpack(">IIQ", recv_exact(sock, 16))
    assert magic == SIMPLE_REPLY_MAGIC and err == 0 and got == cookie, (
        hex(magic), err, got)
    return recv_exact(sock, 512)


def well_behaved(port, timeout=10):
    """Connect, negotiate, read a block, disconnect."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.settimeout(timeout)
        greet(s)
        go(s)
        read_block(s)
        s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 2, 0, 0))


def make_disk(tmp):
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    return disk


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(n, hard) if hard != resource.RLIM_INFINITY else n
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ---- Cases ----------------------------------------------------------------


def case_nproc(build, tmp):
    if os.geteuid() != 0 or not shutil.which("setpriv") or \
            not shutil.which("prlimit"):
        print("SKIP: needs root, setpriv and prlimit")
        return SKIP
    os.chmod(tmp, 0o755)
    disk = make_disk(tmp)
    os.chmod(disk, 0o644)
    # Count what user nobody already runs: the limit is per user.
    out = subprocess.run(["ps", "-L", "-u", "nobody", "-o", "lwp="],
                         capture_output=True, text=True).stdout
    nproc = 50 + len(out.split())
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup",
              "--clear-groups", "prlimit", "--nproc=%d" % nproc]
    srv = Server(build, tmp, "nproc", ["-e", "0", "-t", "-r", disk],
                 prefix=prefix)
    silent = []
    try:
        # A client in transmission before the threads run out...
        w = socket.create_connection(("127.0.0.1", srv.port), 5)
        w.settimeout(10)
        greet(w)
        go(w)
        for _ in range(60):
            silent.append(socket.create_connection(("127.0.0.1", srv.port),
                                                   5))
        time.sleep(2)
        assert srv.alive(), "server died: %s" % srv.output()
        # ...asks for work that needs a worker thread: it gets an answer
        # or is hung up on, but is not left waiting for ever.
        w.settimeout(5)
        w.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_FLUSH, 7, 0,
                              0))
        try:
            got = w.recv(16)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            raise AssertionError("FLUSH neither answered nor refused")
        print("# FLUSH while out of threads: %s"
              % ("answered" if got else "hung up on"))
        w.close()
        assert srv.alive(), "server died: %s" % srv.output()
        for s in silent:
            s.close()
        silent = []
        time.sleep(1)
        assert srv.alive(), "server died: %s" % srv.output()
        well_behaved(srv.port)
        assert srv.alive(), "server died: %s" % srv.output()
        log = srv.output()
        refusals = [l for l in log.splitlines() if "thread" in l]
        # Refused connections were reported, rate limited.
        # Rate limited: 10 a minute for each kind of refusal.
        assert 1 <= len(refusals) <= 20, log
        assert "127.0.0.1" in refusals[0], log
        print("# %d refusal lines, the first: %s" % (len(refusals),
                                                    refusals[0]))
    finally:
        for s in silent:
            s.close()
        srv.stop()
    return 0


def case_burst(build, tmp):
    count = 1000
    raise_nofile(4 * count + 100)
    disk = make_disk(tmp)
    srv = Server(build, tmp, "burst", ["-e", "0", "-t", "-r", disk])
    socks = []
    try:
        start = time.monotonic()
        for _ in range(count):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", srv.port))
            assert err in (0, 115), os.strerror(err)  # EINPROGRESS
            socks.append(s)
        greeted = 0
        deadline = start + 5
        for s in socks:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                if recv_exact(s, 18)[:8] == NBDMAGIC:
                    greeted += 1
            except (OSError, EOFError):
                pass
        took = time.monotonic() - start
        print("# %d of %d connects greeted in %.2f s" % (greeted, count, took))
        assert greeted == count, "only %d of %d greeted" % (greeted, count)
        assert srv.alive()
    finally:
        for s in socks:
            s.close()
        srv.stop()
    return 0


def case_idle(build, tmp):
    disk = make_disk(tmp)
    srv = Server(build, tmp, "idle",
                 ["-e", "1", "-t", "--idle-limit", "2", "-r", disk])
    try:
        a = socket.create_connection(("127.0.0.1", srv.port), 5)
        a.settimeout(10)
        greet(a)
        go(a)
        read_block(a)
        start = time.monotonic()
        # A goes silent; B waits in the backlog until A is dropped.
        b = socket.create_connection(("127.0.0.1", srv.port), 5)
        b.settimeout(8)
        greet(b)
        waited = time.monotonic() - start
        print("# second client greeted after %.2f s" % waited)
        assert 1.0 <= waited < 8, waited
        go(b)
        read_block(b)
        b.close()
        # A was hung up on.
        a.settimeout(2)
        try:
            assert a.recv(1) == b""
        except ConnectionResetError:
            pass
        a.close()
        log = srv.output()
        assert "idle" in log, log
    finally:
        srv.stop()
    return 0


def pki_init(build, tmp):
    pki = os.path.join(tmp, "pki")
    subprocess.run([os.path.join(build, "tools", "qio-pki"), "init", pki,
                    "--hostname", "localhost", "--ip", "127.0.0.1",
                    "--client-name", "client1"], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    return pki


def tls_client(port, pki, with_cert):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(10)
    greet(s)
    option(s, OPT_STARTTLS)
    magic, _, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
    assert magic == REP_MAGIC and rtype == REP_ACK and rlen == 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca-cert.pem"))
    if with_cert:
        ctx.load_cert_chain(os.path.join(pki, "client-cert.pem"),
                            os.path.join(pki, "client-key.pem"))
    try:
        t = ctx.wrap_socket(s, server_hostname="localhost")
        # TLS 1.3: a refusal arrives after the client's handshake ends.
        go(t)
        t.close()
        return False
    except (ssl.SSLError, OSError, EOFError, AssertionError, struct.error):
        s.close()
        return True


def refusal_lines(log):
    return [l for l in log.splitlines() if "refused" in l]


def case_tls_refusal(build, tmp):
    disk = make_disk(tmp)
    pki = pki_init(build, tmp)
    creds = "tls-creds-x509,id=tls0,endpoint=server,dir=" + pki
    deny = Server(build, tmp, "deny", [
        "-t", "--object", creds,
        "--object", "authz-simple,id=auth0,identity=CN=somebody-else",
        "--tls-creds", "tls0", "--tls-authz", "auth0", "-r", disk])
    try:
        assert tls_client(deny.port, pki, True), "authz let client1 in"
        time.sleep(2.5)  # the server lingers after a refusal
        lines = refusal_lines(deny.output())
        assert len(lines) == 1, deny.output()
        assert "127.0.0.1" in lines[0] and "authoriz" in lines[0], lines
        print("# " + lines[0])
    finally:
        deny.stop()
    hs = Server(build, tmp, "handshake", [
        "-t", "--object", creds, "--tls-creds", "tls0", "-r", disk])
    try:
        # No client certificate: verify-peer refuses the handshake.
        assert tls_client(hs.port, pki, False), "handshake succeeded"
        time.sleep(2.5)
        lines = refusal_lines(hs.output())
        assert len(lines) == 1, hs.output()
        assert "127.0.0.1" in lines[0] and "TLS" in lines[0], lines
        print("# " + lines[0])
    finally:
        hs.stop()
    return 0


def case_accept_flood(build, tmp):
    disk = make_disk(tmp)
    srv = Server(build, tmp, "flood", ["-e", "0", "-t", "-r", disk],
                 prefix=["prlimit", "--nofile=24"])
    socks = []
    try:
        # More than the 24 descriptors, fewer than any backlog holds.
        cpu = srv.cpu_seconds()
        for _ in range(30):
            socks.append(socket.create_connection(("127.0.0.1", srv.port), 5))
        time.sleep(5)
        cpu = srv.cpu_seconds() - cpu
        print("# %.2f s of CPU in 5 s out of descriptors" % cpu)
        # Backing off, not spinning on a readable listening socket.
        assert cpu < 1.0, cpu
        assert srv.alive(), srv.output()
        log = srv.output()
        warnings = [l for l in log.splitlines() if "cannot accept" in l]
        print("# %d accept warnings in 5 s" % len(warnings))
        assert 1 <= len(warnings) <= 5, log
    finally:
        for s in socks:
            s.close()
        srv.stop()
    return 0


CASES = {
    "nproc": case_nproc,
    "burst": case_burst,
    "idle": case_idle,
    "tls-refusal": case_tls_refusal,
    "accept-flood": case_accept_flood,
}


def main():
    build, case = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="qio-nbd-hostile-")
    try:
        st = CASES[case](build, tmp)
    except Exception as e:
        print("FAIL %s: %s: %s" % (case, type(e).__name__, e))
        st = 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if st == 0:
        print("ok %s" % case)
    return st


if __name__ == "__main__":
    sys.exit(main())
