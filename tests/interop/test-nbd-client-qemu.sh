#!/bin/bash
#
# qio's NBD client (through nbd-client-check) against the real qemu-nbd
# serving a raw file: plain on a UNIX socket and on 127.0.0.1, x509 TLS
# on both (credentials from qio-pki; the UNIX case needs --tls-hostname),
# PSK, the client refusing to talk clear text to a TLS-only server or to
# fall back when STARTTLS is refused, the client refusing an untrusted
# server certificate or host name, and qemu-nbd refusing a client
# certificate from another CA.  Each case reads
# the whole export, writes a pattern, reads it back and asks for block
# status.
#
# Usage: test-nbd-client-qemu.sh BUILD_ROOT   (exit 77 when a peer is missing)

set -u

build=${1:?usage: $0 BUILD_ROOT}
qio_pki=$build/tools/qio-pki
check_prog=$build/tests/interop/nbd-client-check

. "${0%/*}/lib.sh"
require_progs qemu-nbd python3 timeout
require_built "$qio_pki" "$check_prog"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qio-nbd-client.XXXXXX") || exit 1
nbd_pid=
failures=0

stop_nbd() {
    stop_pid "$nbd_pid"
    nbd_pid=
}

cleanup() {
    stop_nbd
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() {
    echo "CHECK: $*"
}

pass() {
    echo "  ok"
}

fail() {
    echo "  FAIL: $*"
    failures=$((failures + 1))
}

# start_nbd tcp|unix ARGS...: serve $tmp/disk.raw (writable); sets $addr.
start_nbd() {
    local kind=$1 try
    local -a where
    shift

    stop_nbd
    rm -f "$tmp/nbd.pid" "$tmp/nbd.sock"
    for try in 1 2 3; do
        if [ "$kind" = tcp ]; then
            port=$(free_port)
            where=(-b 127.0.0.1 -p "$port")
            addr=127.0.0.1:$port
        else
            where=(-k "$tmp/nbd.sock")
            addr=unix:$tmp/nbd.sock
        fi
        if timeout 10 qemu-nbd --fork --pid-file "$tmp/nbd.pid" -t \
               -f raw "${where[@]}" "$@" "$tmp/disk.raw" \
               2>"$tmp/nbd.err"; then
            nbd_pid=$(cat "$tmp/nbd.pid")
            return 0
        fi
        grep -qi "address already in use" "$tmp/nbd.err" || break
    done
    sed 's/^/  qemu-nbd: /' "$tmp/nbd.err"
    return 1
}

# run_client ARGS...: nbd-client-check against $addr, output in $tmp/out.
run_client() {
    timeout 30 "$check_prog" "$@" "$addr" >"$tmp/out" 2>"$tmp/err"
}

# expect_ok WHAT TLS(yes|no) ARGS...
expect_ok() {
    local tls=$1
    shift

    if run_client "$@" && grep -q "tls=$tls structured=yes" "$tmp/out"; then
        sed 's/^/  /' "$tmp/out"
        pass
    else
        fail "$(cat "$tmp/err" "$tmp/out")"
    fi
}

# expect_fail PATTERN ARGS...: the client must fail with PATTERN on stderr.
expect_fail() {
    local pattern=$1
    shift

    if run_client "$@"; then
        fail "connection succeeded: $(cat "$tmp/out")"
    elif grep -q -- "$pattern" "$tmp/err"; then
        sed 's/^/  (expected) /' "$tmp/err"
        pass
    else
        fail "unexpected error: $(cat "$tmp/err")"
    fi
}

# A 4 MiB image with data only in its second MiB, so block status has
# more than one extent to report.
truncate -s 4M "$tmp/disk.raw"
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1 << 20)
    f.write(bytes(range(256)) * 4096)' "$tmp/disk.raw"

D=$tmp/pki
O=$tmp/other
if ! "$qio_pki" init "$D" --hostname localhost --ip 127.0.0.1 \
        --client-name client1 --psk-user alice >/dev/null ||
   ! "$qio_pki" init "$O" --hostname localhost --client-name client1 \
        >/dev/null; then
    echo "FAIL: qio-pki could not make the credentials"
    exit 1
fi
# Trusts both CAs, presents the other CA's client certificate.
M=$tmp/mixed
mkdir -p "$M" &&
    cat "$D/ca-cert.pem" "$O/ca-cert.pem" >"$M/ca-cert.pem" &&
    cp "$O/client-cert.pem" "$O/client-key.pem" "$M/" || exit 1
x509_srv=(--object "tls-creds-x509,id=tls0,endpoint=server,dir=$D"
          --tls-creds tls0)
x509_cli=(--object "tls-creds-x509,id=tls0,endpoint=client,dir=$D"
          --tls-creds tls0)

for kind in unix tcp; do
    check "plain, $kind socket"
    if start_nbd "$kind"; then
        expect_ok no --list
        check "info and list output, $kind socket"
        if grep -q "^info: size=4194304 " "$tmp/out" &&
           grep -q "^export: $" "$tmp/out"; then
            pass
        else
            fail "$(cat "$tmp/out")"
        fi
        check "an export qemu-nbd does not have, $kind socket"
        expect_fail "export 'nosuch'" --export nosuch
    else
        fail "qemu-nbd did not start"
    fi

    check "x509 TLS, $kind socket"
    if start_nbd "$kind" "${x509_srv[@]}"; then
        if [ "$kind" = unix ]; then
            expect_ok yes "${x509_cli[@]}" --tls-hostname localhost
            check "x509 over a UNIX socket without --tls-hostname"
            expect_fail "tls-hostname" "${x509_cli[@]}"
        else
            expect_ok yes "${x509_cli[@]}"
        fi
        check "no credentials against the TLS-only server ($kind)"
        expect_fail "requires TLS; use --tls-creds"
        check "a server certificate from a CA the client does not trust"
        expect_fail "TLS handshake" \
            --object "tls-creds-x509,id=tls0,endpoint=client,dir=$O" \
            --tls-creds tls0 --tls-hostname localhost
        # The client trusts the server, but its own certificate comes from
        # another CA: qemu-nbd must end the connection (during or right
        # after the handshake, depending on the TLS version).
        check "qemu-nbd refuses a client certificate from another CA"
        expect_fail "NBD server" \
            --object "tls-creds-x509,id=tls0,endpoint=client,dir=$M" \
            --tls-creds tls0 --tls-hostname localhost
    else
        fail "qemu-nbd did not start"
    fi
done

check "x509 TLS with the wrong host name"
if start_nbd tcp "${x509_srv[@]}"; then
    expect_fail "TLS handshake" "${x509_cli[@]}" \
        --tls-hostname wrong.example.org
else
    fail "qemu-nbd did not start"
fi

check "PSK, user alice"
if start_nbd tcp --object "tls-creds-psk,id=tls0,endpoint=server,dir=$D" \
       --tls-creds tls0; then
    expect_ok yes --object \
        "tls-creds-psk,id=tls0,endpoint=client,dir=$D,username=alice" \
        --tls-creds tls0
else
    fail "qemu-nbd did not start"
fi

check "TLS client against a plain server is refused before any export"
if start_nbd tcp; then
    expect_fail "refused TLS (NBD_OPT_STARTTLS); not continuing" \
        "${x509_cli[@]}"
else
    fail "qemu-nbd did not start"
fi

stop_nbd
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
