#!/usr/bin/python3
"""Write seed inputs for one chardev fuzz target into a directory.

Usage: gen-seeds-chardev.py TARGET OUTDIR

fuzz-chardev-opts takes a -chardev option string; fuzz-chardev-telnet a
first byte (the read size) and the bytes a telnet peer sends.  Stdlib
only, deterministic.
"""

import hashlib
import os
import sys


def opts_seeds():
    lines = [
        "socket,id=s0,host=127.0.0.1,port=9000,server=on,wait=off",
        "socket,id=s1,host=::1,port=0,server,nowait,telnet,nodelay,ipv6=on",
        "socket,id=s2,path=/run/x.sock,abstract=on,tight=off,server=on",
        "socket,id=s3,fd=3",
        "socket,id=s4,host=localhost,port=9000,reconnect=5,tls-creds=tls0",
        "socket,id=s5,host=h,port=1,reconnect-ms=100,delay=off,keep-alive=on",
        "socket,id=s6,host=h,port=1,server=on,tls-creds=t,tls-authz=a",
        "stdio,id=c,mux=on,signal=off,logfile=/tmp/l,logappend=on",
        "file,id=f,path=/a,,b,append=on,input-path=/in",
        "pipe,id=p,path=/run/p",
        "pty,id=pt", "null,id=n", "ringbuf,id=r,size=64K", "memory,id=m",
        "ringbuf,id=r,size=0x1000", "socket,id=x,host=h,port=1,bogus=1",
        "socket,id=x,host=h,port=1,addr.type=unix", "null,id=n,,", "null,",
        "socket,id=x,host=h,port=1,server=maybe,wait", "nosuch,id=x",
        "socket,id=x,host=h,port=1,to=5,numeric=on,ipv4",
    ]
    for i, line in enumerate(lines):
        yield "opts%02d" % i, line.encode()


def telnet_seeds():
    IAC, DONT, DO, WONT, WILL, SB, SE, BRK, NOP = \
        255, 254, 253, 252, 251, 250, 240, 243, 241
    streams = [
        bytes([IAC, WILL, 1, IAC, DO, 3]) + b"info version\r\n",
        b"a" + bytes([IAC, IAC]) + b"b" + bytes([IAC, BRK]) + b"c",
        bytes([IAC, SB, 24, 0]) + b"xterm" + bytes([IAC, IAC, IAC, SE]) + b"d",
        bytes([IAC, NOP, IAC, DONT, 0, IAC, WONT, 1]) + b"e",
        bytes([IAC] * 9) + bytes([SB] * 3),
    ]
    for i, s in enumerate(streams):
        for piece in (0, 1, 2, 3, 7):
            yield "telnet%d-%d" % (i, piece), bytes([piece]) + s


TARGETS = {
    "fuzz-chardev-opts": opts_seeds,
    "fuzz-chardev-telnet": telnet_seeds,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in TARGETS:
        sys.exit("usage: gen-seeds-chardev.py {%s} OUTDIR" % ",".join(TARGETS))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, data in TARGETS[sys.argv[1]]():
        digest = hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(out, "%s-%s" % (name, digest)), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
