#!/bin/bash
# qio-nbd served to qio-nbd-client, both sides ours: a copy to the export
# and back, checked by checksum, in the clear, over x509 TLS with and
# without client certificates, over PSK; authz allow and deny; a
# read-only export; concurrent clients with -e; and qio-nbd -L listing
# exports, with TLS too, and its refusals.
#
#   test-qio-nbd-pair.sh BUILD_ROOT
#
# Servers run under timeout(1) and are stopped by pid; every client call
# is bounded too.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/lib.sh
. "$here/../interop/lib.sh"

build=$1
qnbd=$build/tools/qio-nbd
qcli=$build/tools/qio-nbd-client
qpki=$build/tools/qio-pki
require_built "$qnbd" "$qcli" "$qpki"
require_progs timeout sha256sum od

test_begin
sum() { sha256sum "$1" | cut -d' ' -f1; }
# start NAME ARGS...: qio-nbd -t ARGS in the background (lib.sh).
start() { qio_nbd_start "$@"; }

stop() { qio_nbd_stop; }

img=$tmp/disk.img
src=$tmp/src.img
head -c 3145728 /dev/urandom >"$src"
# A tail that is not a multiple of any block size.
head -c 12345 /dev/urandom >>"$src"
size=$(stat -c %s "$src")
fresh_image() {
    rm -f "$img"
    truncate -s "$size" "$img"
}

# round_trip WHAT URI [CLIENT OPTIONS...]: copy $src to URI, back into
# $tmp/out.img, and compare the source, the served file and the copy.
round_trip() {
    local what=$1 uri=$2
    shift 2
    rm -f "$tmp/out.img"
    if timeout 30 "$qcli" "$@" copy "$src" "$uri" >"$tmp/cli.log" 2>&1 &&
       timeout 30 "$qcli" "$@" copy "$uri" "$tmp/out.img" \
           >>"$tmp/cli.log" 2>&1 &&
       [ "$(sum "$src")" = "$(sum "$img")" ] &&
       [ "$(sum "$src")" = "$(sum "$tmp/out.img")" ]; then
        pass "$what: copied there and back, checksums match"
    else
        sed 's/^/# /' "$tmp/cli.log"
        fail "$what: copy round trip"
    fi
}

# refused WHAT TEXT CMD...: CMD fails and its output contains TEXT.
refused() {
    local what=$1 text=$2
    shift 2
    if timeout 30 "$@" >"$tmp/ref.log" 2>&1; then
        fail "$what: succeeded"
    elif grep -qF -- "$text" "$tmp/ref.log"; then
        pass "$what: $(head -n 1 "$tmp/ref.log")"
    else
        sed 's/^/# /' "$tmp/ref.log"
        fail "$what: expected '$text'"
    fi
}

# --- plain, UNIX socket and TCP ------------------------------------------
fresh_image
sock=$tmp/plain.sock
if start plain -k "$sock" -x disk0 -D "plain disk" "$img"; then
    round_trip "plain UNIX socket" "nbd+unix:///disk0?socket=$sock"
    if timeout 10 "$qnbd" -L -k "$sock" >"$tmp/list.txt" 2>&1 &&
       grep -qx "exports available: 1" "$tmp/list.txt" &&
       grep -qx " export: 'disk0'" "$tmp/list.txt" &&
       grep -qx "  description: plain disk" "$tmp/list.txt" &&
       grep -qx "  size:  $size" "$tmp/list.txt" &&
       grep -qx "  max block: [0-9]*" "$tmp/list.txt" &&
       grep -q "^  flags: 0x[0-9a-f]* ( flush fua trim zeroes" \
           "$tmp/list.txt" &&
       ! grep -q " multi " "$tmp/list.txt"; then
        pass "-L lists the export, description, size, flags (no multi)"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L on a UNIX socket"
    fi
    stop && pass "plain server stopped with status 0"
else
    fail "plain server"
fi

fresh_image
port=$(free_port)
if start tcp -b 127.0.0.1 -p "$port" "$img"; then
    round_trip "plain TCP" "nbd://127.0.0.1:$port/"
    if timeout 10 "$qnbd" -L -b 127.0.0.1 -p "$port" >"$tmp/list.txt" \
           2>&1 && grep -qx " export: ''" "$tmp/list.txt"; then
        pass "-L -b -p lists the default export"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L on TCP"
    fi
    stop
else
    fail "TCP server"
fi
refused "-L with nobody listening" "cannot connect to unix:$tmp/none.sock" \
    "$qnbd" -L -k "$tmp/none.sock"

# --- read-only -----------------------------------------------------------
fresh_image
cp "$src" "$img"
sock=$tmp/ro.sock
if start ro -r -k "$sock" "$img"; then
    before=$(sum "$img")
    rm -f "$tmp/zero.img"
    truncate -s "$size" "$tmp/zero.img"
    if timeout 30 "$qcli" copy "$tmp/zero.img" "nbd+unix:///?socket=$sock" \
           >"$tmp/cli.log" 2>&1; then
        fail "a copy into a read-only export succeeded"
    elif [ "$(sum "$img")" != "$before" ]; then
        fail "a read-only export changed its file"
    else
        pass "read-only export refuses a copy: $(head -n 1 "$tmp/cli.log")"
    fi
    rm -f "$tmp/out.img"
    if timeout 30 "$qcli" copy "nbd+unix:///?socket=$sock" "$tmp/out.img" \
           >"$tmp/cli.log" 2>&1 &&
       [ "$(sum "$tmp/out.img")" = "$before" ]; then
        pass "read-only export reads back its file"
    else
        sed 's/^/# /' "$tmp/cli.log"
        fail "read from a read-only export"
    fi
    if timeout 10 "$qnbd" -L -k "$sock" >"$tmp/list.txt" 2>&1 &&
       grep -q "^  flags: 0x[0-9a-f]* ( readonly" "$tmp/list.txt"; then
        pass "-L shows the export read-only"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L flags of a read-only export"
    fi
    stop
else
    fail "read-only server"
fi

# --- concurrent clients --------------------------------------------------
# -e 2: two readers at once and a copy over two connections; -L shows
# the multi-connection flag.  Each client says how many connections it
# opens: with -e 2, a third one would wait in the listen queue.
fresh_image
cp "$src" "$img"
sock=$tmp/shared.sock
if start shared -e 2 -k "$sock" "$img"; then
    rm -f "$tmp/r1.img" "$tmp/r2.img"
    timeout 30 "$qcli" -C 1 copy "nbd+unix:///?socket=$sock" "$tmp/r1.img" \
        >"$tmp/r1.log" 2>&1 &
    r1=$!
    timeout 30 "$qcli" -C 1 copy "nbd+unix:///?socket=$sock" "$tmp/r2.img" \
        >"$tmp/r2.log" 2>&1 &
    r2=$!
    wait "$r1"
    rc1=$?
    wait "$r2"
    rc2=$?
    if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] &&
       [ "$(sum "$tmp/r1.img")" = "$(sum "$src")" ] &&
       [ "$(sum "$tmp/r2.img")" = "$(sum "$src")" ]; then
        pass "-e 2: two clients read at once, both checksums match"
    else
        sed 's/^/# /' "$tmp/r1.log" "$tmp/r2.log"
        fail "-e 2: concurrent readers (rc $rc1, $rc2)"
    fi
    truncate -s 0 "$img" && truncate -s "$size" "$img"
    round_trip "-e 2 with copy -C 2" "nbd+unix:///?socket=$sock" -C 2
    if timeout 10 "$qnbd" -L -k "$sock" >"$tmp/list.txt" 2>&1 &&
       grep -q "^  flags: .* multi " "$tmp/list.txt"; then
        pass "-L shows multi-connection with -e 2"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-e 2 does not announce multi-connection"
    fi
    stop
else
    fail "server with -e 2"
fi

# --- TLS -----------------------------------------------------------------
pki=$tmp/pki
if ! "$qpki" init "$pki" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --psk-user alice >"$tmp/pki.log" 2>&1; then
    sed 's/^/# /' "$tmp/pki.log"
    fail "qio-pki init"
    echo "$failures check(s) failed"
    exit 1
fi
# A client directory with the CA only: no certificate to show; and a
# PSK file with the right user name but another key.
nocert=$tmp/nocert
mkdir "$nocert"
cp "$pki/ca-cert.pem" "$nocert/"
echo "alice:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    >"$nocert/keys.psk"
x509s="tls-creds-x509,id=tls0,endpoint=server,dir=$pki"
x509c="tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
x509n="tls-creds-x509,id=tls0,endpoint=client,dir=$nocert"

# x509, client certificates required, authz lets client1 in.
fresh_image
port=$(free_port)
if start x509 -b 127.0.0.1 -p "$port" --object "$x509s" \
       --object "authz-simple,id=auth0,identity=CN=client1" \
       --tls-creds tls0 --tls-authz auth0 "$img"; then
    round_trip "x509 TLS with client certificate and authz" \
        "nbds://127.0.0.1:$port/?tls-certificates=$pki"
    round_trip "x509 TLS with --object/--tls-creds" \
        "nbds://localhost:$port/" --object "$x509c" --tls-creds tls0
    refused "plain client to a TLS server" "requires TLS" \
        "$qcli" info "nbd://127.0.0.1:$port/"
    refused "client without a certificate when one is required" "TLS" \
        "$qcli" info "nbds://127.0.0.1:$port/?tls-certificates=$nocert"
    if timeout 10 "$qnbd" -L -b 127.0.0.1 -p "$port" --object "$x509c" \
           --tls-creds tls0 >"$tmp/list.txt" 2>&1 &&
       grep -qx " export: ''" "$tmp/list.txt"; then
        pass "-L over x509 TLS"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L over x509 TLS"
    fi
    refused "-L without credentials on a TLS server" \
        "requires TLS; use --tls-creds" "$qnbd" -L -b 127.0.0.1 -p "$port"
    refused "-L with a wrong --tls-hostname" "wrong.example" \
        "$qnbd" -L -b 127.0.0.1 -p "$port" --object "$x509c" \
        --tls-creds tls0 --tls-hostname wrong.example
    refused "-L with server credentials" "endpoint=client" \
        "$qnbd" -L -b 127.0.0.1 -p "$port" --object "$x509s" \
        --tls-creds tls0
    stop
else
    fail "x509 server"
fi

# x509 on a UNIX socket: -L needs --tls-hostname.
sock=$tmp/x509.sock
if start x509u -k "$sock" --object "$x509s" --tls-creds tls0 "$img"; then
    refused "-L over TLS on a UNIX socket without --tls-hostname" \
        "--tls-hostname" "$qnbd" -L -k "$sock" --object "$x509c" \
        --tls-creds tls0
    if timeout 10 "$qnbd" -L -k "$sock" --object "$x509c" --tls-creds tls0 \
           --tls-hostname localhost >"$tmp/list.txt" 2>&1 &&
       grep -qx "exports available: 1" "$tmp/list.txt"; then
        pass "-L over TLS on a UNIX socket with --tls-hostname"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L -k with --tls-hostname"
    fi
    stop
else
    fail "x509 server on a UNIX socket"
fi

# x509, authz denies client1.
port=$(free_port)
if start deny -b 127.0.0.1 -p "$port" --object "$x509s" \
       --object "authz-simple,id=auth0,identity=CN=somebody-else" \
       --tls-creds tls0 --tls-authz auth0 "$img"; then
    before=$(sum "$img")
    refused "authz denies client1" "authorization" \
        "$qcli" copy "$src" "nbds://127.0.0.1:$port/?tls-certificates=$pki"
    if [ "$(sum "$img")" = "$before" ]; then
        pass "a denied client wrote nothing"
    else
        fail "a denied client changed the file"
    fi
    stop
else
    fail "x509 server with a denying authz"
fi

# x509 without client certificates: the server does not ask for one.
fresh_image
port=$(free_port)
if start nocert -b 127.0.0.1 -p "$port" \
       --object "$x509s,verify-peer=off" --tls-creds tls0 "$img"; then
    round_trip "x509 TLS without a client certificate" \
        "nbds://127.0.0.1:$port/?tls-certificates=$nocert"
    stop
else
    fail "x509 server with verify-peer=off"
fi

# PSK, with authz on the user name.
fresh_image
sock=$tmp/psk.sock
pskc="tls-creds-psk,id=tls0,endpoint=client,dir=$pki,username=alice"
if start psk -k "$sock" \
       --object "tls-creds-psk,id=tls0,endpoint=server,dir=$pki" \
       --object "authz-simple,id=auth0,identity=alice" \
       --tls-creds tls0 --tls-authz auth0 "$img"; then
    round_trip "PSK TLS" \
        "nbds+unix://alice@/?socket=$sock&tls-psk-file=$pki/keys.psk"
    if timeout 10 "$qnbd" -L -k "$sock" --object "$pskc" --tls-creds tls0 \
           >"$tmp/list.txt" 2>&1 &&
       grep -qx "exports available: 1" "$tmp/list.txt"; then
        pass "-L over PSK TLS"
    else
        sed 's/^/# /' "$tmp/list.txt"
        fail "-L over PSK"
    fi
    refused "PSK with a wrong key" "PSK" \
        "$qnbd" -L -k "$sock" --object \
        "tls-creds-psk,id=tls0,endpoint=client,dir=$nocert,username=alice" \
        --tls-creds tls0
    stop
else
    fail "PSK server"
fi

if [ "$failures" != 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all qio-nbd/qio-nbd-client checks passed"
