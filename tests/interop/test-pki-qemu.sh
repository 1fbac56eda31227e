#!/bin/bash
#
# qio-pki against the real consumers of its output: certtool verifies the
# chains, qemu-nbd serves a disk with the written directories as
# tls-creds-x509 / tls-creds-psk, and qemu-img / qemu-io read it back over
# 127.0.0.1 and a UNIX socket.  Covers the plain and the password-protected
# server key, the host name check, a client from another CA (refused by
# qemu-nbd), an authz rule matching the client name, and PSK users.
# One --object authz-simple string is also handed to both qemu-nbd and
# qio's TLS server (tls-echo): it must let the same client certificate in
# at both, and the same name in the other attribute order must keep it out
# at both, so a rule written for QEMU works unchanged with qio.
#
# Usage: test-pki-qemu.sh BUILD_ROOT   (exit 77 when a peer is missing)

set -u

build=${1:?usage: $0 BUILD_ROOT}
qio_pki=$build/tools/qio-pki
tls_echo=$build/tests/interop/tls-echo

. "${0%/*}/lib.sh"
require_progs qemu-nbd qemu-img qemu-io certtool python3 timeout sha256sum
require_built "$qio_pki" "$tls_echo"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qio-pki-qemu.XXXXXX") || exit 1
nbd_pid=
echo_pid=
failures=0

stop_nbd() {
    stop_pid "$nbd_pid"
    nbd_pid=
}

stop_echo() {
    if [ -n "$echo_pid" ]; then
        kill "$echo_pid" 2>/dev/null
        wait "$echo_pid" 2>/dev/null
        echo_pid=
    fi
}

cleanup() {
    stop_nbd
    stop_echo
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

# A free TCP port on 127.0.0.1 (the kernel's pick; start_nbd retries on a
# lost race).
# start_nbd tcp|unix ARGS...: serve $tmp/disk.raw read-only; --fork makes
# qemu-nbd return only once it listens.  Sets $port or uses $sock.
start_nbd() {
    local kind=$1 try
    local -a args where
    shift
    args=("$@")

    stop_nbd
    rm -f "$tmp/nbd.pid" "$tmp/nbd.sock"
    for try in 1 2 3; do
        if [ "$kind" = tcp ]; then
            port=$(free_port)
            where=(-b 127.0.0.1 -p "$port")
        else
            where=(-k "$tmp/nbd.sock")
        fi
        if timeout 10 qemu-nbd --fork --pid-file "$tmp/nbd.pid" -t -r \
               -f raw "${where[@]}" "${args[@]}" "$tmp/disk.raw" \
               2>"$tmp/nbd.err"; then
            nbd_pid=$(cat "$tmp/nbd.pid")
            return 0
        fi
        # Only a port lost to another program is worth another try.
        grep -qi "address already in use" "$tmp/nbd.err" || break
    done
    sed 's/^/  qemu-nbd: /' "$tmp/nbd.err"
    return 1
}

# start_nbd_logged ARGS...: like "start_nbd tcp", but qemu-nbd runs as
# this script's child instead of forking, because a forked qemu-nbd drops
# what it reports about each connection; here that goes to $tmp/nbd.err.
# Stop it with stop_nbd_logged.
start_nbd_logged() {
    local i

    stop_nbd
    port=$(free_port)
    timeout 60 qemu-nbd -t -r -f raw -b 127.0.0.1 -p "$port" "$@" \
        "$tmp/disk.raw" 2>"$tmp/nbd.err" &
    nbd_pid=$!
    for i in $(seq 100); do
        if python3 -c 'import socket, sys
s = socket.socket()
s.settimeout(0.2)
s.connect(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
            return 0
        fi
        kill -0 "$nbd_pid" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/  qemu-nbd: /' "$tmp/nbd.err"
    stop_nbd_logged
    return 1
}

stop_nbd_logged() {
    if [ -n "$nbd_pid" ]; then
        kill "$nbd_pid" 2>/dev/null
        wait "$nbd_pid" 2>/dev/null
        nbd_pid=
    fi
}

# read_back NAME CREDS_OBJECT IMAGE_OPTS: copy the export to a file and
# compare it with the disk.
read_back() {
    local out=$tmp/$1.out

    rm -f "$out"
    if ! timeout 20 qemu-img convert --object "$2" --image-opts "$3" \
             -O raw "$out" >"$tmp/client.err" 2>&1; then
        sed 's/^/  qemu-img: /' "$tmp/client.err"
        return 1
    fi
    [ "$(sha256sum <"$out")" = "$disk_sum" ]
}

# expect_refused CREDS_OBJECT IMAGE_OPTS: the connection must fail.
expect_refused() {
    if timeout 20 qemu-img info --object "$1" --image-opts "$2" \
           >"$tmp/client.err" 2>&1; then
        return 1
    fi
    sed 's/^/  qemu-img (expected): /' "$tmp/client.err" | head -2
    return 0
}

mode_of() {
    stat -c %a "$1"
}

# ---- the disk: a recognisable first 64 KiB, random after ----
python3 -c 'import sys; sys.stdout.buffer.write(b"\xa5" * 65536)' \
    >"$tmp/disk.raw"
head -c $((1024 * 1024 - 65536)) /dev/urandom >>"$tmp/disk.raw"
disk_sum=$(sha256sum <"$tmp/disk.raw")

D=$tmp/creds
check "qio-pki init writes a complete directory"
if "$qio_pki" init "$D" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --psk-user alice --days 2; then
    ok=1
    for f in ca-cert.pem server-cert.pem client-cert.pem; do
        [ "$(mode_of "$D/$f")" = 644 ] || { fail "$f mode"; ok=0; }
    done
    for f in ca-key.pem server-key.pem client-key.pem keys.psk; do
        [ "$(mode_of "$D/$f")" = 600 ] || { fail "$f mode"; ok=0; }
    done
    [ $ok = 1 ] && pass
else
    fail "qio-pki init failed"
    exit 1
fi

check "qio-pki refuses to overwrite without --force"
if "$qio_pki" init "$D" --hostname localhost 2>"$tmp/err"; then
    fail "init succeeded over an existing directory"
elif grep -q "$D/ca-cert.pem" "$tmp/err"; then
    pass
else
    fail "message does not name the file: $(cat "$tmp/err")"
fi

check "qio-pki rejects a bad --ip with one line"
if "$qio_pki" init "$tmp/x" --ip 300.1.1.1 2>"$tmp/err"; then
    fail "accepted"
elif [ "$(cat "$tmp/err")" = \
       "qio-pki: --ip: '300.1.1.1' is not an IP address" ] &&
     [ ! -e "$tmp/x" ]; then
    pass
else
    fail "$(cat "$tmp/err")"
fi

for who in server client; do
    check "certtool verifies $who-cert.pem against ca-cert.pem"
    if timeout 10 certtool --verify --load-ca-certificate "$D/ca-cert.pem" \
           --infile "$D/$who-cert.pem" >"$tmp/certtool.out" 2>&1; then
        pass
    else
        fail "$(tail -3 "$tmp/certtool.out")"
    fi
done
check "certtool verifies the server certificate for host name localhost"
if timeout 10 certtool --verify --verify-hostname localhost \
       --load-ca-certificate "$D/ca-cert.pem" --infile "$D/server-cert.pem" \
       >"$tmp/certtool.out" 2>&1; then
    pass
else
    fail "$(tail -3 "$tmp/certtool.out")"
fi

x509_client="tls-creds-x509,id=tls0,endpoint=client,dir=$D"

check "qemu-nbd serves with the directory over TCP; qemu-img reads it back"
if start_nbd tcp --object "tls-creds-x509,id=tls0,endpoint=server,dir=$D" \
       --tls-creds tls0; then
    opts="driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"
    if read_back tcp "$x509_client" "$opts"; then
        pass
    else
        fail "read back failed or differs"
    fi

    check "qemu-io reads the pattern through TLS"
    if timeout 20 qemu-io -r --object "$x509_client" --image-opts "$opts" \
           -c 'read -P 0xa5 0 64k' >"$tmp/io.out" 2>&1 &&
       grep -q "read 65536/65536" "$tmp/io.out" &&
       ! grep -qi "verification failed" "$tmp/io.out"; then
        pass
    else
        fail "$(cat "$tmp/io.out")"
    fi

    check "plain NBD to the TLS server is refused"
    if timeout 20 qemu-img info --image-opts \
           "driver=nbd,host=127.0.0.1,port=$port" >/dev/null 2>&1; then
        fail "connected without TLS"
    else
        pass
    fi
else
    fail "qemu-nbd did not start"
fi

check "UNIX socket with tls-hostname=localhost is accepted"
if start_nbd unix --object "tls-creds-x509,id=tls0,endpoint=server,dir=$D" \
       --tls-creds tls0; then
    base="driver=nbd,path=$tmp/nbd.sock,tls-creds=tls0"
    if read_back unix "$x509_client" "$base,tls-hostname=localhost"; then
        pass
    else
        fail "read back over the UNIX socket failed"
    fi
    check "UNIX socket with tls-hostname=wrong.example.org is refused"
    if expect_refused "$x509_client" "$base,tls-hostname=wrong.example.org"
    then
        pass
    else
        fail "the wrong host name was accepted"
    fi
else
    fail "qemu-nbd did not start"
fi

# ---- an encrypted server key ----
E=$tmp/creds-enc
printf '%s' "pw-$RANDOM-$RANDOM" >"$tmp/pw"
chmod 600 "$tmp/pw"
printf 'not the password' >"$tmp/wrong-pw"
check "qio-pki init --key-password-file encrypts server-key.pem"
if "$qio_pki" init "$E" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --key-password-file "$tmp/pw" &&
   grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$E/server-key.pem" &&
   ! grep -q "pw-" "$E/server-key.pem"; then
    pass
else
    fail "no encrypted key"
fi

enc_server="tls-creds-x509,id=tls0,endpoint=server,dir=$E,passwordid=sec0"
check "qemu-nbd decrypts it with passwordid= and serves"
if start_nbd tcp --object "secret,id=sec0,file=$tmp/pw" \
       --object "$enc_server" \
       --tls-creds tls0; then
    if read_back enc "tls-creds-x509,id=tls0,endpoint=client,dir=$E" \
           "driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"; then
        pass
    else
        fail "read back failed"
    fi
else
    fail "qemu-nbd did not start"
fi

check "qemu-nbd refuses the key with a wrong password"
stop_nbd
if timeout 10 qemu-nbd --fork --pid-file "$tmp/nbd.pid" -r -f raw \
       -b 127.0.0.1 -p "$(free_port)" \
       --object "secret,id=sec0,file=$tmp/wrong-pw" \
       --object "$enc_server" \
       --tls-creds tls0 "$tmp/disk.raw" >"$tmp/nbd.err" 2>&1; then
    nbd_pid=$(cat "$tmp/nbd.pid")
    fail "started with a wrong password"
else
    sed 's/^/  qemu-nbd (expected): /' "$tmp/nbd.err" | head -2
    pass
fi

# ---- a client the server must refuse or filter ----
O=$tmp/other
M=$tmp/mixed
A=$tmp/alice
check "a client certificate from another CA is refused by qemu-nbd"
"$qio_pki" init "$O" --hostname localhost --client-name client1 >/dev/null &&
    mkdir -p "$M" && cat "$D/ca-cert.pem" "$O/ca-cert.pem" >"$M/ca-cert.pem" &&
    cp "$O/client-cert.pem" "$O/client-key.pem" "$M/" || fail "setup"
if start_nbd tcp --object "tls-creds-x509,id=tls0,endpoint=server,dir=$D" \
       --tls-creds tls0; then
    opts="driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"
    if expect_refused "tls-creds-x509,id=tls0,endpoint=client,dir=$M" \
           "$opts"; then
        pass
    else
        fail "the foreign client was accepted"
    fi
    check "the same server still serves its own client afterwards"
    if read_back again "$x509_client" "$opts"; then
        pass
    else
        fail "read back failed"
    fi
else
    fail "qemu-nbd did not start"
fi

check "qio-pki client --out-dir makes a second client directory"
if "$qio_pki" client "$D" alice --out-dir "$A" &&
   [ "$(mode_of "$A/client-key.pem")" = 600 ] &&
   timeout 10 certtool --verify --load-ca-certificate "$A/ca-cert.pem" \
       --infile "$A/client-cert.pem" >/dev/null 2>&1; then
    pass
else
    fail "no usable client directory"
fi

check "tls-authz on CN=client1: client1 is let in, alice is not"
if start_nbd tcp --object "tls-creds-x509,id=tls0,endpoint=server,dir=$D" \
       --object "authz-simple,id=auth0,identity=CN=client1" \
       --tls-creds tls0 --tls-authz auth0; then
    opts="driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"
    if ! read_back authz "$x509_client" "$opts"; then
        fail "client1 was not let in"
    elif ! expect_refused "tls-creds-x509,id=tls0,endpoint=client,dir=$A" \
             "$opts"; then
        fail "alice was let in"
    else
        pass
    fi
else
    fail "qemu-nbd did not start"
fi

# ---- one authz identity for qemu-nbd and qio ----
# Both hand authz the subject in encoded order (qio-pki writes O, then
# CN): "O=Org,CN=client1", with the comma doubled in keyval.  The RFC 4514
# order ("CN=client1,O=Org", as certtool -i prints it) is another string.
G=$tmp/org
good_authz="authz-simple,id=auth0,identity=O=Org,,CN=client1"
rfc_authz="authz-simple,id=auth0,identity=CN=client1,,O=Org"
g_client="tls-creds-x509,id=tls0,endpoint=client,dir=$G"
g_server="tls-creds-x509,id=tls0,endpoint=server,dir=$G"

# qio_echo AUTHZ_OBJECT EXPECT: qio's TLS server with --object AUTHZ_OBJECT
# --tls-authz auth0 takes one connection from qio's client holding $G's
# client certificate.  EXPECT is "" (the line is echoed) or AUTHZ_DENIED
# (the server must refuse with exactly that code).  The server's messages
# are left in $tmp/echo.err.
qio_echo() {
    local pf=$tmp/echo.port port i rc
    local -a sx=()

    stop_echo
    rm -f "$pf"
    [ -n "$2" ] && sx=(--expect-error "$2")
    timeout 20 "$tls_echo" --role server --x509 "$G" --port-file "$pf" \
        --object "$1" --tls-authz auth0 "${sx[@]}" \
        >"$tmp/echo.out" 2>"$tmp/echo.err" &
    echo_pid=$!
    for i in $(seq 100); do
        [ -s "$pf" ] && break
        kill -0 "$echo_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$pf" ]; then
        sed 's/^/  tls-echo server: /' "$tmp/echo.err"
        stop_echo
        return 1
    fi
    port=$(cat "$pf")
    timeout 20 "$tls_echo" --role client --x509 "$G" --hostname localhost \
        --port "$port" --message "same identity" >"$tmp/echo-client.out" \
        2>"$tmp/echo-client.err"
    rc=$?
    wait "$echo_pid"
    i=$?
    echo_pid=
    if [ "$i" -ne 0 ]; then
        sed 's/^/  tls-echo server: /' "$tmp/echo.err"
        return 1
    fi
    if [ -z "$2" ]; then
        [ $rc -eq 0 ] && grep -qx "same identity" "$tmp/echo-client.out"
    else
        # The refused client must not have had its line echoed.
        ! grep -qx "same identity" "$tmp/echo-client.out"
    fi
}

check "qio-pki init --organization Org writes a client1 directory"
if "$qio_pki" init "$G" --hostname localhost --ip 127.0.0.1 \
       --client-name client1 --organization Org >/dev/null; then
    pass
else
    fail "qio-pki init failed"
fi

check "qemu-nbd --tls-authz with $good_authz lets client1 in"
if start_nbd tcp --object "$g_server" --object "$good_authz" \
       --tls-creds tls0 --tls-authz auth0; then
    if read_back same "$g_client" \
           "driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"; then
        pass
    else
        fail "qemu-nbd denied the identity qio's docs tell users to write"
    fi
else
    fail "qemu-nbd did not start"
fi

check "qio's TLS server with the same --object lets the same client in"
if qio_echo "$good_authz" "" &&
   grep -q "client 'O=Org,CN=client1'" "$tmp/echo.err"; then
    pass
else
    fail "qio refused what qemu-nbd allowed: $(cat "$tmp/echo.err")"
fi

check "qemu-nbd --tls-authz with $rfc_authz keeps client1 out"
qemu_id=
if start_nbd_logged --object "$g_server" --object "$rfc_authz" \
       --tls-creds tls0 --tls-authz auth0; then
    if expect_refused "$g_client" \
           "driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"; then
        pass
    else
        fail "qemu-nbd allowed the RFC 4514 order"
    fi
    stop_nbd_logged
    # qemu-nbd names the identity it checked ("authz check for X is
    # denied" in QEMU 7); where it does, it must be the one qio checks.
    qemu_id=$(sed -n 's/.*authz check for \(.*\) is denied.*/\1/p' \
        "$tmp/nbd.err" | head -1)
else
    fail "qemu-nbd did not start"
fi

check "qio's TLS server with the same --object keeps the same client out"
if qio_echo "$rfc_authz" AUTHZ_DENIED &&
   grep -q "client 'O=Org,CN=client1' is not authorized by 'auth0'" \
       "$tmp/echo.err"; then
    pass
else
    fail "qio did not deny as qemu-nbd did: $(cat "$tmp/echo.err")"
fi

check "qemu-nbd and qio name the denied client with the same string"
if [ -z "$qemu_id" ]; then
    echo "  (this qemu-nbd does not print the identity it checked)"
    pass
elif [ "$qemu_id" = "O=Org,CN=client1" ]; then
    pass
else
    fail "qemu-nbd checked '$qemu_id', qio 'O=Org,CN=client1'"
fi

# ---- PSK ----
P=$tmp/psk-other
check "qemu-nbd with tls-creds-psk from keys.psk; user alice reads back"
if start_nbd tcp --object "tls-creds-psk,id=tls0,endpoint=server,dir=$D" \
       --tls-creds tls0; then
    opts="driver=nbd,host=127.0.0.1,port=$port,tls-creds=tls0"
    if read_back psk \
           "tls-creds-psk,id=tls0,endpoint=client,dir=$D,username=alice" \
           "$opts"; then
        pass
    else
        fail "read back failed"
    fi
    check "a different key for alice is refused"
    if "$qio_pki" psk "$P" alice &&
       expect_refused \
           "tls-creds-psk,id=tls0,endpoint=client,dir=$P,username=alice" \
           "$opts"; then
        pass
    else
        fail "a wrong PSK was accepted"
    fi
else
    fail "qemu-nbd did not start"
fi
stop_nbd

if [ $failures -ne 0 ]; then
    echo "FAILED: $failures check(s)"
    exit 1
fi
echo "PASS: all checks"
exit 0
