#!/bin/bash
#
# qio-nbd served to libnbd's clients: python3-libnbd (qio-nbd-libnbd.py)
# and nbdcopy, in the clear, with x509 TLS (server certificate verified,
# client certificate checked by --tls-authz, allowed and denied) and with
# PSK (URI user@ and tls-psk-file=, and libnbd's set_tls_username), on
# 127.0.0.1 and on UNIX sockets; clients without TLS, with another CA or
# with a wrong key must be refused.  Then block status of one sparse file
# as qio-nbd and qemu-nbd report it: the holes must agree.
#
# Usage: test-qio-nbd-libnbd.sh BUILD_ROOT
# Exit 77 when nbdcopy, python3-libnbd or qemu-nbd is missing.

set -u

build=${1:?usage: $0 BUILD_ROOT}
here=${0%/*}
qnbd=$build/tools/qio-nbd
qpki=$build/tools/qio-pki
py=/usr/bin/python3
pyt=$here/qio-nbd-libnbd.py

. "$here/lib.sh"
require_progs nbdcopy qemu-nbd timeout sha256sum stat cmp
require_built "$qnbd" "$qpki"
if ! "$py" -c 'import nbd' 2>/dev/null; then
    echo "SKIP: python3-libnbd (import nbd) not installed"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qio-nbd-libnbd.XXXXXX") || exit 1
srv_pid=
qemu_pid=
failures=0
SIZE=16777216

stop_srv() {
    stop_pid "$srv_pid" 30
    srv_pid=
}

cleanup() {
    stop_srv
    stop_pid "$qemu_pid" 30
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() { echo "ok - $*"; }
fail() {
    echo "FAIL - $*"
    failures=$((failures + 1))
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }
blocks() { stat -c %b "$1"; }

# start tcp|unix ARGS...: qio-nbd -t on 127.0.0.1:$port or $sock with
# ARGS (the file last); waits (10 s at most) for the pid file.  Sets
# $srv_pid.
start() {
    local kind=$1
    local -a where
    shift

    stop_srv
    sock=$tmp/nbd.sock
    for _ in 1 2 3; do
        rm -f "$tmp/srv.pid" "$sock"
        if [ "$kind" = tcp ]; then
            port=$(free_port)
            where=(-b 127.0.0.1 -p "$port")
        else
            where=(-k "$sock")
        fi
        timeout 600 "$qnbd" -t --pid-file "$tmp/srv.pid" "${where[@]}" \
            "$@" >"$tmp/srv.log" 2>&1 &
        srv_pid=$!
        for _ in $(seq 200); do
            [ -s "$tmp/srv.pid" ] && return 0
            kill -0 "$srv_pid" 2>/dev/null || break
            sleep 0.05
        done
        stop_srv
        grep -qi "in use" "$tmp/srv.log" || break
    done
    sed 's/^/  qio-nbd: /' "$tmp/srv.log"
    return 1
}

# libnbd WHAT MODE ARGS...: run qio-nbd-libnbd.py, show its lines under
# WHAT, count one failure if it failed.
libnbd() {
    local what=$1
    shift
    echo "# python3-libnbd: $what"
    if timeout 120 "$py" "$pyt" "$@" >"$tmp/py.out" 2>&1; then
        sed 's/^/  /' "$tmp/py.out"
        pass "python3-libnbd: $what"
    else
        sed 's/^/  /' "$tmp/py.out"
        fail "python3-libnbd: $what"
    fi
}

# copy WHAT SRC DST [NBDCOPY ARGS...]: nbdcopy bounded in time.
copy() {
    local what=$1 src=$2 dst=$3
    shift 3
    if ! timeout 120 nbdcopy "$@" "$src" "$dst" >"$tmp/cp.log" 2>&1; then
        sed 's/^/  nbdcopy: /' "$tmp/cp.log"
        fail "nbdcopy $what"
        return 1
    fi
}

# roundtrip WHAT URI [NBDCOPY ARGS...]: $tmp/big.raw into the export
# ($tmp/export.raw) and back out to a new file; checksums compared.
roundtrip() {
    local what=$1 uri=$2
    shift 2
    rm -f "$tmp/back.raw"
    copy "$what: file to export" "$tmp/big.raw" "$uri" "$@" || return
    copy "$what: export to file" "$uri" "$tmp/back.raw" "$@" || return
    if [ "$(sum "$tmp/big.raw")" = "$(sum "$tmp/export.raw")" ] &&
       [ "$(sum "$tmp/big.raw")" = "$(sum "$tmp/back.raw")" ]; then
        pass "nbdcopy $what: 64 MiB in and out, checksums equal"
    else
        fail "nbdcopy $what: checksums differ"
    fi
}

fresh() { rm -f "$1" && truncate -s "$2" "$1"; }

# make_sparse FILE: 16 MiB with data runs, holes (one at the tail),
# allocated zeroes and preallocated (unwritten) blocks.
make_sparse() {
    rm -f "$1"
    "$py" - "$1" <<'PY'
import os, random, sys
MiB = 1 << 20
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.truncate(16 * MiB)
    for off, n in ((0, MiB), (3 * MiB, MiB // 2), (4 * MiB, 256 << 10),
                   (8 * MiB, 4096), (9 * MiB + 65536, 65536)):
        f.seek(off)
        f.write(r.randbytes(n))
    # Allocated zeroes: written, not a hole.
    f.seek(3 * MiB + MiB // 2)
    f.write(bytes(MiB // 2))
    f.seek(12 * MiB)
    f.write(bytes(MiB))
    f.flush()
    os.fsync(f.fileno())
    # Preallocated (unwritten) blocks.
    os.posix_fallocate(f.fileno(), 10 * MiB, MiB)
PY
}

# --- credentials ---------------------------------------------------------
D=$tmp/pki
if ! "$qpki" init "$D" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --psk-user alice >"$tmp/pki.log" 2>&1 ||
   ! "$qpki" init "$tmp/other" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --psk-user alice >>"$tmp/pki.log" 2>&1; then
    cat "$tmp/pki.log"
    echo "FAIL: qio-pki could not make the credentials"
    exit 1
fi
psk=$D/keys.psk
badpsk=$tmp/other/keys.psk
x509=(--object "tls-creds-x509,id=tls0,endpoint=server,dir=$D"
      --tls-creds tls0)
pskobj=(--object "tls-creds-psk,id=tls0,endpoint=server,dir=$D"
        --tls-creds tls0)
img=$tmp/disk.raw

# --- python3-libnbd, plain -----------------------------------------------
fresh "$img" $SIZE
if start tcp -x disk0 -D "libnbd test disk" -e 4 "$img"; then
    libnbd "plain TCP, -e 4" rw "nbd://127.0.0.1:$port/disk0" \
        --export disk0 --desc "libnbd test disk" --multi-conn 1 \
        --file "$img"
else
    fail "qio-nbd plain TCP did not start"
fi

fresh "$img" $SIZE
if start unix -x disk0 --discard=unmap "$img"; then
    libnbd "plain UNIX, -e 1, --discard=unmap" rw \
        "nbd+unix:///disk0?socket=$sock" --export disk0 --multi-conn 0 \
        --discard --file "$img" --seed 5
else
    fail "qio-nbd plain UNIX did not start"
fi

make_sparse "$img"
make_sparse "$tmp/sparse.raw"
if start unix -r -x ro "$img"; then
    libnbd "plain UNIX, read-only" ro "nbd+unix:///ro?socket=$sock" \
        --export ro --file "$img"
else
    fail "qio-nbd read-only did not start"
fi

# --- python3-libnbd, x509 ------------------------------------------------
authz_ok=(--object "authz-simple,id=auth0,identity=CN=client1"
          --tls-authz auth0)
fresh "$img" $SIZE
if start tcp -x disk0 -e 4 "${x509[@]}" "${authz_ok[@]}" "$img"; then
    libnbd "x509 TCP, client certificate allowed by authz" rw \
        "nbds://127.0.0.1:$port/disk0?tls-certificates=$D" \
        --export disk0 --multi-conn 1 --tls 1 --file "$img" --seed 6
    libnbd "x509 TCP: a client without TLS is refused" refused \
        "nbd://127.0.0.1:$port/disk0" --expect "TLS"
    libnbd "x509 TCP: no export list in the clear" refused \
        "nbd://127.0.0.1:$port/disk0" --list \
        --expect "TLS|error to list request"
    libnbd "x509 TCP: a client trusting another CA is refused" refused \
        "nbds://127.0.0.1:$port/disk0?tls-certificates=$tmp/other" \
        --expect "certificate|verif|handshake|TLS"
    libnbd "x509 TCP: a PSK client is refused" refused \
        "nbds://alice@127.0.0.1:$port/disk0?tls-psk-file=$psk" \
        --expect "TLS|handshake|credentials"
else
    fail "qio-nbd x509 TCP did not start"
fi

make_sparse "$img"
if start unix -r -x ro "${x509[@]}" "$img"; then
    libnbd "x509 UNIX, read-only" ro \
        "nbds+unix:///ro?socket=$sock&tls-certificates=$D" \
        --export ro --tls 1 --file "$img"
    libnbd "x509 UNIX via set_tls_certificates" ro - --socket "$sock" \
        --tls-certificates "$D" --export ro --tls 1 --file "$img"
else
    fail "qio-nbd x509 UNIX did not start"
fi

if start unix -x disk0 "${x509[@]}" \
       --object "authz-simple,id=auth0,identity=CN=somebody-else" \
       --tls-authz auth0 "$img"; then
    libnbd "x509: a client certificate denied by authz" refused \
        "nbds+unix:///disk0?socket=$sock&tls-certificates=$D" \
        --expect "alert"
    sed 's/^/  qio-nbd said: /' "$tmp/srv.log"
else
    fail "qio-nbd x509 with a denying authz did not start"
fi

# --- python3-libnbd, PSK -------------------------------------------------
fresh "$img" $SIZE
if start tcp -x disk0 "${pskobj[@]}" "$img"; then
    libnbd "PSK TCP (nbds://alice@...?tls-psk-file=)" rw \
        "nbds://alice@127.0.0.1:$port/disk0?tls-psk-file=$psk" \
        --export disk0 --tls 1 --file "$img" --seed 8
    libnbd "PSK TCP: a wrong key is refused" refused \
        "nbds://alice@127.0.0.1:$port/disk0?tls-psk-file=$badpsk" \
        --expect "TLS|handshake|decrypt|MAC|key"
    libnbd "PSK TCP: a client without TLS is refused" refused \
        "nbd://127.0.0.1:$port/disk0" --expect "TLS"
else
    fail "qio-nbd PSK TCP did not start"
fi

"$py" -c 'import sys; print("bob:" + "ab" * 32)' >>"$tmp/pki/keys.psk"
if start unix -x disk0 "${pskobj[@]}" \
       --object "authz-simple,id=auth0,identity=alice" --tls-authz auth0 \
       "$img"; then
    libnbd "PSK UNIX via set_tls_username, allowed by authz" rw - \
        --socket "$sock" --tls-psk-file "$psk" --tls-username alice \
        --export disk0 --tls 1 --file "$img" --seed 9
    libnbd "PSK UNIX: user bob (valid key) denied by authz" refused - \
        --socket "$sock" --tls-psk-file "$psk" --tls-username bob \
        --export disk0 --expect "alert"
else
    fail "qio-nbd PSK UNIX did not start"
fi

# --- nbdcopy -------------------------------------------------------------
head -c 67108864 /dev/urandom >"$tmp/big.raw"
fresh "$tmp/export.raw" 64M
if start tcp -x disk0 -e 4 "$tmp/export.raw"; then
    roundtrip "plain, -C 4 -R 16 (qio-nbd -e 4)" \
        "nbd://127.0.0.1:$port/disk0" --connections 4 --requests 16
else
    fail "qio-nbd for nbdcopy did not start"
fi
fresh "$tmp/export.raw" 64M
if start tcp -x disk0 -e 4 "$tmp/export.raw"; then
    roundtrip "plain, defaults (qio-nbd -e 4)" "nbd://127.0.0.1:$port/disk0"
else
    fail "qio-nbd for nbdcopy did not start"
fi
fresh "$tmp/export.raw" 64M
if start unix -x disk0 "$tmp/export.raw"; then
    roundtrip "plain UNIX, defaults (qio-nbd -e 1)" \
        "nbd+unix:///disk0?socket=$sock"
else
    fail "qio-nbd -e 1 for nbdcopy did not start"
fi
fresh "$tmp/export.raw" 64M
if start tcp -x disk0 -e 4 "${x509[@]}" "${authz_ok[@]}" \
       "$tmp/export.raw"; then
    roundtrip "x509 (nbds://...?tls-certificates=DIR), -C 4 -R 16" \
        "nbds://127.0.0.1:$port/disk0?tls-certificates=$D" \
        --connections 4 --requests 16
else
    fail "qio-nbd x509 for nbdcopy did not start"
fi
fresh "$tmp/export.raw" 64M
if start tcp -x disk0 -e 4 "${pskobj[@]}" "$tmp/export.raw"; then
    roundtrip "PSK (nbds://alice@...?tls-psk-file=FILE)" \
        "nbds://alice@127.0.0.1:$port/disk0?tls-psk-file=$psk"
    if timeout 60 nbdcopy "nbd://127.0.0.1:$port/disk0" null: \
           >"$tmp/cp.log" 2>&1; then
        fail "nbdcopy without TLS read from a PSK server"
    else
        pass "nbdcopy without TLS is refused: $(head -n 1 "$tmp/cp.log")"
    fi
else
    fail "qio-nbd PSK for nbdcopy did not start"
fi

# Sparseness: a sparse export copied to a file stays sparse (extents
# only: zero detection off), and a sparse file copied into an export
# served with --discard=unmap leaves holes there.
make_sparse "$img"
if start unix -r -x ro "$img"; then
    rm -f "$tmp/out.raw"
    if copy "sparse export to file" "nbd+unix:///ro?socket=$sock" \
           "$tmp/out.raw" -S 0 &&
       cmp -s "$img" "$tmp/out.raw"; then
        if [ "$(blocks "$tmp/out.raw")" -le "$(blocks "$img")" ]; then
            pass "nbdcopy -S 0 export to file: equal, sparse" \
                 "($(blocks "$tmp/out.raw") <= $(blocks "$img") blocks)"
        else
            fail "nbdcopy -S 0: output not sparse:" \
                 "$(blocks "$tmp/out.raw") > $(blocks "$img") blocks"
        fi
    else
        fail "nbdcopy sparse export to file: contents differ"
    fi
else
    fail "qio-nbd for the sparse copy did not start"
fi
fresh "$tmp/export.raw" 16M
head -c 16777216 /dev/urandom >"$tmp/export.raw"
if start unix -x disk0 --discard=unmap "$tmp/export.raw"; then
    if copy "sparse file to export" "$tmp/sparse.raw" \
           "nbd+unix:///disk0?socket=$sock" &&
       cmp -s "$tmp/sparse.raw" "$tmp/export.raw"; then
        # Data is 2 MiB and change: allow the zeroed regions too.
        if [ "$(blocks "$tmp/export.raw")" -le 10240 ]; then
            pass "nbdcopy file to export (--discard=unmap): equal," \
                 "holes punched ($(blocks "$tmp/export.raw") blocks)"
        else
            fail "nbdcopy file to export: export not sparse" \
                 "($(blocks "$tmp/export.raw") blocks)"
        fi
    else
        fail "nbdcopy sparse file to export: contents differ"
    fi
else
    fail "qio-nbd --discard=unmap for nbdcopy did not start"
fi
stop_srv

# --- block status: qio-nbd and qemu-nbd on the same file -----------------
make_sparse "$img"
rm -f "$tmp/qemu.sock" "$tmp/qemu.pid"
if start unix -r "$img" &&
   timeout 20 qemu-nbd --fork --pid-file "$tmp/qemu.pid" -t -r -f raw \
       -k "$tmp/qemu.sock" "$img" 2>"$tmp/qemu.log"; then
    qemu_pid=$(cat "$tmp/qemu.pid")
    libnbd "base:allocation of qio-nbd and qemu-nbd" compare \
        "nbd+unix:///?socket=$sock" "nbd+unix:///?socket=$tmp/qemu.sock" \
        --file "$img"
else
    sed 's/^/  qemu-nbd: /' "$tmp/qemu.log"
    fail "qio-nbd or qemu-nbd did not start for the block status check"
fi
stop_srv
stop_pid "$qemu_pid" 30
qemu_pid=

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
