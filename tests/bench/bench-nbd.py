#!/usr/bin/python3
"""NBD server and client benchmark: qio-nbd against qemu-nbd and nbdkit.

A 1 GiB export on tmpfs is read (export -> nbdcopy's null: sink) and
written (a random tmpfs file -> a freshly truncated export) by nbdcopy over
TCP on 127.0.0.1, plain and with x509 TLS, served in turn by qio-nbd,
qemu-nbd and nbdkit's file plugin.  For each server and case it reports the
throughput (from nbdcopy's wall time) and the server's own CPU seconds per
GiB (utime + stime of the server process, all threads, from /proc/PID/stat,
taken just before and just after the copy), then the ratios of qio-nbd to
each peer.  A second part compares qio-nbd-client copy with nbdcopy as the
client against one server: wall time and the client's user + system CPU.

Every measurement gets a fresh server; contenders run interleaved
(A B C A B C ...) for several rounds and the tables show medians.  A program
to run by hand, never a pass/fail test.

  bench-nbd.py [--build DIR] [--quick] [--size MiB] [--rounds N] ...
"""

import argparse
import ctypes
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

GIB = 1 << 30
MIB = 1 << 20
SERVERS = ("qio-nbd", "qemu-nbd", "nbdkit")
CASES = (("read", False), ("write", False), ("read", True), ("write", True))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, flush=True)


def die(msg):
    print("bench-nbd: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """utime + stime of PID (all its threads) in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid, tenths=30):
    """SIGTERM, a few seconds to go, then SIGKILL; only the pid given."""
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(tenths):
        if not alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def on_tmpfs(path):
    best, fstype = "", ""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best):
                best, fstype = mnt, parts[2]
    return fstype == "tmpfs"


def run_timed(argv, timeout, errfile):
    """Run argv; return (wall s, child user+sys CPU s).  Dies on failure."""
    with open(errfile, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        with open(errfile, errors="replace") as f:
            die("%s: exit %d (a kill after %d s means a timeout)\n%s"
                % (" ".join(argv), p.returncode, timeout, f.read()))
    return wall, ru.ru_utime + ru.ru_stime


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = args.build
        self.qio_nbd = os.path.join(self.build, "tools", "qio-nbd")
        self.qio_client = os.path.join(self.build, "tools", "qio-nbd-client")
        self.qio_pki = os.path.join(self.build, "tools", "qio-pki")
        self.size = args.size * MIB
        self.srv_pid = None
        self.tmp = None

    # --- setup -----------------------------------------------------------

    def check_programs(self):
        for p in (self.qio_nbd, self.qio_client, self.qio_pki):
            if not os.access(p, os.X_OK):
                die("%s is not built (scripts/build %s)" % (p, self.build))
        need = ["nbdcopy", "nbdinfo", "gnutls-cli"]
        need += [s for s in self.a.servers if s != "qio-nbd"]
        missing = [p for p in need if not shutil.which(p)]
        if missing:
            die("missing programs: " + ", ".join(missing))

    def setup(self):
        base = self.a.tmpdir
        self.tmp = tempfile.mkdtemp(prefix="qio-bench-nbd.", dir=base)
        if not on_tmpfs(self.tmp):
            log("warning: %s is not on tmpfs; disk speed will show" % base)
        self.pki = os.path.join(self.tmp, "pki")
        subprocess.run([self.qio_pki, "init", self.pki, "--ip", "127.0.0.1",
                        "--hostname", "localhost", "--client-name", "client"],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        # Random data, so no zero detection or compression can shortcut.
        self.src = os.path.join(self.tmp, "src.img")
        with open(self.src, "wb") as f:
            left = self.size
            while left:
                n = min(left, 8 * MIB)
                f.write(os.urandom(n))
                left -= n
        # The read export: a full copy of the source, never written.
        self.rd_img = os.path.join(self.tmp, "read.img")
        shutil.copyfile(self.src, self.rd_img)
        self.wr_img = os.path.join(self.tmp, "write.img")
        self.out_img = os.path.join(self.tmp, "out.img")
        self.errfile = os.path.join(self.tmp, "client.err")

    def cleanup(self):
        self.stop_server()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def fresh(self, path):
        """An empty (sparse) file of the export's size in place of path."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        with open(path, "wb") as f:
            f.truncate(self.size)

    # --- servers ---------------------------------------------------------

    def server_argv(self, kind, tls, port, pidfile, image):
        if kind == "nbdkit":
            argv = ["nbdkit", "-P", pidfile, "-i", "127.0.0.1",
                    "-p", str(port)]
            if tls:
                argv += ["--tls=require", "--tls-certificates=" + self.pki,
                         "--tls-verify-peer"]
            return argv + ["file", image]
        prog = self.qio_nbd if kind == "qio-nbd" else "qemu-nbd"
        argv = [prog, "--fork", "--pid-file", pidfile, "-t",
                "-e", str(self.a.shared), "-b", "127.0.0.1", "-p", str(port),
                "-f", "raw"]
        if tls:
            argv += ["--object",
                     "tls-creds-x509,id=tls0,endpoint=server,dir=" + self.pki,
                     "--tls-creds", "tls0"]
        return argv + [image]

    def start_server(self, kind, tls, image):
        """Start a server on a free port; returns the URI to give clients."""
        self.stop_server()
        pidfile = os.path.join(self.tmp, "srv.pid")
        errfile = os.path.join(self.tmp, "srv.err")
        for _ in range(5):
            try:
                os.unlink(pidfile)
            except FileNotFoundError:
                pass
            port = free_port()
            with open(errfile, "wb") as err:
                r = subprocess.run(
                    self.server_argv(kind, tls, port, pidfile, image),
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    timeout=30)
            with open(errfile, errors="replace") as f:
                msg = f.read()
            if r.returncode == 0:
                break
            if "in use" not in msg:
                die("%s did not start:\n%s" % (kind, msg))
        else:
            die("%s: no free port after 5 tries" % kind)
        for _ in range(100):
            if os.path.exists(pidfile) and os.path.getsize(pidfile):
                break
            time.sleep(0.05)
        with open(pidfile) as f:
            self.srv_pid = int(f.read().strip())
        # qio-nbd and qemu-nbd --fork return once listening; make sure of
        # it for nbdkit, whose pid file may come first.
        for _ in range(100 if kind == "nbdkit" else 0):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.port = port
        if tls:
            return "nbds://127.0.0.1:%d/?tls-certificates=%s" % (port,
                                                                 self.pki)
        return "nbd://127.0.0.1:%d/" % port

    def stop_server(self):
        if self.srv_pid:
            stop_pid(self.srv_pid)
            self.srv_pid = None

    # --- probes: multi-conn and cipher, once per server -------------------

    def probe_multi_conn(self, uri):
        r = subprocess.run(["nbdinfo", uri], capture_output=True, text=True,
                           timeout=30)
        for line in r.stdout.splitlines():
            if line.strip().startswith("can_multi_conn:"):
                return line.split(":", 1)[1].strip()
        return "?"

    def probe_cipher(self, port):
        """TLS description gnutls-cli negotiates after NBD_OPT_STARTTLS.

        gnutls-cli --starttls relays stdin/stdout in the clear until stdin
        ends, then does the handshake: we read the server's greeting, send
        the client flags and STARTTLS, wait for its ACK, then close stdin.
        """
        argv = ["gnutls-cli", "--starttls", "-p", str(port),
                "--x509cafile", self.pki + "/ca-cert.pem",
                "--x509certfile", self.pki + "/client-cert.pem",
                "--x509keyfile", self.pki + "/client-key.pem", "127.0.0.1"]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        buf = b""
        deadline = time.monotonic() + 20
        fd = p.stdout.fileno()

        def more():
            nonlocal buf
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError
            buf += chunk

        try:
            while b"NBDMAGICIHAVEOPT" not in buf or \
                    len(buf) < buf.index(b"NBDMAGIC") + 18:
                more()
            # Client flags FIXED_NEWSTYLE | NO_ZEROES, option 5 STARTTLS.
            p.stdin.write(struct.pack(">I", 3) + b"IHAVEOPT" +
                          struct.pack(">II", 5, 0))
            p.stdin.flush()
            i = buf.index(b"NBDMAGIC") + 18
            while len(buf) < i + 20:
                more()
            magic, _, rtype, _ = struct.unpack(">QIII", buf[i:i + 20])
            if magic != 0x3e889045565a9 or rtype != 1:
                return "STARTTLS refused"
            p.stdin.close()
            p.wait(timeout=20)
            buf += p.stdout.read()
        except (EOFError, TimeoutError, subprocess.TimeoutExpired):
            return "no handshake"
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            if not p.stdin.closed:
                p.stdin.close()
        for line in buf[i + 20:].decode(errors="replace").splitlines():
            if line.startswith("- Description:"):
                return line.split(":", 1)[1].strip()
        return "?"

    def probes(self):
        log("Announced multi-conn (nbdinfo) and negotiated TLS (gnutls-cli "
            "--starttls, default priority, client certificate):")
        ciphers = set()
        for kind in self.a.servers:
            uri = self.start_server(kind, False, self.rd_img)
            mc_plain = self.probe_multi_conn(uri)
            uri = self.start_server(kind, True, self.rd_img)
            mc_tls = self.probe_multi_conn(uri)
            cipher = self.probe_cipher(self.port)
            self.stop_server()
            ciphers.add(cipher.rsplit("-(", 1)[-1].rstrip(")"))
            log("  %-9s can_multi_conn plain=%s tls=%s; %s"
                % (kind, mc_plain, mc_tls, cipher))
        if len(ciphers) != 1:
            log("  WARNING: the servers negotiated different ciphers: %s"
                % ", ".join(sorted(ciphers)))
        else:
            log("  same bulk cipher for all: %s" % ciphers.pop())

    # --- measurements ----------------------------------------------------

    def server_run(self, kind, op, tls, check):
        """One copy against a fresh server: (GiB/s, server CPU-s/GiB).
        With check, a written export is compared with the source."""
        if op == "read":
            uri = self.start_server(kind, tls, self.rd_img)
            argv = ["nbdcopy", uri, "null:"]
        else:
            self.fresh(self.wr_img)
            uri = self.start_server(kind, tls, self.wr_img)
            argv = ["nbdcopy", self.src, uri]
        before = proc_cpu(self.srv_pid)
        wall, _ = run_timed(argv, self.a.timeout, self.errfile)
        after = proc_cpu(self.srv_pid)
        self.stop_server()
        if check and op == "write":
            self.verify(self.wr_img, "%s write" % kind)
        gib = self.size / GIB
        return gib / wall, (after - before) / gib

    def client_argv(self, client, op, uri):
        if op == "read":
            src, dst = uri, self.out_img
        else:
            src, dst = self.src, uri
        if client == "nbdcopy":
            return ["nbdcopy", src, dst]
        argv = [self.qio_client, "copy"]
        if client != "qio-nbd-client":
            argv += ["-C", client.rsplit("-C", 1)[1]]
        return argv + [src, dst]

    def client_run(self, client, op, tls, check):
        """One copy by client against a fresh server: (wall s/GiB,
        client CPU-s/GiB, server CPU-s/GiB)."""
        kind = self.a.client_server
        if op == "read":
            self.fresh(self.out_img)
            uri = self.start_server(kind, tls, self.rd_img)
        else:
            self.fresh(self.wr_img)
            uri = self.start_server(kind, tls, self.wr_img)
        before = proc_cpu(self.srv_pid)
        wall, cpu = run_timed(self.client_argv(client, op, uri),
                              self.a.timeout, self.errfile)
        after = proc_cpu(self.srv_pid)
        self.stop_server()
        if check:
            self.verify(self.out_img if op == "read" else self.wr_img,
                        "%s %s" % (client, op))
        gib = self.size / GIB
        return wall / gib, cpu / gib, (after - before) / gib

    def verify(self, path, who):
        with open(path, "rb") as a, open(self.src, "rb") as b:
            while True:
                x, y = a.read(8 * MIB), b.read(8 * MIB)
                if x != y:
                    die("%s: the data differs from the source" % who)
                if not x:
                    return

    # --- cipher-only cost ------------------------------------------------

    def gnutls_cli_aead(self):
        """The AES-GCM lines of gnutls-cli --benchmark-ciphers."""
        p = subprocess.Popen(["gnutls-cli", "--benchmark-ciphers"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        lines = []
        deadline = time.monotonic() + 60
        try:
            for line in p.stdout:
                if "cipher-MAC" in line or time.monotonic() > deadline:
                    break
                if "GCM" in line:
                    lines.append(line.strip())
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        return lines

    def aes256gcm(self, decrypt):
        """AES-256-GCM bytes/s for 16 KiB records through libgnutls, one
        core, the per-call overhead (measured on 16-byte records) taken
        out.  Median of 5."""
        g = ctypes.CDLL("libgnutls.so.30")

        class Datum(ctypes.Structure):
            _fields_ = [("data", ctypes.c_void_p), ("size", ctypes.c_uint)]

        g.gnutls_cipher_get_id.argtypes = [ctypes.c_char_p]
        alg = g.gnutls_cipher_get_id(b"AES-256-GCM")
        key = ctypes.create_string_buffer(os.urandom(32), 32)
        datum = Datum(ctypes.cast(key, ctypes.c_void_p), 32)
        h = ctypes.c_void_p()
        if g.gnutls_aead_cipher_init(ctypes.byref(h), alg,
                                     ctypes.byref(datum)) != 0:
            return None
        sig = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
               ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
               ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
               ctypes.POINTER(ctypes.c_size_t)]
        g.gnutls_aead_cipher_encrypt.argtypes = sig
        g.gnutls_aead_cipher_decrypt.argtypes = sig
        nonce = ctypes.create_string_buffer(12)
        aad = ctypes.create_string_buffer(13)

        def timed(n, rec):
            pt = ctypes.create_string_buffer(os.urandom(rec), rec)
            ct = ctypes.create_string_buffer(rec + 16)
            out = ctypes.c_size_t(rec + 16)
            if g.gnutls_aead_cipher_encrypt(h, nonce, 12, aad, 13, 16, pt,
                                            rec, ct, ctypes.byref(out)):
                raise OSError("encrypt failed")
            if decrypt:
                fn, args = g.gnutls_aead_cipher_decrypt, (ct, rec + 16, pt)
            else:
                fn, args = g.gnutls_aead_cipher_encrypt, (pt, rec, ct)
            t = time.process_time()
            for _ in range(n):
                out.value = rec + 16
                rc = fn(h, nonce, 12, aad, 13, 16, *args, ctypes.byref(out))
            if rc != 0:
                raise OSError("gnutls aead error %d" % rc)
            return time.process_time() - t

        n = 20000
        rates = []
        for _ in range(5):
            per = (timed(n, 16384) - timed(n, 16)) / n
            if per > 0:
                rates.append(16384 / per)
        g.gnutls_aead_cipher_deinit(h)
        return statistics.median(rates) if rates else None


def med(xs):
    return statistics.median(xs)


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def main():
    ap = argparse.ArgumentParser(
        description="NBD server/client benchmark (qio-nbd, qemu-nbd, "
                    "nbdkit; nbdcopy and qio-nbd-client).")
    src_root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ap.add_argument("--build", default=os.path.join(src_root, "build"),
                    help="build directory holding tools/ (default: build)")
    ap.add_argument("--size", type=int, default=1024,
                    help="export size in MiB (default 1024)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="interleaved rounds (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 256 MiB, 2 rounds")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma-separated subset of " + ",".join(SERVERS))
    ap.add_argument("--shared", type=int, default=8,
                    help="-e for qio-nbd and qemu-nbd (default 8)")
    ap.add_argument("--client-server", default="qemu-nbd",
                    choices=SERVERS, help="server for the client comparison "
                    "(default qemu-nbd)")
    ap.add_argument("--clients",
                    default="nbdcopy,qio-nbd-client-C4",
                    help="client contenders, comma-separated: nbdcopy, "
                    "qio-nbd-client (its defaults), qio-nbd-client-CN "
                    "(with -C N); default nbdcopy,qio-nbd-client-C4, the "
                    "same number of connections as nbdcopy's default")
    ap.add_argument("--no-servers", action="store_true",
                    help="skip the server comparison")
    ap.add_argument("--no-clients", action="store_true",
                    help="skip the client comparison")
    ap.add_argument("--no-cipher-bench", action="store_true",
                    help="skip the cipher-only cost")
    ap.add_argument("--verify", choices=("first", "all", "none"),
                    default="first",
                    help="compare written exports and read copies with the "
                    "source after the first round's copies (default), "
                    "after all, or never; never timed")
    ap.add_argument("--tmpdir", default="/dev/shm",
                    help="where the export lives (tmpfs; default /dev/shm)")
    ap.add_argument("--timeout", type=int, default=120,
                    help="seconds allowed per copy (default 120)")
    a = ap.parse_args()
    if a.quick:
        a.size, a.rounds = 256, 2
    a.servers = [s for s in a.servers.split(",") if s]
    for s in a.servers:
        if s not in SERVERS:
            die("unknown server %r" % s)
    a.clients = [c for c in a.clients.split(",") if c]
    for c in a.clients:
        if c not in ("nbdcopy", "qio-nbd-client") and \
                not (c.startswith("qio-nbd-client-C") and c[16:].isdigit()):
            die("unknown client %r" % c)
    if a.size < 1 or a.rounds < 1:
        die("--size and --rounds must be positive")

    b = Bench(a)
    b.check_programs()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))
    t_start = time.monotonic()
    try:
        run(b, a)
    finally:
        b.cleanup()
    log("\ntotal time %.0f s; load %.2f at the end"
        % (time.monotonic() - t_start, os.getloadavg()[0]))


def check(a, rnd):
    return a.verify == "all" or (a.verify == "first" and rnd == 0)


def run(b, a):
    b.setup()
    log("NBD benchmark: %d MiB export on tmpfs (%s), TCP 127.0.0.1, "
        "%d interleaved rounds, medians; %d CPUs, load %.2f at start"
        % (a.size, a.tmpdir, a.rounds, os.cpu_count(), os.getloadavg()[0]))
    log("nbdcopy with its defaults (%s); qio-nbd/qemu-nbd -t -e %d; "
        "nbdkit file plugin, defaults; x509 TLS with the same qio-pki "
        "certificates (ECDSA P-256, client certificate required)"
        % (subprocess.run(["nbdcopy", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0], a.shared))
    log("read = export -> null:, write = random tmpfs file -> freshly "
        "truncated export; a fresh server per copy; server CPU = "
        "utime+stime from /proc/PID/stat just before and after the copy; "
        "written data and read copies compared with the source: %s\n"
        % {"first": "first round", "all": "every round",
           "none": "never"}[a.verify])

    cipher = {}
    if not a.no_cipher_bench:
        for line in b.gnutls_cli_aead():
            log("gnutls-cli --benchmark-ciphers: " + line)
        for op, dec in (("read", False), ("write", True)):
            rate = b.aes256gcm(dec)
            if rate:
                cipher[op] = GIB / rate
                log("AES-256-GCM %s via libgnutls, 16 KiB records, one core: "
                    "%.2f GB/s = %.3f CPU-s/GiB (%s by the server)"
                    % ("decrypt" if dec else "encrypt", rate / 1e9,
                       cipher[op], op))
        log("")

    b.probes()
    log("")

    if not a.no_servers:
        res = {}
        for r in range(a.rounds):
            for op, tls in CASES:
                # Rotate the order each round so no server is always first.
                order = a.servers[r % len(a.servers):] + \
                    a.servers[:r % len(a.servers)]
                for kind in order:
                    res.setdefault((kind, op, tls), []).append(
                        b.server_run(kind, op, tls, check(a, r)))
            log("servers: round %d/%d done" % (r + 1, a.rounds))
        server_table(a, res, cipher)

    if not a.no_clients:
        res = {}
        for r in range(a.rounds):
            for op, tls in CASES:
                order = a.clients[r % len(a.clients):] + \
                    a.clients[:r % len(a.clients)]
                for c in order:
                    res.setdefault((c, op, tls), []).append(
                        b.client_run(c, op, tls, check(a, r)))
            log("clients: round %d/%d done" % (r + 1, a.rounds))
        client_table(a, res)


def server_table(a, res, cipher):
    peers = [s for s in a.servers if s != "qio-nbd"]
    log("\nServers (nbdcopy client). GiB/s = throughput (higher is better); "
        "CPU-s/GiB = server CPU (lower is better); medians of %d" % a.rounds)
    log("(spread = (max - min) / median of the throughput; x cipher = "
        "CPU-s/GiB / the cipher-only CPU-s/GiB)")
    log("| case | server | GiB/s | spread | CPU-s/GiB | x cipher |")
    log("|" + " --- |" * 6)
    for op, tls in CASES:
        case = "%s %s" % (op, "tls" if tls else "plain")
        for kind in a.servers:
            xs = res[(kind, op, tls)]
            thr = med([x[0] for x in xs])
            cpu = med([x[1] for x in xs])
            spread = (max(x[0] for x in xs) - min(x[0] for x in xs)) / thr
            xc = "%.2f" % (cpu / cipher[op]) if tls and op in cipher else "-"
            log("| %s | %s | %.3f | %.0f%% | %.3f | %s |"
                % (case, kind, thr, 100 * spread, cpu, xc))
    if "qio-nbd" not in a.servers or not peers:
        return
    log("\nRatios qio-nbd / peer (throughput: >1 is qio-nbd faster; "
        "CPU: <1 is qio-nbd cheaper)")
    log("| case | " + " | ".join("GiB/s vs %s | CPU vs %s" % (p, p)
                                 for p in peers) + " |")
    log("|" + " --- |" * (1 + 2 * len(peers)))
    for op, tls in CASES:
        q = res[("qio-nbd", op, tls)]
        qt, qc = med([x[0] for x in q]), med([x[1] for x in q])
        cells = []
        for p in peers:
            x = res[(p, op, tls)]
            cells += [fmt_ratio(qt, med([y[0] for y in x])),
                      fmt_ratio(qc, med([y[1] for y in x]))]
        log("| %s %s | %s |" % (op, "tls" if tls else "plain",
                                " | ".join(cells)))


def client_table(a, res):
    log("\nClients against %s (fresh server per copy): wall s/GiB and client "
        "CPU-s/GiB (user+sys of the client from wait4; lower is better), "
        "server CPU-s/GiB for reference; read = export -> tmpfs file, "
        "write = tmpfs file -> fresh export; medians of %d"
        % (a.client_server, a.rounds))
    log("| case | client | wall s/GiB | client CPU-s/GiB | server CPU-s/GiB "
        "| wall vs nbdcopy | CPU vs nbdcopy |")
    log("|" + " --- |" * 7)
    for op, tls in CASES:
        base = res.get(("nbdcopy", op, tls))
        bw = med([x[0] for x in base]) if base else 0
        bc = med([x[1] for x in base]) if base else 0
        for c in a.clients:
            xs = res[(c, op, tls)]
            w, cpu, srv = (med([x[i] for x in xs]) for i in range(3))
            log("| %s %s | %s | %.2f | %.3f | %.3f | %s | %s |"
                % (op, "tls" if tls else "plain",
                   c.replace("-C", " -C "), w, cpu, srv,
                   fmt_ratio(w, bw), fmt_ratio(cpu, bc)))
    log("(ratios: client / nbdcopy; below 1 is faster or cheaper than "
        "nbdcopy)")


if __name__ == "__main__":
    main()
