#!/bin/bash
#
# QIOChannelTLS against gnutls's own tools on 127.0.0.1: qio as the client
# of gnutls-serv and as the server of gnutls-cli, with x509 certificates
# in both directions (client certificates required and verified) and with
# PSK, plus the refusals a user meets most (wrong host name, no client
# certificate, authorization denied, wrong PSK key).  qio's end is
# tests/interop/tls-echo; the certificates come from the built qio-pki.
# One more client certificate, from a certtool template, pins the identity
# authz rules match: the subject in encoded order, as QEMU prints it
# ("C=GB,ST=London,L=London,O=Example Org,CN=client1"), not the RFC 4514
# order certtool -i shows; the openssl command the docs give prints it.
#
#   test-tls-gnutls.sh BUILD_ROOT
#
# Exits 77 (skipped) when gnutls-cli or gnutls-serv is not installed, 1
# when tls-echo or qio-pki was not built.
# gnutls-serv has no option to bind one address, so it listens on every
# address for the few seconds each case takes; only 127.0.0.1 connects.

set -u

BUILD=${1:?usage: $0 BUILD_ROOT}
ECHO=$BUILD/tests/interop/tls-echo
PKI=$BUILD/tools/qio-pki

. "${0%/*}/lib.sh"
require_progs gnutls-cli gnutls-serv certtool python3
require_built "$ECHO" "$PKI"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qio-tls-gnutls-XXXXXX")
PIDS=()
FAILED=0

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
}

# Wait until something listens on 127.0.0.1:$1 (gnutls-serv logs late).
wait_port() {
    local i
    for i in $(seq 100); do
        if python3 -c 'import socket, sys
s = socket.socket()
s.settimeout(0.2)
s.connect(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Wait for tls-echo --port-file and print the port.
wait_port_file() {
    local i
    for i in $(seq 100); do
        if [ -s "$1" ]; then
            cat "$1"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

SERV_PID=
start_gnutls_serv() {
    local port=$1 log=$2
    shift 2
    gnutls-serv --echo -p "$port" "$@" >"$log" 2>&1 &
    SERV_PID=$!
    PIDS+=("$SERV_PID")
    wait_port "$port"
}

stop_gnutls_serv() {
    stop_pid "$SERV_PID"
    wait "$SERV_PID" 2>/dev/null
}

# ---- Credentials -----------------------------------------------------------

X509=$WORK/x509
NOCLIENT=$WORK/x509-noclient
PSK=$WORK/psk
PSKBAD=$WORK/psk-bad

if ! "$PKI" init "$X509" --hostname localhost --ip 127.0.0.1 \
        --client-name client1 --organization Example \
        --psk-user alice >"$WORK/pki.log" 2>&1; then
    cat "$WORK/pki.log"
    echo "Bail out! qio-pki init failed"
    exit 1
fi
mkdir -p "$NOCLIENT" "$PSK" "$PSKBAD"
cp "$X509/ca-cert.pem" "$NOCLIENT/"
cp "$X509/keys.psk" "$PSK/keys.psk"
PSKKEY=$(sed -n 's/^alice://p' "$PSK/keys.psk")
# The same user with another key.
echo "alice:$(printf '%064x' 42)" >"$PSKBAD/keys.psk"
chmod 600 "$PSK/keys.psk" "$PSKBAD/keys.psk"
# The identity authz rules match: the subject in the order the
# certificate encodes it (qio-pki writes O, then CN), as QEMU and
# gnutls_x509_crt_get_dn() print it.  certtool -i prints the reverse.
CLIENT_DN="O=Example,CN=client1"
CLIENT_DN_RFC4514="CN=client1,O=Example"

# A client certificate as a typical certtool template makes it, signed by
# the same CA; the template's attributes are encoded C, ST, L, O, CN.
TPL=$WORK/x509-template
TPL_DN="C=GB,ST=London,L=London,O=Example Org,CN=client1"
TPL_DN_RFC4514="CN=client1,O=Example Org,L=London,ST=London,C=GB"
mkdir -p "$TPL"
printf '%s\n' 'country = GB' 'state = London' 'locality = London' \
    'organization = "Example Org"' 'cn = client1' 'expiration_days = 2' \
    'tls_www_client' 'signing_key' >"$WORK/client.tmpl"
if ! certtool --generate-privkey --key-type ecdsa \
        --outfile "$TPL/client-key.pem" >"$WORK/certtool.log" 2>&1 ||
   ! certtool --generate-certificate --load-privkey "$TPL/client-key.pem" \
        --load-ca-certificate "$X509/ca-cert.pem" \
        --load-ca-privkey "$X509/ca-key.pem" \
        --template "$WORK/client.tmpl" \
        --outfile "$TPL/client-cert.pem" >>"$WORK/certtool.log" 2>&1; then
    cat "$WORK/certtool.log"
    echo "Bail out! certtool could not make the template client certificate"
    exit 1
fi

# The recipe docs/authz.md gives for reading a certificate's identity.
openssl_identity() {
    openssl x509 -in "$1" -noout -subject -nameopt RFC2253,-dn_rev,-esc_msb |
        sed 's/^subject=//'
}
if command -v openssl >/dev/null 2>&1; then
    for pair in "$X509/client-cert.pem|$CLIENT_DN" \
                "$TPL/client-cert.pem|$TPL_DN"; do
        file=${pair%%|*}
        want=${pair#*|}
        got=$(openssl_identity "$file")
        if [ "$got" = "$want" ]; then
            ok "openssl prints the identity of ${file#"$WORK"/}: $got"
        else
            not_ok "openssl prints '$got' for $file, not '$want'"
        fi
    done
else
    echo "ok - openssl identity recipe # SKIP openssl is not installed"
fi

PSK_PRIO="NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"

# ---- qio client, gnutls-serv ------------------------------------------------

# $1 name, $2 expected error ("" for success), $3... gnutls-serv options,
# then "--" and tls-echo options.
qio_client_case() {
    local name=$1 expect=$2
    shift 2
    local serv_args=() echo_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        serv_args+=("$1")
        shift
    done
    shift
    echo_args=("$@")
    local port log out
    port=$(free_port)
    log=$WORK/serv-$port.log
    out=$WORK/echo-$port.out
    if ! start_gnutls_serv "$port" "$log" "${serv_args[@]}"; then
        not_ok "$name (gnutls-serv did not start)"
        cat "$log"
        return
    fi
    local extra=()
    [ -n "$expect" ] && extra=(--expect-error "$expect")
    if timeout 30 "$ECHO" --role client --port "$port" \
            --message "interop $name" "${extra[@]}" "${echo_args[@]}" \
            >"$out" 2>&1; then
        if [ -z "$expect" ] && ! grep -q "^interop $name\$" "$out"; then
            not_ok "$name (no echo)"
            cat "$out"
        else
            ok "$name"
        fi
    else
        not_ok "$name"
        cat "$out"
        tail -20 "$log"
    fi
    stop_gnutls_serv
}

X509_SERV=(--x509cafile "$X509/ca-cert.pem"
           --x509certfile "$X509/server-cert.pem"
           --x509keyfile "$X509/server-key.pem")

qio_client_case "x509 qio client, gnutls-serv requiring a client cert" "" \
    "${X509_SERV[@]}" --require-client-cert --verify-client-cert -- \
    --x509 "$X509" --hostname localhost
qio_client_case "x509 qio client by IP address" "" \
    "${X509_SERV[@]}" --require-client-cert --verify-client-cert -- \
    --x509 "$X509" --hostname 127.0.0.1
qio_client_case "x509 qio client, wrong host name" CERT_HOSTNAME \
    "${X509_SERV[@]}" -- --x509 "$X509" --hostname db.example.org
# Under TLS 1.3 the client's handshake is over before gnutls-serv looks for
# its certificate: the refusal (a fatal alert, then a close) may only reach
# the client once its first write fails, and must still be named.
qio_client_case "x509 qio client without a certificate" NO_CERT \
    "${X509_SERV[@]}" --require-client-cert --verify-client-cert -- \
    --x509 "$NOCLIENT" --hostname localhost
qio_client_case "psk qio client, gnutls-serv" "" \
    --pskpasswd "$PSK/keys.psk" --priority "$PSK_PRIO" -- \
    --psk "$PSK" --psk-user alice
qio_client_case "psk qio client, wrong key" PSK \
    --pskpasswd "$PSK/keys.psk" --priority "$PSK_PRIO" -- \
    --psk "$PSKBAD" --psk-user alice

# ---- qio server, gnutls-cli -------------------------------------------------

# $1 name, $2 expected server error ("" for success), $3 text gnutls-cli
# must print (""), then tls-echo options, "--", gnutls-cli options.
qio_server_case() {
    local name=$1 expect=$2 want=$3
    shift 3
    local echo_args=() cli_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        echo_args+=("$1")
        shift
    done
    shift
    cli_args=("$@")
    local portfile=$WORK/port-$RANDOM out=$WORK/server-$RANDOM.out
    local cliout=$WORK/cli-$RANDOM.out
    local extra=()
    [ -n "$expect" ] && extra=(--expect-error "$expect")
    timeout 30 "$ECHO" --role server --port-file "$portfile" "${extra[@]}" \
        "${echo_args[@]}" >"$out" 2>&1 &
    local spid=$!
    PIDS+=("$spid")
    local port
    if ! port=$(wait_port_file "$portfile"); then
        not_ok "$name (tls-echo server did not start)"
        cat "$out"
        return
    fi
    # Keep stdin open a moment so that gnutls-cli reads the echo.
    (echo "interop $name"; sleep 1) |
        timeout 20 gnutls-cli -p "$port" 127.0.0.1 "${cli_args[@]}" \
        >"$cliout" 2>&1
    wait "$spid"
    local rc=$?
    if [ $rc -ne 0 ]; then
        not_ok "$name (qio server: exit $rc)"
        cat "$out"
        tail -20 "$cliout"
    elif [ -n "$want" ] && ! grep -q -- "$want" "$cliout"; then
        not_ok "$name (gnutls-cli did not print '$want')"
        tail -20 "$cliout"
        cat "$out"
    else
        ok "$name"
    fi
}

X509_CLI=(--x509cafile "$X509/ca-cert.pem")
X509_CLI_CERT=("${X509_CLI[@]}" --x509certfile "$X509/client-cert.pem"
               --x509keyfile "$X509/client-key.pem")

qio_server_case "x509 qio server, gnutls-cli with a client cert" "" \
    "interop x509 qio server, gnutls-cli with a client cert" \
    --x509 "$X509" --authz-identity "$CLIENT_DN" -- "${X509_CLI_CERT[@]}"
qio_server_case "x509 qio server, authz denies gnutls-cli" AUTHZ_DENIED \
    "Access was denied" \
    --x509 "$X509" --authz-identity "CN=someone-else" -- \
    "${X509_CLI_CERT[@]}"
qio_server_case "x509 qio server, authz rule in RFC 4514 order denies" \
    AUTHZ_DENIED "Access was denied" \
    --x509 "$X509" --authz-identity "$CLIENT_DN_RFC4514" -- \
    "${X509_CLI_CERT[@]}"
# The keyval form, as on a qemu-nbd command line: commas doubled.
qio_server_case "x509 qio server, --object authz-simple with ,, in keyval" \
    "" "interop x509 qio server, --object" \
    --x509 "$X509" --tls-authz auth0 \
    --object "authz-simple,id=auth0,identity=O=Example,,CN=client1" -- \
    "${X509_CLI_CERT[@]}"

X509_CLI_TPL=("${X509_CLI[@]}" --x509certfile "$TPL/client-cert.pem"
              --x509keyfile "$TPL/client-key.pem")
qio_server_case "x509 qio server, certtool template client, encoded order" \
    "" "interop x509 qio server, certtool template client" \
    --x509 "$X509" --authz-identity "$TPL_DN" -- "${X509_CLI_TPL[@]}"
qio_server_case "x509 qio server, certtool template client, RFC 4514 order" \
    AUTHZ_DENIED "Access was denied" \
    --x509 "$X509" --authz-identity "$TPL_DN_RFC4514" -- \
    "${X509_CLI_TPL[@]}"
qio_server_case "x509 qio server, gnutls-cli without a client cert" \
    NO_CERT "" --x509 "$X509" -- "${X509_CLI[@]}"
qio_server_case "psk qio server, gnutls-cli" "" "interop psk qio server" \
    --psk "$PSK" --authz-identity alice -- \
    --pskusername alice --pskkey "$PSKKEY" --priority "$PSK_PRIO"
qio_server_case "psk qio server, gnutls-cli with a wrong key" PSK "" \
    --psk "$PSK" -- \
    --pskusername alice --pskkey "$(printf '%064x' 42)" \
    --priority "$PSK_PRIO"

if [ "$FAILED" -ne 0 ]; then
    echo "$FAILED case(s) failed"
    exit 1
fi
echo "all cases passed"
exit 0
