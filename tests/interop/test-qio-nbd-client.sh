#!/bin/bash
#
# qio-nbd-client against real NBD servers: qemu-nbd on 127.0.0.1 and on a
# UNIX socket, plain, x509 TLS (credentials from qio-pki) and PSK (with a
# PSK file under its usual name and under another one), then nbdkit's
# memory plugin plain and with --tls=require when nbdkit is installed.
# Each case runs info and list, copies the export to a file and a second
# file to the export and back, and compares checksums; the local copies
# must stay sparse.  Also: a plain client against a TLS-only server, and
# malformed URIs.
#
# Usage: test-qio-nbd-client.sh BUILD_ROOT   (exit 77 when qemu-nbd is missing)

set -u

build=${1:?usage: $0 BUILD_ROOT}
client=$build/tools/qio-nbd-client
qio_pki=$build/tools/qio-pki

. "${0%/*}/lib.sh"
require_progs qemu-nbd python3 timeout cmp du
require_built "$client" "$qio_pki"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qio-nbd-client.XXXXXX") || exit 1
srv_pid=
failures=0
SIZE=8388608

stop_srv() {
    stop_pid "$srv_pid" 20
    srv_pid=
}

cleanup() {
    stop_srv
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() { echo "CHECK: $*"; }
pass() { echo "  ok"; }
fail() {
    echo "  FAIL: $*"
    failures=$((failures + 1))
}

# make_image FILE SEED: 8 MiB, data in two 1 MiB runs, holes elsewhere.
make_image() {
    python3 - "$1" "$2" <<'PY'
import random, sys
r = random.Random(int(sys.argv[2]))
with open(sys.argv[1], "wb") as f:
    f.truncate(8 << 20)
    for mib in (1 + int(sys.argv[2]) % 2, 5):
        f.seek(mib << 20)
        f.write(bytes(r.getrandbits(8) for _ in range(1 << 20)))
PY
}

# start_qemu tcp|unix ARGS...: serve $tmp/disk.raw as disk0; sets $port.
start_qemu() {
    local kind=$1 try
    local -a where
    shift

    stop_srv
    rm -f "$tmp/srv.pid" "$tmp/nbd.sock"
    for try in 1 2 3; do
        if [ "$kind" = tcp ]; then
            port=$(free_port)
            where=(-b 127.0.0.1 -p "$port")
        else
            where=(-k "$tmp/nbd.sock")
        fi
        if timeout 10 qemu-nbd --fork --pid-file "$tmp/srv.pid" -t -x disk0 \
               -f raw "${where[@]}" "$@" "$tmp/disk.raw" \
               2>"$tmp/srv.err"; then
            srv_pid=$(cat "$tmp/srv.pid")
            return 0
        fi
        grep -qi "address already in use" "$tmp/srv.err" || break
    done
    sed 's/^/  qemu-nbd: /' "$tmp/srv.err"
    return 1
}

# start_nbdkit ARGS...: nbdkit on 127.0.0.1:$port with ARGS (plugin last).
start_nbdkit() {
    local try

    stop_srv
    rm -f "$tmp/srv.pid"
    for try in 1 2 3; do
        port=$(free_port)
        if timeout 10 nbdkit -P "$tmp/srv.pid" -i 127.0.0.1 -p "$port" \
               "$@" 2>"$tmp/srv.err"; then
            for _ in $(seq 50); do
                [ -s "$tmp/srv.pid" ] && break
                sleep 0.1
            done
            srv_pid=$(cat "$tmp/srv.pid")
            return 0
        fi
        grep -qi "address already in use" "$tmp/srv.err" || break
    done
    sed 's/^/  nbdkit: /' "$tmp/srv.err"
    return 1
}

run() {
    timeout 60 "$client" "$@" >"$tmp/out" 2>"$tmp/err"
}

allocated_kib() {
    du -k "$1" | cut -f1
}

# exercise NAME URI [--list-name NAME] [CLIENT ARGS...]: the full case.
exercise() {
    local name=$1 uri=$2 list_name=disk0
    shift 2
    if [ "${1:-}" = --list-name ]; then
        list_name=$2
        shift 2
    fi

    check "$name: info"
    if run "$@" info "$uri" && grep -q "^size: $SIZE\$" "$tmp/out"; then
        pass
    else
        fail "$(cat "$tmp/err" "$tmp/out")"
    fi
    check "$name: list"
    if [ -z "$list_name" ]; then
        echo "  (not listed by this server)"
    elif run "$@" list "$uri" && grep -qx "$list_name" "$tmp/out"; then
        pass
    else
        fail "$(cat "$tmp/err" "$tmp/out")"
    fi
    check "$name: file to export, export to file, checksums, sparseness"
    rm -f "$tmp/copy.raw"
    if ! run "$@" copy "$tmp/src.raw" "$uri"; then
        fail "to export: $(cat "$tmp/err")"
    elif ! run "$@" copy "$uri" "$tmp/copy.raw"; then
        fail "from export: $(cat "$tmp/err")"
    elif [ "$(sha256sum <"$tmp/src.raw")" != \
           "$(sha256sum <"$tmp/copy.raw")" ]; then
        fail "checksums differ"
    elif [ "$(allocated_kib "$tmp/copy.raw")" -gt 4096 ]; then
        fail "copy is not sparse: $(allocated_kib "$tmp/copy.raw") KiB"
    else
        pass
    fi
}

D=$tmp/pki
if ! "$qio_pki" init "$D" --hostname localhost --ip 127.0.0.1 \
        --client-name client1 --psk-user alice >/dev/null; then
    echo "FAIL: qio-pki could not make the credentials"
    exit 1
fi
cp "$D/keys.psk" "$tmp/alice.psk" || exit 1
make_image "$tmp/src.raw" 2
x509_srv=(--object "tls-creds-x509,id=tls0,endpoint=server,dir=$D"
          --tls-creds tls0)

check "qemu-nbd: the export reads back as written (checksum of a fresh copy)"
make_image "$tmp/disk.raw" 1
if start_qemu tcp && run copy "nbd://127.0.0.1:$port/disk0" \
       "$tmp/first.raw" && cmp -s "$tmp/disk.raw" "$tmp/first.raw"; then
    pass
else
    fail "$(cat "$tmp/err")"
fi

block_line='^block size: minimum [0-9]+, preferred [0-9]+, maximum [0-9]+$'
check "qemu-nbd: info shows description and block sizes, list the description"
make_image "$tmp/disk.raw" 1
if ! start_qemu tcp -D "scratch disk"; then
    fail "qemu-nbd did not start"
elif ! run info "nbd://127.0.0.1:$port/disk0"; then
    fail "$(cat "$tmp/err")"
elif ! grep -qx "description: scratch disk" "$tmp/out" ||
     ! grep -Eq "$block_line" "$tmp/out" ||
     ! grep -q "^flags: 0x[0-9a-f]* (.*flush" "$tmp/out"; then
    fail "info output: $(cat "$tmp/out")"
elif ! run list "nbd://127.0.0.1:$port/disk0" ||
     ! grep -qx "disk0	scratch disk" "$tmp/out"; then
    fail "list output: $(cat "$tmp/err" "$tmp/out")"
else
    pass
fi

check "qemu-nbd: copies with 1, 7 and 256 requests in flight, 64K requests"
ok=1
for r in 1 7 256; do
    rm -f "$tmp/copy.raw"
    make_image "$tmp/src.raw" $((r % 2 + 2))
    if ! run --requests "$r" --request-size 64K copy "$tmp/src.raw" \
            "nbd://127.0.0.1:$port/disk0" ||
       ! run -R "$r" --request-size 64K copy "nbd://127.0.0.1:$port/disk0" \
            "$tmp/copy.raw" ||
       ! cmp -s "$tmp/src.raw" "$tmp/copy.raw"; then
        echo "  --requests $r: $(cat "$tmp/err")"
        ok=0
    fi
done
if [ "$ok" -eq 1 ]; then
    pass
else
    fail "a copy with --requests differed or failed"
fi
check "bad --requests and --request-size values are refused"
if run --requests 0 copy "$tmp/src.raw" "nbd://127.0.0.1:$port/disk0" ||
   ! grep -q -- "--requests must be from 1" "$tmp/err" ||
   run --request-size 64M copy "$tmp/src.raw" \
       "nbd://127.0.0.1:$port/disk0" ||
   ! grep -q -- "--request-size" "$tmp/err"; then
    fail "$(cat "$tmp/err")"
else
    pass
fi
make_image "$tmp/src.raw" 2

for kind in tcp unix; do
    make_image "$tmp/disk.raw" 1
    if start_qemu "$kind"; then
        if [ "$kind" = tcp ]; then
            exercise "qemu-nbd plain $kind" "nbd://127.0.0.1:$port/disk0"
        else
            exercise "qemu-nbd plain $kind" \
                "nbd+unix:///disk0?socket=$tmp/nbd.sock"
        fi
    else
        fail "qemu-nbd did not start"
    fi

    make_image "$tmp/disk.raw" 1
    if start_qemu "$kind" "${x509_srv[@]}"; then
        if [ "$kind" = tcp ]; then
            uri="nbds://127.0.0.1:$port/disk0?tls-certificates=$D"
            exercise "qemu-nbd x509 $kind" "$uri"
            plain="nbd://127.0.0.1:$port/disk0"
        else
            uri="nbds+unix:///disk0?socket=$tmp/nbd.sock&tls-certificates=$D"
            exercise "qemu-nbd x509 $kind" "$uri" --tls-hostname localhost
            plain="nbd+unix:///disk0?socket=$tmp/nbd.sock"
        fi
        check "qemu-nbd x509 $kind: TLS shown by info"
        if run info "$uri" --tls-hostname localhost &&
           grep -q "^tls: yes" "$tmp/out"; then
            pass
        else
            fail "$(cat "$tmp/err" "$tmp/out")"
        fi
        check "qemu-nbd x509 $kind: a plain client is told TLS is required"
        if run info "$plain"; then
            fail "plain connection succeeded"
        elif grep -q "this NBD server requires TLS" "$tmp/err"; then
            sed 's/^/  (expected) /' "$tmp/err"
            pass
        else
            fail "unexpected error: $(cat "$tmp/err")"
        fi
    else
        fail "qemu-nbd did not start"
    fi
done

for psk in "$D/keys.psk" "$tmp/alice.psk"; do
    make_image "$tmp/disk.raw" 1
    if start_qemu tcp --object \
           "tls-creds-psk,id=tls0,endpoint=server,dir=$D" --tls-creds tls0
    then
        exercise "qemu-nbd PSK ($(basename "$psk"))" \
            "nbds://alice@127.0.0.1:$port/disk0?tls-psk-file=$psk"
    else
        fail "qemu-nbd did not start"
    fi
done
stop_srv

check "malformed URIs exit non-zero with one error line"
bad=0
for uri in "nbd://[::1/" "nbd://host:99999/" "nbd+unix:///" \
           "nbd://h/?bogus=1" "nbds://h/"; do
    if run info "$uri" || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
        echo "  $uri: $(cat "$tmp/err")"
        bad=1
    fi
done
if [ "$bad" -eq 0 ]; then
    pass
else
    fail "a malformed URI was not rejected cleanly"
fi

if command -v nbdkit >/dev/null 2>&1; then
    if start_nbdkit memory "$SIZE"; then
        exercise "nbdkit memory plain" "nbd://127.0.0.1:$port/" \
            --list-name ""
        check "nbdkit memory: copies over 4 connections (multi-conn)"
        rm -f "$tmp/copy.raw"
        make_image "$tmp/src.raw" 3
        if run -C 4 copy "$tmp/src.raw" "nbd://127.0.0.1:$port/" &&
           run --connections 4 copy "nbd://127.0.0.1:$port/" \
               "$tmp/copy.raw" && cmp -s "$tmp/src.raw" "$tmp/copy.raw"
        then
            pass
        else
            fail "$(cat "$tmp/err")"
        fi
        check "nbdkit memory: 3 connections x 5 requests of 32K in flight"
        rm -f "$tmp/copy.raw"
        make_image "$tmp/src.raw" 2
        if run -C 3 -R 5 --request-size 32K copy "$tmp/src.raw" \
               "nbd://127.0.0.1:$port/" &&
           run --connections 3 --requests 5 --request-size 32K copy \
               "nbd://127.0.0.1:$port/" "$tmp/copy.raw" &&
           cmp -s "$tmp/src.raw" "$tmp/copy.raw"
        then
            pass
        else
            fail "$(cat "$tmp/err")"
        fi
        make_image "$tmp/src.raw" 2
    else
        fail "nbdkit did not start"
    fi
    if start_nbdkit --tls=require --tls-certificates="$D" memory "$SIZE"
    then
        exercise "nbdkit memory x509" \
            "nbds://127.0.0.1:$port/?tls-certificates=$D" --list-name ""
        check "nbdkit --tls=require: a plain client is told TLS is required"
        if ! run info "nbd://127.0.0.1:$port/" &&
           grep -q "this NBD server requires TLS" "$tmp/err"; then
            pass
        else
            fail "$(cat "$tmp/err" "$tmp/out")"
        fi
    else
        fail "nbdkit did not start"
    fi
    stop_srv
else
    echo "NOTE: nbdkit not installed; its cases were not run"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
