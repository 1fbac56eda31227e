#!/usr/bin/python3
"""TLS character devices between qio-vm and real peers.

qio-vm serves its HMP monitor on a TLS chardev, as in

    -object tls-creds-x509,id=tls0,endpoint=server,dir=DIR
    -chardev socket,id=s0,host=127.0.0.1,port=P,tls-creds=tls0,server=on,wait=off
    -mon chardev=s0,mode=readline

and these peers talk to it:

  gnutls-cli      banner, then `info version` answered;
  python ssl      the same, typed one byte at a time, then a whole
                  command in one write (one TLS record);
  refusals        a client trusting another CA, no client certificate,
                  a client certificate from another CA, a plain TCP
                  client, a server certificate without the host name, a
                  tls-authz deny; after each one a good client is served;
  gnutls-serv     qio-vm as the TLS client (--echo: qio-vm's banner comes
                  back to its own monitor through TLS);
  QEMU            qemu-system-x86_64's TLS chardev server with an HMP
                  monitor, qio-vm's HMP monitor as the client; and QEMU as
                  the client of qio-vm.  Two monitors facing each other
                  answer each other's banner with "unknown command"; each
                  side's logfile shows the other's words, proof that data
                  crossed the TLS link both ways.

Usage: qio-vm-tls-hmp.py BUILD_ROOT
Exits 77 when gnutls-cli, gnutls-serv or qemu-system-x86_64 is missing.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 10.0
BANNER_END = b"monitor - type 'help' for more information"
PROMPT = b"(qemu) "

failures = 0
procs = []


def ok(what):
    print("ok - " + what)


def not_ok(what, detail=""):
    global failures
    failures += 1
    print("not ok - " + what + (": " + detail if detail else ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Relay:
    """A TCP relay on 127.0.0.1 that forwards at most LIMIT bytes each
    way, then drops the rest.  Two monitors facing each other answer each
    other forever (QEMU's readline even redraws its line on every
    character it echoes); the relay lets the first exchanges through and
    then lets both sides fall quiet, so the test is bounded in time and
    size.  It sees only TLS records, never clear text."""

    LIMIT = 8 * 1024

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            a, _ = self.listener.accept()
            b = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            return
        self.socks += [a, b]
        for src, dst in ((a, b), (b, a)):
            threading.Thread(target=self.pump, args=(src, dst),
                             daemon=True).start()

    def pump(self, src, dst):
        # Past the limit, keep reading and drop what comes: a writer that
        # blocked could spin (QEMU keeps appending to its logfile then).
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if sent < self.LIMIT:
                    data = data[:self.LIMIT - sent]
                    dst.sendall(data)
                    sent += len(data)
        except OSError:
            pass

    def close(self):
        for s in self.socks + [self.listener]:
            try:
                s.close()
            except OSError:
                pass


def start(argv, log_path):
    log = open(log_path, "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT)
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


def wait_port(port, proc):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_file_has(path, needle, seconds=TIMEOUT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # Only the start: the words come in the first exchanges, and
            # QEMU keeps appending to its logfile while a write blocks.
            with open(path, "rb") as f:
                if needle in f.read(256 * 1024):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def read_until(sock, needle, seconds=TIMEOUT):
    """Bytes read until needle has been seen (or b"" on EOF/timeout
    before it, with what came so far)."""
    data = b""
    deadline = time.monotonic() + seconds
    while needle not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def pki(tool, tmp):
    """Two CAs: A issues the server and client certificates qio-vm and
    the good clients use; B issues the ones that must be refused."""
    dirs = {}
    for name, args in [
        ("a", ["--hostname", "localhost", "--ip", "127.0.0.1",
               "--client-name", "client-a"]),
        ("b", ["--hostname", "localhost", "--ip", "127.0.0.1",
               "--client-name", "client-b", "--ca-name", "Other CA"]),
        ("nohost", ["--hostname", "other.invalid",
                    "--client-name", "client-c"]),
    ]:
        d = os.path.join(tmp, "pki-" + name)
        subprocess.run([tool, "init", d] + args, check=True,
                       stdout=subprocess.DEVNULL)
        dirs[name] = d
    # A client credentials directory for qio-vm and QEMU as clients.
    for name in ("a", "b"):
        c = os.path.join(tmp, "client-" + name)
        os.mkdir(c)
        for src, dst in (("ca-cert.pem", "ca-cert.pem"),
                         ("client-cert.pem", "client-cert.pem"),
                         ("client-key.pem", "client-key.pem")):
            shutil.copy(os.path.join(dirs[name], src), os.path.join(c, dst))
        dirs["client-" + name] = c
    return dirs


def ssl_client(port, ca, cert=None, key=None, hostname="127.0.0.1"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    try:
        return ctx.wrap_socket(raw, server_hostname=hostname)
    except Exception:
        raw.close()
        raise


def good_client(port, dirs, what):
    """A client with A's certificate gets the banner and an answer."""
    d = dirs["a"]
    try:
        s = ssl_client(port, os.path.join(d, "ca-cert.pem"),
                       os.path.join(d, "client-cert.pem"),
                       os.path.join(d, "client-key.pem"))
    except Exception as e:
        not_ok(what, "handshake failed: %s" % e)
        return
    with s:
        got = read_until(s, PROMPT)
        if BANNER_END not in got:
            not_ok(what, "no banner: %r" % got)
            return
        s.sendall(b"info status\r\n")
        got = read_until(s, PROMPT)
        if b"VM status: running" in got:
            ok(what)
        else:
            not_ok(what, "no answer: %r" % got)


def tls_hmp_argv(prog, endpoint, creds_dir, chardev):
    """The same command line for QEMU and qio-vm: an HMP monitor on a TLS
    socket chardev (@chardev: the socket options after the TLS ones)."""
    return [prog, "-machine", "none", "-nodefaults", "-display", "none",
            "-object", "tls-creds-x509,id=tls0,endpoint=%s,dir=%s"
            % (endpoint, creds_dir),
            "-chardev", "socket,id=c0,tls-creds=tls0,%s" % chardev,
            "-mon", "chardev=c0,mode=readline"]


def qio_vm_server(vm, port, creds_dir, tmp, tag, extra_objects=(),
                  chardev_extra=""):
    argv = tls_hmp_argv(vm, "server", creds_dir,
                        "host=127.0.0.1,port=%d,server=on,wait=off%s"
                        % (port, chardev_extra))
    for o in extra_objects:
        argv += ["-object", o]
    p = start(argv, os.path.join(tmp, tag + ".log"))
    if not wait_port(port, p):
        not_ok(tag + ": qio-vm listens",
               open(os.path.join(tmp, tag + ".log"), "rb").read().decode(
                   errors="replace"))
        return None
    return p


def case_gnutls_cli(vm, dirs, tmp):
    port = free_port()
    p = qio_vm_server(vm, port, dirs["a"], tmp, "gnutls-cli")
    if p is None:
        return
    d = dirs["a"]
    cli = subprocess.Popen(
        ["gnutls-cli", "--priority=NORMAL", "-p", str(port),
         "--x509cafile=" + os.path.join(d, "ca-cert.pem"),
         "--x509certfile=" + os.path.join(d, "client-cert.pem"),
         "--x509keyfile=" + os.path.join(d, "client-key.pem"),
         "127.0.0.1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    procs.append(cli)
    try:
        out, _ = cli.communicate(b"info version\n", timeout=3)
    except subprocess.TimeoutExpired:
        # gnutls-cli waits for the server to close; what it printed so
        # far is the answer.
        cli.kill()
        out, _ = cli.communicate()
    text = out.replace(b"\r", b"")
    if BANNER_END in text and b"\n(qemu) " in text and \
            b"info version" in text and \
            text.count(PROMPT) >= 2:
        ok("gnutls-cli: banner, then info version answered")
    else:
        not_ok("gnutls-cli: banner, then info version answered", repr(out))
    stop(p)


def case_python_ssl(vm, dirs, tmp):
    port = free_port()
    p = qio_vm_server(vm, port, dirs["a"], tmp, "python-ssl")
    if p is None:
        return
    d = dirs["a"]
    s = ssl_client(port, os.path.join(d, "ca-cert.pem"),
                   os.path.join(d, "client-cert.pem"),
                   os.path.join(d, "client-key.pem"))
    with s:
        banner = read_until(s, PROMPT)
        if BANNER_END in banner:
            ok("python ssl: banner")
        else:
            not_ok("python ssl: banner", repr(banner))
        # One byte per write: one TLS record per byte.
        for b in b"info version\r":
            s.sendall(bytes([b]))
            time.sleep(0.01)
        got = read_until(s, PROMPT)
        if b"info version" in got and got.endswith(PROMPT) and \
                len(got.split(b"\r\n")) >= 3:
            ok("python ssl: info version typed one byte at a time")
        else:
            not_ok("python ssl: info version typed one byte at a time",
                   repr(got))
        # The whole command in one record: it must be answered without
        # any more input arriving.
        s.sendall(b"info status\r")
        got = read_until(s, PROMPT, 3)
        if b"VM status: running" in got:
            ok("python ssl: a whole command in one TLS record")
        else:
            not_ok("python ssl: a whole command in one TLS record",
                   repr(got))
    stop(p)


def expect_refused(what, attempt):
    try:
        s = attempt()
    except (ssl.SSLError, OSError) as e:
        ok(what + " (%s)" % type(e).__name__)
        return
    with s:
        got = read_until(s, PROMPT, 3)
    if BANNER_END in got:
        not_ok(what, "the monitor answered")
    else:
        ok(what + " (closed without a banner)")


def case_refusals(vm, dirs, tmp):
    port = free_port()
    p = qio_vm_server(vm, port, dirs["a"], tmp, "refusals")
    if p is None:
        return
    a, b = dirs["a"], dirs["b"]
    expect_refused(
        "refused: a client that trusts another CA",
        lambda: ssl_client(port, os.path.join(b, "ca-cert.pem"),
                           os.path.join(a, "client-cert.pem"),
                           os.path.join(a, "client-key.pem")))
    good_client(port, dirs, "served after the wrong-CA client")
    expect_refused(
        "refused: no client certificate (verify-peer=on)",
        lambda: ssl_client(port, os.path.join(a, "ca-cert.pem")))
    good_client(port, dirs, "served after the client without certificate")
    expect_refused(
        "refused: a client certificate from another CA",
        lambda: ssl_client(port, os.path.join(a, "ca-cert.pem"),
                           os.path.join(b, "client-cert.pem"),
                           os.path.join(b, "client-key.pem")))
    good_client(port, dirs, "served after the other CA's certificate")

    raw = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    raw.sendall(b"info version\r\n")
    got = read_until(raw, PROMPT, 3)
    raw.close()
    if BANNER_END in got or b"qio" in got:
        not_ok("refused: a plain TCP client", repr(got))
    else:
        ok("refused: a plain TCP client (no clear text sent)")
    good_client(port, dirs, "served after the plain client")
    stop(p)

    # A server certificate for another host name.
    port = free_port()
    p = qio_vm_server(vm, port, dirs["nohost"], tmp, "nohost")
    if p is not None:
        n = dirs["nohost"]
        expect_refused(
            "refused: a server certificate without the host name",
            lambda: ssl_client(port, os.path.join(n, "ca-cert.pem"),
                               os.path.join(n, "client-cert.pem"),
                               os.path.join(n, "client-key.pem")))
        stop(p)

    # tls-authz: only client-b's name is allowed, so client-a is denied.
    port = free_port()
    p = qio_vm_server(
        vm, port, dirs["a"], tmp, "authz",
        extra_objects=["authz-simple,id=authz0,identity=CN=nobody"],
        chardev_extra=",tls-authz=authz0")
    if p is not None:
        expect_refused(
            "refused: tls-authz denies the client's name",
            lambda: ssl_client(port, os.path.join(a, "ca-cert.pem"),
                               os.path.join(a, "client-cert.pem"),
                               os.path.join(a, "client-key.pem")))
        stop(p)


def case_gnutls_serv(vm, dirs, tmp):
    port = free_port()
    d = dirs["a"]
    serv = start(["gnutls-serv", "--echo", "-p", str(port),
                  "--x509cafile=" + os.path.join(d, "ca-cert.pem"),
                  "--x509certfile=" + os.path.join(d, "server-cert.pem"),
                  "--x509keyfile=" + os.path.join(d, "server-key.pem"),
                  "--require-client-cert", "--verify-client-cert"],
                 os.path.join(tmp, "gnutls-serv.log"))
    if not wait_port(port, serv):
        not_ok("gnutls-serv started")
        return
    log = os.path.join(tmp, "vm-client.out")
    relay = Relay(port)
    p = start(tls_hmp_argv(vm, "client", dirs["client-a"],
                           "host=127.0.0.1,port=%d,logfile=%s"
                           % (relay.port, log)),
              os.path.join(tmp, "vm-client.log"))
    # The echo server sends the banner back: the monitor calls its first
    # word an unknown command, which only happens if the bytes crossed
    # the TLS link both ways.
    if wait_file_has(log, b"unknown command: 'qio-vm'"):
        ok("qio-vm as TLS client of gnutls-serv")
    else:
        not_ok("qio-vm as TLS client of gnutls-serv",
               open(os.path.join(tmp, "vm-client.log"), "rb").read()
               .decode(errors="replace"))
    stop(p)
    stop(serv)
    relay.close()


def monitors_face_to_face(what, server, client, dirs, tmp):
    """@server and @client are (name, program, word its banner starts
    with).  Each side's logfile must show that it answered the other's
    banner."""
    (sname, sprog, sword), (cname, cprog, cword) = server, client
    port = free_port()
    slog = os.path.join(tmp, sname + "-server.out")
    clog = os.path.join(tmp, cname + "-client.out")
    s = start(tls_hmp_argv(sprog, "server", dirs["a"],
                           "host=127.0.0.1,port=%d,server=on,wait=off,"
                           "logfile=%s" % (port, slog)),
              os.path.join(tmp, sname + "-server.log"))
    if not wait_port(port, s):
        not_ok(what, "the %s server did not listen" % sname)
        return
    relay = Relay(port)
    c = start(tls_hmp_argv(cprog, "client", dirs["client-a"],
                           "host=127.0.0.1,port=%d,logfile=%s"
                           % (relay.port, clog)),
              os.path.join(tmp, cname + "-client.log"))
    server_heard = wait_file_has(slog, b"unknown command: '%s'" % cword)
    client_heard = wait_file_has(clog, b"unknown command: '%s'" % sword)
    stop(c)
    stop(s)
    relay.close()
    if server_heard and client_heard:
        ok(what)
    else:
        not_ok(what, "%s heard %s: %s, %s heard %s: %s"
               % (sname, cname, server_heard, cname, sname, client_heard))


def case_qemu(vm, dirs, tmp):
    qemu = ("qemu", shutil.which("qemu-system-x86_64"), b"QEMU")
    qio = ("qio-vm", vm, b"qio-vm")
    monitors_face_to_face("qio-vm as TLS client of QEMU's TLS chardev "
                          "server", qemu, qio, dirs, tmp)
    monitors_face_to_face("QEMU as TLS client of qio-vm's TLS chardev "
                          "server", qio, qemu, dirs, tmp)


def main():
    build = sys.argv[1]
    for prog in ("gnutls-cli", "gnutls-serv", "qemu-system-x86_64"):
        if shutil.which(prog) is None:
            print("SKIP: %s is not installed" % prog)
            return 77
    vm = os.path.join(build, "tools", "qio-vm")
    tool = os.path.join(build, "tools", "qio-pki")
    for f in (vm, tool):
        if not os.access(f, os.X_OK):
            print("Bail out! %s was not built" % f)
            return 1
    tmp = tempfile.mkdtemp(prefix="qio-chardev-tls-")
    try:
        dirs = pki(tool, tmp)
        for case in (case_gnutls_cli, case_python_ssl, case_refusals,
                     case_gnutls_serv, case_qemu):
            try:
                case(vm, dirs, tmp)
            except Exception as e:
                not_ok(case.__name__, "%s: %s" % (type(e).__name__, e))
            for p in procs:
                stop(p)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
